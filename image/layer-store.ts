// Unpacked layers on disk: <dataRoot>/layers/<chain hex>/{diff,layer.tar} plus a
// short symlink <dataRoot>/l/<12 hex> -> ../layers/<hex>/diff, so that the overlay
// mount data of a many-layer image stays below one page.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Syscalls } from '../sys/index.js';
import type { LayerStore, LayerRow } from '../store/index.js';
import { HashStream, hexOf } from './digest.js';
import { applyLayer } from './unpack.js';
import type { LayerInfo } from './types.js';

export interface StagedLayer {
  /** temp dir holding diff/ and layer.tar */
  tmp: string;
  diffId: string;
  size: number;
}

export const SHORT_LEN = 12;

export class LayerFiles {
  readonly layersDir: string;
  readonly linkDir: string;
  readonly tmpDir: string;
  constructor(readonly dataRoot: string, private readonly rows: LayerStore, private readonly sys: Syscalls) {
    this.layersDir = path.join(dataRoot, 'layers');
    this.linkDir = path.join(dataRoot, 'l');
    this.tmpDir = path.join(dataRoot, 'tmp');
    for (const d of [this.layersDir, this.linkDir, this.tmpDir]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  dirOf(chainId: string): string {
    return path.join(this.layersDir, hexOf(chainId));
  }
  diffDir(chainId: string): string {
    return path.join(this.dirOf(chainId), 'diff');
  }
  tarPath(chainId: string): string {
    return path.join(this.dirOf(chainId), 'layer.tar');
  }
  /** the short path overlayfs gets */
  shortPath(chainId: string): string {
    return path.join(this.linkDir, hexOf(chainId).slice(0, SHORT_LEN));
  }

  has(chainId: string): boolean {
    return this.rows.get(chainId) !== null && fs.existsSync(this.diffDir(chainId));
  }

  info(chainId: string): LayerInfo {
    const r = this.rows.get(chainId);
    if (!r) throw new Error(`layer ${chainId} is missing from the store`);
    return { chainId, diffId: r.diffId, size: r.size, blobDigest: r.blobDigest, dir: this.diffDir(chainId) };
  }

  makeTemp(prefix: string): string {
    return fs.mkdtempSync(path.join(this.tmpDir, `${prefix}-`));
  }

  /**
   * Writes the uncompressed tar to a temp dir (checking its digest against `expectedDiffId` if given),
   * then unpacks it. On any failure the temp dir is removed and the error rethrown.
   */
  async stage(uncompressed: Readable, expectedDiffId?: string, onExtract?: (bytes: number, total: number) => void): Promise<StagedLayer> {
    const tmp = this.makeTemp('layer');
    try {
      const h = new HashStream(expectedDiffId);
      const tarFile = path.join(tmp, 'layer.tar');
      await pipeline(uncompressed, h, fs.createWriteStream(tarFile, { mode: 0o600 }));
      const diff = path.join(tmp, 'diff');
      fs.mkdirSync(diff, { mode: 0o755 });
      const rs = fs.createReadStream(tarFile);
      if (onExtract) {
        let n = 0;
        rs.on('data', (c) => { n += c.length; onExtract(n, h.size); });
      }
      await applyLayer(rs, diff, this.sys);
      return { tmp, diffId: h.digest, size: h.size };
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Moves a staged layer into place as `chainId` (or drops it if that layer exists) and records it. */
  commit(staged: StagedLayer, chainId: string, parent: string | null, blobDigest: string | null): void {
    if (this.has(chainId)) {
      fs.rmSync(staged.tmp, { recursive: true, force: true });
      if (blobDigest && !this.rows.get(chainId)!.blobDigest) this.rows.setBlobDigest(chainId, blobDigest);
      return;
    }
    const dir = this.dirOf(chainId);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staged.tmp, dir);
    fs.chmodSync(dir, 0o700);
    const link = this.shortPath(chainId);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.join('..', 'layers', hexOf(chainId), 'diff'), link);
    const row: LayerRow = { chainId, diffId: staged.diffId, parent, size: staged.size, blobDigest, createdAt: Date.now() };
    this.rows.insert(row);
  }

  /** Removes every layer no image references. Returns the chain IDs removed. */
  collect(): string[] {
    const removed: string[] = [];
    for (;;) {
      const dead = this.rows.unreferenced();
      if (dead.length === 0) break;
      for (const l of dead) {
        // the row first: a crash before the files are gone leaves a dir without a row, which the
        // next boot's cleanTemp removes (files first left a row whose dir was gone or half gone)
        this.rows.remove(l.chainId);
        fs.rmSync(this.shortPath(l.chainId), { force: true });
        fs.rmSync(this.dirOf(l.chainId), { recursive: true, force: true });
        removed.push(l.chainId);
      }
    }
    return removed;
  }

  /** Removes leftovers of interrupted operations: temp dirs, layer dirs without a row, dangling short links. */
  cleanTemp(): void {
    for (const e of fs.readdirSync(this.tmpDir)) fs.rmSync(path.join(this.tmpDir, e), { recursive: true, force: true });
    const known = new Set(this.rows.all().map((r) => hexOf(r.chainId)));
    for (const e of fs.readdirSync(this.layersDir)) {
      if (!known.has(e)) fs.rmSync(path.join(this.layersDir, e), { recursive: true, force: true });
    }
    for (const e of fs.readdirSync(this.linkDir)) {
      const l = path.join(this.linkDir, e);
      if (!fs.existsSync(l)) fs.rmSync(l, { force: true });
    }
  }

  randomName(): string {
    return crypto.randomBytes(8).toString('hex');
  }
}
