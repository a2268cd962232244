// Pull throughput: a ~100 MB multi-layer image of random content, pushed to a
// local docker-registry, pulled by the image service into a temp data root.
// Run: node dist/bench/pull.js [totalMB] [layers]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../store/index.js';
import { createImageService } from '../image/index.js';
import { startRegistry } from '../test/fixtures/registry.js';
import { buildImage, pushBuilt, randomLayer } from '../test/fixtures/images.js';

async function main(): Promise<void> {
  const totalMB = Number(process.argv[2] ?? 100);
  const nLayers = Number(process.argv[3] ?? 5);
  const reg = await startRegistry();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-bench-pull-${process.pid}-`));
  try {
    const layers = [];
    for (let i = 0; i < nLayers; i++) layers.push(await randomLayer(Math.floor((totalMB * 1e6) / nLayers), 4, `l${i}`));
    const img = buildImage(layers);
    await pushBuilt(reg.url, 'bench', 'v1', img);
    const compressed = layers.reduce((n, l) => n + l.gz.length, 0);
    const runs: number[] = [];
    for (let r = 0; r < 3; r++) {
      const root = path.join(dir, `run${r}`);
      fs.mkdirSync(root);
      const db = openDatabase(path.join(root, 'tsd.db'));
      const svc = createImageService({ db, dataRoot: root });
      const t0 = process.hrtime.bigint();
      await (await svc.preparePull(`${reg.host}/bench:v1`, undefined)).run(() => undefined);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      runs.push(s);
      if (svc.resolveImage(`${reg.host}/bench:v1`).id !== img.id) throw new Error('pulled the wrong image');
      db.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
    runs.sort((a, b) => a - b);
    const med = runs[1]!;
    console.log(`pull ${nLayers} layers, ${(compressed / 1e6).toFixed(1)} MB compressed from ${reg.host}: ` +
      `median ${med.toFixed(2)} s, ${(compressed / 1e6 / med).toFixed(1)} MB/s (runs: ${runs.map((x) => x.toFixed(2)).join(', ')} s)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await reg.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
