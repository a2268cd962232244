// Walking a directory tree through fds: each directory is opened relative to
// its parent's fd (O_NOFOLLOW, one component), each entry stat'ed relative to
// its directory. Entries that vanish or change type while walked are skipped,
// never followed.
import { fsat as F } from '../sys/index.js';
import { Dir, errnoOf, type FileStat } from './root.js';

export interface WalkEntry {
  /** path relative to the walk's top ("a/b") */
  rel: string;
  name: string;
  /** the directory holding the entry: use its fd for *at calls on `name` */
  parent: Dir;
  stat: FileStat;
  /** the entry is the root of another mount than its directory's */
  mountPoint: boolean;
}

export interface WalkOptions {
  /** whether to enter a directory that is a mount point (default: yes) */
  enterMount?: (e: WalkEntry) => boolean;
}

/**
 * Calls `visit` for every entry below `dir` (sorted by name, parents first);
 * `visit` returning false skips a directory's content.
 */
export async function walk(dir: Dir, rel: string, visit: (e: WalkEntry) => Promise<boolean | void> | boolean | void, opts: WalkOptions = {}): Promise<void> {
  const mnt = dir.stat().mntId;
  for (const name of dir.names()) {
    const stat = dir.lstatOrNull(name);
    if (!stat) continue;
    const e: WalkEntry = { rel: rel ? `${rel}/${name}` : name, name, parent: dir, stat, mountPoint: stat.mntId !== mnt };
    const descend = await visit(e);
    if (stat.type !== 'dir' || descend === false) continue;
    if (e.mountPoint && opts.enterMount && !opts.enterMount(e)) continue;
    let sub: Dir;
    try {
      sub = dir.sub(name);
    } catch (err) {
      const c = errnoOf(err);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') continue; // changed under us
      throw err;
    }
    try {
      await walk(sub, e.rel, visit, opts);
    } finally {
      sub.close();
    }
  }
}



/** walk() for synchronous visitors. */
export function walkSync(dir: Dir, rel: string, visit: (e: WalkEntry) => boolean | void, opts: WalkOptions = {}): void {
  const mnt = dir.stat().mntId;
  for (const name of dir.names()) {
    const stat = dir.lstatOrNull(name);
    if (!stat) continue;
    const e: WalkEntry = { rel: rel ? `${rel}/${name}` : name, name, parent: dir, stat, mountPoint: stat.mntId !== mnt };
    if (visit(e) === false || stat.type !== 'dir') continue;
    if (e.mountPoint && opts.enterMount && !opts.enterMount(e)) continue;
    let sub: Dir;
    try {
      sub = dir.sub(name);
    } catch (err) {
      const c = errnoOf(err);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') continue;
      throw err;
    }
    try {
      walkSync(sub, e.rel, visit, opts);
    } finally {
      sub.close();
    }
  }
}
