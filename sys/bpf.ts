// bpf(2) through koffi: load a program, attach it to / detach it from a cgroup,
// list what a cgroup has attached, and read a program's id. Only the commands
// the cgroup v2 device filter needs (runc ebpf_linux.go does the same set).
// union bpf_attr is built by hand in native memory: the kernel reads the fields
// we set and requires the rest (up to the size we pass) to be zero.
import { SyscallError } from '../errors/index.js';
import { koffi } from './libc.js';
import { errnoName } from './syscalls.js';

export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_OBJ_GET_INFO_BY_FD = 15;
export const BPF_PROG_QUERY = 16;

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_OVERRIDE = 1;
export const BPF_F_ALLOW_MULTI = 2;
export const BPF_F_REPLACE = 4;

const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280, ia32: 357, arm: 386 };
/** Larger than every member of union bpf_attr we use, smaller than the kernel's union (so no tail check trips). */
const ATTR_SIZE = 128;
const EAGAIN = 11, ENOSPC = 28, EINVAL = 22, EBADF = 9;

let bpfCall: ((nr: number, cmd: number, attr: unknown, size: number) => number | bigint) | undefined;
let fcntlCall: ((fd: number, cmd: number, arg: number) => number) | undefined;
let closeCall: ((fd: number) => number) | undefined;

function sysBpf(cmd: number, attr: unknown): { rc: number; errno: number } {
  if (!bpfCall) {
    const c = koffi.load('libc.so.6');
    bpfCall = c.func('long syscall(long nr, long cmd, void *attr, unsigned long size)');
    fcntlCall = c.func('int fcntl(int fd, int cmd, int arg)');
    closeCall = c.func('int close(int fd)');
  }
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new SyscallError('bpf', 38, 'ENOSYS', undefined, `no syscall number for ${process.arch}`);
  const rc = Number(bpfCall(nr, cmd, attr, ATTR_SIZE));
  return { rc, errno: rc < 0 ? koffi.errno() : 0 };
}

/** A zeroed native buffer, freed by free(); `buf` views it, `addr` is its address for pointer fields. */
class Native {
  readonly ptr: unknown;
  readonly buf: Buffer;
  readonly addr: bigint;
  constructor(size: number) {
    this.ptr = koffi.alloc('uint8', Math.max(1, size));
    this.buf = Buffer.from(koffi.view(this.ptr as never, Math.max(1, size)));
    this.buf.fill(0);
    this.addr = BigInt(koffi.address(this.ptr as never));
  }
  static of(data: Buffer): Native {
    const n = new Native(data.length);
    data.copy(n.buf);
    return n;
  }
  free(): void {
    koffi.free(this.ptr as never);
  }
}

function withAttr<T>(fill: (a: Buffer) => void, run: (a: Native) => T): T {
  const a = new Native(ATTR_SIZE);
  try {
    fill(a.buf);
    return run(a);
  } finally {
    a.free();
  }
}

const fail = (cmd: string, errno: number, detail?: string): never => {
  throw new SyscallError('bpf', errno, errnoName(errno), undefined, detail ? `${cmd}: ${detail}` : cmd);
};

/** bpf(2) treats fd 0 as "none": never hand out fd 0 (the daemon may run with stdin closed). */
function notZero(fd: number): number {
  if (fd !== 0) return fd;
  const F_DUPFD_CLOEXEC = 1030;
  const dup = fcntlCall!(0, F_DUPFD_CLOEXEC, 1);
  const e = koffi.errno();
  closeCall!(0);
  if (dup < 0) fail('F_DUPFD_CLOEXEC', e);
  return dup;
}

export interface BpfProgLoadOptions {
  /** program type, e.g. BPF_PROG_TYPE_CGROUP_DEVICE */
  type: number;
  /** encoded struct bpf_insn array */
  insns: Buffer;
  license: string;
  /** up to 15 characters of [A-Za-z0-9_.] (shown by bpftool) */
  name?: string;
}

/**
 * BPF_PROG_LOAD: returns the program's fd (close-on-exec). A program the verifier
 * refuses is loaded again with the verifier log on, and the log goes in the error.
 */
export function bpfProgLoad(o: BpfProgLoadOptions): number {
  if (o.insns.length === 0 || o.insns.length % 8 !== 0) fail('BPF_PROG_LOAD', EINVAL, 'bad instruction buffer');
  const insns = Native.of(o.insns);
  const license = Native.of(Buffer.from(`${o.license}\0`));
  const load = (log: Native | null) => withAttr((a) => {
    a.writeUInt32LE(o.type, 0);
    a.writeUInt32LE(o.insns.length / 8, 4);
    a.writeBigUInt64LE(insns.addr, 8);
    a.writeBigUInt64LE(license.addr, 16);
    if (log) {
      a.writeUInt32LE(1, 24);
      a.writeUInt32LE(log.buf.length, 28);
      a.writeBigUInt64LE(log.addr, 32);
    }
    if (o.name) a.write(o.name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15), 48, 'latin1');
  }, (a) => {
    // the verifier can be interrupted by a signal (EAGAIN): retry, as runc does
    for (let i = 0; ; i++) {
      const r = sysBpf(BPF_PROG_LOAD, a.ptr);
      if (r.rc >= 0 || r.errno !== EAGAIN || i >= 30) return r;
    }
  });
  try {
    const r = load(null);
    if (r.rc >= 0) return notZero(r.rc);
    for (let size = 64 * 1024; ; size *= 8) {
      const log = new Native(size);
      try {
        const again = load(log);
        if (again.rc >= 0) return notZero(again.rc);
        if (again.errno === ENOSPC && size < 16 << 20) continue;
        const text = log.buf.toString('utf8', 0, Math.max(0, log.buf.indexOf(0))).trim();
        return fail('BPF_PROG_LOAD', r.errno, text ? `verifier: ${text.split('\n').slice(-8).join(' | ')}` : undefined);
      } finally {
        log.free();
      }
    }
  } finally {
    insns.free();
    license.free();
  }
}

/** BPF_PROG_ATTACH of `progFd` to the cgroup open at `targetFd`; `replaceFd` with BPF_F_REPLACE swaps that one atomically. */
export function bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number, replaceFd?: number): void {
  const r = withAttr((a) => {
    a.writeUInt32LE(targetFd, 0);
    a.writeUInt32LE(progFd, 4);
    a.writeUInt32LE(attachType, 8);
    a.writeUInt32LE(flags, 12);
    if (replaceFd !== undefined) a.writeUInt32LE(replaceFd, 16);
  }, (a) => sysBpf(BPF_PROG_ATTACH, a.ptr));
  if (r.rc < 0) fail('BPF_PROG_ATTACH', r.errno);
}

export function bpfProgDetach(targetFd: number, progFd: number, attachType: number): void {
  const r = withAttr((a) => {
    a.writeUInt32LE(targetFd, 0);
    a.writeUInt32LE(progFd, 4);
    a.writeUInt32LE(attachType, 8);
  }, (a) => sysBpf(BPF_PROG_DETACH, a.ptr));
  if (r.rc < 0) fail('BPF_PROG_DETACH', r.errno);
}

/** BPF_PROG_QUERY: ids of the programs attached to the cgroup at `targetFd` itself (not its ancestors'). */
export function bpfProgQuery(targetFd: number, attachType: number): number[] {
  let cap = 64;
  for (let tries = 0; tries < 10; tries++) {
    const ids = new Native(cap * 4);
    try {
      const res = withAttr((a) => {
        a.writeUInt32LE(targetFd, 0);
        a.writeUInt32LE(attachType, 4);
        a.writeBigUInt64LE(ids.addr, 16);
        a.writeUInt32LE(cap, 24);
      }, (a) => ({ ...sysBpf(BPF_PROG_QUERY, a.ptr), count: a.buf.readUInt32LE(24) }));
      if (res.rc < 0) {
        if (res.errno === ENOSPC) { cap = Math.max(cap * 2, res.count); continue; }
        fail('BPF_PROG_QUERY', res.errno);
      }
      const out: number[] = [];
      for (let i = 0; i < res.count; i++) out.push(ids.buf.readUInt32LE(i * 4));
      return out;
    } finally {
      ids.free();
    }
  }
  return fail('BPF_PROG_QUERY', ENOSPC, 'the list kept growing');
}

/** BPF_PROG_GET_FD_BY_ID: an fd of a loaded program (ENOENT once it is gone). */
export function bpfProgGetFdById(id: number): number {
  const r = withAttr((a) => a.writeUInt32LE(id, 0), (a) => sysBpf(BPF_PROG_GET_FD_BY_ID, a.ptr));
  if (r.rc < 0) fail('BPF_PROG_GET_FD_BY_ID', r.errno, String(id));
  return notZero(r.rc);
}

export interface BpfProgInfo { type: number; id: number; name: string; xlatedLength: number }

/** BPF_OBJ_GET_INFO_BY_FD for a program fd. */
export function bpfProgInfo(fd: number): BpfProgInfo {
  const info = new Native(256);
  try {
    const r = withAttr((a) => {
      a.writeUInt32LE(fd, 0);
      a.writeUInt32LE(info.buf.length, 4);
      a.writeBigUInt64LE(info.addr, 8);
    }, (a) => sysBpf(BPF_OBJ_GET_INFO_BY_FD, a.ptr));
    if (r.rc < 0) fail('BPF_OBJ_GET_INFO_BY_FD', r.errno);
    const b = info.buf;
    const nameEnd = b.indexOf(0, 64);
    return {
      type: b.readUInt32LE(0), id: b.readUInt32LE(4), xlatedLength: b.readUInt32LE(20),
      name: b.toString('latin1', 64, nameEnd < 0 || nameEnd > 80 ? 80 : nameEnd),
    };
  } finally {
    info.free();
  }
}

let replaceSupported: boolean | undefined;

/**
 * Does the kernel know BPF_F_REPLACE (5.6+)? Asked once as runc asks it: replacing
 * a program on a non-cgroup fd answers EBADF when the flag is known, EINVAL when not.
 */
export function bpfHasProgReplace(probeProgFd: number, nonCgroupFd: number): boolean {
  if (replaceSupported === undefined) {
    try {
      bpfProgAttach(nonCgroupFd, probeProgFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, probeProgFd);
      replaceSupported = true;
    } catch (e) {
      replaceSupported = (e as SyscallError).errno === EBADF;
    }
  }
  return replaceSupported;
}
