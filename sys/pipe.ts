// Pipe capacity (F_SETPIPE_SZ): a container's output pipe raised to 1 MiB (pipe-max-size's
// default, and root may go past it) leaves room while nobody reads it for a moment.
import { libc, errno } from './libc.js';
import { SyscallError } from '../errors/index.js';
import { errnoName } from './syscalls.js';

const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;

/** Sets the capacity of the pipe behind `fd`; returns the capacity the kernel granted. */
export function setPipeSize(fd: number, bytes: number): number {
  const rc = libc().fcntl(fd, F_SETPIPE_SZ, bytes);
  if (rc < 0) { const e = errno(); throw new SyscallError('fcntl(F_SETPIPE_SZ)', e, errnoName(e)); }
  return rc;
}

export function pipeSize(fd: number): number {
  const rc = libc().fcntl(fd, F_GETPIPE_SZ, 0);
  if (rc < 0) { const e = errno(); throw new SyscallError('fcntl(F_GETPIPE_SZ)', e, errnoName(e)); }
  return rc;
}

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** Puts the open file description behind `fd` in non-blocking mode (shared by every copy of it). */
export function setNonBlocking(fd: number): void {
  const fl = libc().fcntl(fd, F_GETFL, 0);
  if (fl < 0) { const e = errno(); throw new SyscallError('fcntl(F_GETFL)', e, errnoName(e)); }
  if ((fl & O_NONBLOCK) === 0 && libc().fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) { const e = errno(); throw new SyscallError('fcntl(F_SETFL)', e, errnoName(e)); }
}
