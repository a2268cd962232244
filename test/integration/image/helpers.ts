// Shared setup for image integration tests: a temp data root with its own
// SQLite store and an ImageService, always cleaned (mounts first).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../../store/index.js';
import { createImageService, type ImageService, type ImageServiceOptions } from '../../../image/index.js';

interface Teardownable { teardown(fn: () => unknown): void }

export interface ImageEnv {
  dir: string;
  svc: ImageService;
  mounts: string[];
}

export function imageEnv(t: Teardownable, suffix = '', extra: Partial<ImageServiceOptions> = {}): ImageEnv {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-img-${process.pid}-`));
  const dir = suffix ? path.join(top, suffix) : top;
  fs.mkdirSync(dir, { recursive: true });
  const db = openDatabase(path.join(dir, 'tsd.db'));
  const svc = createImageService({ db, dataRoot: dir, insecureRegistries: [], ...extra });
  const env: ImageEnv = { dir, svc, mounts: [] };
  t.teardown(() => {
    for (const m of env.mounts.reverse()) {
      try { svc.unmountRootfs(m); } catch { /* already gone */ }
    }
    db.close();
    fs.rmSync(top, { recursive: true, force: true });
  });
  return env;
}

/** Mounts a container rootfs for `ref` and registers its unmount. */
export function mountFor(env: ImageEnv, ref: string, cid = `c${process.pid}${Math.random().toString(16).slice(2, 8)}`) {
  const img = env.svc.resolveImage(ref);
  const plan = env.svc.prepareRootfs(cid, img);
  env.svc.mountRootfs(plan);
  env.mounts.push(plan.target);
  return plan;
}

export function layerDirsCount(env: ImageEnv): number {
  const d = path.join(env.dir, 'layers');
  return fs.existsSync(d) ? fs.readdirSync(d).length : 0;
}
