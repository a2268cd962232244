// Daemon-process helpers that need libc: an advisory lock on a file (flock,
// released by the kernel when the process dies) and sd_notify over a unix
// datagram socket (Node has no AF_UNIX SOCK_DGRAM).
import fs from 'node:fs';
import { SyscallError } from '../errors/index.js';
import { koffi } from './libc.js';
import { errnoName } from './errno.js';

let fns: ReturnType<typeof bind> | undefined;
function bind() {
  const c = koffi.load('libc.so.6');
  return {
    flock: c.func('int flock(int fd, int op)'),
    socket: c.func('int socket(int domain, int type, int protocol)'),
    sendto: c.func('intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32 addrlen)'),
    close: c.func('int close(int fd)'),
  };
}
const f = () => (fns ??= bind());

const LOCK_EX = 2, LOCK_NB = 4;

/** Takes an exclusive lock on `path` (created if needed) and keeps the fd open. Returns null if another process holds it. */
export function tryLockFile(path: string): { fd: number; release(): void } | null {
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  if (f().flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const e = koffi.errno();
    fs.closeSync(fd);
    if (errnoName(e) === 'EWOULDBLOCK' || errnoName(e) === 'EAGAIN') return null;
    throw new SyscallError('flock', e, errnoName(e), path);
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  return { fd, release: () => { try { fs.closeSync(fd); } catch { /* already closed */ } } };
}

/** sd_notify(3): sends `state` (e.g. "READY=1") to $NOTIFY_SOCKET. Returns false when not under systemd. */
export function sdNotify(state: string, socketPath = process.env.NOTIFY_SOCKET): boolean {
  if (!socketPath) return false;
  const AF_UNIX = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;
  const path = socketPath.startsWith('@') ? Buffer.concat([Buffer.from([0]), Buffer.from(socketPath.slice(1))]) : Buffer.from(socketPath);
  const addr = Buffer.alloc(2 + 108);
  addr.writeUInt16LE(AF_UNIX, 0);
  path.copy(addr, 2);
  const addrlen = 2 + path.length + (socketPath.startsWith('@') ? 0 : 1);
  const fd = f().socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    const msg = Buffer.from(state);
    return Number(f().sendto(fd, msg, msg.length, 0, addr, addrlen)) >= 0;
  } finally {
    f().close(fd);
  }
}
