// Errors of the runtime. RuntimeStartError carries the exit code Docker records
// for a failed start (127 not found, 126 not executable, 128 otherwise).
import { DaemonError } from '../errors/index.js';
import type { ErrorKind } from '../errors/index.js';

export class RuntimeStartError extends DaemonError {
  readonly exitCode: number;
  /** The init step that failed ('exec', 'user', 'mounts', ...). */
  readonly step: string;
  constructor(message: string, exitCode: number, step: string, kind: ErrorKind = 'system') {
    super(kind, exitCode === 127 ? 'TSD_ERR_EXEC_NOT_FOUND' : exitCode === 126 ? 'TSD_ERR_EXEC_PERMISSION' : 'TSD_ERR_RUNTIME_START', message);
    this.name = 'RuntimeStartError';
    this.exitCode = exitCode;
    this.step = step;
  }
}

/**
 * moby daemon/start.go translateContainerdStartErr, on the data the init reports
 * (its step and errno) rather than its message text: the exit code Docker records
 * for a start failure, and whether it is the caller's fault (400) or ours (500).
 *   the command not found (the exec step, ENOENT)           127
 *   permission denied (EACCES)                               126
 *   a directory where a file is wanted, or back (ENOTDIR)    127, with Docker's hint
 *   anything else                                            128, ours
 */
export function startError(f: { message: string; step: string; errno?: string }): RuntimeStartError {
  if (f.errno === 'ENOENT' && f.step === 'exec') return new RuntimeStartError(f.message, 127, f.step, 'invalid-parameter');
  if (f.errno === 'EACCES') return new RuntimeStartError(f.message, 126, f.step, 'invalid-parameter');
  if (f.errno === 'ENOTDIR') {
    return new RuntimeStartError(`${f.message}: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type`, 127, f.step, 'invalid-parameter');
  }
  return new RuntimeStartError(f.message, 128, f.step, 'system');
}
