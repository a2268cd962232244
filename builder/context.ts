// The build context: the tar the client uploads (plain, gzip, bzip2, xz or
// zstd), extracted into a directory of the daemon's by the backend's hostile-tar
// extractor, and hashed on the way in the way Docker's classic builder hashes it
// (tarsum v1 per entry: selected header fields, then the content), so that a
// COPY's cache key, and the `COPY file:<sum> in /dst` history line, are the
// ones dockerd computes for the same context.
//
// Files inside an image (COPY --from) and downloaded files (ADD <url>) are
// hashed the way dockerd's lazy source does: a tar header made from the file's
// stat, with the host's user and group names, then the content.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { BuildError } from './types.js';
import { cleanPath } from './dockerignore.js';
import { TarIndex, type TreeView } from './tree.js';
import { Root } from '../rootfs/index.js';

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

/** Docker's DetectCompression: by magic bytes. */
export function compressionOf(b: Buffer): Compression {
  if (b.length >= 3 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return 'bzip2';
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) return 'gzip';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** A decompressing transform; bzip2 and xz through the system's tools, as dockerd runs `xz` for xz. */
function decompressor(c: Compression): Transform {
  switch (c) {
    case 'gzip':
      return zlib.createGunzip();
    case 'zstd': {
      const z = zlib as unknown as { createZstdDecompress?: () => Transform };
      if (typeof z.createZstdDecompress === 'function') return z.createZstdDecompress();
      return toolStream('zstd', ['-d', '-c', '-q']);
    }
    case 'bzip2':
      return toolStream('bzip2', ['-d', '-c', '-q']);
    case 'xz':
      return toolStream('xz', ['-d', '-c', '-q']);
    default:
      return new PassThrough();
  }
}

/** A child process as a transform: stdin in, stdout out, a failure as the stream's error. */
function toolStream(cmd: string, args: string[]): Transform {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const t = new Transform({
    transform(chunk, _enc, cb) {
      if (!child.stdin.write(chunk)) child.stdin.once('drain', () => cb());
      else cb();
    },
    flush(cb) {
      child.stdin.end();
      child.once('close', (code) => cb(code === 0 ? null : new BuildError('invalid-parameter', `Error processing tar file(${cmd}: exit status ${code}): ${stderr.trim()}`)));
    },
  });
  child.stdout.on('data', (d: Buffer) => { t.push(d); });
  child.on('error', (e) => t.destroy(new BuildError('system', `${cmd}: ${e.message}`)));
  child.stdin.on('error', () => { /* the tool exited; its status says why */ });
  t.on('close', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return t;
}

/** Looks at the first bytes, then returns the stream decompressed (Docker's DecompressStream). */
export function decompress(input: Readable): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const head: Buffer[] = [];
    let len = 0;
    let decided = false;
    const cleanup = () => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onErr);
    };
    const make = (): Transform => {
      decided = true;
      cleanup();
      const first = Buffer.concat(head);
      let d: Transform;
      try {
        d = decompressor(compressionOf(first));
      } catch (e) {
        reject(e);
        throw e;
      }
      input.on('error', (e) => d.destroy(e));
      if (first.length) d.write(first);
      return d;
    };
    const onData = (c: Buffer) => {
      head.push(c);
      len += c.length;
      if (len < 8) return;
      input.pause();
      const d = make();
      input.pipe(d);
      resolve(d);
    };
    const onEnd = () => {
      if (decided) return;
      const d = make();
      d.end();
      resolve(d);
    };
    const onErr = (e: Error) => {
      cleanup();
      reject(e);
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onErr);
  });
}

const TYPEFLAG: Record<string, string> = {
  file: '0', link: '1', symlink: '2', 'character-device': '3', 'block-device': '4', directory: '5', fifo: '6', 'contiguous-file': '7',
};

interface HeaderFields {
  name: string; mode: number; uid: number; gid: number; size: number; typeflag: string; linkname: string;
  uname: string; gname: string; devmajor: number; devminor: number; xattrs: Array<[string, string]>;
}

/** tarsum v1's header part: the selected fields as name/value strings, then the xattrs by name. */
function tarsumHeader(h: HeaderFields): string {
  let s = `name${h.name}mode${h.mode}uid${h.uid}gid${h.gid}size${h.size}typeflag${h.typeflag}linkname${h.linkname}uname${h.uname}gname${h.gname}devmajor${h.devmajor}devminor${h.devminor}`;
  for (const [k, v] of [...h.xattrs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) s += k + v;
  return s;
}

/**
 * Reads the tar as it streams past: every entry's tarsum (keyed by the cleaned
 * relative path), the tree index, and the content of the few small files the
 * build reads before any step (the Dockerfile, .dockerignore).
 */
class TarReader {
  readonly sums = new Map<string, string>();
  readonly index = new TarIndex();
  readonly files = new Map<string, Buffer>();
  readonly writable = tar.extract();
  constructor(wanted: Set<string>) {
    this.writable.on('entry', (h, stream, next) => {
      let rel: string;
      try {
        this.index.add(h.name, h.type, h.linkname ?? undefined);
        rel = cleanPath(h.name.replace(/^\/+/, ''));
      } catch (e) {
        stream.resume();
        next(e as Error);
        return;
      }
      const pax = (h as { pax?: Record<string, string> }).pax ?? {};
      const xattrs: Array<[string, string]> = Object.entries(pax).filter(([k]) => k.startsWith('SCHILY.xattr.')).map(([k, v]) => [k.slice('SCHILY.xattr.'.length), v]);
      const hash = crypto.createHash('sha256');
      hash.update(tarsumHeader({
        name: h.name, mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, size: h.size ?? 0, typeflag: TYPEFLAG[h.type ?? 'file'] ?? '0',
        linkname: h.linkname ?? '', uname: '', gname: '', devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0, xattrs,
      }));
      const keep = wanted.has(rel) && (h.type === 'file' || h.type === 'contiguous-file') && (h.size ?? 0) <= MAX_KEPT ? [] as Buffer[] : null;
      if (!keep) this.files.delete(rel);
      stream.on('data', (c: unknown) => {
        hash.update(c as Buffer);
        keep?.push(c as Buffer);
      });
      stream.on('end', () => {
        this.sums.set(rel, hash.digest('hex'));
        if (keep) this.files.set(rel, Buffer.concat(keep));
        next();
      });
      stream.on('error', next);
    });
  }
}

/**
 * Passes a tar through, completing one that ends right after its last entry's
 * data: the docker CLI's -f with a Dockerfile from outside the context closes
 * its pipe before Go's tar writer pads the last entry and writes the trailer
 * (Go's reader takes that as the end; tar-stream calls it a truncation). A tar
 * cut inside an entry's data is left as it is, and fails.
 */
export function completeTar(): Transform {
  let buf: Buffer = Buffer.alloc(0);
  let remaining = 0; // data bytes of the current entry still to come
  let pad = 0; // padding bytes after them
  let paxSize: number | null = null;
  const parseSize = (h: Buffer): number => {
    const f = h.subarray(124, 136);
    if (f[0]! & 0x80) {
      let n = 0;
      for (let i = 1; i < 12; i++) n = n * 256 + f[i]!;
      return n;
    }
    const s = f.toString('ascii').replace(/\0.*$/s, '').trim();
    return s ? parseInt(s, 8) : 0;
  };
  let paxData: Buffer[] | null = null;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      this.push(chunk);
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let off = 0;
      for (;;) {
        if (remaining > 0) {
          const n = Math.min(remaining, buf.length - off);
          if (paxData) paxData.push(buf.subarray(off, off + n));
          remaining -= n;
          off += n;
          if (remaining > 0) break;
          if (paxData) {
            const m = /(?:^|\n)\d+ size=(\d+)\n/.exec(Buffer.concat(paxData).toString('utf8'));
            if (m) paxSize = Number(m[1]);
            paxData = null;
          }
        }
        if (pad > 0) {
          const n = Math.min(pad, buf.length - off);
          pad -= n;
          off += n;
          if (pad > 0) break;
        }
        if (buf.length - off < 512) break;
        const h = buf.subarray(off, off + 512);
        off += 512;
        if (h.every((b) => b === 0)) continue;
        const type = String.fromCharCode(h[156]!);
        let size = parseSize(h);
        if (type === 'x' || type === 'g') paxData = [];
        else if (paxSize !== null && type !== 'L' && type !== 'K') {
          size = paxSize;
          paxSize = null;
        }
        const dataless = ['1', '2', '3', '4', '5', '6'].includes(type);
        remaining = dataless ? 0 : size;
        pad = dataless ? 0 : (512 - (size % 512)) % 512;
      }
      buf = buf.subarray(off);
      cb();
    },
    flush(cb) {
      if (remaining === 0 && buf.length === 0) {
        if (pad > 0) this.push(Buffer.alloc(pad));
        this.push(Buffer.alloc(1024));
      }
      cb();
    },
  });
}

/** The Dockerfile and .dockerignore are kept in memory up to this size. */
const MAX_KEPT = 16 * 1024 * 1024;

/**
 * A build context. It is kept as the tar the client sent plus its index: the
 * directory is extracted only when a step copies from it (a build whose COPY
 * steps all hit the cache never writes the context's files).
 */
export interface BuildContext {
  /** the context's tree, from its index */
  readonly view: TreeView;
  /** the tarsum of an entry (relative path), or the path itself when the tar had no entry for it (as dockerd) */
  hash(rel: string): string;
  /** a small file the build reads first (symlinks followed inside the context); null when absent */
  readFile(rel: string): Promise<Buffer | null>;
  /** removes a path from the context (the Dockerfile and .dockerignore when .dockerignore lists them) */
  remove(rel: string): void;
  /** the extracted context (a directory of the daemon's; its content is the client's), extracted on first use */
  dir(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Receives a context tar under `workDir`: spooled to a file while it is
 * hashed and indexed. On failure (or when `signal` fires) nothing is left.
 * `wanted`: context paths (cleaned) whose content readFile serves from memory.
 */
export async function receiveContext(input: Readable, workDir: string, extract: (tar: Readable, dir: string) => Promise<void>, signal?: AbortSignal, wanted: string[] = []): Promise<BuildContext> {
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const base = fs.mkdtempSync(path.join(workDir, 'context-'));
  const tarFile = path.join(base, 'context.tar');
  const dir = path.join(base, 'tree');
  const close = async () => { await fs.promises.rm(base, { recursive: true, force: true }); };
  try {
    const raw = await decompress(input);
    const dec = raw.pipe(completeTar());
    raw.on('error', (e) => dec.destroy(e));
    const reader = new TarReader(new Set(wanted.map((w) => cleanPath(w.replace(/^\/+/, '')))));
    const toFile = new PassThrough();
    const toHash = new PassThrough();
    const onAbort = () => dec.destroy(new BuildError('system', 'context canceled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    dec.on('error', (e) => { toFile.destroy(e); toHash.destroy(e); });
    dec.pipe(toFile);
    dec.pipe(toHash);
    try {
      // both sides settle before anything is removed
      const spooling = pipeline(toFile, fs.createWriteStream(tarFile, { mode: 0o600 }));
      const hashing = pipeline(toHash, reader.writable as unknown as NodeJS.WritableStream);
      const failFast = (e: unknown) => { dec.destroy(); toFile.destroy(e as Error); toHash.destroy(e as Error); throw e; };
      const [a, b] = await Promise.allSettled([spooling.catch(failFast), hashing.catch(failFast)]);
      const err = b.status === 'rejected' ? b.reason : a.status === 'rejected' ? a.reason : null;
      if (err) {
        if (err instanceof BuildError) throw err;
        throw new BuildError('invalid-parameter', `Error processing tar file: ${(err as Error).message}`);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const removed: string[] = [];
    let extracted: Promise<string> | null = null;
    const extractNow = async (): Promise<string> => {
      fs.mkdirSync(dir, { mode: 0o755 });
      try {
        await extract(fs.createReadStream(tarFile), dir);
      } catch (e) {
        if (e instanceof BuildError) throw e;
        throw new BuildError('invalid-parameter', `Error processing tar file: ${(e as Error).message}`);
      }
      for (const r of removed) fs.rmSync(path.join(dir, cleanPath('/' + r)), { recursive: true, force: true });
      return dir;
    };
    const ctx: BuildContext = {
      view: reader.index,
      hash: (rel) => reader.sums.get(cleanPath(rel)) ?? rel,
      readFile: async (rel) => {
        const r = reader.index.resolvedPath('/' + rel).replace(/^\/+/, '') || '.';
        const st = reader.index.stat('/' + r, false);
        if (!st) return null;
        const kept = reader.files.get(r);
        if (kept && st.type === 'file') return kept;
        if (st.type !== 'file') throw new BuildError('invalid-parameter', `${rel} is not a regular file`);
        // not kept (large, or reached through a symlink): read it from the extracted tree
        return readFileIn(await ctx.dir(), r, MAX_KEPT);
      },
      remove: (rel) => {
        reader.index.remove(rel);
        reader.sums.delete(cleanPath(rel));
        removed.push(rel);
      },
      dir: () => (extracted ??= extractNow()),
      close,
    };
    return ctx;
  } catch (e) {
    await close();
    throw e;
  }
}

/** A regular file below a daemon-owned tree, symlinks followed inside it. */
function readFileIn(dir: string, rel: string, max: number): Buffer | null {
  const root = Root.open(dir);
  try {
    return root.readFile('/' + rel, max)?.data ?? null;
  } finally {
    root.close();
  }
}

// ---------------------------------------------------------------- lazy hashes (images, downloads)

const S_IFMT = 0o170000;
const typeflagOfMode = (mode: number): string => {
  switch (mode & S_IFMT) {
    case 0o040000: return '5';
    case 0o120000: return '2';
    case 0o020000: return '3';
    case 0o060000: return '4';
    case 0o010000: return '6';
    default: return '0';
  }
};

let names: { users: Map<number, string>; groups: Map<number, string> } | null = null;
/** The daemon host's user and group names (Go's archive/tar looks them up for the header). */
function hostNames(): { users: Map<number, string>; groups: Map<number, string> } {
  if (names) return names;
  const read = (f: string): Map<number, string> => {
    const m = new Map<number, string>();
    try {
      for (const l of fs.readFileSync(f, 'utf8').split('\n')) {
        const p = l.split(':');
        if (p.length >= 3 && !m.has(Number(p[2]))) m.set(Number(p[2]), p[0]!);
      }
    } catch { /* none */ }
    return m;
  };
  names = { users: read('/etc/passwd'), groups: read('/etc/group') };
  return names;
}

export interface StatLike { mode: number; uid: number; gid: number; size: number; rdevMajor?: number; rdevMinor?: number }

/**
 * The hash dockerd's lazy source gives a file: a tar header built from its stat
 * (name relative to the source root, directories with a trailing slash, the full
 * st_mode, host user names), then the content of a regular file.
 */
export function lazyHash(rel: string, st: StatLike, linkname: string, content: Iterable<Buffer> | null): string {
  const tf = typeflagOfMode(st.mode);
  const n = hostNames();
  const h = crypto.createHash('sha256');
  h.update(tarsumHeader({
    name: tf === '5' ? rel.replace(/\/?$/, '/') : rel, mode: st.mode & 0o177777, uid: st.uid, gid: st.gid, size: tf === '0' ? st.size : 0, typeflag: tf, linkname,
    uname: n.users.get(st.uid) ?? '', gname: n.groups.get(st.gid) ?? '', devmajor: st.rdevMajor ?? 0, devminor: st.rdevMinor ?? 0, xattrs: [],
  }));
  if (content) for (const c of content) h.update(c);
  return h.digest('hex');
}

/** Docker's hashStringSlice: `prefix:` + sha256 of the hashes joined by commas. */
export function hashList(prefix: string, hashes: string[]): string {
  return `${prefix}:${crypto.createHash('sha256').update(hashes.join(',')).digest('hex')}`;
}
