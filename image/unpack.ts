// Applying a tar stream to a directory through file descriptors: regular files,
// dirs, symlinks, hardlinks, devices, fifos, owners, modes, mtimes, xattrs;
// OCI whiteouts become overlayfs whiteouts.
//
// Two modes. A layer (a fresh directory of the daemon's): every parent of an
// entry must be a real directory inside it; `..`, absolute names, symlinked
// parents and hardlinks leaving it are refused (HostileLayerError). A container
// (docker cp into it: a Root and a base path): parents resolve inside the
// container's root as Docker's chrooted untar does, symlinks included, and can
// never leave it, whatever the container renames meanwhile.
//
// Every lookup is fd-relative (rootfs/): no path string is ever resolved from
// the host's root. The stream's errors (a truncated tar, a PAX size larger than
// the body) reject the returned promise; nothing is left emitting 'error'.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { DaemonError, invalidParameter } from '../errors/index.js';
import type { Syscalls } from '../sys/index.js';
import { fsat as F } from '../sys/index.js';
import { Root, Dir, errnoOf } from '../rootfs/index.js';
import { paxToBytes } from './tar-pax.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

export class HostileLayerError extends DaemonError {
  constructor(entry: string, why: string) {
    super('invalid-parameter', 'TSD_ERR_HOSTILE_LAYER', `refusing layer entry ${JSON.stringify(entry)}: ${why}`);
  }
}

/**
 * Cleans a tar entry name into a relative path inside the layer ("" is the root).
 * Throws on absolute names and any ".." component.
 */
export function cleanEntryName(name: string): string {
  if (name.startsWith('/')) throw new HostileLayerError(name, 'absolute path');
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new HostileLayerError(name, 'path escapes the layer');
    if (p.includes('\0')) throw new HostileLayerError(name, 'NUL in name');
    parts.push(p);
  }
  return parts.join('/');
}

export type WhiteoutKind = { kind: 'none' } | { kind: 'opaque'; dir: string } | { kind: 'whiteout'; target: string };

/** Classifies a cleaned entry name: a plain entry, an opaque-dir marker or a whiteout of `target`. */
export function whiteoutOf(rel: string): WhiteoutKind {
  const base = path.posix.basename(rel);
  const dir = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw new HostileLayerError(rel, 'bad whiteout');
    return { kind: 'whiteout', target: dir ? `${dir}/${name}` : name };
  }
  return { kind: 'none' };
}

/**
 * Which xattrs of a tar entry are applied: user.*, POSIX ACLs and file
 * capabilities. trusted.* (trusted.overlay.opaque/redirect/metacopy would steer
 * overlayfs) and the other security.* (LSM labels) are dropped, as the packer
 * drops trusted.overlay.* on the way out.
 */
export function xattrAllowed(name: string): boolean {
  return name.startsWith('user.') || name === 'security.capability' || name === 'system.posix_acl_access' || name === 'system.posix_acl_default';
}

type Header = Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };

export interface ApplyResult {
  /** bytes of file content written */
  size: number;
  entries: number;
}

export interface ApplyOptions {
  /** 'overlay' (layers): .wh. entries become overlay whiteouts; 'keep': extracted as the files they are */
  whiteouts?: 'overlay' | 'keep';
  /** container mode: the directory (a container path) the tar is extracted into, symlinks resolved inside the Root */
  base?: string;
  /** Docker's noOverwriteDirNonDir: never replace a directory by a non-directory or the reverse */
  noOverwriteDirNonDir?: boolean;
  /** owner given to every entry instead of the tar's (copyUIDGID) */
  owner?: { uid: number; gid: number };
}

const dirFlags = F.O_PATH | F.O_DIRECTORY;

/** Parent directory fds of entries, resolved once and reused (closed at the end). */
class Parents {
  private cache = new Map<string, number>();
  constructor(private readonly resolveDir: (rel: string, create: boolean, entry: string) => number) {}

  /** An O_PATH fd of directory `rel` ("" = the top); the cache owns it. */
  get(rel: string, create: boolean, entry: string): number {
    const hit = this.cache.get(rel);
    if (hit !== undefined) return hit;
    if (this.cache.size >= 512) this.clear();
    const fd = this.resolveDir(rel, create, entry);
    this.cache.set(rel, fd);
    return fd;
  }
  /** `rel` was removed or replaced: forget it and everything below. */
  forget(rel: string): void {
    for (const [k, fd] of this.cache) {
      if (k === rel || k.startsWith(rel + '/')) {
        F.close(fd);
        this.cache.delete(k);
      }
    }
  }
  clear(): void {
    for (const fd of this.cache.values()) F.close(fd);
    this.cache.clear();
  }
}

const split = (rel: string): [string, string] => {
  const i = rel.lastIndexOf('/');
  return i < 0 ? ['', rel] : [rel.slice(0, i), rel.slice(i + 1)];
};

/** Removes `name` in `dirfd` (recursively when a directory), all through fds. */
export function removeAllAt(dirfd: number, name: string): void {
  const st = F.statx(dirfd, name, F.AT_SYMLINK_NOFOLLOW);
  if (st.type !== 'dir') {
    F.unlinkat(dirfd, name, 0);
    return;
  }
  const sub = new Dir(F.openat(dirfd, name, F.O_RDONLY | F.O_DIRECTORY | F.O_NOFOLLOW));
  try {
    for (const n of sub.names()) removeAllAt(sub.fd, n);
  } finally {
    sub.close();
  }
  F.unlinkat(dirfd, name, F.AT_REMOVEDIR);
}

const writeAll = (fd: number, b: Buffer): Promise<void> => new Promise((resolve, reject) => {
  let off = 0;
  const step = (): void => {
    fs.write(fd, b, off, b.length - off, null, (err, n) => {
      if (err) return reject(err);
      off += n;
      if (off < b.length) step();
      else resolve();
    });
  };
  step();
});

/**
 * After a failure, what is left of the input is read and dropped (so an HTTP
 * client still gets the error answer), up to 1 MiB; past that it is cut.
 */
function drainOrCut(input: Readable): void {
  if (input.readableEnded || input.destroyed) return;
  let left = 1 << 20;
  input.unpipe();
  input.on('error', () => {});
  input.on('data', (c: Buffer) => {
    left -= c.length;
    if (left < 0) input.destroy();
  });
  input.resume();
}

/**
 * Extracts an uncompressed tar stream. `dest`: a directory path of the daemon's
 * (a layer being made: layer mode), or a container's Root with `opts.base`
 * (container mode; the caller keeps the Root).
 */
export async function applyLayer(input: Readable, dest: string | Root, sys: Syscalls, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const containerMode = typeof dest !== 'string';
  const root = typeof dest === 'string' ? Root.open(dest) : dest;
  const base = containerMode ? (opts.base ?? '/') : '';
  const asRoot = process.getuid?.() === 0;
  const overlay = (opts.whiteouts ?? 'overlay') === 'overlay';
  const result: ApplyResult = { size: 0, entries: 0 };
  const dirTimes: Array<[string, bigint]> = [];

  // ---- resolving an entry's parent directory to an fd
  const layerDir = (rel: string, create: boolean, entry: string): number => {
    let cur = F.openat(root.fd, '.', dirFlags);
    if (rel === '') return cur;
    const parts = rel.split('/');
    try {
      for (let i = 0; i < parts.length; i++) {
        const name = parts[i]!;
        let next: number;
        try {
          next = F.openat(cur, name, dirFlags | F.O_NOFOLLOW);
        } catch (e) {
          const code = errnoOf(e);
          const at = parts.slice(0, i + 1).join('/');
          if (code === 'ENOENT' && create) {
            F.mkdirat(cur, name, 0o755);
            next = F.openat(cur, name, dirFlags | F.O_NOFOLLOW);
          } else if (code === 'ENOENT') {
            throw new HostileLayerError(entry, `${at} does not exist in the layer`);
          } else if (code === 'ELOOP' || code === 'ENOTDIR') {
            const st = F.statx(cur, name, F.AT_SYMLINK_NOFOLLOW);
            throw new HostileLayerError(entry, `parent ${at} is ${st.type === 'symlink' ? 'a symlink' : 'not a directory'}`);
          } else throw e;
        }
        F.close(cur);
        cur = next;
      }
      return cur;
    } catch (e) {
      F.close(cur);
      throw e;
    }
  };
  const containerDir = (rel: string, create: boolean): number => {
    const p = path.posix.join(base, rel);
    try {
      return root.openFd(p, dirFlags);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT' || !create) throw e;
      return root.mkdirAll(p);
    }
  };
  const parents = new Parents((rel, create, entry) => (containerMode ? containerDir(rel, create) : layerDir(rel, create, entry)));

  /** Removes what is at (dirfd, name) unless it is a directory to keep; returns what was there. */
  const clear = (dirfd: number, rel: string, name: string, entryIsDir: boolean): F.FileStat | null => {
    let st: F.FileStat;
    try {
      st = F.statx(dirfd, name, F.AT_SYMLINK_NOFOLLOW);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return null;
      throw e;
    }
    if (opts.noOverwriteDirNonDir && (st.type === 'dir') !== entryIsDir) {
      throw invalidParameter(entryIsDir
        ? `cannot overwrite non-directory "${path.posix.join(base, rel)}" with directory`
        : `cannot overwrite directory "${path.posix.join(base, rel)}" with non-directory`);
    }
    if (st.type === 'dir' && entryIsDir) return st;
    parents.forget(rel);
    removeAllAt(dirfd, name);
    return null;
  };

  const finishMeta = (dirfd: number, name: string, rel: string, h: Header, isLink: boolean) => {
    const uid = opts.owner?.uid ?? h.uid ?? 0;
    const gid = opts.owner?.gid ?? h.gid ?? 0;
    if (asRoot) F.fchownat(dirfd, name, uid, gid, F.AT_SYMLINK_NOFOLLOW);
    if (!isLink) {
      const fd = F.openat(dirfd, name, F.O_PATH | F.O_NOFOLLOW);
      try {
        F.fchmodPath(fd, (h.mode ?? 0o644) & 0o7777);
      } finally {
        F.close(fd);
      }
    }
    for (const [k, v] of Object.entries(h.pax ?? {})) {
      if (!k.startsWith('SCHILY.xattr.')) continue;
      const attr = k.slice('SCHILY.xattr.'.length);
      if (!xattrAllowed(attr)) continue;
      if (!asRoot && !attr.startsWith('user.')) continue;
      sys.setxattrAt(dirfd, name, attr, paxToBytes(v));
    }
    const mtime = BigInt((h.mtime ?? new Date(0)).getTime()) * 1_000_000n;
    if (h.type === 'directory') dirTimes.push([rel, mtime]);
    else F.utimensat(dirfd, name, mtime, mtime, F.AT_SYMLINK_NOFOLLOW);
  };

  const handle = async (h: Header, stream: AsyncIterable<Buffer> & { resume(): unknown }): Promise<void> => {
    result.entries++;
    const rel = cleanEntryName(h.name);
    const isFile = h.type === 'file' || h.type === 'contiguous-file';
    if (!isFile) stream.resume();
    if (rel === '') {
      if (isFile) stream.resume();
      return;
    }
    const wh = whiteoutOf(rel);
    if (wh.kind !== 'none' && overlay) {
      if (isFile) stream.resume();
      if (wh.kind === 'opaque') {
        if (wh.dir === '') {
          sys.setxattrAt(root.fd, '.', OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
        } else {
          const [pdir, name] = split(wh.dir);
          const pfd = parents.get(pdir, true, rel);
          const st = clear(pfd, wh.dir, name, true);
          if (!st) F.mkdirat(pfd, name, 0o755);
          sys.setxattrAt(pfd, name, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
        }
      } else {
        const [pdir, name] = split(wh.target);
        const pfd = parents.get(pdir, true, rel);
        clear(pfd, wh.target, name, false);
        sys.mknodat(pfd, name, S_IFCHR | 0o000, 0, 0);
      }
      return;
    }
    const [pdir, name] = split(rel);
    const pfd = parents.get(pdir, true, rel);
    switch (h.type) {
      case 'directory': {
        if (!clear(pfd, rel, name, true)) F.mkdirat(pfd, name, 0o755);
        finishMeta(pfd, name, rel, h, false);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        clear(pfd, rel, name, false);
        const fd = F.openat(pfd, name, F.O_WRONLY | F.O_CREAT | F.O_EXCL | F.O_NOFOLLOW, 0o600);
        try {
          for await (const c of stream) {
            await writeAll(fd, c);
            result.size += c.length;
          }
        } finally {
          F.close(fd);
        }
        finishMeta(pfd, name, rel, h, false);
        return;
      }
      case 'symlink': {
        clear(pfd, rel, name, false);
        F.symlinkat(h.linkname ?? '', pfd, name);
        finishMeta(pfd, name, rel, h, true);
        return;
      }
      case 'link': {
        const target = cleanEntryName(h.linkname ?? '');
        if (target === '') throw new HostileLayerError(rel, 'hardlink to the layer root');
        if (target === rel) return;
        const [tdir, tname] = split(target);
        let tfd: number;
        try {
          tfd = parents.get(tdir, false, rel);
        } catch (e) {
          if (e instanceof HostileLayerError || errnoOf(e)) throw new HostileLayerError(rel, `hardlink target ${target} is not inside the layer`);
          throw e;
        }
        let tst: F.FileStat;
        try {
          tst = F.statx(tfd, tname, F.AT_SYMLINK_NOFOLLOW);
        } catch {
          throw new HostileLayerError(rel, `hardlink target ${target} is not inside the layer`);
        }
        if (tst.type === 'dir') throw new HostileLayerError(rel, 'hardlink to a directory');
        clear(pfd, rel, name, false);
        F.linkat(tfd, tname, pfd, name, 0);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        clear(pfd, rel, name, false);
        const kind = h.type === 'fifo' ? S_IFIFO : h.type === 'block-device' ? S_IFBLK : S_IFCHR;
        if (!asRoot && h.type !== 'fifo') return;
        sys.mknodat(pfd, name, kind | ((h.mode ?? 0o644) & 0o7777), h.devmajor ?? 0, h.devminor ?? 0);
        finishMeta(pfd, name, rel, h, false);
        return;
      }
      default:
        return;
    }
  };

  const extract = tar.extract();
  const feeding = pipeline(input, extract as unknown as NodeJS.WritableStream);
  feeding.catch(() => { /* reported through the iteration below */ });
  try {
    for await (const entry of extract) {
      const e = entry as unknown as AsyncIterable<Buffer> & { header: Header; resume(): unknown };
      await handle(e.header, e);
    }
    await feeding;
    for (const [rel, t] of dirTimes.reverse()) {
      const [pdir, name] = split(rel);
      try {
        F.utimensat(parents.get(pdir, false, rel), name, t, t, F.AT_SYMLINK_NOFOLLOW);
      } catch (e) {
        if (!containerMode) throw e; // a container may have changed its tree meanwhile
      }
    }
    return result;
  } catch (e) {
    extract.destroy();
    drainOrCut(input);
    throw e;
  } finally {
    parents.clear();
    if (!containerMode) root.close();
  }
}
