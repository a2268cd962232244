// Typed wrappers over libc: each checks the return value, reads errno right
// after the failing call and throws a SyscallError naming the call and path.
import { constants as osc } from 'node:os';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { SyscallError } from '../errors/index.js';
import { libc, errno, koffi } from './libc.js';
import { check, errnoName } from './errno.js';
import * as K from './constants.js';
import { seccompLoad, seccompPreload, seccompLoadBpf, seccompBpfPreload } from './seccomp.js';
import type { SeccompFilter } from './seccomp.js';
import * as fsat from './fsat.js';
import type { FileStat } from './fsat.js';

const SYS_pivot_root = 155; // x86_64
/** The credential system calls' numbers (x86_64, arm64); elsewhere glibc's process-wide wrappers. */
const SETXID = process.arch === 'x64' ? { setgroups: 116, setresuid: 117, setresgid: 119 }
  : process.arch === 'arm64' ? { setgroups: 159, setresuid: 147, setresgid: 149 } : null;

export { errnoName };

export interface Rlimit { soft: number | bigint; hard: number | bigint }
export interface CapSets { effective: bigint; permitted: bigint; inheritable: bigint }

/** Everything outside sys/ reaches the kernel through this interface (FakeSyscalls records it in tests). */
export interface Syscalls {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data?: string | null): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  unshare(flags: number): void;
  setns(fd: number, nstype: number): void;
  sethostname(name: string): void;
  setdomainname(name: string): void;
  prctl(option: number, a2?: number, a3?: number, a4?: number, a5?: number): number;
  capget(): CapSets;
  capset(sets: CapSets): void;
  /** setresuid, setresgid, setgroups: the calling thread's credentials (the init execve's from that thread). */
  setresuid(uid: number): void;
  setresgid(gid: number): void;
  setgroups(gids: number[]): void;
  setrlimit(resource: number, limit: Rlimit): void;
  prlimit(pid: number, resource: number, limit: Rlimit): void;
  chdir(path: string): void;
  chroot(path: string): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer, flags?: number): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  /** mknod of `name` in the directory `dirfd` (fd-relative: see fsat.ts). */
  mknodat(dirfd: number, name: string, mode: number, major: number, minor: number): void;
  /** Sets an xattr on `name` in the directory `dirfd`, never following a symlink there. */
  setxattrAt(dirfd: number, name: string, attr: string, value: Buffer): void;
  // The new mount API: mounts made from and onto file descriptors (fsat.ts).
  /** A new filesystem instance (fsopen/fsconfig/fsmount) as a detached mount fd. */
  fsMount(fstype: string, source: string, data: string | null, attrs: number): number;
  /** A detached copy of the mount at `path` relative to `dirfd` ('' = dirfd itself). */
  openTree(dirfd: number, path: string, recursive: boolean): number;
  /** Attaches the mount `mountFd` onto the resolved target `targetFd`. */
  moveMount(mountFd: number, targetFd: number): void;
  /** mount_setattr on the mount `fd` is the root of. */
  mountSetattr(fd: number, set: number, clear: number, propagation: number, recursive: boolean): void;
  /** fstat of an fd (O_PATH too). */
  fstat(fd: number): FileStat;
  setCloexec(fd: number, on: boolean): void;
  /** Clears O_NONBLOCK (Node leaves its stdio pipes non-blocking; programs expect blocking stdio). */
  setBlocking(fd: number): void;
  setsid(): void;
  ioctlInt(fd: number, req: number, arg: number): void;
  setWinsize(fd: number, rows: number, cols: number): void;
  openpt(): { master: number; slavePath: string };
  execve(path: string, argv: string[], env: string[]): never;
  kill(pid: number, sig: number): void;
  getpid(): number;
  umask(mask: number): number;
  // Added for runtime/ (init):
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): void;
  fchdir(fd: number): void;
  dup2(oldfd: number, newfd: number): void;
  /** Sets IFF_UP on a network interface of the caller's network namespace (SIOCSIFFLAGS). */
  linkUp(name: string): void;
  /** Builds and loads a seccomp filter on the calling thread (libseccomp). */
  seccompLoad(filter: SeccompFilter): void;
  /** Loads a BPF program compiled by seccompCompile (prctl PR_SET_SECCOMP). */
  seccompLoadBpf(bpf: Buffer): void;
  /** Opens a new pty master through `ptmx` (e.g. a container's /dev/ptmx), unlocked; the slave is `${ptsDir}/N`. */
  openptIn(ptmx: string, ptsDir: string): { master: number; slavePath: string };
  /** Copies file descriptor `fd` of process `pid` into this process (pidfd_open + pidfd_getfd; close-on-exec). */
  pidfdGetfd(pid: number, fd: number): number;
  /** Sets a signal's disposition back to SIG_DFL (Node ignores SIGPIPE and SIGXFSZ, and ignored signals survive execve). */
  signalDefault(sig: number): void;
  /** Writes the calling process's /proc/self/oom_score_adj (inherited by its children and kept across execve). */
  setOomScoreAdj(score: number): void;
  /**
   * Writes `value` to a procfs file by path (open O_WRONLY|O_TRUNC, one write), as
   * runc writes sysctls; the SyscallError names the failing call (open or write).
   */
  writeProcFile(path: string, value: string): void;
}

const makedev = (major: number, minor: number): bigint =>
  (BigInt(minor & 0xff) | (BigInt(major & 0xfff) << 8n) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n));

const toBig = (v: number | bigint): bigint => (typeof v === 'bigint' ? v : v < 0 || !Number.isFinite(v) ? 0xffffffffffffffffn : BigInt(v));

export class LinuxSyscalls implements Syscalls {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
    check(libc().mount(source, target, fstype, flags, data), 'mount', target, `${fstype ?? source ?? ''}`);
  }
  umount2(target: string, flags: number): void {
    check(libc().umount2(target, flags), 'umount2', target);
  }
  pivotRoot(newRoot: string, putOld: string): void {
    check(libc().pivot_root(SYS_pivot_root, newRoot, putOld), 'pivot_root', newRoot);
  }
  unshare(flags: number): void {
    check(libc().unshare(flags), 'unshare', undefined, `0x${flags.toString(16)}`);
  }
  setns(fd: number, nstype: number): void {
    check(libc().setns(fd, nstype), 'setns', undefined, `0x${nstype.toString(16)}`);
  }
  sethostname(name: string): void {
    check(libc().sethostname(name, Buffer.byteLength(name)), 'sethostname', undefined, name);
  }
  setdomainname(name: string): void {
    check(libc().setdomainname(name, Buffer.byteLength(name)), 'setdomainname', undefined, name);
  }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
    return check(libc().prctl(option, a2, a3, a4, a5), 'prctl', undefined, String(option));
  }
  capget(): CapSets {
    const data = [{}, {}] as Array<{ effective: number; permitted: number; inheritable: number }>;
    const buf = Buffer.alloc(24);
    const hdr = { version: 0x20080522, pid: 0 };
    check(libc().capget(hdr, buf as unknown as object), 'capget');
    for (let i = 0; i < 2; i++) {
      data[i] = { effective: buf.readUInt32LE(i * 12), permitted: buf.readUInt32LE(i * 12 + 4), inheritable: buf.readUInt32LE(i * 12 + 8) };
    }
    const join = (k: 'effective' | 'permitted' | 'inheritable') => BigInt(data[0]![k] >>> 0) | (BigInt(data[1]![k] >>> 0) << 32n);
    return { effective: join('effective'), permitted: join('permitted'), inheritable: join('inheritable') };
  }
  capset(sets: CapSets): void {
    const buf = Buffer.alloc(24);
    const lo = (v: bigint) => Number(v & 0xffffffffn);
    const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
    buf.writeUInt32LE(lo(sets.effective), 0); buf.writeUInt32LE(lo(sets.permitted), 4); buf.writeUInt32LE(lo(sets.inheritable), 8);
    buf.writeUInt32LE(hi(sets.effective), 12); buf.writeUInt32LE(hi(sets.permitted), 16); buf.writeUInt32LE(hi(sets.inheritable), 20);
    check(libc().capset({ version: 0x20080522, pid: 0 }, buf as unknown as object), 'capset');
  }
  // The calling thread's credentials only, as capset, PR_CAPBSET_DROP and seccomp already are: the
  // raw system calls, not glibc's wrappers, which stop every thread of the process with a signal
  // to change all of them (setxid). The init's other threads are Node's own and die at its execve;
  // waiting for each of them to be scheduled three times cost a start up to 65 ms on a loaded host.
  setresuid(uid: number): void {
    if (SETXID) check(libc().sys_setres(SETXID.setresuid, uid, uid, uid), 'setresuid', undefined, String(uid));
    else check(libc().setresuid(uid, uid, uid), 'setresuid', undefined, String(uid));
  }
  setresgid(gid: number): void {
    if (SETXID) check(libc().sys_setres(SETXID.setresgid, gid, gid, gid), 'setresgid', undefined, String(gid));
    else check(libc().setresgid(gid, gid, gid), 'setresgid', undefined, String(gid));
  }
  setgroups(gids: number[]): void {
    if (SETXID) check(libc().sys_setgroups(SETXID.setgroups, gids.length, gids.length ? gids : null), 'setgroups');
    else check(libc().setgroups(gids.length, gids.length ? gids : null), 'setgroups');
  }
  setrlimit(resource: number, limit: Rlimit): void {
    check(libc().setrlimit(resource, { rlim_cur: toBig(limit.soft), rlim_max: toBig(limit.hard) }), 'setrlimit', undefined, String(resource));
  }
  prlimit(pid: number, resource: number, limit: Rlimit): void {
    const old = {};
    check(libc().prlimit(pid, resource, { rlim_cur: toBig(limit.soft), rlim_max: toBig(limit.hard) }, old), 'prlimit', undefined, String(resource));
  }
  chdir(path: string): void {
    check(libc().chdir(path), 'chdir', path);
  }
  chroot(path: string): void {
    check(libc().chroot(path), 'chroot', path);
  }
  mknod(path: string, mode: number, major: number, minor: number): void {
    check(libc().mknod(path, mode, makedev(major, minor)), 'mknod', path);
  }
  lsetxattr(path: string, name: string, value: Buffer, flags = 0): void {
    check(libc().lsetxattr(path, name, value, value.length, flags), 'lsetxattr', path, name);
  }
  lgetxattr(path: string, name: string): Buffer | null {
    const buf = Buffer.alloc(65536);
    const n = Number(libc().lgetxattr(path, name, buf, buf.length));
    if (n < 0) {
      const e = errno();
      if (e === osc.errno.ENODATA || e === osc.errno.ENOTSUP) return null;
      throw new SyscallError('lgetxattr', e, errnoName(e), path, name);
    }
    return buf.subarray(0, n);
  }
  llistxattr(path: string): string[] {
    const buf = Buffer.alloc(65536);
    const n = Number(libc().llistxattr(path, buf, buf.length));
    if (n < 0) {
      const e = errno();
      if (e === osc.errno.ENOTSUP) return [];
      throw new SyscallError('llistxattr', e, errnoName(e), path);
    }
    return buf.subarray(0, n).toString('latin1').split('\0').filter(Boolean);
  }
  mknodat(dirfd: number, name: string, mode: number, major: number, minor: number): void {
    fsat.mknodat(dirfd, name, mode, major, minor);
  }
  setxattrAt(dirfd: number, name: string, attr: string, value: Buffer): void {
    fsat.setxattrAt(dirfd, name, attr, value);
  }
  fsMount(fstype: string, source: string, data: string | null, attrs: number): number {
    return fsat.fsMount(fstype, source, data, attrs);
  }
  openTree(dirfd: number, path: string, recursive: boolean): number {
    return fsat.openTree(dirfd, path, recursive);
  }
  moveMount(mountFd: number, targetFd: number): void {
    fsat.moveMount(mountFd, targetFd);
  }
  mountSetattr(fd: number, set: number, clear: number, propagation: number, recursive: boolean): void {
    fsat.mountSetattr(fd, set, clear, propagation, recursive);
  }
  fstat(fd: number): FileStat {
    return fsat.fstat(fd);
  }
  setCloexec(fd: number, on: boolean): void {
    check(libc().fcntl(fd, K.F_SETFD, on ? K.FD_CLOEXEC : 0), 'fcntl', undefined, `fd ${fd}`);
  }
  setBlocking(fd: number): void {
    const flags = check(libc().fcntl(fd, K.F_GETFL, 0), 'fcntl', undefined, `F_GETFL fd ${fd}`);
    if (flags & K.O_NONBLOCK) check(libc().fcntl(fd, K.F_SETFL, flags & ~K.O_NONBLOCK), 'fcntl', undefined, `F_SETFL fd ${fd}`);
  }
  setsid(): void {
    check(libc().setsid(), 'setsid');
  }
  ioctlInt(fd: number, req: number, arg: number): void {
    check(libc().ioctl_int(fd, req, arg), 'ioctl', undefined, `0x${req.toString(16)}`);
  }
  setWinsize(fd: number, rows: number, cols: number): void {
    check(libc().ioctl_winsize(fd, K.TIOCSWINSZ, { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 }), 'ioctl', undefined, 'TIOCSWINSZ');
  }
  openpt(): { master: number; slavePath: string } {
    const l = libc();
    const O_RDWR = 2, O_NOCTTY = 0o400, O_CLOEXEC = 0o2000000;
    const master = check(l.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), 'posix_openpt');
    check(l.unlockpt(master), 'unlockpt');
    const buf = Buffer.alloc(128);
    const rc = l.ptsname_r(master, buf, buf.length);
    if (rc !== 0) throw new SyscallError('ptsname_r', rc, errnoName(rc));
    return { master, slavePath: buf.toString('latin1', 0, buf.indexOf(0)) };
  }
  execve(path: string, argv: string[], env: string[]): never {
    libc().execve(path, [...argv, null] as unknown as string[], [...env, null] as unknown as string[]);
    const e = errno();
    throw new SyscallError('execve', e, errnoName(e), path);
  }
  kill(pid: number, sig: number): void {
    check(libc().kill(pid, sig), 'kill', undefined, `${pid} ${sig}`);
  }
  getpid(): number {
    return libc().getpid();
  }
  writeProcFile(file: string, value: string): void {
    let fd: number;
    try {
      fd = openSync(file, 'w');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      throw new SyscallError('open', (osc.errno as Record<string, number>)[code] ?? 5, code, file);
    }
    try {
      writeSync(fd, value);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      throw new SyscallError('write', (osc.errno as Record<string, number>)[code] ?? 5, code, file);
    } finally {
      closeSync(fd);
    }
  }
  setOomScoreAdj(score: number): void {
    // the process's own procfs entry (its /proc is still the one it was started with)
    try {
      writeFileSync('/proc/self/oom_score_adj', String(score));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      throw new SyscallError('write', (osc.errno as Record<string, number>)[code] ?? 5, code, '/proc/self/oom_score_adj');
    }
  }
  umask(mask: number): number {
    return libc().umask(mask);
  }
  open(path: string, flags: number, mode = 0): number {
    return check(libc().open(path, flags, mode), 'open', path);
  }
  close(fd: number): void {
    check(libc().close(fd), 'close', undefined, `fd ${fd}`);
  }
  fchdir(fd: number): void {
    check(netlib().fchdir(fd), 'fchdir', undefined, `fd ${fd}`);
  }
  dup2(oldfd: number, newfd: number): void {
    check(libc().dup2(oldfd, newfd), 'dup2', undefined, `${oldfd} -> ${newfd}`);
  }
  linkUp(name: string): void {
    const l = libc();
    const AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000, SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914, IFF_UP = 1;
    const fd = check(netlib().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), 'socket');
    try {
      const ifr = Buffer.alloc(40);
      ifr.write(name, 0, 15, 'latin1');
      check(netlib().ioctl_buf(fd, SIOCGIFFLAGS, ifr), 'ioctl', name, 'SIOCGIFFLAGS');
      ifr.writeUInt16LE(ifr.readUInt16LE(16) | IFF_UP, 16);
      check(netlib().ioctl_buf(fd, SIOCSIFFLAGS, ifr), 'ioctl', name, 'SIOCSIFFLAGS');
    } finally {
      l.close(fd);
    }
  }
  seccompLoad(filter: SeccompFilter): void {
    seccompLoad(filter);
  }
  seccompLoadBpf(bpf: Buffer): void {
    seccompLoadBpf(bpf);
  }
  openptIn(ptmx: string, ptsDir: string): { master: number; slavePath: string } {
    const l = libc();
    const O_RDWR = 2, O_NOCTTY = 0o400, O_CLOEXEC = 0o2000000;
    const master = check(l.open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC, 0), 'open', ptmx);
    try {
      check(l.ioctl_intp(master, K.TIOCSPTLCK, [0]), 'ioctl', ptmx, 'TIOCSPTLCK');
      const n = [0];
      check(l.ioctl_intp(master, K.TIOCGPTN, n), 'ioctl', ptmx, 'TIOCGPTN');
      return { master, slavePath: `${ptsDir}/${n[0]}` };
    } catch (e) {
      l.close(master);
      throw e;
    }
  }
  signalDefault(sig: number): void {
    const SIG_ERR = -1;
    if (Number(netlib().signal(sig, null)) === SIG_ERR) {
      const e = errno();
      throw new SyscallError('signal', e, errnoName(e), undefined, String(sig));
    }
  }
  pidfdGetfd(pid: number, fd: number): number {
    const SYS_pidfd_open = 434, SYS_pidfd_getfd = 438;
    const pidfd = check(netlib().syscall3(SYS_pidfd_open, pid, 0, 0), 'pidfd_open', undefined, String(pid));
    try {
      return check(netlib().syscall3(SYS_pidfd_getfd, pidfd, fd, 0), 'pidfd_getfd', undefined, `${pid} fd ${fd}`);
    } finally {
      libc().close(pidfd);
    }
  }
}

let net: {
  socket: (d: number, t: number, p: number) => number;
  ioctl_buf: (fd: number, req: number, buf: Buffer) => number;
  fchdir: (fd: number) => number;
  syscall3: (nr: number, a: number, b: number, c: number) => number;
  signal: (sig: number, handler: null) => number | bigint;
} | undefined;
function netlib() {
  if (!net) {
    const c = koffi.load('libc.so.6');
    net = {
      socket: c.func('int socket(int domain, int type, int protocol)'),
      ioctl_buf: c.func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *buf)'),
      fchdir: c.func('int fchdir(int fd)'),
      syscall3: c.func('long syscall(long nr, long a, long b, long c)'),
      signal: c.func('intptr_t signal(int sig, void *handler)'),
    };
  }
  return net;
}

export { koffi };

/**
 * Loads every library LinuxSyscalls may need (libc, and libseccomp when asked)
 * while the host's filesystem is still reachable: the init calls it before pivot_root.
 */
export function preloadLibraries(seccomp: boolean): void {
  libc();
  netlib();
  fsat.fsatPreload();
  seccompBpfPreload();
  if (seccomp) seccompPreload();
}
