// The kernel's process events connector (NETLINK_CONNECTOR, CN_IDX_PROC), asked
// for exit events only (the event filter of Linux >= 6.6): the exit status of
// any process on the host, whoever its parent is. The live-restore holder uses
// it to learn the exit code of a container whose parent (the daemon) is gone:
// the orphan's new parent (PID 1, a subreaper) reaps it, and only this event
// still carries the status. Receiving needs CAP_NET_ADMIN in the initial user
// and network namespaces. recv runs on a libuv worker (koffi async).
import { SyscallError } from '../errors/index.js';
import { koffi, libc, errno } from './libc.js';
import { errnoName } from './syscalls.js';

const AF_NETLINK = 16;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_CONNECTOR = 11;
const CN_IDX_PROC = 1;
const CN_VAL_PROC = 1;
const PROC_CN_MCAST_LISTEN = 1;
const PROC_EVENT_EXIT = 0x80000000;
const NLMSG_DONE = 3;
const NLMSG_HDRLEN = 16;
const CN_MSG_LEN = 20;

let lib: ReturnType<typeof bind> | undefined;
function bind() {
  const c = koffi.load('libc.so.6');
  return {
    socket: c.func('int socket(int domain, int type, int protocol)'),
    bind: c.func('int bind(int fd, const uint8_t *addr, uint32 len)'),
    send: c.func('intptr_t send(int fd, const uint8_t *buf, size_t len, int flags)'),
    recv: c.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)'),
  };
}
const pl = () => (lib ??= bind());

function check(rc: number | bigint, call: string): number {
  const n = Number(rc);
  if (n < 0) {
    const e = errno();
    throw new SyscallError(call, e, errnoName(e));
  }
  return n;
}

/** One exit: `status` is in wait(2) form (code << 8, or the signal number). */
export interface ProcExit { pid: number; tgid: number; status: number }

/** Decodes a wait status as Docker reports it: the code, or 128 + the signal. */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}

/** Subscribes to exit events; `onExit` gets each one (threads too: compare pid and tgid). */
export function watchProcessExits(onExit: (e: ProcExit) => void, onError: (err: Error) => void): { close(): void } {
  const fd = check(pl().socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR), 'socket(NETLINK_CONNECTOR)');
  let closed = false;
  try {
    const sa = Buffer.alloc(12);
    sa.writeUInt16LE(AF_NETLINK, 0);
    sa.writeUInt32LE(process.pid, 4);
    sa.writeUInt32LE(CN_IDX_PROC, 8);
    check(pl().bind(fd, sa, sa.length), 'bind(CN_IDX_PROC)');
    // nlmsghdr + cn_msg + proc_input { mcast_op, event_type }
    const msg = Buffer.alloc(NLMSG_HDRLEN + CN_MSG_LEN + 8);
    msg.writeUInt32LE(msg.length, 0);
    msg.writeUInt16LE(NLMSG_DONE, 4);
    msg.writeUInt32LE(process.pid, 12);
    msg.writeUInt32LE(CN_IDX_PROC, 16);
    msg.writeUInt32LE(CN_VAL_PROC, 20);
    msg.writeUInt16LE(8, 32);
    msg.writeUInt32LE(PROC_CN_MCAST_LISTEN, 36);
    msg.writeUInt32LE(PROC_EVENT_EXIT, 40);
    check(pl().send(fd, msg, msg.length, 0), 'send(PROC_CN_MCAST_LISTEN)');
  } catch (e) {
    libc().close(fd);
    throw e;
  }
  const buf = Buffer.alloc(64 * 1024);
  const loop = (): void => {
    if (closed) return;
    pl().recv.async(fd, buf, buf.length, 0, (err: unknown, rc: number | bigint) => {
      if (closed) return;
      const n = Number(rc);
      if (err || n < 0) {
        const e = errno();
        if (!err && (e === 4 /* EINTR */ || e === 105 /* ENOBUFS: events dropped, keep going */)) { loop(); return; }
        onError(err instanceof Error ? err : new SyscallError('recv(NETLINK_CONNECTOR)', e, errnoName(e)));
        return;
      }
      for (let off = 0; off + NLMSG_HDRLEN <= n;) {
        const len = buf.readUInt32LE(off);
        if (len < NLMSG_HDRLEN || off + len > n) break;
        const ev = off + NLMSG_HDRLEN + CN_MSG_LEN;
        // proc_event { what u32, cpu u32, timestamp u64, exit { pid, tgid, exit_code, exit_signal, ppid, ptgid } }
        if (ev + 32 <= off + len && buf.readUInt32LE(ev) === PROC_EVENT_EXIT) {
          onExit({ pid: buf.readInt32LE(ev + 16), tgid: buf.readInt32LE(ev + 20), status: buf.readUInt32LE(ev + 24) });
        }
        off += (len + 3) & ~3;
      }
      loop();
    });
  };
  loop();
  return {
    close() {
      if (closed) return;
      closed = true;
      // shutdown() wakes the worker blocked in recv; close after it returns is not needed for a process that exits
      libc().close(fd);
    },
  };
}
