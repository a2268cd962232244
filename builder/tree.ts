// What COPY needs to know about a source tree before copying anything: where a
// path leads once its symlinks are followed inside the tree, what is there, and
// what lies below a directory. Two views answer it: one over a directory held
// by an fd (rootfs/: an image's filesystem, a download), and one over the
// index of the context tar, so that a build whose COPY steps all hit the cache
// never extracts its context. Both follow symlinks as Docker's
// FollowSymlinkInScope does: absolute targets from the tree's root, `..` never
// above it, a dangling tail kept as written.
import { Root, walkSync, errnoOf, type FileType } from '../rootfs/index.js';
import { HostileLayerError, cleanEntryName } from '../image/index.js';

export interface TreeView {
  /** the tree path `p` ends at ('/a/b'), its symlinks followed (the last one unless followLast is false) */
  resolvedPath(p: string, followLast?: boolean): string;
  /** the type of what `p` names (following symlinks when `follow`), null when nothing is there */
  stat(p: string, follow: boolean): { type: FileType } | null;
  /** entries below directory `rel` ('.' for the root) as tree-relative paths, parents first, names sorted */
  walk(rel: string): string[];
}

const clean = (p: string): string[] => p.split('/').filter((x) => x && x !== '.');
const MAX_HOPS = 255;

/** Docker's symlink resolution inside a tree, given a lookup that does not follow the last component. */
function resolve(p: string, followLast: boolean, lstat: (rel: string) => { type: FileType } | null, readlink: (rel: string) => string): string {
  const parts = clean(p);
  const out: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') { out.pop(); continue; }
    const cand = [...out, part].join('/');
    const st = lstat(cand);
    if (st?.type === 'symlink' && (parts.length > 0 || followLast)) {
      if (++hops > MAX_HOPS) throw new HostileLayerError(p, 'too many levels of symbolic links');
      const target = readlink(cand);
      if (target.startsWith('/')) out.length = 0;
      parts.unshift(...clean(target));
      continue;
    }
    out.push(part);
  }
  return '/' + out.join('/');
}

const relOf = (abs: string): string => abs.replace(/^\/+/, '') || '.';

/** A tree behind a Root (the fd-relative module). */
export class RootView implements TreeView {
  constructor(readonly root: Root) {}
  resolvedPath(p: string, followLast = true): string {
    return this.root.resolvedPath('/' + p.replace(/^\/+/, ''), followLast);
  }
  stat(p: string, follow: boolean): { type: FileType } | null {
    return this.root.statOrNull('/' + p.replace(/^\/+/, ''), follow);
  }
  walk(rel: string): string[] {
    const out: string[] = [];
    let dir;
    try {
      dir = this.root.dir('/' + (rel === '.' ? '' : rel));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return out;
      throw e;
    }
    try {
      walkSync(dir, rel === '.' ? '' : rel, (e) => { out.push(e.rel); });
    } finally {
      dir.close();
    }
    return out;
  }
}

interface Entry { type: FileType; linkname: string }

const typeOf = (t: string | undefined): FileType => {
  switch (t) {
    case 'directory': return 'dir';
    case 'symlink': return 'symlink';
    case 'character-device': return 'char';
    case 'block-device': return 'block';
    case 'fifo': return 'fifo';
    default: return 'file'; // regular files, contiguous files, hardlinks (a second name of a file)
  }
};

/**
 * The context tar as a tree, built entry by entry while it streams in, with
 * the extractor's rules: later entries replace earlier ones (a non-directory
 * replacing a directory takes what was below it), and an entry below a
 * symlink or a non-directory is refused as the extraction would refuse it.
 */
export class TarIndex implements TreeView {
  private readonly entries = new Map<string, Entry>();
  private readonly children = new Map<string, Set<string>>([['.', new Set()]]);

  /** Records a tar entry by its raw name; throws HostileLayerError where extracting it would. */
  add(name: string, type: string | undefined, linkname: string | undefined): void {
    const rel = cleanEntryName(name);
    if (rel === '') return;
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const e = this.entries.get(parent);
      if (e && e.type !== 'dir') throw new HostileLayerError(rel, `parent ${parent} is ${e.type === 'symlink' ? 'a symlink' : 'not a directory'}`);
    }
    for (let i = 1; i <= parts.length; i++) {
      const dir = i === 1 ? '.' : parts.slice(0, i - 1).join('/');
      let set = this.children.get(dir);
      if (!set) this.children.set(dir, (set = new Set()));
      set.add(parts[i - 1]!);
    }
    const t = typeOf(type);
    if (t !== 'dir') this.dropBelow(rel);
    this.entries.set(rel, { type: t, linkname: linkname ?? '' });
    if (t === 'dir' && !this.children.has(rel)) this.children.set(rel, new Set());
  }

  private dropBelow(rel: string): void {
    const kids = this.children.get(rel);
    if (!kids) return;
    for (const k of kids) {
      const c = `${rel}/${k}`;
      this.dropBelow(c);
      this.entries.delete(c);
    }
    this.children.delete(rel);
  }

  /** Forgets a path and what is below it (the context's .dockerignore'd Dockerfile). */
  remove(rel: string): void {
    const r = relOf('/' + clean(rel).join('/'));
    if (r === '.') return;
    this.dropBelow(r);
    this.entries.delete(r);
    const i = r.lastIndexOf('/');
    this.children.get(i < 0 ? '.' : r.slice(0, i))?.delete(r.slice(i + 1));
  }

  /** lstat: an entry, a directory implied by entries below it, or null (also below a non-directory). */
  private lstat(rel: string): { type: FileType } | null {
    if (rel === '' || rel === '.') return { type: 'dir' };
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const e = this.entries.get(parent);
      if (e ? e.type !== 'dir' : !this.children.has(parent)) return null;
    }
    const e = this.entries.get(rel);
    if (e) return { type: e.type };
    return this.children.has(rel) ? { type: 'dir' } : null;
  }

  private readlink(rel: string): string {
    return this.entries.get(rel)?.linkname ?? '';
  }

  resolvedPath(p: string, followLast = true): string {
    return resolve(p, followLast, (r) => this.lstat(r), (r) => this.readlink(r));
  }

  stat(p: string, follow: boolean): { type: FileType } | null {
    const abs = this.resolvedPath(p, follow);
    return this.lstat(relOf(abs));
  }

  walk(rel: string): string[] {
    const out: string[] = [];
    const start = rel === '' ? '.' : rel;
    const visit = (dir: string) => {
      const kids = this.children.get(dir);
      if (!kids) return;
      for (const k of [...kids].sort()) {
        const c = dir === '.' ? k : `${dir}/${k}`;
        out.push(c);
        if (this.lstat(c)?.type === 'dir') visit(c);
      }
    };
    if (this.lstat(start)?.type === 'dir') visit(start);
    return out;
  }
}
