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

/** What a boot's sweep found and removed (or mended). */
export interface SweepResult {
  /** entries of tmp/ removed (extractions and staging cut short) */
  temp: number;
  /** layer rows nothing used any more, removed with their files */
  rows: string[];
  /** layer dirs (hex) without a row, removed */
  dirs: string[];
  /** short links removed (dangling) or made again (missing) */
  links: number;
  /** rows still in use whose diff dir is gone */
  missing: string[];
}

export class LayerFiles {
  readonly layersDir: string;
  readonly linkDir: string;
  readonly tmpDir: string;
  /** chain IDs an operation in progress counts on (leases, as containerd's): collect() leaves them */
  private readonly leases = new Map<string, number>();
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

  /**
   * Keeps `chainIds` from collect() until the returned function is called: a pull or load found them
   * present ("Already exists") and registers its image over them only when its other layers are in,
   * so an rmi or prune meanwhile must not take them away.
   */
  lease(chainIds: string[]): () => void {
    for (const c of chainIds) this.leases.set(c, (this.leases.get(c) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const c of chainIds) {
        const n = (this.leases.get(c) ?? 1) - 1;
        if (n > 0) this.leases.set(c, n);
        else this.leases.delete(c);
      }
    };
  }

  /**
   * Removes every layer nothing uses: no image lists it, no container holds it (a container holds its
   * image's top layer, and so the chain below it, even once that image is gone) and no kept layer has
   * it as parent, no operation in progress holds a lease on it. Returns the chain IDs removed.
   */
  collect(): string[] {
    const removed: string[] = [];
    for (;;) {
      const dead = this.rows.unreferenced().filter((l) => !this.leases.has(l.chainId));
      if (dead.length === 0) break;
      for (const l of dead) {
        // the row first: a crash before the files are gone leaves a dir without a row, which the
        // next boot's sweep removes (files first left a row whose dir was gone or half gone)
        this.rows.remove(l.chainId);
        fs.rmSync(this.shortPath(l.chainId), { force: true });
        fs.rmSync(this.dirOf(l.chainId), { recursive: true, force: true });
        removed.push(l.chainId);
      }
    }
    return removed;
  }

  /**
   * At boot, before anything else uses the store: puts the rows and the files back in agreement
   * after the daemon was killed (SIGKILL, OOM) in the middle of a pull, load, commit or rmi. (Not a
   * power cut: layer files and renames are not fsynced, so a row may outlive unwritten files then.)
   * - tmp/: extractions and staging cut short. A layer is unpacked in tmp/ and renamed into
   *   layers/ whole, then its row written, so a half-extracted layer is only ever found here.
   * - rows nothing uses (collect()): an rmi cut short between the image's row and its layers,
   *   or a pull between its committed layers and its image's row.
   * - layer dirs without a row: a commit cut short between the rename and the row, or a
   *   collect between the row and the files (its dir may be half removed).
   * - short links in l/: dangling ones removed, a kept layer's missing one made again.
   * - a row whose diff dir is gone while something still uses it cannot be mended here: it is
   *   reported (and `has()` is false for it, so the next pull of it unpacks it again).
   */
  sweep(): SweepResult {
    const out: SweepResult = { temp: 0, rows: [], dirs: [], links: 0, missing: [] };
    for (const e of fs.readdirSync(this.tmpDir)) {
      fs.rmSync(path.join(this.tmpDir, e), { recursive: true, force: true });
      out.temp++;
    }
    out.rows = this.collect();
    const rows = this.rows.all();
    const known = new Set(rows.map((r) => hexOf(r.chainId)));
    for (const e of fs.readdirSync(this.layersDir)) {
      if (known.has(e)) continue;
      fs.rmSync(path.join(this.layersDir, e), { recursive: true, force: true });
      out.dirs.push(e);
    }
    for (const e of fs.readdirSync(this.linkDir)) {
      const l = path.join(this.linkDir, e);
      if (fs.existsSync(l)) continue;
      fs.rmSync(l, { force: true });
      out.links++;
    }
    for (const r of rows) {
      if (!fs.existsSync(this.diffDir(r.chainId))) { out.missing.push(r.chainId); continue; }
      const link = this.shortPath(r.chainId);
      let there = false;
      try { fs.lstatSync(link); there = true; } catch { /* missing */ }
      if (!there) {
        fs.symlinkSync(path.join('..', 'layers', hexOf(r.chainId), 'diff'), link);
        out.links++;
      }
    }
    return out;
  }

  randomName(): string {
    return crypto.randomBytes(8).toString('hex');
  }
}
