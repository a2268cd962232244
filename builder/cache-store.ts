// The build cache as the daemon keeps it: records of which image each step
// produced (the lookup the builder probes), the images builds hold while they
// run, and `docker builder prune` / the build cache of `docker system df` over
// those records. Pruning forgets records, then deletes the step images nothing
// else needs (untagged, no container, no image built on them), which frees
// their layers.

import type { BuildCacheRow } from '../store/index.js';

/** The records' storage (store/build-cache.ts). */
export interface CacheRecords {
  get(key: string): { imageId: string } | null;
  put(row: { key: string; parentId: string; imageId: string; description: string }): void;
  touch(key: string): void;
  remove(key: string): void;
  list(): CacheRecord[];
  hasImage(imageId: string): boolean;
}

/** One record, as the store keeps it. */
export type CacheRecord = BuildCacheRow;

/** What the cache needs to know about images (the image service). */
export interface CacheImages {
  exists(id: string): boolean;
  /** tagged, used by a container, or an ancestor of such an image */
  isShared(id: string, memo: Map<string, boolean>): boolean;
  /** bytes of the layer the image's step added (0 for config-only steps) */
  ownLayerSize(id: string): number;
  /** deletes the image and then its parents while nothing needs them */
  removeUnreferenced(id: string, keep: (id: string) => boolean): void;
  /** bytes of every layer on disk */
  layerBytes(): number;
}

/** A build cache entry as `docker system df -v` and `docker builder du` show it. */
export interface CacheUsage {
  id: string;
  parent: string;
  type: 'regular';
  description: string;
  inUse: boolean;
  shared: boolean;
  size: number;
  createdAt: number;
  lastUsedAt: number;
  usageCount: number;
}

export interface PruneOptions {
  all: boolean;
  /** keep this many bytes of cache (oldest used go first) */
  keepStorage: number;
  /** only records last used before this time (ms since the epoch) */
  until: number | null;
  filters: Record<string, string[]>;
}

const PRUNE_FILTERS = ['until', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private'];

export class BuildCache {
  private readonly active = new Map<string, number>();

  constructor(private readonly records: CacheRecords, private readonly images: CacheImages) {}

  // ---- the builder's index

  lookup(key: string): string | null {
    const r = this.records.get(key);
    if (!r) return null;
    this.records.touch(key);
    return r.imageId;
  }

  record(e: { key: string; parentId: string; imageId: string; description: string }): void {
    this.records.put(e);
  }

  forget(key: string): void {
    this.records.remove(key);
  }

  /** A running build uses this image: prune leaves it alone until release(). */
  hold(imageId: string): void {
    if (imageId) this.active.set(imageId, (this.active.get(imageId) ?? 0) + 1);
  }

  release(imageId: string): void {
    const n = (this.active.get(imageId) ?? 0) - 1;
    if (n <= 0) this.active.delete(imageId);
    else this.active.set(imageId, n);
  }

  // ---- docker system df, docker builder du

  usage(): CacheUsage[] {
    const memo = new Map<string, boolean>();
    const out: CacheUsage[] = [];
    for (const r of this.records.list()) {
      if (!this.images.exists(r.imageId)) continue;
      out.push({
        id: r.key.replace(/^sha256:/, ''),
        parent: '',
        type: 'regular',
        description: r.description,
        inUse: this.active.has(r.imageId),
        shared: this.images.isShared(r.imageId, memo),
        size: this.images.ownLayerSize(r.imageId),
        createdAt: r.createdAt,
        lastUsedAt: r.lastUsedAt,
        usageCount: r.usageCount,
      });
    }
    return out;
  }

  // ---- docker builder prune

  prune(o: PruneOptions): { deleted: string[]; reclaimed: number } {
    for (const k of Object.keys(o.filters)) if (!PRUNE_FILTERS.includes(k)) throw new Error(`invalid filter '${k}'`);
    const f = o.filters;
    const wanted = (u: CacheUsage): boolean => {
      if (u.inUse) return false;
      if (!o.all && u.shared) return false;
      if (o.until !== null && u.lastUsedAt >= o.until) return false;
      if (f.id?.length && !f.id.some((v) => u.id.startsWith(v))) return false;
      if (f.type?.length && !f.type.includes(u.type)) return false;
      if (f.description?.length && !f.description.some((v) => u.description.includes(v))) return false;
      if (f.inuse?.length && !f.inuse.includes(String(u.inUse))) return false;
      if (f.shared?.length && !f.shared.includes(String(u.shared))) return false;
      return true;
    };
    const all = this.usage();
    let victims = all.filter(wanted);
    if (o.keepStorage > 0) {
      // keep the most recently used records within keepStorage bytes
      let total = all.filter((u) => !u.shared).reduce((n, u) => n + u.size, 0);
      const ordered = [...victims].sort((a, b) => a.lastUsedAt - b.lastUsedAt);
      victims = [];
      for (const u of ordered) {
        if (total <= o.keepStorage) break;
        victims.push(u);
        if (!u.shared) total -= u.size;
      }
    }
    const before = this.images.layerBytes();
    const byId = new Map(this.records.list().map((r) => [r.key.replace(/^sha256:/, ''), r]));
    const dropped: string[] = [];
    for (const u of victims) {
      const r = byId.get(u.id);
      if (!r) continue;
      this.records.remove(r.key);
      dropped.push(r.imageId);
    }
    const keep = (id: string) => this.records.hasImage(id) || this.active.has(id);
    // children before parents: newest records first
    for (const id of dropped.reverse()) {
      if (this.images.exists(id)) this.images.removeUnreferenced(id, keep);
    }
    return { deleted: victims.map((u) => u.id), reclaimed: Math.max(0, before - this.images.layerBytes()) };
  }
}
