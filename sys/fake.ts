// A recording fake of Syscalls for unit tests: every call is appended to
// `calls`; `failOn` scripts an errno for a given call (and optional path).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SyscallError } from '../errors/index.js';
import { fstat as fsatFstat, type FileStat } from './fsat.js';
import type { Syscalls, Rlimit, CapSets } from './syscalls.js';
import type { SeccompFilter } from './seccomp.js';

let fakeRoot: string | null = null;
/** One temp dir per process for the fake filesystems, removed at exit. */
function fakeFsRoot(): string {
  if (!fakeRoot) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-fake-mounts-'));
    fakeRoot = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return fakeRoot;
}

export interface RecordedCall { call: string; args: unknown[] }

export class FakeSyscalls implements Syscalls {
  readonly calls: RecordedCall[] = [];
  private failures = new Map<string, string>();
  caps: CapSets = { effective: (1n << 41n) - 1n, permitted: (1n << 41n) - 1n, inheritable: 0n };

  /** Make `call` (optionally only on `path`) fail with errno code `code`, e.g. 'EPERM'. */
  failOn(call: string, code: string, path?: string): this {
    this.failures.set(path ? `${call}:${path}` : call, code);
    return this;
  }
  names(): string[] {
    return this.calls.map((c) => c.call);
  }
  private rec(call: string, args: unknown[], path?: string): void {
    this.calls.push({ call, args });
    const code = (path && this.failures.get(`${call}:${path}`)) || this.failures.get(call);
    if (code) throw new SyscallError(call, 1, code, path);
  }
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null) { this.rec('mount', [source, target, fstype, flags, data], target); }
  umount2(target: string, flags: number) { this.rec('umount2', [target, flags], target); }
  pivotRoot(newRoot: string, putOld: string) { this.rec('pivot_root', [newRoot, putOld], newRoot); }
  unshare(flags: number) { this.rec('unshare', [flags]); }
  setns(fd: number, nstype: number) { this.rec('setns', [fd, nstype]); }
  sethostname(name: string) { this.rec('sethostname', [name]); }
  setdomainname(name: string) { this.rec('setdomainname', [name]); }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0) { this.rec('prctl', [option, a2, a3, a4, a5]); return 0; }
  capget(): CapSets { this.rec('capget', []); return { ...this.caps }; }
  capset(sets: CapSets) { this.rec('capset', [sets]); this.caps = { ...sets }; }
  setresuid(uid: number) { this.rec('setresuid', [uid]); }
  setresgid(gid: number) { this.rec('setresgid', [gid]); }
  setgroups(gids: number[]) { this.rec('setgroups', [gids]); }
  setrlimit(resource: number, limit: Rlimit) { this.rec('setrlimit', [resource, limit]); }
  prlimit(pid: number, resource: number, limit: Rlimit) { this.rec('prlimit', [pid, resource, limit]); }
  chdir(path: string) { this.rec('chdir', [path], path); }
  chroot(path: string) { this.rec('chroot', [path], path); }
  mknod(path: string, mode: number, major: number, minor: number) { this.rec('mknod', [path, mode, major, minor], path); }
  lsetxattr(path: string, name: string, value: Buffer, flags = 0) { this.rec('lsetxattr', [path, name, value, flags], path); }
  lgetxattr(path: string, name: string): Buffer | null { this.rec('lgetxattr', [path, name], path); return null; }
  llistxattr(path: string): string[] { this.rec('llistxattr', [path], path); return []; }
  mknodat(dirfd: number, name: string, mode: number, major: number, minor: number) {
    this.rec('mknodat', [dirfd, name, mode, major, minor], name);
    // a placeholder so later lookups find it (a real device needs root)
    const dir = this.fdName(dirfd);
    if (dir.startsWith('/')) {
      try { fs.writeFileSync(`${dir}/${name}`, '', { flag: 'wx' }); this.nodes.set(`${dir}/${name}`, [major, minor]); } catch { /* exists */ }
    }
  }
  setxattrAt(dirfd: number, name: string, attr: string, value: Buffer) { this.rec('setxattrAt', [dirfd, name, attr, value], name); }
  /**
   * fds the fake mount calls hand out, by what they stand for. A new filesystem is
   * an fd of a fresh empty directory (so the *at calls a caller makes in it work);
   * an fd number reused later for something else is told apart by its real path.
   */
  private readonly fakeFds = new Map<number, { label: string; path: string | null }>();
  private nextFake = 100000;
  /** what an fd argument names: a fake mount's label, or the real path of a real fd (Root's O_PATH fds) */
  fdName(fd: number): string {
    let real: string | null = null;
    try { real = fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { /* not open */ }
    const f = this.fakeFds.get(fd);
    if (f && f.path === real) return f.label;
    return real ?? `fd ${fd}`;
  }
  fsMount(fstype: string, source: string, data: string | null, attrs: number) {
    this.rec('fsMount', [fstype, source, data, attrs], fstype);
    const dir = fs.mkdtempSync(path.join(fakeFsRoot(), 'fs-'));
    const fd = fs.openSync(dir, 0o10000000 /* O_PATH */ | fs.constants.O_DIRECTORY);
    this.fakeFds.set(fd, { label: `fsmount:${fstype}`, path: dir });
    return fd;
  }
  private fakeFd(label: string): number {
    const fd = this.nextFake++;
    this.fakeFds.set(fd, { label, path: null });
    return fd;
  }
  openTree(dirfd: number, path: string, recursive: boolean) {
    const from = path === '' ? this.fdName(dirfd) : path;
    this.rec('openTree', [from, recursive], from);
    return this.fakeFd(`tree:${from}`);
  }
  moveMount(mountFd: number, targetFd: number) { this.rec('moveMount', [this.fdName(mountFd), this.fdName(targetFd)], this.fdName(targetFd)); }
  mountSetattr(fd: number, set: number, clear: number, propagation: number, recursive: boolean) { this.rec('mountSetattr', [this.fdName(fd), set, clear, propagation, recursive]); }
  /** stat by the real fd; what the fake mknodat made (a placeholder file) reads as the device it stands for */
  fstat(fd: number): FileStat {
    const st = fsatFstat(fd);
    const dev = this.nodes.get(this.fdName(fd));
    return dev ? { ...st, type: 'char', mode: 0o020666, rdevMajor: dev[0], rdevMinor: dev[1] } : st;
  }
  private readonly nodes = new Map<string, [number, number]>();
  setCloexec(fd: number, on: boolean) { this.rec('fcntl', [fd, on]); }
  setBlocking(fd: number) { this.rec('setBlocking', [fd]); }
  setsid() { this.rec('setsid', []); }
  ioctlInt(fd: number, req: number, arg: number) { this.rec('ioctl', [fd, req, arg]); }
  setWinsize(fd: number, rows: number, cols: number) { this.rec('ioctl', [fd, 'TIOCSWINSZ', rows, cols]); }
  openpt() { this.rec('openpt', []); return { master: 100, slavePath: '/dev/pts/99' }; }
  execve(path: string, argv: string[], env: string[]): never {
    this.rec('execve', [path, argv, env], path);
    throw new Error('FakeSyscalls.execve: the process would be replaced here');
  }
  kill(pid: number, sig: number) { this.rec('kill', [pid, sig]); }
  getpid() { return 1; }
  umask(mask: number) { this.rec('umask', [mask]); return 0o22; }
  private nextFd = 200;
  open(path: string, flags: number, mode = 0) { this.rec('open', [path, flags, mode], path); return this.nextFd++; }
  close(fd: number) { this.rec('close', [fd]); }
  fchdir(fd: number) { this.rec('fchdir', [fd]); }
  dup2(oldfd: number, newfd: number) { this.rec('dup2', [oldfd, newfd]); }
  linkUp(name: string) { this.rec('linkUp', [name], name); }
  seccompLoad(filter: SeccompFilter) { this.rec('seccompLoad', [filter]); }
  seccompLoadBpf(bpf: Buffer) { this.rec('seccompLoadBpf', [bpf]); }
  openptIn(ptmx: string, ptsDir: string) { this.rec('openptIn', [ptmx, ptsDir], ptmx); return { master: 101, slavePath: `${ptsDir}/0` }; }
  signalDefault(sig: number) { this.rec('signal', [sig]); }
  pidfdGetfd(pid: number, fd: number) { this.rec('pidfdGetfd', [pid, fd]); return this.nextFd++; }
  setOomScoreAdj(score: number) { this.rec('setOomScoreAdj', [score]); }
  writeProcFile(path: string, value: string) { this.rec('writeProcFile', [path, value], path); }
}
