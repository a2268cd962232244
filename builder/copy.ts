// COPY, ADD and WORKDIR, as Docker's classic builder does them (moby
// builder/dockerfile copy.go, internals.go):
//
//   sources  paths in the build context, a stage's or image's filesystem (--from)
//            or a URL the daemon downloads (ADD); wildcards per Go's
//            filepath.Match; a top-level symlink followed inside its tree; a
//            directory copies its content. Each source has Docker's checksum
//            (file:<tarsum>, dir:<sum of the entries>, multi:<sum of sources>),
//            which goes into the step's Cmd: the cache key and history line.
//   dest     relative to WORKDIR; a directory when it exists as one or ends in /;
//            missing parents created (owned by --chown's user for a file).
//   owner    root, or --chown's user and group looked up in the image's
//            /etc/passwd and /etc/group; COPY --from without --chown keeps the
//            source's owners. ADD of a local tar archive extracts it instead.
//
// Every file operation goes through file descriptors (rootfs/): sources are
// read and the destination written with openat2 RESOLVE_IN_ROOT from their
// tree's root, so a symlink in a context or an image never reaches outside it.
// The copy is a tar stream produced from the sources and applied into the
// layer in container mode, as dockerd's CopyWithTar.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { Agent, interceptors, request } from 'undici';
import { Root, walk, errnoOf, type FileStat } from '../rootfs/index.js';
import { RootView, type TreeView } from './tree.js';
import { LinuxSyscalls, fsat as F } from '../sys/index.js';
import { applyLayer } from '../image/index.js';
import { packStream, type TarWriter, type TarHeader } from '../image/index.js';
import { decompress, hashList, lazyHash, type BuildContext } from './context.js';
import { containsWildcards, goMatch, PatternError } from './dockerignore.js';
import { normalizeDest, parseChmod, resolveChown } from './dispatch-helpers.js';
import { BuildError, type BuildBackend, type BuildImage, type BuildOutput, type RunConfig, type RwLayer } from './types.js';

export type CopyRequest =
  | { kind: 'workdir'; layer: RwLayer; workdir: string }
  | {
    kind: 'copy' | 'add'; name: string; sources: string[]; dest: string; chown: string; chmod: string; workdir: string;
    context: BuildContext; fromImage: BuildImage | null; backend: BuildBackend; workDir: string; out: BuildOutput; signal: AbortSignal;
    /** probes the cache with the step's comment; a hit ends the step */
    probe(comment: string): { hit: boolean; probe: RunConfig };
    /** the image the step starts from (after the probe) */
    parent(): BuildImage;
    commit(upperdir: string, probe: RunConfig): Promise<void>;
  };

const sys = new LinuxSyscalls();
const MAX_ID_FILE = 4 << 20;

/** A tree sources are read from: its Root, and how Docker hashes an entry of it. */
interface SourceTree {
  /** where paths lead and what is there (the context's index, or a Root's) */
  view: TreeView;
  /** the tree's files, once opened (the context is extracted for it) */
  root: Root | null;
  /** the context's tarsums, or null for a lazily hashed tree (images, downloads) */
  sums: BuildContext | null;
  isContext: boolean;
  /** ADD of a URL: never extracted, even when it is an archive */
  noDecompress: boolean;
}

interface CopyInfo {
  tree: SourceTree;
  /** the source path as the instruction gave it (cleaned, relative to the tree) */
  path: string;
  hash: string;
}

const relOf = (p: string): string => {
  const r = path.posix.normalize('/' + p).replace(/^\/+/, '');
  return r === '' ? '.' : r;
};

/** The tree-relative path `p` ends at once symlinks are followed inside the tree ('.' for the root). */
const resolved = (t: SourceTree, p: string): string => relOf(t.view.resolvedPath('/' + p));
const rootOf = (t: SourceTree): Root => {
  if (!t.root) throw new Error('source tree not opened');
  return t.root;
};

async function readFd(fd: number, size: number, each: (b: Buffer) => void): Promise<void> {
  let pos = 0;
  while (pos < size) {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, size - pos));
    const n = await new Promise<number>((res, rej) => fs.read(fd, buf, 0, buf.length, pos, (e, k) => (e ? rej(e) : res(k))));
    if (n === 0) break;
    each(n === buf.length ? buf : buf.subarray(0, n));
    pos += n;
  }
}

/** Docker's Source.Hash(path): the checksum of what `p` resolves to (the path itself when it has none). */
async function hashOf(t: SourceTree, p: string): Promise<string> {
  const rel = resolved(t, p);
  if (t.sums) {
    const h = t.sums.hash(rel);
    return h === rel ? p : h;
  }
  const root = rootOf(t);
  const st = root.statOrNull('/' + rel, false);
  if (!st) return rel;
  const link = st.type === 'symlink' ? root.readlink('/' + rel) : '';
  const chunks: Buffer[] = [];
  if (st.type === 'file' && st.size > 0) {
    const fd = root.openFd('/' + rel, F.O_RDONLY | F.O_NONBLOCK | F.O_NOCTTY, { follow: false });
    try {
      const h: Buffer[] = [];
      await readFd(fd, st.size, (b) => h.push(Buffer.from(b)));
      chunks.push(...h);
    } finally {
      F.close(fd);
    }
  }
  return lazyHash(rel, st, link, chunks);
}

const notFound = (t: SourceTree, p: string): BuildError =>
  new BuildError('not-found', t.isContext ? `file not found in build context or excluded by .dockerignore: stat ${p}: file does not exist` : `stat ${p}: file does not exist`);

async function calcCopyInfo(t: SourceTree, orig: string, wildcards: boolean): Promise<CopyInfo[]> {
  let p = orig.replace(/^\//, '').replace(/^\.\//, '');
  if (p === '') p = '.';
  if (wildcards && containsWildcards(p)) {
    const infos: CopyInfo[] = [];
    const matches: string[] = [];
    for (const rel of t.view.walk('.')) {
      try {
        if (goMatch(p, rel)) matches.push(rel);
      } catch (err) {
        if (err instanceof PatternError) throw new BuildError('invalid-parameter', err.message);
        throw err;
      }
    }
    for (const m of matches) infos.push(...(await calcCopyInfo(t, m, false)));
    return infos;
  }
  const st = t.view.stat('/' + p, true);
  if (!st) throw notFound(t, p);
  if (st.type !== 'dir') return [{ tree: t, path: p, hash: 'file:' + (await hashOf(t, p)) }];
  // a directory: the sorted checksums of everything below it, itself included (Docker's walkSource)
  const start = resolved(t, p);
  const hashes: string[] = [];
  if (start !== '.') hashes.push(await hashOf(t, start));
  for (const r of t.view.walk(start)) hashes.push(await hashOf(t, r));
  hashes.sort();
  return [{ tree: t, path: p, hash: hashList('dir', hashes) }];
}

// ---------------------------------------------------------------- ADD <url>

/** The file name Docker gives a download: the URL's last path element, else Content-Disposition's. */
function downloadName(u: URL, disposition: string | undefined): string {
  if (u.pathname && !u.pathname.endsWith('/')) {
    const b = path.posix.basename(u.pathname);
    if (b) return decodeURIComponent(b);
  }
  const m = disposition ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition) : null;
  if (m && !m[1]!.endsWith('/')) return path.posix.basename(m[1]!);
  return '';
}

async function download(url: string, dest: string, workDir: string, out: BuildOutput, signal: AbortSignal): Promise<{ tree: SourceTree; name: string; close(): Promise<void> }> {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new BuildError('invalid-parameter', `parse ${JSON.stringify(url)}: ${(e as Error).message}`);
  }
  let res;
  try {
    res = await request(url, { method: 'GET', dispatcher: downloads(), signal, headersTimeout: 60_000, bodyTimeout: 300_000 });
  } catch (e) {
    throw new BuildError('system', `Get ${JSON.stringify(url)}: ${(e as Error).message}`);
  }
  if (res.statusCode >= 400) {
    const body = (await res.body.text().catch(() => '')).slice(0, 512);
    throw new BuildError('system', `failed to GET ${url} with status ${res.statusCode} ${statusText(res.statusCode)}: ${body}`);
  }
  const header = (k: string) => {
    const v = res.headers[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const name = downloadName(u, header('content-disposition'));
  if (!name && dest.endsWith('/')) {
    res.body.destroy();
    throw new BuildError('invalid-parameter', `cannot determine filename for source ${url}`);
  }
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(workDir, 'download-'));
  const close = async () => { await fs.promises.rm(dir, { recursive: true, force: true }); };
  try {
    const file = name || '__unnamed__';
    const fh = await fs.promises.open(path.join(dir, file), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    const total = Number(header('content-length') ?? -1);
    let n = 0;
    let last = 0;
    try {
      for await (const c of res.body) {
        await fh.write(c as Buffer);
        n += (c as Buffer).length;
        if (Date.now() - last > 100) {
          last = Date.now();
          out.progress({ status: 'Downloading', current: n, ...(total >= 0 ? { total } : {}) });
        }
      }
    } finally {
      await fh.close();
    }
    out.progress({ status: 'Downloading', current: n, ...(total >= 0 ? { total } : {}) });
    out.stdout('\n');
    const lm = header('last-modified');
    const t = lm && !Number.isNaN(Date.parse(lm)) ? new Date(Date.parse(lm)) : new Date(0);
    fs.utimesSync(path.join(dir, file), t, t);
    const root = Root.open(dir);
    return { tree: { view: new RootView(root), root, sums: null, isContext: false, noDecompress: true }, name: file, close };
  } catch (e) {
    await close();
    throw e;
  }
}

let agent: ReturnType<Agent['compose']> | null = null;
/** The daemon's HTTP client for ADD <url>: redirects followed, as Go's http.Get does (up to 10). */
const downloads = () => (agent ??= new Agent().compose(interceptors.redirect({ maxRedirections: 10 })));

const statusText = (c: number): string => ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' } as Record<number, string>)[c] ?? '';

const isUrl = (s: string): boolean => /^https?:\/\//.test(s);

// ---------------------------------------------------------------- writing into the layer

interface Owner { uid: number; gid: number }

const mtimeOf = (st: FileStat): Date => new Date(Number(st.mtimeNs / 1_000_000n));
const perm = (st: FileStat): number => st.mode & 0o7777;

/** Is the file (in its tree) a tar archive, plain or compressed? (Docker's IsArchivePath) */
async function isArchive(t: SourceTree, p: string): Promise<boolean> {
  const fd = rootOf(t).openFd('/' + p, F.O_RDONLY | F.O_NONBLOCK | F.O_NOCTTY);
  try {
    const head = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n === 0) return false;
    const dec = await decompress(Readable.from([head.subarray(0, n)]));
    return await new Promise<boolean>((resolve) => {
      const ex = tar.extract();
      let done = false;
      const finish = (v: boolean) => {
        if (done) return;
        done = true;
        resolve(v);
        dec.destroy();
        ex.destroy();
      };
      ex.on('entry', (_h, s) => { s.resume(); finish(true); });
      ex.on('finish', () => finish(false));
      ex.on('error', () => finish(false));
      dec.on('error', () => finish(false));
      dec.pipe(ex);
    });
  } finally {
    F.close(fd);
  }
}

/** A readable over a regular file of a tree (opened by fd, closed at the end). */
function fileStream(t: SourceTree, p: string): Readable {
  const fd = rootOf(t).openFd('/' + p, F.O_RDONLY | F.O_NONBLOCK | F.O_NOCTTY);
  return fs.createReadStream('', { fd, autoClose: true });
}

/** Missing directories on the way to `dir` (a clean absolute path in the layer), topmost first. */
function missingDirs(layer: Root, dir: string): string[] {
  const out: string[] = [];
  let cur = dir;
  while (cur !== '/' && !layer.statOrNull(cur, true)) {
    out.unshift(cur);
    cur = path.posix.dirname(cur);
  }
  return out;
}

/** Writes a source's entries into `w`: a directory's content below the entry name `entryName` (a path in the layer), or one file as it. */
async function packSource(w: TarWriter, t: SourceTree, srcRel: string, st: FileStat, entryName: string, o: { owner: Owner | null; chmod: number | null }): Promise<void> {
  const own = (s: FileStat) => (o.owner ? { uid: o.owner.uid, gid: o.owner.gid } : { uid: s.uid, gid: s.gid });
  const mode = (s: FileStat) => (o.chmod !== null ? o.chmod : perm(s));
  const name = (abs: string) => abs.replace(/^\/+/, '');
  if (st.type !== 'dir') {
    const fd = rootOf(t).openFd('/' + srcRel, F.O_RDONLY | F.O_NONBLOCK | F.O_NOCTTY);
    try {
      const fst = F.fstat(fd);
      if (fst.type !== 'file') throw new BuildError('invalid-parameter', `${srcRel} is not a regular file`);
      await w.addFd({ name: name(entryName), type: 'file', size: fst.size, mode: mode(fst), ...own(fst), mtime: mtimeOf(fst) }, fd);
    } finally {
      F.close(fd);
    }
    return;
  }
  const top = rootOf(t).dir('/' + srcRel);
  const inodes = new Map<string, string>();
  try {
    await walk(top, '', async (e) => {
      const s = e.stat;
      const n = name(path.posix.join(entryName, e.rel));
      const base: TarHeader = { name: n, mode: mode(s), ...own(s), mtime: mtimeOf(s) };
      switch (s.type) {
        case 'dir':
          await w.add({ ...base, name: n + '/', type: 'directory' });
          return true;
        case 'symlink':
          await w.add({ ...base, mode: perm(s), type: 'symlink', linkname: e.parent.readlink(e.name) });
          return;
        case 'file': {
          const key = `${s.dev}:${s.ino}`;
          const first = s.nlink > 1 ? inodes.get(key) : undefined;
          if (first) {
            await w.add({ ...base, type: 'link', linkname: first });
            return;
          }
          const f = e.parent.openFile(e.name);
          if (!f) return;
          try {
            if (s.nlink > 1) inodes.set(key, n);
            await w.addFd({ ...base, type: 'file', size: f.stat.size }, f.fd);
          } finally {
            F.close(f.fd);
          }
          return;
        }
        case 'char':
        case 'block':
          await w.add({ ...base, type: s.type === 'char' ? 'character-device' : 'block-device', devmajor: s.rdevMajor, devminor: s.rdevMinor });
          return;
        case 'fifo':
          await w.add({ ...base, type: 'fifo' });
          return;
        default:
          return;
      }
    }, { enterMount: () => false });
  } finally {
    top.close();
  }
}

async function apply(layer: Root, stream: Readable, base = '/'): Promise<void> {
  await applyLayer(stream, layer, sys, { base, whiteouts: 'keep' });
}

/** Copies one source into the layer (Docker's performCopyForInfo). */
async function copyOne(layer: Root, info: CopyInfo, destRaw: string, o: { owner: Owner | null; chmod: number | null; decompress: boolean }): Promise<void> {
  const t = info.tree;
  const srcRel = resolved(t, info.path);
  const st = rootOf(t).statOrNull('/' + srcRel, true);
  if (!st) throw new BuildError('not-found', `source path not found: stat ${info.path}: no such file or directory`);
  const dest = layer.resolvedPath(destRaw);
  const destSt = layer.statOrNull(dest, true);
  const root: Owner = { uid: 0, gid: 0 };
  if (st.type === 'dir') {
    if (destSt && destSt.type !== 'dir') throw new BuildError('invalid-parameter', `failed to copy files: mkdir ${destRaw}: not a directory`);
    // the destination and its missing parents are made root's, then the destination the owner's (Docker's CopyWithTar + fixPermissions)
    const created = destSt ? [] : missingDirs(layer, dest);
    await apply(layer, packStream(async (w) => {
      for (const d of created) {
        const owner = d === dest && o.owner ? o.owner : root;
        await w.add({ name: d.replace(/^\/+/, '') + '/', type: 'directory', mode: 0o755, uid: owner.uid, gid: owner.gid, mtime: new Date() });
      }
      await packSource(w, t, srcRel, st, dest, o);
    }));
    return;
  }
  if (o.decompress && !t.noDecompress && (await isArchive(t, srcRel))) {
    for (const d of destSt ? [] : missingDirs(layer, dest)) {
      await apply(layer, packStream(async (w) => { await w.add({ name: d.replace(/^\/+/, '') + '/', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date() }); }));
    }
    await apply(layer, await decompress(fileStream(t, srcRel)), dest);
    return;
  }
  const destFile = destSt?.type === 'dir' || destRaw.endsWith('/') ? path.posix.join(dest, path.posix.basename(info.path)) : dest;
  const parents = missingDirs(layer, path.posix.dirname(destFile));
  const pOwner = o.owner ?? root;
  await apply(layer, packStream(async (w) => {
    for (const d of parents) await w.add({ name: d.replace(/^\/+/, '') + '/', type: 'directory', mode: 0o755, uid: pOwner.uid, gid: pOwner.gid, mtime: new Date() });
    await packSource(w, t, srcRel, st, destFile, o);
  }));
}

// ---------------------------------------------------------------- the steps

/** Sources of COPY --from by image ID and source: their checksums (bounded, oldest out first). */
const pathCache = new Map<string, Array<{ path: string; hash: string }>>();
function remember(key: string, v: Array<{ path: string; hash: string }>): void {
  if (pathCache.size >= 4096) pathCache.delete(pathCache.keys().next().value!);
  pathCache.set(key, v);
}

export async function performCopy(req: CopyRequest): Promise<void> {
  if (req.kind === 'workdir') return workdir(req.layer, req.workdir);
  const r = req;
  if (r.chmod && r.chmod !== '') {
    try { parseChmod(r.chmod); } catch (e) { throw new BuildError('invalid-parameter', (e as Error).message); }
  }
  const chmod = r.chmod ? parseChmod(r.chmod) : null;
  const dest = r.dest;
  const opened: Array<{ close(): Promise<void> | void }> = [];
  let imageFs = null as { root: string; release(): Promise<void> } | null;
  try {
    // the sources and their checksums; an image's are remembered by image ID (its files never change),
    // so that a cached COPY --from does not mount the image at all (dockerd's pathCache)
    const from = r.fromImage;
    if (from && !from.id) throw new BuildError('invalid-parameter', `${r.name} failed: no source files were specified`);
    // the context is looked at through its index (a cached COPY never extracts it); an image through its mount
    const tree: SourceTree = { view: r.context.view, root: null, sums: from ? null : r.context, isContext: !from, noDecompress: false };
    const ensureTree = async () => {
      if (tree.root) return;
      if (from) imageFs = await r.backend.openImageFs(from);
      const root = Root.open(from ? imageFs!.root : await r.context.dir());
      tree.root = root;
      if (from) tree.view = new RootView(root);
      opened.push({ close: () => root.close() });
    };
    const infos: CopyInfo[] = [];
    for (const src of r.sources) {
      if (isUrl(src)) {
        if (r.kind === 'copy') throw new BuildError('invalid-parameter', `${r.name} failed: source can't be a URL for COPY`);
        const d = await download(src, dest, r.workDir, r.out, r.signal);
        opened.push({ close: async () => { d.tree.root?.close(); await d.close(); } });
        infos.push({ tree: d.tree, path: d.name, hash: 'file:' + (await hashOf(d.tree, d.name)) });
        continue;
      }
      const key = from ? `${from.id}\0${src}` : '';
      const known = key ? pathCache.get(key) : undefined;
      if (known) {
        infos.push(...known.map((k) => ({ tree, path: k.path, hash: k.hash })));
        continue;
      }
      try {
        if (from) await ensureTree();
        const got = await calcCopyInfo(tree, src, true);
        if (key) remember(key, got.map((g) => ({ path: g.path, hash: g.hash })));
        infos.push(...got);
      } catch (e) {
        if (e instanceof BuildError) throw new BuildError(e.kind, `${r.name} failed: ${e.message}`);
        throw e;
      }
    }
    if (infos.length === 0) throw new BuildError('invalid-parameter', `${r.name} failed: no source files were specified`);
    if (infos.length > 1 && !dest.endsWith('/')) {
      throw new BuildError('invalid-parameter', `When using ${r.name} with more than one source file, the destination must be a directory and end with a /`);
    }
    const hash = infos.length === 1 ? infos[0]!.hash : hashList('multi', infos.map((i) => i.hash));
    // Docker 20.10 writes --chown= right against the checksum ("--chown=1:2file:..."): kept, so cache-from images built there match
    const comment = `${r.name} ${r.chown ? `--chown=${r.chown}` : ''}${chmod !== null ? ` --chmod=${r.chmod} ` : ''}${hash} in ${dest} `;
    const { hit, probe } = r.probe(comment);
    if (hit) return;

    // the copy, into a writable layer over the current image
    if (infos.some((i) => i.tree === tree)) await ensureTree();
    const layer = await r.backend.openLayer(r.parent());
    try {
      const root = Root.open(layer.root);
      try {
        let owner: Owner | null = { uid: 0, gid: 0 };
        if (r.chown) {
          try {
            owner = resolveChown(r.chown, (f) => root.readFile(f, MAX_ID_FILE)?.data.toString('utf8') ?? null);
          } catch (e) {
            throw new BuildError('invalid-parameter', `unable to convert uid/gid chown string to host mapping: ${(e as Error).message}`);
          }
        } else if (r.fromImage) {
          owner = null; // COPY --from keeps the source's owners
        }
        const destPath = normalizeDest(r.workdir, dest);
        for (const info of infos) {
          try {
            await copyOne(root, info, destPath, { owner, chmod, decompress: r.kind === 'add' });
          } catch (e) {
            if (e instanceof BuildError) throw e;
            throw new BuildError('system', `failed to copy files: ${(e as Error).message}`);
          }
        }
      } finally {
        root.close();
      }
      await r.commit(layer.upperdir, probe);
    } finally {
      await layer.release();
    }
  } finally {
    for (const o of opened.reverse()) await o.close();
    await imageFs?.release();
  }
}

/** WORKDIR: creates the directory (root's, 0755) where it is missing. */
async function workdir(layer: RwLayer, dir: string): Promise<void> {
  const root = Root.open(layer.root);
  try {
    const st = root.statOrNull(dir, true);
    if (st && st.type !== 'dir') throw new BuildError('invalid-parameter', `Cannot mkdir: ${dir} is not a directory`);
    if (!st) F.close(root.mkdirAll(dir, 0o755));
  } catch (e) {
    if (e instanceof BuildError) throw e;
    if (errnoOf(e) === 'ENOTDIR') throw new BuildError('invalid-parameter', `Cannot mkdir: ${dir} is not a directory`);
    throw e;
  } finally {
    root.close();
  }
}
