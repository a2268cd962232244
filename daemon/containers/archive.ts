// docker cp: paths inside a container's root resolved without ever leaving it,
// the stat header, and tar in both directions.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { notFound, invalidParameter } from '../../errors/index.js';

/**
 * Resolves `p` (an absolute container path) inside `root`, following symlinks
 * as the container would see them (absolute targets are relative to `root`,
 * `..` never climbs above it). The last component is followed unless `noFollowLast`.
 */
export function resolveInRoot(root: string, p: string, noFollowLast = false): string {
  const parts = path.posix.normalize('/' + p).split('/').filter(Boolean);
  const out: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') { out.pop(); continue; }
    const cand = path.join(root, ...out, part);
    let st: fs.Stats | undefined;
    try { st = fs.lstatSync(cand); } catch { /* missing: keep the name */ }
    if (st?.isSymbolicLink() && (parts.length > 0 || !noFollowLast)) {
      if (++hops > 40) throw invalidParameter(`too many levels of symbolic links: ${p}`);
      const target = fs.readlinkSync(cand);
      if (target.startsWith('/')) out.length = 0;
      parts.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    out.push(part);
  }
  return path.join(root, ...out);
}

/** Go's os.FileMode bits, as Docker's X-Docker-Container-Path-Stat carries them. */
export function goFileMode(st: fs.Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m |= 2 ** 31;
  if (st.isSymbolicLink()) m |= 2 ** 27;
  if (st.isBlockDevice()) m |= 2 ** 26;
  if (st.isCharacterDevice()) m |= 2 ** 26 | 2 ** 21;
  if (st.isFIFO()) m |= 2 ** 25;
  if (st.isSocket()) m |= 2 ** 24;
  if (st.mode & 0o4000) m |= 2 ** 23;
  if (st.mode & 0o2000) m |= 2 ** 22;
  if (st.mode & 0o1000) m |= 2 ** 20;
  return m >>> 0;
}

export interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

export function statInRoot(root: string, p: string, containerId: string): { abs: string; stat: PathStat } {
  const abs = resolveInRoot(root, p, true);
  let st: fs.Stats;
  try { st = fs.lstatSync(abs); } catch { throw notFound(`Could not find the file ${p} in container ${containerId}`, 'TSD_ERR_NO_SUCH_PATH'); }
  let linkTarget = '';
  if (st.isSymbolicLink()) linkTarget = path.posix.join('/', path.relative(root, resolveInRoot(root, p, false)));
  return { abs, stat: { name: path.basename(p) || '/', size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget } };
}

/** A tar of `abs` named by its base name (a directory with its content), symlinks kept as links. */
export function packPath(abs: string, baseName: string): Readable {
  const pack = tar.pack();
  const add = async (p: string, name: string): Promise<void> => {
    const st = fs.lstatSync(p);
    const common = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    if (st.isDirectory()) {
      await new Promise<void>((res, rej) => pack.entry({ ...common, type: 'directory' }, (e) => (e ? rej(e) : res())));
      for (const e of fs.readdirSync(p).sort()) await add(path.join(p, e), `${name}/${e}`);
    } else if (st.isSymbolicLink()) {
      await new Promise<void>((res, rej) => pack.entry({ ...common, type: 'symlink', linkname: fs.readlinkSync(p) }, (e) => (e ? rej(e) : res())));
    } else if (st.isFile()) {
      await new Promise<void>((res, rej) => {
        const w = pack.entry({ ...common, type: 'file', size: st.size }, (e) => (e ? rej(e) : res()));
        fs.createReadStream(p).on('error', rej).pipe(w as unknown as NodeJS.WritableStream);
      });
    }
  };
  add(abs, baseName).then(() => pack.finalize(), (err) => pack.destroy(err));
  return pack as unknown as Readable;
}
