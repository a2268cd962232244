// Data access for the build cache's records (table build_cache). No policy here:
// the builder decides what a key is and what to prune.
import { prepared, type DB } from './db.js';

export interface BuildCacheRow {
  key: string;
  parentId: string;
  imageId: string;
  description: string;
  createdAt: number;
  lastUsedAt: number;
  usageCount: number;
}

interface Raw { key: string; parent_id: string; image_id: string; description: string; created_at: number; last_used_at: number; usage_count: number }
const toRow = (r: Raw): BuildCacheRow => ({
  key: r.key, parentId: r.parent_id, imageId: r.image_id, description: r.description, createdAt: r.created_at, lastUsedAt: r.last_used_at, usageCount: r.usage_count,
});

export class BuildCacheStore {
  constructor(private readonly db: DB) {}

  get(key: string): BuildCacheRow | null {
    const r = prepared(this.db, 'SELECT * FROM build_cache WHERE key = ?').get(key) as Raw | undefined;
    return r ? toRow(r) : null;
  }

  /** Inserts or replaces the record of `key`. */
  put(row: Omit<BuildCacheRow, 'usageCount' | 'lastUsedAt' | 'createdAt'> & { now?: number }): void {
    const now = row.now ?? Date.now();
    prepared(this.db, `INSERT INTO build_cache (key, parent_id, image_id, description, created_at, last_used_at, usage_count) VALUES (?, ?, ?, ?, ?, ?, 0)
      ON CONFLICT(key) DO UPDATE SET parent_id = excluded.parent_id, image_id = excluded.image_id, description = excluded.description, last_used_at = excluded.last_used_at`)
      .run(row.key, row.parentId, row.imageId, row.description, now, now);
  }

  /** A hit: counts it and stamps the time. */
  touch(key: string, now = Date.now()): void {
    prepared(this.db, 'UPDATE build_cache SET last_used_at = ?, usage_count = usage_count + 1 WHERE key = ?').run(now, key);
  }

  remove(key: string): void {
    prepared(this.db, 'DELETE FROM build_cache WHERE key = ?').run(key);
  }

  list(): BuildCacheRow[] {
    return (prepared(this.db, 'SELECT * FROM build_cache ORDER BY created_at').all() as Raw[]).map(toRow);
  }

  /** Is this image the result of some cached step? */
  hasImage(imageId: string): boolean {
    return !!prepared(this.db, 'SELECT 1 FROM build_cache WHERE image_id = ? LIMIT 1').get(imageId);
  }
}
