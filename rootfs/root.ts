// A container's filesystem as a file descriptor: every lookup is an openat2
// with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS from that fd, so symlinks
// (absolute or relative) and ".." resolve as the container would see them and
// never leave it, and /proc/self/fd/N style magic links inside it are refused.
// Directories are then read, walked and changed through their own fds
// (getdents64, statx, the *at calls), one component at a time: a path string
// is never re-resolved from the host's root, whatever the container renames
// or swaps meanwhile (CVE-2018-15664, CVE-2021-30465, CVE-2024-21626 class).
// The approach of runc's libpathrs and filepath-securejoin's OpenInRoot.
import fs from 'node:fs';
import path from 'node:path';
import { DaemonError } from '../errors/index.js';
import { fsat as F } from '../sys/index.js';
import type { FileStat } from '../sys/index.js';

export type { FileStat, FileType } from '../sys/index.js';

const RESOLVE = F.RESOLVE_IN_ROOT | F.RESOLVE_NO_MAGICLINKS;

/** The errno code of a failed call ('ENOENT', 'ELOOP', …), or null. */
export const errnoOf = (e: unknown): string | null => F.codeOf(e);

/** Cleans a container path into what openat2 gets relative to the root ('.' for the root itself). */
export function inRoot(p: string): string {
  const n = path.posix.normalize('/' + p);
  return n === '/' ? '.' : n.slice(1);
}

/** A directory opened for reading, changed only through its fd. */
export class Dir {
  private closed = false;
  constructor(readonly fd: number) {}

  /** The entry names, sorted (not "." and ".."). Read once per Dir. */
  names(): string[] {
    return F.getdents(this.fd).sort();
  }
  /** lstat of one entry. */
  lstat(name: string): FileStat {
    return F.statx(this.fd, checkName(name), F.AT_SYMLINK_NOFOLLOW);
  }
  lstatOrNull(name: string): FileStat | null {
    try {
      return this.lstat(name);
    } catch (e) {
      if (F.codeOf(e) === 'ENOENT') return null;
      throw e;
    }
  }
  /** Opens one entry, never following a symlink there. */
  open(name: string, flags: number, mode = 0): number {
    return F.openat(this.fd, checkName(name), flags | F.O_NOFOLLOW, mode);
  }
  /** A sub-directory (refused if `name` is a symlink or not a directory). */
  sub(name: string): Dir {
    return new Dir(this.open(name, F.O_RDONLY | F.O_DIRECTORY));
  }
  readlink(name: string): string {
    return F.readlinkat(this.fd, checkName(name));
  }
  /**
   * A regular file to read: opened O_PATH without following, checked on the fd,
   * then reopened for reading (no open(2) side effect ever reaches a device or
   * FIFO swapped in). Null when `name` is gone or no longer a regular file.
   */
  openFile(name: string): { fd: number; stat: FileStat } | null {
    let p: number;
    try {
      p = this.open(name, F.O_PATH);
    } catch (e) {
      const c = F.codeOf(e);
      if (c === 'ENOENT' || c === 'ELOOP') return null;
      throw e;
    }
    try {
      const stat = F.fstat(p);
      if (stat.type !== 'file') return null;
      return { fd: F.reopen(p, F.O_RDONLY | F.O_NONBLOCK), stat };
    } finally {
      F.close(p);
    }
  }
  /** fstat of the directory itself. */
  stat(): FileStat {
    return F.fstat(this.fd);
  }
  xattrs(name: string): string[] {
    return F.listxattrAt(this.fd, checkName(name));
  }
  xattr(name: string, attr: string): Buffer | null {
    return F.getxattrAt(this.fd, checkName(name), attr);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    F.close(this.fd);
  }
}

const checkName = (name: string): string => {
  if (name === '' || name.includes('/') || name.includes('\0')) throw new DaemonError('invalid-parameter', 'TSD_ERR_BAD_NAME', `invalid file name ${JSON.stringify(name)}`);
  return name;
};

/** A file read into memory with its stat. */
export interface ReadResult { data: Buffer; stat: FileStat }

export class Root {
  private closed = false;
  /** `fd`: an O_PATH (or readable) directory fd; the Root owns it and closes it. */
  constructor(readonly fd: number, readonly label = `fd ${fd}`) {}

  /** A Root at a directory of the daemon's own (the data root, "/" in the init after pivot_root): the path is trusted. */
  static open(hostPath: string): Root {
    return new Root(F.openat(F.AT_FDCWD, hostPath, F.O_PATH | F.O_DIRECTORY), hostPath);
  }

  /**
   * The root directory process `pid` sees (its mount namespace: a running
   * container's volumes, binds and tmpfs included). `stillOurs` is checked after
   * the open, through a pidfd taken before it, so a pid reused meanwhile is detected.
   */
  static ofProcess(pid: number, stillOurs: () => boolean): Root {
    const pidfd = F.pidfdOpen(pid);
    try {
      const fd = F.openat(F.AT_FDCWD, `/proc/${pid}/root`, F.O_PATH | F.O_DIRECTORY);
      if (!F.pidfdAlive(pidfd) || !stillOurs()) {
        F.close(fd);
        throw new DaemonError('conflict', 'TSD_ERR_NOT_RUNNING', `process ${pid} exited`);
      }
      return new Root(fd, `/proc/${pid}/root`);
    } finally {
      F.close(pidfd);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    F.close(this.fd);
  }

  /** openat2 from the root: symlinks followed inside it (the last one too unless `follow` is false). */
  openFd(p: string, flags: number, opts: { follow?: boolean; mode?: number } = {}): number {
    return F.openat2(this.fd, inRoot(p), flags | (opts.follow === false ? F.O_NOFOLLOW : 0), opts.mode ?? 0, RESOLVE);
  }

  /** lstat (follow=false) or stat of a container path; null when it does not exist. */
  statOrNull(p: string, follow: boolean): FileStat | null {
    let fd: number;
    try {
      fd = this.openFd(p, F.O_PATH, { follow });
    } catch (e) {
      const c = F.codeOf(e);
      if (c === 'ENOENT' || c === 'ENOTDIR') return null;
      throw e;
    }
    try {
      return F.fstat(fd);
    } finally {
      F.close(fd);
    }
  }

  readlink(p: string): string {
    const fd = this.openFd(p, F.O_PATH, { follow: false });
    try {
      return F.readlinkat(fd, '');
    } finally {
      F.close(fd);
    }
  }

  /** A directory to read (symlinks on the way followed inside the root; the last one unless `follow` is false). */
  dir(p: string, follow = true): Dir {
    return new Dir(this.openFd(p, F.O_RDONLY | F.O_DIRECTORY, { follow }));
  }

  /**
   * The container path `p` ends at once its symlinks are followed inside the root
   * (as far as they exist: a dangling tail is kept as written), for display, as
   * Docker's FollowSymlinkInScope. Access always goes through the fds, never this string.
   */
  resolvedPath(p: string, followLast = true): string {
    const parts = inRoot(p).split('/').filter((x) => x && x !== '.');
    const out: string[] = [];
    let hops = 0;
    while (parts.length) {
      const part = parts.shift()!;
      if (part === '..') { out.pop(); continue; }
      const cand = [...out, part].join('/');
      let st: FileStat | null = null;
      try {
        st = this.statOrNull(cand, false);
      } catch { st = null; }
      if (st?.type === 'symlink' && (parts.length > 0 || followLast)) {
        if (++hops > 255) throw new DaemonError('invalid-parameter', 'TSD_ERR_SYMLINK_LOOP', `too many levels of symbolic links: ${p}`);
        const target = this.readlink(cand);
        if (target.startsWith('/')) out.length = 0;
        parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
        continue;
      }
      out.push(part);
    }
    return '/' + out.join('/');
  }

  /**
   * mkdir -p inside the root, one component at a time through fds: existing
   * symlinks followed inside the root, missing directories created with `mode`.
   * Bounded (at most 255 components, each opened once) and, with `avoidProcfs`,
   * refusing to enter procfs or sysfs. Returns an O_PATH fd of the directory.
   */
  mkdirAll(p: string, mode = 0o755, opts: { avoidProcfs?: boolean } = {}): number {
    if (inRoot(p).split('/').length > 255) throw new DaemonError('invalid-parameter', 'TSD_ERR_PATH_TOO_DEEP', `path too deep: ${p}`);
    // symlinks followed first (through fds, as far as they exist: a dangling one's target is made),
    // then every component opened without following: a symlink raced in makes this fail, never escape
    const parts = inRoot(this.resolvedPath(p, true)).split('/').filter((x) => x && x !== '.');
    const guard = (fd: number, at: string): number => {
      if (opts.avoidProcfs) {
        const t = F.fstatfsType(fd);
        if (t === F.PROC_SUPER_MAGIC || t === F.SYSFS_MAGIC) {
          F.close(fd);
          throw new DaemonError('invalid-parameter', 'TSD_ERR_IN_PROCFS', `mkdir ${p}: ${at} is on procfs or sysfs`);
        }
      }
      return fd;
    };
    let cur = guard(F.openat(this.fd, '.', F.O_PATH | F.O_DIRECTORY), '/');
    try {
      for (let i = 0; i < parts.length; i++) {
        const name = parts[i]!;
        let next: number;
        try {
          next = F.openat(cur, name, F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW);
        } catch (e) {
          if (F.codeOf(e) !== 'ENOENT') throw e;
          try {
            F.mkdirat(cur, name, mode);
          } catch (e2) {
            if (F.codeOf(e2) !== 'EEXIST') throw e2;
          }
          next = F.openat(cur, name, F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW);
        }
        F.close(cur);
        cur = -1;
        cur = guard(next, '/' + parts.slice(0, i + 1).join('/'));
      }
      const r = cur;
      cur = -1;
      return r;
    } finally {
      if (cur >= 0) F.close(cur);
    }
  }

  /**
   * Reads a regular file, opened O_NONBLOCK (a FIFO never blocks) and checked on
   * the fd to be a regular file of at most `maxSize` bytes. Null when missing.
   */
  readFile(p: string, maxSize: number, opts: { follow?: boolean } = {}): ReadResult | null {
    let fd: number;
    try {
      fd = this.openFd(p, F.O_RDONLY | F.O_NONBLOCK | F.O_NOCTTY, { follow: opts.follow ?? true });
    } catch (e) {
      const c = F.codeOf(e);
      if (c === 'ENOENT' || c === 'ENOTDIR') return null;
      throw e;
    }
    try {
      const stat = F.fstat(fd);
      if (stat.type !== 'file') throw new DaemonError('invalid-parameter', 'TSD_ERR_NOT_REGULAR', `${p} is not a regular file`);
      if (stat.size > maxSize) throw new DaemonError('invalid-parameter', 'TSD_ERR_FILE_TOO_LARGE', `${p} is larger than ${maxSize} bytes`);
      const data = readAll(fd, maxSize);
      return { data, stat };
    } finally {
      F.close(fd);
    }
  }
}

/** Reads an fd to its end, failing past `max` bytes (the file may have grown since fstat). */
export function readAll(fd: number, max: number): Buffer {
  // node:fs on a raw fd: readSync uses pread at `position`
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(65536, max + 1 - total));
    const n = readSyncAt(fd, buf, total);
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
    if (total > max) throw new DaemonError('invalid-parameter', 'TSD_ERR_FILE_TOO_LARGE', `file larger than ${max} bytes`);
  }
  return Buffer.concat(chunks, total);
}

const readSyncAt = (fd: number, buf: Buffer, pos: number): number => {
  for (;;) {
    try {
      return fs.readSync(fd, buf, 0, buf.length, pos);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
  }
};
