// Data access for layers (by chain ID). Reference counting is derived from
// image_layers; the image service decides what to collect.
import { prepared, type DB } from './db.js';

export interface LayerRow {
  chainId: string;
  diffId: string;
  parent: string | null;
  size: number;
  blobDigest: string | null;
  createdAt: number;
}

interface RawLayer { chain_id: string; diff_id: string; parent: string | null; size: number; blob_digest: string | null; created_at: number }
const toRow = (r: RawLayer): LayerRow => ({ chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, size: r.size, blobDigest: r.blob_digest, createdAt: r.created_at });

export class LayerStore {
  constructor(private readonly db: DB) {}

  get(chainId: string): LayerRow | null {
    const r = prepared(this.db, 'SELECT * FROM layers WHERE chain_id = ?').get(chainId) as RawLayer | undefined;
    return r ? toRow(r) : null;
  }

  insert(row: LayerRow): void {
    prepared(this.db, 'INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, blob_digest, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(row.chainId, row.diffId, row.parent, row.size, row.blobDigest, row.createdAt);
  }

  setBlobDigest(chainId: string, digest: string): void {
    prepared(this.db, 'UPDATE layers SET blob_digest = ? WHERE chain_id = ?').run(digest, chainId);
  }

  /** Layers no image references, no container holds (its image's top layer) and no other layer has as parent. */
  unreferenced(): LayerRow[] {
    return (prepared(this.db, `SELECT * FROM layers l WHERE NOT EXISTS (SELECT 1 FROM image_layers il WHERE il.chain_id = l.chain_id)
      AND NOT EXISTS (SELECT 1 FROM containers k WHERE k.layer = l.chain_id)
      AND NOT EXISTS (SELECT 1 FROM layers c WHERE c.parent = l.chain_id)`).all() as RawLayer[]).map(toRow);
  }

  remove(chainId: string): void {
    prepared(this.db, 'DELETE FROM layers WHERE chain_id = ?').run(chainId);
  }

  all(): LayerRow[] {
    return (prepared(this.db, 'SELECT * FROM layers').all() as RawLayer[]).map(toRow);
  }
}
