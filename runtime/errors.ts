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
 * moby daemon/start.go translateContainerdStartErr: the exit code Docker records
 * for a start failure, and whether it is the caller's fault (400) or ours (500).
 */
export function startError(message: string, step: string, argv0: string): RuntimeStartError {
  const has = (x: string) => message.includes(x);
  if (has(argv0) && (has('executable file not found') || has('no such file or directory'))) {
    return new RuntimeStartError(message, 127, step, 'invalid-parameter');
  }
  if (has('permission denied')) return new RuntimeStartError(message, 126, step, 'invalid-parameter');
  if (has('not a directory')) {
    return new RuntimeStartError(`${message}: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type`, 127, step, 'invalid-parameter');
  }
  return new RuntimeStartError(message, 128, step, 'system');
}
