// Applying a layer tarball to a directory: regular files, dirs, symlinks,
// hardlinks, devices, fifos, owners, modes, mtimes, xattrs; OCI whiteouts become
// overlayfs whiteouts. Path safety: every entry is resolved component by
// component with lstat inside the layer dir; `..`, absolute names, symlinked
// parents and hardlinks leaving the layer are refused (HostileLayerError).
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { DaemonError } from '../errors/index.js';
import type { Syscalls } from '../sys/index.js';
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
 * Makes sure every parent of `rel` inside `root` is a real directory (created if missing),
 * never following a symlink. Returns the absolute path of `rel`.
 */
export function safeParent(root: string, rel: string, entry = rel): string {
  const parts = rel.split('/');
  let cur = root;
  for (let i = 0; i < parts.length - 1; i++) {
    cur = path.join(cur, parts[i]!);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!st) fs.mkdirSync(cur, { mode: 0o755 });
    else if (st.isSymbolicLink()) throw new HostileLayerError(entry, `parent ${parts.slice(0, i + 1).join('/')} is a symlink`);
    else if (!st.isDirectory()) throw new HostileLayerError(entry, `parent ${parts.slice(0, i + 1).join('/')} is not a directory`);
  }
  return path.join(root, rel);
}

function removeExisting(p: string, keepDir: boolean): fs.Stats | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return null;
  }
  if (st.isDirectory()) {
    if (keepDir) return st;
    fs.rmSync(p, { recursive: true, force: true });
  } else fs.unlinkSync(p);
  return null;
}

type Header = Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };
type EntryStream = AsyncIterable<Buffer> & { resume(): unknown };

export interface ApplyResult {
  /** bytes of file content written */
  size: number;
  entries: number;
}

/**
 * Extracts an uncompressed layer tar stream into `dest` (an existing, empty
 * directory that the caller owns and removes on failure).
 */
export async function applyLayer(input: Readable, dest: string, sys: Syscalls, opts: { whiteouts?: 'overlay' | 'keep' } = {}): Promise<ApplyResult> {
  const root = fs.realpathSync(dest);
  const asRoot = process.getuid?.() === 0;
  const dirTimes: Array<[string, Date]> = [];
  const result: ApplyResult = { size: 0, entries: 0 };
  const extract = tar.extract();
  const overlay = (opts.whiteouts ?? 'overlay') === 'overlay';

  const finishMeta = (abs: string, h: Header, isLink: boolean) => {
    if (asRoot) fs.lchownSync(abs, h.uid ?? 0, h.gid ?? 0);
    if (!isLink) fs.chmodSync(abs, (h.mode ?? 0o644) & 0o7777);
    if (h.pax) {
      for (const [k, v] of Object.entries(h.pax)) {
        if (!k.startsWith('SCHILY.xattr.')) continue;
        const name = k.slice('SCHILY.xattr.'.length);
        if (!asRoot && (name.startsWith('trusted.') || name.startsWith('security.'))) continue;
        sys.lsetxattr(abs, name, paxToBytes(v));
      }
    }
    const mtime = h.mtime ?? new Date(0);
    if (h.type === 'directory') dirTimes.push([abs, mtime]);
    else fs.lutimesSync(abs, mtime, mtime);
  };

  const handle = async (h: Header, stream: EntryStream): Promise<void> => {
    result.entries++;
    const rel = cleanEntryName(h.name);
    if (rel === '') {
      stream.resume();
      return;
    }
    const wh = whiteoutOf(rel);
    if (wh.kind !== 'none' && overlay) {
      stream.resume();
      if (wh.kind === 'opaque') {
        const dir = wh.dir === '' ? root : safeParent(root, wh.dir + '/x', rel).slice(0, -2);
        if (wh.dir !== '') {
          const st = fs.lstatSync(dir, { throwIfNoEntry: false });
          if (!st) fs.mkdirSync(dir, { mode: 0o755 });
          else if (!st.isDirectory()) throw new HostileLayerError(rel, 'opaque marker in a non-directory');
        }
        sys.lsetxattr(dir, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      } else {
        const abs = safeParent(root, wh.target, rel);
        removeExisting(abs, false);
        sys.mknod(abs, S_IFCHR | 0o000, 0, 0);
      }
      return;
    }
    const abs = safeParent(root, rel);
    switch (h.type) {
      case 'directory': {
        stream.resume();
        if (!removeExisting(abs, true)) fs.mkdirSync(abs, { mode: 0o755 });
        finishMeta(abs, h, false);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        removeExisting(abs, false);
        const fh = await fs.promises.open(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
        try {
          for await (const c of stream) {
            await fh.write(c);
            result.size += c.length;
          }
        } finally {
          await fh.close();
        }
        finishMeta(abs, h, false);
        return;
      }
      case 'symlink': {
        stream.resume();
        removeExisting(abs, false);
        fs.symlinkSync(h.linkname ?? '', abs);
        finishMeta(abs, h, true);
        return;
      }
      case 'link': {
        stream.resume();
        const target = cleanEntryName(h.linkname ?? '');
        if (target === '') throw new HostileLayerError(rel, 'hardlink to the layer root');
        const tabs = path.join(root, target);
        // the target's parents must be real dirs inside the layer, and the target must exist there
        const parts = target.split('/');
        let cur = root;
        for (let i = 0; i < parts.length - 1; i++) {
          cur = path.join(cur, parts[i]!);
          const st = fs.lstatSync(cur, { throwIfNoEntry: false });
          if (!st || !st.isDirectory()) throw new HostileLayerError(rel, `hardlink target ${target} is not inside the layer`);
        }
        const tst = fs.lstatSync(tabs, { throwIfNoEntry: false });
        if (!tst) throw new HostileLayerError(rel, `hardlink target ${target} is not inside the layer`);
        if (tst.isDirectory()) throw new HostileLayerError(rel, 'hardlink to a directory');
        if (tabs === abs) return;
        removeExisting(abs, false);
        fs.linkSync(tabs, abs);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        stream.resume();
        removeExisting(abs, false);
        const kind = h.type === 'fifo' ? S_IFIFO : h.type === 'block-device' ? S_IFBLK : S_IFCHR;
        if (!asRoot && h.type !== 'fifo') return;
        sys.mknod(abs, kind | ((h.mode ?? 0o644) & 0o7777), h.devmajor ?? 0, h.devminor ?? 0);
        finishMeta(abs, h, false);
        return;
      }
      default:
        stream.resume();
        return;
    }
  };

  // A tar cut short (or whose PAX size overruns its body) destroys the current entry's
  // stream with 'Unexpected end of data': that error is the request's (the pipeline below
  // rejects with it), never an unhandled 'error' event that would end the daemon.
  let inFlight: Promise<void> = Promise.resolve();
  extract.on('entry', (h, stream, next) => {
    stream.on('error', () => { /* reported by the pipeline (and by handle's read, if it was reading) */ });
    inFlight = handle(h as unknown as Header, stream as unknown as EntryStream).then(() => next(), (err) => {
      stream.resume();
      next(err);
    });
  });
  try {
    await pipeline(input, extract as unknown as NodeJS.WritableStream);
  } catch (e) {
    await inFlight.catch(() => {}); // the caller removes `dest` next: let the entry being written finish first
    throw e;
  }
  for (const [p, t] of dirTimes.reverse()) fs.utimesSync(p, t, t);
  return result;
}
