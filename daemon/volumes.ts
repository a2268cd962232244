// Named volumes of the local driver: <dataRoot>/volumes/<name>/_data.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { VolumeStore, type VolumeRow } from '../store/index.js';
import type { DB } from '../store/index.js';
import { conflict, invalidParameter, notFound } from '../errors/index.js';
import { Root, copyTree, copyOwnership, removeTree, walkSync, type Dir } from '../rootfs/index.js';
import type { EventBus } from './events.js';

export interface Volume extends VolumeRow { mountpoint: string }

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** the longest file name Linux takes (a volume name is one path component) */
const NAME_MAX = 255;

export class VolumeService {
  private store: VolumeStore;

  /** `usedBy`: ids of the containers whose mounts reference a volume (asked of the container rows). */
  constructor(db: DB, private readonly dataRoot: string, private readonly events: EventBus, readonly usedBy: (name: string) => string[] = () => []) {
    this.store = new VolumeStore(db);
  }

  /**
   * A local volume name as dockerd checks it (its messages), plus what mkdir would refuse:
   * a name over NAME_MAX is Docker's "file name too long", but a 400 before anything is made.
   */
  checkName(name: string): void {
    if (name.length === 1) throw invalidParameter('volume name is too short, names should be at least two alphanumeric characters');
    if (!NAME_RE.test(name)) {
      throw invalidParameter(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    if (Buffer.byteLength(name) > NAME_MAX) {
      const root = path.join(this.dataRoot, 'volumes', name);
      throw invalidParameter(`create ${name}: error while creating volume root path '${root}': mkdir ${root}: file name too long`, 'TSD_ERR_VOLUME_NAME_TOO_LONG');
    }
  }

  /** Where a volume's data lives; the name is checked first (a container's create plans its mounts with this). */
  /** system df: the size of a volume's data and how many containers use it. */
  usage(name: string): { size: number; refCount: number } {
    return { size: dirSize(this.mountpoint(name)), refCount: this.usedBy(name).length };
  }

  mountpoint(name: string): string {
    this.checkName(name);
    return path.join(this.dataRoot, 'volumes', name, '_data');
  }

  private out(v: VolumeRow): Volume {
    return { ...v, mountpoint: this.mountpoint(v.name) };
  }

  create(req: { name?: string; driver?: string; labels?: Record<string, string>; options?: Record<string, string> }): Volume {
    const name = req.name || crypto.randomBytes(32).toString('hex');
    this.checkName(name);
    const driver = req.driver || 'local';
    if (driver !== 'local') throw notFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    for (const k of Object.keys(req.options ?? {})) {
      throw invalidParameter(`create ${name}: invalid option key: "${k}"`);
    }
    const existing = this.store.get(name);
    if (existing) return this.out(existing); // Docker: creating an existing volume returns it
    fs.mkdirSync(this.mountpoint(name), { recursive: true, mode: 0o755 });
    const row: VolumeRow = { name, driver, labels: req.labels ?? {}, options: req.options ?? {}, createdAt: new Date().toISOString() };
    this.store.insert(row);
    this.events.publish('volume', 'create', name, { driver });
    return this.out(row);
  }

  /** For container start: the volume, created on first use (named or anonymous). */
  ensure(name: string): Volume {
    return this.store.get(name) ? this.out(this.store.get(name)!) : this.create({ name });
  }

  /**
   * dockerd's copy-up: what the image has at `dest` (a container path, symlinks
   * followed inside the rootfs mounted at `rootfsTarget`) is copied into the
   * volume when the volume is empty. Through fds on both sides (rootfs/): the
   * image's symlinks are copied as links, never followed.
   */
  async copyUp(name: string, rootfsTarget: string, dest: string): Promise<boolean> {
    const src = Root.open(rootfsTarget);
    let from: Dir;
    try {
      from = src.dir(dest);
    } catch {
      src.close();
      return false; // nothing there, or not a directory
    }
    const vol = Root.open(this.mountpoint(name));
    const top = vol.dir('/');
    try {
      if (top.names().length > 0) return false;
      await copyTree(from, top.fd);
      copyOwnership(from, top.fd);
      return true;
    } finally {
      top.close();
      vol.close();
      from.close();
      src.close();
    }
  }

  inspect(name: string): Volume {
    const v = this.store.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`, 'TSD_ERR_NO_SUCH_VOLUME');
    return this.out(v);
  }

  list(filters: Record<string, string[]> = {}): Volume[] {
    for (const k of Object.keys(filters)) if (!['name', 'label', 'dangling', 'driver'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
    return this.store.list().map((v) => this.out(v)).filter((v) => {
      if (filters.name?.length && !filters.name.some((n) => v.name.includes(n))) return false;
      if (filters.driver?.length && !filters.driver.includes(v.driver)) return false;
      if (filters.label?.length && !filters.label.every((l) => { const [k, val] = l.split('='); return val === undefined ? k! in v.labels : v.labels[k!] === val; })) return false;
      if (filters.dangling?.length) {
        const want = filters.dangling[0] === 'true' || filters.dangling[0] === '1';
        if ((this.usedBy(v.name).length === 0) !== want) return false;
      }
      return true;
    });
  }

  /**
   * At boot, what a crash cut short: a create whose dir was made but whose row was not written
   * (only an empty _data: removed), and a removal whose files were gone but whose row was still
   * there (the row goes, finishing it).
   */
  reconcile(): void {
    const root = path.join(this.dataRoot, 'volumes');
    const rows = new Set(this.store.list().map((v) => v.name));
    for (const e of fs.readdirSync(root, { withFileTypes: true })) {
      if (!e.isDirectory() || rows.has(e.name)) continue;
      const dir = path.join(root, e.name);
      const inside = fs.readdirSync(dir);
      if (inside.length === 0 || (inside.length === 1 && inside[0] === '_data' && fs.readdirSync(path.join(dir, '_data')).length === 0)) removeTree(dir);
    }
    for (const name of rows) if (!fs.existsSync(path.join(root, name))) this.store.delete(name);
  }

  remove(name: string, force = false): void {
    const v = this.store.get(name);
    if (!v) {
      if (force) return;
      throw notFound(`get ${name}: no such volume`, 'TSD_ERR_NO_SUCH_VOLUME');
    }
    const users = this.usedBy(name);
    if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    // through fds, never into a mount below it (a container's bind left there is not emptied)
    const kept = removeTree(path.join(this.dataRoot, 'volumes', name));
    if (kept.length) throw conflict(`remove ${name}: still mounted at ${kept.join(', ')}`);
    this.store.delete(name);
    this.events.publish('volume', 'destroy', name, { driver: v.driver });
  }

  prune(filters: Record<string, string[]> = {}): { deleted: string[]; reclaimed: number } {
    const deleted: string[] = [];
    let reclaimed = 0;
    const all = filters.all?.[0] === 'true' || filters.all?.[0] === '1';
    for (const v of this.list({ ...(filters.label ? { label: filters.label } : {}) })) {
      if (this.usedBy(v.name).length) continue;
      // Docker >= 1.42 prunes only anonymous volumes unless all=true.
      if (!all && !/^[0-9a-f]{64}$/.test(v.name)) continue;
      reclaimed += dirSize(this.mountpoint(v.name));
      this.remove(v.name);
      deleted.push(v.name);
    }
    return { deleted, reclaimed };
  }
}

/**
 * Bytes below `p` (a data-root path whose content containers write: an upper
 * dir, a volume), walked by fds (rootfs/): a directory swapped for a symlink
 * meanwhile is never followed out of it.
 */
export function dirSize(p: string): number {
  let root: Root;
  try {
    root = Root.open(p);
  } catch {
    try { return fs.lstatSync(p).size; } catch { return 0; }
  }
  let total = 0;
  try {
    const top = root.dir('/', false);
    try {
      walkSync(top, '', (e) => { if (e.stat.type !== 'dir') total += e.stat.size; });
    } finally {
      top.close();
    }
  } catch {
    // gone meanwhile
  } finally {
    root.close();
  }
  return total;
}
