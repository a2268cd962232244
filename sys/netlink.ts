// An rtnetlink socket through koffi: requests go out and their answers come
// back on a libuv worker thread (koffi's async calls), so a slow kernel
// operation (a link deletion waits for an RCU grace period, another process
// may hold rtnl_lock) never blocks the event loop.
//
// A netlink socket belongs to the network namespace of the thread that made
// it. Network namespaces are per thread, so the daemon's main thread can step
// into a namespace (unshare or setns), make a socket there, and step back, all
// within one synchronous call: no JavaScript runs meanwhile, and no other
// thread of the process ever changes namespace. The socket then configures
// that namespace from the daemon's own.
import { SyscallError } from '../errors/index.js';
import { CLONE_NEWNET, MS_BIND } from './constants.js';
import { koffi, libc, errno } from './libc.js';
import { errorOf, message, NLMSG_DONE, NLMSG_ERROR, parseLink, parseMessages, type Reply, type Request, rtnl } from './rtnetlink.js';
import { errnoName } from './syscalls.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const RECV_BUF = 64 * 1024;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

let lib: ReturnType<typeof bind> | undefined;
function bind() {
  const c = koffi.load('libc.so.6');
  return {
    socket: c.func('int socket(int domain, int type, int protocol)'),
    send: c.func('intptr_t send(int fd, const uint8_t *buf, size_t len, int flags)'),
    recv: c.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)'),
    setsockopt: c.func('int setsockopt(int fd, int level, int name, const uint8_t *val, uint32 len)'),
    if_nametoindex: c.func('uint32 if_nametoindex(const char *name)'),
  };
}
const nl = () => (lib ??= bind());

function check(rc: number | bigint, call: string, detail?: string): number {
  const n = Number(rc);
  if (n < 0) {
    const e = errno();
    throw new SyscallError(call, e, errnoName(e), undefined, detail);
  }
  return n;
}

const callAsync = <T>(fn: { async: (...a: any[]) => void }, ...args: unknown[]): Promise<T> =>
  new Promise((resolve, reject) => fn.async(...args, (err: unknown, res: T) => (err ? reject(err) : resolve(res))));

/** An rtnetlink request failed: the kernel's errno and what was asked. */
export class NetlinkError extends Error {
  constructor(readonly errno: number, readonly what: string) {
    super(`${what}: ${errnoName(errno)}`);
    this.name = 'NetlinkError';
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

function openSocket(): number {
  const fd = check(nl().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), 'socket', 'AF_NETLINK');
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(10n, 0); // an answer within 10 s, or the request fails (never a hang)
  check(nl().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16), 'setsockopt', 'SO_RCVTIMEO');
  return fd;
}

/**
 * Runs `fn` with the calling thread in another network namespace, and always
 * comes back. `enter` moves the thread (unshare or setns); `fn` must be synchronous.
 */
function inOtherNetns<T>(enter: () => void, fn: () => T): T {
  const c = libc();
  const home = check(c.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC, 0), 'open', '/proc/thread-self/ns/net');
  try {
    enter();
    try {
      return fn();
    } finally {
      if (Number(c.setns(home, CLONE_NEWNET)) < 0) {
        // The daemon's main thread would stay in a container's namespace: nothing sane can follow.
        process.stderr.write(`tsd: fatal: cannot return to the daemon's network namespace: ${errnoName(errno())}\n`);
        process.abort();
      }
    }
  } finally {
    c.close(home);
  }
}

export class RtnlSocket {
  private seq = 1;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly fd: number) {}

  /** A socket in the calling thread's (the daemon's) network namespace. */
  static host(): RtnlSocket {
    return new RtnlSocket(openSocket());
  }

  /** Creates a network namespace, binds it at `file` (an existing empty file) and returns a socket in it. */
  static createNetns(file: string): RtnlSocket {
    const c = libc();
    return inOtherNetns(
      () => check(c.unshare(CLONE_NEWNET), 'unshare', 'CLONE_NEWNET'),
      () => {
        const fd = openSocket();
        if (Number(c.mount('/proc/thread-self/ns/net', file, null, MS_BIND, null)) < 0) {
          const e = errno();
          c.close(fd);
          throw new SyscallError('mount', e, errnoName(e), file, 'bind of a new netns');
        }
        return new RtnlSocket(fd);
      },
    );
  }

  /** A socket in the network namespace bound at `file`. */
  static inNetns(file: string): RtnlSocket {
    const c = libc();
    const ns = check(c.open(file, O_RDONLY | O_CLOEXEC, 0), 'open', file);
    try {
      return inOtherNetns(() => check(c.setns(ns, CLONE_NEWNET), 'setns', file), () => new RtnlSocket(openSocket()));
    } finally {
      c.close(ns);
    }
  }

  /** Sends one request and resolves with its answers (the ACK consumed); rejects with the kernel's errno. */
  request(req: Request): Promise<Reply[]> {
    // one request in flight per socket: answers are read in order
    const p = this.queue.then(() => this.exchange(req));
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** request() for operations answered by an ACK only. */
  async do(req: Request): Promise<void> {
    await this.request(req);
  }

  /**
   * Sends requests answered by an ACK in one send(2) and resolves with each one's error (null: done), in
   * order. rtnetlink runs a buffer's requests one after the other in the sender's send(2), the next one
   * even when one fails, so their ACKs are all queued when it returns: they are read without waiting.
   * One worker-thread round trip for the batch, instead of two per request.
   */
  batch(reqs: Request[]): Promise<Array<NetlinkError | null>> {
    const p = this.queue.then(() => this.exchangeBatch(reqs));
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** The index of a device in this socket's namespace. */
  async linkIndex(name: string): Promise<number> {
    const [r] = await this.request(rtnl.getLink(name));
    if (!r) throw new NetlinkError(19, `link show ${name}`); // ENODEV
    return parseLink(r).index;
  }

  private async exchange(req: Request): Promise<Reply[]> {
    if (this.closed) throw new Error('netlink socket closed');
    const seq = this.seq++;
    const flags = req.flags;
    const msg = message(req.type, flags, seq, req.body);
    const sent = Number(await callAsync<number | bigint>(nl().send, this.fd, msg, msg.length, 0));
    if (sent < 0) throw new NetlinkError(5, `${req.what} (send)`); // EIO: errno is not readable after an async call
    const out: Reply[] = [];
    const buf = Buffer.alloc(RECV_BUF);
    for (;;) {
      const n = Number(await callAsync<number | bigint>(nl().recv, this.fd, buf, buf.length, 0));
      if (n < 0) throw new NetlinkError(110, `${req.what} (no answer within 10 s)`); // ETIMEDOUT
      for (const r of parseMessages(Buffer.from(buf.subarray(0, n)))) {
        if (r.seq !== seq) continue; // a late answer to an earlier request
        if (r.type === NLMSG_ERROR) {
          const e = errorOf(r);
          if (e !== 0) throw new NetlinkError(e, req.what);
          return out; // the ACK ends the exchange
        }
        if (r.type === NLMSG_DONE) return out;
        out.push(r);
        // a non-dump GET is answered by one message and no ACK (unless NLM_F_ACK was asked)
        if (!(flags & 0x4) && !(r.flags & 0x2)) return out;
      }
    }
  }

  private async exchangeBatch(reqs: Request[]): Promise<Array<NetlinkError | null>> {
    if (this.closed) throw new Error('netlink socket closed');
    if (!reqs.length) return [];
    const first = this.seq;
    const msgs = reqs.map((r) => {
      const m = message(r.type, r.flags | 0x4, this.seq++, r.body); // NLM_F_ACK: every request is answered
      return m.length % 4 ? Buffer.concat([m, Buffer.alloc(4 - (m.length % 4))]) : m;
    });
    const all = Buffer.concat(msgs);
    const sent = Number(await callAsync<number | bigint>(nl().send, this.fd, all, all.length, 0));
    if (sent < 0) throw new NetlinkError(5, `${reqs[0]!.what} … (${reqs.length} requests, send)`);
    const out: Array<NetlinkError | null | undefined> = reqs.map(() => undefined);
    let left = reqs.length;
    const buf = Buffer.alloc(RECV_BUF);
    while (left > 0) {
      let n = Number(nl().recv(this.fd, buf, buf.length, MSG_DONTWAIT));
      if (n < 0 && errno() === EAGAIN) n = Number(await callAsync<number | bigint>(nl().recv, this.fd, buf, buf.length, 0));
      if (n < 0) throw new NetlinkError(110, `${reqs[0]!.what} … (${reqs.length} requests, no answer within 10 s)`);
      for (const r of parseMessages(Buffer.from(buf.subarray(0, n)))) {
        const i = r.seq - first;
        if (r.type !== NLMSG_ERROR || i < 0 || i >= reqs.length || out[i] !== undefined) continue; // a late answer to an earlier request
        const e = errorOf(r);
        out[i] = e === 0 ? null : new NetlinkError(e, reqs[i]!.what);
        left--;
      }
    }
    return out as Array<NetlinkError | null>;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // after any request in flight
    void this.queue.then(() => libc().close(this.fd));
  }
}

/** The index of a device in the calling thread's (the daemon's) namespace, 0 if none. */
export const ifIndex = (name: string): number => Number(nl().if_nametoindex(name));
