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
