// Data access for images, image_tags and image_digests. No policy here.
import { prepared, type DB } from './db.js';

export interface ImageRow {
  id: string;
  config: string;
  manifest: string | null;
  created: string;
  size: number;
  parent: string;
  addedAt: number;
}

interface RawImage { id: string; config: string; manifest: string | null; created: string; size: number; parent: string; added_at: number }
const toRow = (r: RawImage): ImageRow => ({ id: r.id, config: r.config, manifest: r.manifest, created: r.created, size: r.size, parent: r.parent, addedAt: r.added_at });

export class ImageStore {
  constructor(private readonly db: DB) {}

  get(id: string): ImageRow | null {
    const r = prepared(this.db, 'SELECT * FROM images WHERE id = ?').get(id) as RawImage | undefined;
    return r ? toRow(r) : null;
  }

  /** IDs starting with the given prefix (the prefix includes "sha256:"). */
  findByPrefix(prefix: string): string[] {
    const rows = prepared(this.db, "SELECT id FROM images WHERE substr(id, 1, ?) = ? LIMIT 3").all(prefix.length, prefix) as { id: string }[];
    return rows.map((r) => r.id);
  }

  list(): ImageRow[] {
    return (prepared(this.db, 'SELECT * FROM images ORDER BY added_at DESC').all() as RawImage[]).map(toRow);
  }

  /** Inserts the image and its ordered layers if absent. Returns true if it was new. */
  insert(row: ImageRow, chainIds: string[]): boolean {
    return this.db.transaction(() => {
      if (this.get(row.id)) return false;
      prepared(this.db, 'INSERT INTO images (id, config, manifest, created, size, parent, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(row.id, row.config, row.manifest, row.created, row.size, row.parent, row.addedAt);
      const ins = prepared(this.db, 'INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?, ?, ?)');
      chainIds.forEach((c, i) => ins.run(row.id, i, c));
      return true;
    })();
  }

  /** Images recorded as built on `id`. */
  childrenOf(id: string): string[] {
    return (prepared(this.db, 'SELECT id FROM images WHERE parent = ?').all(id) as { id: string }[]).map((r) => r.id);
  }

  remove(id: string): void {
    prepared(this.db, 'DELETE FROM images WHERE id = ?').run(id);
  }

  layersOf(id: string): string[] {
    return (prepared(this.db, 'SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx').all(id) as { chain_id: string }[]).map((r) => r.chain_id);
  }

  setTag(ref: string, imageId: string): string | null {
    const old = prepared(this.db, 'SELECT image_id FROM image_tags WHERE ref = ?').get(ref) as { image_id: string } | undefined;
    prepared(this.db, 'INSERT INTO image_tags (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id').run(ref, imageId);
    return old && old.image_id !== imageId ? old.image_id : null;
  }

  tagTarget(ref: string): string | null {
    return (prepared(this.db, 'SELECT image_id FROM image_tags WHERE ref = ?').get(ref) as { image_id: string } | undefined)?.image_id ?? null;
  }

  removeTag(ref: string): void {
    prepared(this.db, 'DELETE FROM image_tags WHERE ref = ?').run(ref);
  }

  tagsOf(imageId: string): string[] {
    return (prepared(this.db, 'SELECT ref FROM image_tags WHERE image_id = ? ORDER BY ref').all(imageId) as { ref: string }[]).map((r) => r.ref);
  }

  setDigest(ref: string, imageId: string): void {
    prepared(this.db, 'INSERT INTO image_digests (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id').run(ref, imageId);
  }

  digestTarget(ref: string): string | null {
    return (prepared(this.db, 'SELECT image_id FROM image_digests WHERE ref = ?').get(ref) as { image_id: string } | undefined)?.image_id ?? null;
  }

  removeDigest(ref: string): void {
    prepared(this.db, 'DELETE FROM image_digests WHERE ref = ?').run(ref);
  }

  digestsOf(imageId: string): string[] {
    return (prepared(this.db, 'SELECT ref FROM image_digests WHERE image_id = ? ORDER BY ref').all(imageId) as { ref: string }[]).map((r) => r.ref);
  }

  count(): number {
    return (prepared(this.db, 'SELECT count(*) AS n FROM images').get() as { n: number }).n;
  }
}
