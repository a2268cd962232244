/**
 * The few kinds of error tsd knows. Every subsystem throws DaemonError (or a
 * subclass) with a code from codes.ts; only api/errors.ts turns a kind into an
 * HTTP status. Match on `code` or `kind`, never on message text.
 */
import type { ErrorCode, ErrorKind } from './codes.js';

export { CODES, kindsOf, type ErrorCode, type ErrorKind } from './codes.js';


export class DaemonError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DaemonError';
    this.kind = kind;
    this.code = code;
  }
}

export const notFound = (message: string, code: ErrorCode = 'TSD_ERR_NOT_FOUND') => new DaemonError('not-found', code, message);
export const invalidParameter = (message: string, code: ErrorCode = 'TSD_ERR_INVALID_PARAMETER') =>
  new DaemonError('invalid-parameter', code, message);
export const conflict = (message: string, code: ErrorCode = 'TSD_ERR_CONFLICT') => new DaemonError('conflict', code, message);
export const notImplemented = (message: string, code: ErrorCode = 'TSD_ERR_NOT_IMPLEMENTED') =>
  new DaemonError('not-implemented', code, message);
export const systemError = (message: string, cause?: unknown, code: ErrorCode = 'TSD_ERR_SYSTEM') =>
  new DaemonError('system', code, message, { cause });
export const unauthorized = (message: string, code: ErrorCode = 'TSD_ERR_UNAUTHORIZED') =>
  new DaemonError('unauthorized', code, message);
export const unavailable = (message: string, code: ErrorCode = 'TSD_ERR_UNAVAILABLE') =>
  new DaemonError('unavailable', code, message);
export const forbidden = (message: string, code: ErrorCode = 'TSD_ERR_FORBIDDEN') => new DaemonError('forbidden', code, message);

export class NoSuchContainerError extends DaemonError {
  constructor(ref: string) {
    super('not-found', 'TSD_ERR_NO_SUCH_CONTAINER', `No such container: ${ref}`);
  }
}
export class NoSuchImageError extends DaemonError {
  constructor(ref: string) {
    super('not-found', 'TSD_ERR_NO_SUCH_IMAGE', `No such image: ${ref}`);
  }
}
export class NameConflictError extends DaemonError {
  constructor(name: string, id: string) {
    super(
      'conflict',
      'TSD_ERR_NAME_CONFLICT',
      `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  }
}
export class ContainerNotRunningError extends DaemonError {
  constructor(id: string, message = `Container ${id} is not running`) {
    super('conflict', 'TSD_ERR_NOT_RUNNING', message);
  }
}
export class InvalidReferenceError extends DaemonError {
  constructor(ref: string, why = 'invalid reference format') {
    super('invalid-parameter', 'TSD_ERR_INVALID_REFERENCE', why === 'invalid reference format' ? `${why}: ${ref}` : why);
  }
}

/** Raised by sys/ when a syscall fails; kind `system` unless reclassified. */
export class SyscallError extends DaemonError {
  readonly syscall: string;
  readonly errno: number;
  readonly errnoCode: string;
  readonly path?: string;
  constructor(syscall: string, errno: number, errnoCode: string, path?: string, detail?: string) {
    super(
      'system',
      'TSD_ERR_SYSCALL',
      `${syscall}${path ? ` ${path}` : ''}${detail ? ` (${detail})` : ''}: ${errnoCode}`,
    );
    this.name = 'SyscallError';
    this.syscall = syscall;
    this.errno = errno;
    this.errnoCode = errnoCode;
    this.path = path;
  }
}

export const isDaemonError = (e: unknown): e is DaemonError => e instanceof DaemonError;
