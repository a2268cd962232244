// fd-relative file and mount syscalls: openat2 (RESOLVE_IN_ROOT), statx,
// getdents64, the *at family, xattrs by (dirfd, name), pidfds, and the new
// mount API (open_tree, move_mount, mount_setattr, fsopen/fsconfig/fsmount).
// Everything that touches a path inside a container's rootfs is built on these
// (see rootfs/): a path string an image controls never reaches a syscall that
// resolves it from the host's root.
import { SyscallError } from '../errors/index.js';
import { errno, koffi } from './libc.js';
import { errnoName } from './errno.js';

// x86_64 syscall numbers of calls glibc 2.36 does not wrap
const NR = { openat2: 437, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, pidfd_open: 434, pidfd_send_signal: 424, mount_setattr: 442, fchmodat2: 452, setxattrat: 463, getxattrat: 464, listxattrat: 465 };

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;
export const AT_RECURSIVE = 0x8000;

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export const OPEN_TREE_CLONE = 1;
export const OPEN_TREE_CLOEXEC = O_CLOEXEC;
export const MOVE_MOUNT_F_EMPTY_PATH = 0x04;
export const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;
export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
export const MOUNT_ATTR__ATIME = 0x70;
export const MOUNT_ATTR_NODIRATIME = 0x80;
const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;

export const PROC_SUPER_MAGIC = 0x9fa0;
export const SYSFS_MAGIC = 0x62656572;

export type FileType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/** statx(2), as much of it as tsd uses. Times in nanoseconds since the epoch. */
export interface FileStat {
  type: FileType;
  /** the full st_mode (type bits and permissions) */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: bigint;
  /** "major:minor" of the filesystem: with ino, the identity of the inode */
  dev: string;
  rdevMajor: number;
  rdevMinor: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  mntId: bigint;
}

const typeOf = (mode: number): FileType => {
  switch (mode & 0o170000) {
    case 0o040000: return 'dir';
    case 0o120000: return 'symlink';
    case 0o020000: return 'char';
    case 0o060000: return 'block';
    case 0o010000: return 'fifo';
    case 0o140000: return 'socket';
    default: return 'file';
  }
};

let fns: ReturnType<typeof bind> | undefined;
function bind() {
  const c = koffi.load('libc.so.6');
  return {
    openat2: c.func('long syscall(long nr, int dirfd, const char *path, const uint8_t *how, size_t size)'),
    openat: c.func('int openat(int dirfd, const char *path, int flags, uint32 mode)'),
    close: c.func('int close(int fd)'),
    statx: c.func('int statx(int dirfd, const char *path, int flags, uint32 mask, _Out_ uint8_t *buf)'),
    fstatfs: c.func('int fstatfs(int fd, _Out_ uint8_t *buf)'),
    getdents64: c.func('intptr_t getdents64(int fd, _Out_ uint8_t *buf, size_t n)'),
    mkdirat: c.func('int mkdirat(int dirfd, const char *path, uint32 mode)'),
    mknodat: c.func('int mknodat(int dirfd, const char *path, uint32 mode, uint64 dev)'),
    symlinkat: c.func('int symlinkat(const char *target, int dirfd, const char *path)'),
    linkat: c.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
    renameat2: c.func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, uint32 flags)'),
    unlinkat: c.func('int unlinkat(int dirfd, const char *path, int flags)'),
    fchownat: c.func('int fchownat(int dirfd, const char *path, uint32 uid, uint32 gid, int flags)'),
    fchmodat2: c.func('long syscall(long nr, int dirfd, const char *path, uint32 mode, int flags)'),
    fchmod: c.func('int fchmod(int fd, uint32 mode)'),
    chmod: c.func('int chmod(const char *path, uint32 mode)'),
    utimensat: c.func('int utimensat(int dirfd, const char *path, const uint8_t *times, int flags)'),
    readlinkat: c.func('intptr_t readlinkat(int dirfd, const char *path, _Out_ uint8_t *buf, size_t n)'),
    xattrat: c.func('long syscall(long nr, int dirfd, const char *path, uint32 flags, const char *name, _Inout_ uint8_t *args, size_t size)'),
    listxattrat: c.func('long syscall(long nr, int dirfd, const char *path, uint32 flags, _Out_ uint8_t *list, size_t size)'),
    lsetxattr: c.func('int lsetxattr(const char *path, const char *name, const uint8_t *value, size_t size, int flags)'),
    lgetxattr: c.func('intptr_t lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)'),
    llistxattr: c.func('intptr_t llistxattr(const char *path, _Out_ uint8_t *list, size_t size)'),
    fsetxattr: c.func('int fsetxattr(int fd, const char *name, const uint8_t *value, size_t size, int flags)'),
    pidfd_open: c.func('long syscall(long nr, int pid, uint32 flags)'),
    pidfd_send_signal: c.func('long syscall(long nr, int pidfd, int sig, void *info, uint32 flags)'),
    open_tree: c.func('long syscall(long nr, int dirfd, const char *path, uint32 flags)'),
    move_mount: c.func('long syscall(long nr, int fromfd, const char *frompath, int tofd, const char *topath, uint32 flags)'),
    mount_setattr: c.func('long syscall(long nr, int dirfd, const char *path, uint32 flags, const uint8_t *attr, size_t size)'),
    fsopen: c.func('long syscall(long nr, const char *fstype, uint32 flags)'),
    fsconfig: c.func('long syscall(long nr, int fd, uint32 cmd, const char *key, const char *value, int aux)'),
    fsmount: c.func('long syscall(long nr, int fd, uint32 flags, uint32 attrs)'),
    fchdir: c.func('int fchdir(int fd)'),
  };
}
const f = () => (fns ??= bind());

/** Loads the bindings now (the init calls it before pivot_root, while libc is reachable). */
export function fsatPreload(): void {
  f();
}

function check(rc: number | bigint, call: string, path?: string, detail?: string): number {
  const n = Number(rc);
  if (n < 0) {
    const e = errno();
    throw new SyscallError(call, e, errnoName(e), path, detail);
  }
  return n;
}

/** The errno code of a failure from this module ('ENOENT', …), or null. */
export const codeOf = (e: unknown): string | null => (e instanceof SyscallError ? e.errnoCode : null);

/**
 * openat2(2). `resolve` is a RESOLVE_* mask. EAGAIN (a rename or mount raced a
 * RESOLVE_IN_ROOT/BENEATH walk: the kernel refuses to guess) is retried.
 */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags | O_CLOEXEC), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  for (let i = 0; ; i++) {
    const rc = Number(f().openat2(NR.openat2, dirfd, path, how, 24));
    if (rc >= 0) return rc;
    const e = errno();
    if (errnoName(e) === 'EAGAIN' && i < 64) continue;
    throw new SyscallError('openat2', e, errnoName(e), path);
  }
}

export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(f().openat(dirfd, path, flags | O_CLOEXEC, mode), 'openat', path);
}

/**
 * Opens the inode an O_PATH fd refers to with real access `flags`, through the
 * daemon's own procfs (the reopen of libpathrs): exactly that inode, whatever
 * its path became; opening it by name again could land on something else.
 */
export function reopen(fd: number, flags: number): number {
  return check(f().openat(AT_FDCWD, `/proc/self/fd/${fd}`, flags | O_CLOEXEC, 0), 'open', `/proc/self/fd/${fd}`);
}

export function close(fd: number): void {
  f().close(fd);
}

const STATX_BASIC = 0x7ff;
const STATX_MNT_ID = 0x1000;

export function statx(dirfd: number, path: string, flags: number): FileStat {
  const b = Buffer.alloc(256);
  check(f().statx(dirfd, path, flags, STATX_BASIC | STATX_MNT_ID, b), 'statx', path);
  const mode = b.readUInt16LE(28);
  const ts = (off: number) => b.readBigInt64LE(off) * 1_000_000_000n + BigInt(b.readUInt32LE(off + 8));
  return {
    type: typeOf(mode), mode, uid: b.readUInt32LE(20), gid: b.readUInt32LE(24), size: Number(b.readBigUInt64LE(40)),
    nlink: b.readUInt32LE(16), ino: b.readBigUInt64LE(32), dev: `${b.readUInt32LE(136)}:${b.readUInt32LE(140)}`,
    rdevMajor: b.readUInt32LE(128), rdevMinor: b.readUInt32LE(132), atimeNs: ts(64), mtimeNs: ts(112), mntId: b.readBigUInt64LE(144),
  };
}

/** fstat of an fd (O_PATH fds too). */
export const fstat = (fd: number): FileStat => statx(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);

/** f_type of the filesystem `fd` is on (PROC_SUPER_MAGIC, …). */
export function fstatfsType(fd: number): number {
  const b = Buffer.alloc(120);
  check(f().fstatfs(fd, b), 'fstatfs');
  return Number(b.readBigInt64LE(0));
}

/** The names in a directory opened O_RDONLY|O_DIRECTORY (without "." and ".."), in kernel order. */
export function getdents(fd: number): string[] {
  const out: string[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    const n = Number(f().getdents64(fd, buf, buf.length));
    if (n < 0) {
      const e = errno();
      throw new SyscallError('getdents64', e, errnoName(e));
    }
    if (n === 0) return out;
    for (let off = 0; off < n;) {
      const reclen = buf.readUInt16LE(off + 16);
      const nameStart = off + 19;
      const end = buf.indexOf(0, nameStart);
      const name = buf.toString('utf8', nameStart, end < 0 || end > off + reclen ? off + reclen : end);
      if (name !== '.' && name !== '..') out.push(name);
      off += reclen;
    }
  }
}

export function mkdirat(dirfd: number, name: string, mode: number): void {
  check(f().mkdirat(dirfd, name, mode), 'mkdirat', name);
}

const makedev = (major: number, minor: number): bigint =>
  (BigInt(minor & 0xff) | (BigInt(major & 0xfff) << 8n) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n));

export function mknodat(dirfd: number, name: string, mode: number, major: number, minor: number): void {
  check(f().mknodat(dirfd, name, mode, makedev(major, minor)), 'mknodat', name);
}

export function symlinkat(target: string, dirfd: number, name: string): void {
  check(f().symlinkat(target, dirfd, name), 'symlinkat', name);
}

export function linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string, flags = 0): void {
  check(f().linkat(olddirfd, oldname, newdirfd, newname, flags), 'linkat', newname);
}

export function renameat2(olddirfd: number, oldname: string, newdirfd: number, newname: string, flags = 0): void {
  check(f().renameat2(olddirfd, oldname, newdirfd, newname, flags), 'renameat2', newname);
}

export function unlinkat(dirfd: number, name: string, flags = 0): void {
  check(f().unlinkat(dirfd, name, flags), 'unlinkat', name);
}

export function fchownat(dirfd: number, name: string, uid: number, gid: number, flags: number): void {
  check(f().fchownat(dirfd, name, uid, gid, flags), 'fchownat', name);
}

/** chmod of the inode `fd` refers to (O_PATH fds too; never a symlink's target). */
export function fchmodPath(fd: number, mode: number): void {
  const rc = Number(f().fchmodat2(NR.fchmodat2, fd, '', mode, AT_EMPTY_PATH));
  if (rc === 0) return;
  const e = errno();
  if (errnoName(e) !== 'ENOSYS') throw new SyscallError('fchmodat2', e, errnoName(e));
  // before 6.6: the daemon's own procfs names exactly this inode
  check(f().chmod(`/proc/self/fd/${fd}`, mode), 'chmod', `/proc/self/fd/${fd}`);
}

/** utimensat(2) with nanosecond times. */
export function utimensat(dirfd: number, name: string, atimeNs: bigint, mtimeNs: bigint, flags: number): void {
  const b = Buffer.alloc(32);
  b.writeBigInt64LE(atimeNs / 1_000_000_000n, 0);
  b.writeBigInt64LE(atimeNs % 1_000_000_000n, 8);
  b.writeBigInt64LE(mtimeNs / 1_000_000_000n, 16);
  b.writeBigInt64LE(mtimeNs % 1_000_000_000n, 24);
  check(f().utimensat(dirfd, name, b, flags), 'utimensat', name);
}

export function readlinkat(dirfd: number, name: string): string {
  const b = Buffer.alloc(4097);
  const n = check(f().readlinkat(dirfd, name, b, b.length), 'readlinkat', name);
  return b.toString('utf8', 0, n);
}

const ENOSYS_XATTRAT = { set: false, get: false, list: false };
/** Before 6.13 (no *xattrat): the pinned parent through the daemon's own procfs, the last component not followed. */
const viaProc = (dirfd: number, name: string): string => (dirfd === AT_FDCWD ? name : `/proc/self/fd/${dirfd}/${name}`);

/** Sets xattr `attr` on `name` in directory `dirfd`, never following a symlink at `name`. */
export function setxattrAt(dirfd: number, name: string, attr: string, value: Buffer, flags = 0): void {
  if (!ENOSYS_XATTRAT.set) {
    // struct xattr_args { u64 value; u32 size; u32 flags }: the value pointer is filled by koffi below
    const args = Buffer.alloc(16);
    const ptr = koffi.address(value);
    args.writeBigUInt64LE(BigInt(ptr), 0);
    args.writeUInt32LE(value.length, 8);
    args.writeUInt32LE(flags, 12);
    const rc = Number(f().xattrat(NR.setxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attr, args, 16));
    if (rc === 0) return;
    const e = errno();
    if (errnoName(e) !== 'ENOSYS') throw new SyscallError('setxattrat', e, errnoName(e), name, attr);
    ENOSYS_XATTRAT.set = true;
  }
  check(f().lsetxattr(viaProc(dirfd, name), attr, value, value.length, flags), 'lsetxattr', name, attr);
}

/** xattr `attr` of `name` in `dirfd` (not following a symlink), or null when it has none. */
export function getxattrAt(dirfd: number, name: string, attr: string): Buffer | null {
  const value = Buffer.alloc(65536);
  let n: number;
  if (!ENOSYS_XATTRAT.get) {
    const args = Buffer.alloc(16);
    args.writeBigUInt64LE(BigInt(koffi.address(value)), 0);
    args.writeUInt32LE(value.length, 8);
    n = Number(f().xattrat(NR.getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attr, args, 16));
    if (n < 0 && errnoName(errno()) === 'ENOSYS') ENOSYS_XATTRAT.get = true;
  }
  if (ENOSYS_XATTRAT.get) n = Number(f().lgetxattr(viaProc(dirfd, name), attr, value, value.length));
  if (n! < 0) {
    const e = errnoName(errno());
    if (e === 'ENODATA' || e === 'ENOTSUP' || e === 'EOPNOTSUPP') return null;
    throw new SyscallError('getxattrat', errno(), e, name, attr);
  }
  return Buffer.from(value.subarray(0, n!));
}

/** The xattr names of `name` in `dirfd` (not following a symlink). */
export function listxattrAt(dirfd: number, name: string): string[] {
  const list = Buffer.alloc(65536);
  let n: number;
  if (!ENOSYS_XATTRAT.list) {
    n = Number(f().listxattrat(NR.listxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, list, list.length));
    if (n < 0 && errnoName(errno()) === 'ENOSYS') ENOSYS_XATTRAT.list = true;
  }
  if (ENOSYS_XATTRAT.list) n = Number(f().llistxattr(viaProc(dirfd, name), list, list.length));
  if (n! < 0) {
    const e = errnoName(errno());
    if (e === 'ENOTSUP' || e === 'EOPNOTSUPP') return [];
    throw new SyscallError('listxattrat', errno(), e, name);
  }
  return list.subarray(0, n!).toString('latin1').split('\0').filter(Boolean);
}

export function fchdir(fd: number): void {
  check(f().fchdir(fd), 'fchdir');
}

export function pidfdOpen(pid: number): number {
  return check(f().pidfd_open(NR.pidfd_open, pid, 0), 'pidfd_open', undefined, String(pid));
}

/** True while the process of `pidfd` lives (signal 0 through the pidfd: no pid reuse possible). */
export function pidfdAlive(pidfd: number): boolean {
  return Number(f().pidfd_send_signal(NR.pidfd_send_signal, pidfd, 0, null, 0)) === 0;
}

export function pidfdSignal(pidfd: number, sig: number): void {
  check(f().pidfd_send_signal(NR.pidfd_send_signal, pidfd, sig, null, 0), 'pidfd_send_signal', undefined, String(sig));
}

// ---- the new mount API: every mount made from and onto file descriptors

/** A detached copy of the mount tree at `path` (relative to `dirfd`; '' = dirfd itself), as an fd. */
export function openTree(dirfd: number, path: string, recursive: boolean): number {
  const flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) | (path === '' ? AT_EMPTY_PATH : 0);
  return check(f().open_tree(NR.open_tree, dirfd, path, flags), 'open_tree', path || `fd ${dirfd}`);
}

/** Attaches the mount `mountFd` onto the (already resolved) target `targetFd`. */
export function moveMount(mountFd: number, targetFd: number): void {
  check(f().move_mount(NR.move_mount, mountFd, '', targetFd, '', MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH), 'move_mount');
}

/** mount_setattr(2) on the mount `fd` is the root of: MOUNT_ATTR_* to set/clear, a propagation type (MS_PRIVATE…) or 0. */
export function mountSetattr(fd: number, set: number, clear: number, propagation: number, recursive: boolean): void {
  const a = Buffer.alloc(32);
  a.writeBigUInt64LE(BigInt(set), 0);
  a.writeBigUInt64LE(BigInt(clear), 8);
  a.writeBigUInt64LE(BigInt(propagation), 16);
  check(f().mount_setattr(NR.mount_setattr, fd, '', AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), a, 32), 'mount_setattr');
}

/**
 * A new filesystem instance as a detached mount fd (fsopen, fsconfig, fsmount):
 * `data` is mount(2)'s comma list ("mode=755,size=64k", "cpu,cpuacct").
 */
export function fsMount(fstype: string, source: string, data: string | null, attrs: number): number {
  const fs = check(f().fsopen(NR.fsopen, fstype, FSOPEN_CLOEXEC), 'fsopen', fstype);
  try {
    check(f().fsconfig(NR.fsconfig, fs, FSCONFIG_SET_STRING, 'source', source, 0), 'fsconfig', fstype, 'source');
    for (const o of (data ?? '').split(',').filter(Boolean)) {
      const eq = o.indexOf('=');
      if (eq < 0) check(f().fsconfig(NR.fsconfig, fs, FSCONFIG_SET_FLAG, o, null, 0), 'fsconfig', fstype, o);
      else check(f().fsconfig(NR.fsconfig, fs, FSCONFIG_SET_STRING, o.slice(0, eq), o.slice(eq + 1), 0), 'fsconfig', fstype, o);
    }
    check(f().fsconfig(NR.fsconfig, fs, FSCONFIG_CMD_CREATE, null, null, 0), 'fsconfig', fstype, 'create');
    return check(f().fsmount(NR.fsmount, fs, FSMOUNT_CLOEXEC, attrs), 'fsmount', fstype);
  } finally {
    f().close(fs);
  }
}

/** mount(2) flags (MS_*) as MOUNT_ATTR_* bits. */
export function mountAttrs(msFlags: number): number {
  let a = 0;
  if (msFlags & 1) a |= MOUNT_ATTR_RDONLY;
  if (msFlags & 2) a |= MOUNT_ATTR_NOSUID;
  if (msFlags & 4) a |= MOUNT_ATTR_NODEV;
  if (msFlags & 8) a |= MOUNT_ATTR_NOEXEC;
  if (msFlags & 1024) a |= MOUNT_ATTR_NOATIME;
  if (msFlags & 2048) a |= MOUNT_ATTR_NODIRATIME;
  if (msFlags & (1 << 24)) a |= MOUNT_ATTR_STRICTATIME;
  return a;
}
