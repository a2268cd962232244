// Copying a directory tree between two fd-held directories (a container's
// image content into a new volume: dockerd's copy-up): owners, modes, times,
// symlinks, hardlinks, devices and fifos, each entry read and made relative to
// its directory's fd. Nothing is followed, so whatever the source tree holds
// (symlinks to host paths included) is copied as it is and never resolved.
import fs from 'node:fs';
import { fsat as F } from '../sys/index.js';
import { Dir, type FileStat } from './root.js';

const CHUNK = 256 * 1024;

const io = {
  read: (fd: number, buf: Buffer, pos: number) => new Promise<number>((res, rej) => fs.read(fd, buf, 0, buf.length, pos, (e, n) => (e ? rej(e) : res(n)))),
  write: (fd: number, buf: Buffer, pos: number) => new Promise<number>((res, rej) => fs.write(fd, buf, 0, buf.length, pos, (e, n) => (e ? rej(e) : res(n)))),
};

async function copyBytes(from: number, to: number): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; ;) {
    const n = await io.read(from, buf, pos);
    if (n === 0) return;
    for (let off = 0; off < n;) off += await io.write(to, buf.subarray(off, n), pos + off);
    pos += n;
  }
}

function meta(dstFd: number, name: string, st: FileStat, asRoot: boolean): void {
  if (asRoot) F.fchownat(dstFd, name, st.uid, st.gid, F.AT_SYMLINK_NOFOLLOW);
  if (st.type !== 'symlink') {
    const fd = F.openat(dstFd, name, F.O_PATH | F.O_NOFOLLOW);
    try {
      F.fchmodPath(fd, st.mode & 0o7777);
    } finally {
      F.close(fd);
    }
  }
  F.utimensat(dstFd, name, st.atimeNs, st.mtimeNs, F.AT_SYMLINK_NOFOLLOW);
}

/**
 * Copies the content of `src` into the directory `dstFd` (an fd of an empty
 * directory). Entries that vanish while copied are skipped.
 */
export async function copyTree(src: Dir, dstFd: number): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const links = new Map<string, { dirFd: number; name: string }>();
  // directory fds stay open only while needed, or to the end when a hardlink's first name is in them
  const keep = new Set<number>();
  const held: number[] = [];
  const copyDir = async (from: Dir, to: number): Promise<void> => {
    for (const name of from.names()) {
      const st = from.lstatOrNull(name);
      if (!st) continue;
      switch (st.type) {
        case 'dir': {
          F.mkdirat(to, name, 0o700);
          let sub: Dir;
          try {
            sub = from.sub(name);
          } catch {
            continue; // changed meanwhile
          }
          const d = F.openat(to, name, F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW);
          try {
            await copyDir(sub, d);
          } finally {
            sub.close();
            if (keep.has(d)) held.push(d);
            else F.close(d);
          }
          meta(to, name, st, asRoot);
          continue;
        }
        case 'file': {
          const key = `${st.dev}:${st.ino}`;
          const first = st.nlink > 1 ? links.get(key) : undefined;
          if (first) {
            F.linkat(first.dirFd, first.name, to, name, 0);
            continue;
          }
          const f = from.openFile(name);
          if (!f) continue;
          try {
            const out = F.openat(to, name, F.O_WRONLY | F.O_CREAT | F.O_EXCL | F.O_NOFOLLOW, 0o600);
            try {
              await copyBytes(f.fd, out);
            } finally {
              F.close(out);
            }
          } finally {
            F.close(f.fd);
          }
          if (st.nlink > 1) {
            links.set(key, { dirFd: to, name });
            keep.add(to);
          }
          break;
        }
        case 'symlink':
          F.symlinkat(from.readlink(name), to, name);
          break;
        case 'char':
        case 'block':
        case 'fifo':
          if (!asRoot && st.type !== 'fifo') continue;
          F.mknodat(to, name, st.mode, st.rdevMajor, st.rdevMinor);
          break;
        default:
          continue; // sockets
      }
      meta(to, name, st, asRoot);
    }
  };
  try {
    await copyDir(src, dstFd);
  } finally {
    for (const fd of held) F.close(fd);
  }
}

/** The owner and mode of `src` itself given to the directory `dstFd` (dockerd's copyOwnership). */
export function copyOwnership(src: Dir, dstFd: number): void {
  const st = src.stat();
  if (process.getuid?.() === 0) F.fchownat(dstFd, '', st.uid, st.gid, F.AT_EMPTY_PATH);
  F.fchmodPath(dstFd, st.mode & 0o7777);
}
