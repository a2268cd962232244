// Issue #9 items 6 and 7, image side: every image archive entry point (docker
// load, docker import, a pulled blob, docker save of a layer file that changes)
// fed a truncated or size-changing input. Before the fix a tar cut mid-entry or
// a PAX size larger than its body killed the daemon (an 'error' event nobody
// listened to); now the request fails, the daemon answers _ping, and nothing
// is left behind: no image, no layer, no temp dir.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { privilegedOpts } from '../helpers/privileged.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxImage, busyboxSaveTar, buildImage, layerFromTar, makeTar } from '../fixtures/images.js';
import { busyboxRootfsTar } from '../fixtures/busybox.js';
import { startHostileRegistry } from '../fixtures/hostile-registry.js';

const opts = privilegedOpts();

interface Snapshot { images: string[]; layers: string[] }

const snapshot = async (d: TestDaemon): Promise<Snapshot> => ({
  images: ((await d.request('GET', '/images/json?all=1')).body as Array<{ Id: string }>).map((i) => i.Id).sort(),
  layers: fs.readdirSync(path.join(d.dataRoot, 'layers')).sort(),
});

const tmpEntries = (d: TestDaemon): string[] => fs.readdirSync(path.join(d.dataRoot, 'tmp'));

/** The daemon answers, and after the failed request nothing changed (temp dirs go once the request has ended). */
async function unchanged(t: Test, d: TestDaemon, before: Snapshot, what: string): Promise<void> {
  const ping = await d.request('GET', '/_ping');
  t.equal(ping.status, 200, `${what}: the daemon answers _ping`);
  t.equal(d.proc.exitCode, null, `${what}: the daemon is alive`);
  const deadline = Date.now() + 10_000;
  while (tmpEntries(d).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.same(tmpEntries(d), [], `${what}: no temp dir left`);
  t.same(await snapshot(d), before, `${what}: no image or layer added`);
}

/** The request failed: an HTTP error, or an in-band error line in a progress stream. */
function failed(r: { status: number; text: string }): boolean {
  return r.status >= 400 || /"error(Detail)?"/.test(r.text);
}

/** Where each entry of a plain ustar archive starts (no PAX/GNU long names: the fixture has none). */
function tarEntries(b: Buffer): Array<{ name: string; header: number; data: number; size: number }> {
  const out = [];
  for (let off = 0; off + 512 <= b.length;) {
    const h = b.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    out.push({ name, header: off, data: off + 512, size });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

const post = (d: TestDaemon, p: string, body: Buffer, type = 'application/x-tar') =>
  d.request('POST', p, body, { 'content-type': type });

t.test('docker load / import / pull / save with truncated and size-changing archives', opts, async (t) => {
  const d = await startDaemon(t);
  const save = fs.readFileSync((await busyboxSaveTar()).path);
  const rootfs = fs.readFileSync(busyboxRootfsTar());
  const at = (suffix: string) => tarEntries(save).find((e) => e.name.endsWith(suffix))!;
  const { data: layerData, size: layerSize } = at('layer.tar');
  const { header: manHeader, data: manData } = at('manifest.json');

  const before = await snapshot(d);
  t.same(before.images, [], 'starts empty');

  await t.test('docker load', async (t) => {
    const cut = (n: number) => save.subarray(0, n);
    const inner = rootfs.subarray(0, Math.floor(rootfs.length / 2) + 100); // a layer tar cut mid-file
    const img = buildImage([layerFromTar(inner)]);
    const lid = img.layers[0]!.diffId.slice(7);
    const cases: Array<[string, Buffer]> = [
      ['cut in the middle of a layer.tar entry', cut(layerData + Math.floor(layerSize / 2))],
      ['cut in the body of the last small entry', cut(manData + 50)],
      ['cut inside a header', cut(manHeader + 100)],
      ['PAX size larger than the body', await makeTar([
        { name: 'manifest.json', content: '[]', pax: { size: String(1 << 20) } },
        { name: 'repositories', content: '{}' },
      ])],
      ['a layer whose own tar is cut mid-file', await makeTar([
        { name: `${lid}/layer.tar`, content: inner },
        { name: `${img.id.slice(7)}.json`, content: img.config },
        { name: 'manifest.json', content: JSON.stringify([{ Config: `${img.id.slice(7)}.json`, RepoTags: ['cut:1'], Layers: [`${lid}/layer.tar`] }]) },
      ])],
    ];
    for (const [what, body] of cases) {
      const r = await post(d, '/images/load?quiet=1', body);
      t.ok(failed(r), `${what}: load fails (${r.status} ${r.text.slice(0, 160).trim()})`);
      await unchanged(t, d, before, what);
    }
  });

  await t.test('docker load: names in manifest.json that are no regular file of the archive', async (t) => {
    // Before the load dir was read through fds (rootfs/), a layer named as a FIFO (or a symlink to one)
    // was opened with createReadStream: the open blocked a libuv thread for good and the request never
    // ended (four such loads and the daemon's file system calls all wait). Symlinks out of the archive
    // were refused by a realpath check; now they resolve inside it and are simply not there.
    const img = buildImage([layerFromTar(await makeTar([{ name: 'x', content: 'x' }]))]);
    const cfg = `${img.id.slice(7)}.json`;
    const archive = (layerEntries: Parameters<typeof makeTar>[0], layer: string, config = cfg) => makeTar([
      ...layerEntries,
      { name: cfg, content: img.config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: config, RepoTags: ['odd:1'], Layers: [layer] }]) },
    ]);
    const cases: Array<[string, Buffer]> = [
      ['a layer that is a FIFO', await archive([{ name: 'l/layer.tar', type: 'fifo' }], 'l/layer.tar')],
      ['a layer that is a symlink to a FIFO in the archive', await archive([{ name: 'p', type: 'fifo' }, { name: 'l/layer.tar', type: 'symlink', linkname: '../p' }], 'l/layer.tar')],
      ['a layer that is a symlink to /dev/zero', await archive([{ name: 'l/layer.tar', type: 'symlink', linkname: '/dev/zero' }], 'l/layer.tar')],
      ['a config that is a symlink to /etc/shadow', await archive([{ name: 'c.json', type: 'symlink', linkname: '/etc/shadow' }], 'l/layer.tar', 'c.json')],
      ['a config that is a FIFO', await archive([{ name: 'c.json', type: 'fifo' }], 'l/layer.tar', 'c.json')],
      ['a manifest.json that is a FIFO', await makeTar([{ name: 'manifest.json', type: 'fifo' }])],
    ];
    for (const [what, body] of cases) {
      const started = Date.now();
      const r = await Promise.race([
        post(d, '/images/load?quiet=1', body),
        new Promise<{ status: number; text: string }>((res) => setTimeout(() => res({ status: 0, text: 'no answer in 20 s' }), 20_000).unref()),
      ]);
      t.ok(r.status >= 400 || (r.status !== 0 && failed(r)), `${what}: load fails (${r.status} ${r.text.slice(0, 160).trim()})`);
      t.ok(Date.now() - started < 20_000, `${what}: answered (${Date.now() - started} ms)`);
      await unchanged(t, d, before, what);
    }
  });

  await t.test('docker import', async (t) => {
    const cases: Array<[string, Buffer, string]> = [
      ['a rootfs tar cut mid-file', rootfs.subarray(0, Math.floor(rootfs.length / 2) + 100), 'application/x-tar'],
      ['PAX size larger than the body', await makeTar([{ name: 'etc/x', content: 'abc', pax: { size: String(1 << 20) } }]), 'application/x-tar'],
      ['a gzip stream cut short', zlib.gzipSync(rootfs).subarray(0, 100_000), 'application/x-tar'],
    ];
    for (const [what, body, type] of cases) {
      const r = await post(d, '/images/create?fromSrc=-&repo=imp&tag=1', body, type);
      t.ok(failed(r), `${what}: import fails (${r.status} ${r.text.slice(0, 160).trim()})`);
      await unchanged(t, d, before, what);
    }
  });

  await t.test('docker pull of a blob whose stream ends early', async (t) => {
    const reg = await startHostileRegistry();
    t.teardown(() => reg.stop());
    const img = busyboxImage();
    const gz = img.layers[0]!.gz;
    reg.serveImage('short', 'cl', img);
    reg.serveImage('short', 'chunked', img);
    const layerPath = `/v2/short/blobs/${img.layers[0]!.digest}`;
    let mode: 'cl' | 'chunked' = 'cl';
    reg.routes.set(layerPath, (_req, res, hit) => {
      // half the blob, then: the connection dropped (Content-Length promised more), or a clean chunked end
      if (mode === 'cl') res.writeHead(200, { 'content-length': String(gz.length) });
      else res.writeHead(200, {});
      const half = gz.subarray(0, Math.floor(gz.length / 2));
      hit.bytesSent += half.length;
      res.write(half, () => { if (mode === 'cl') res.destroy(); else res.end(); });
    });
    for (const m of ['cl', 'chunked'] as const) {
      mode = m;
      const r = await d.request('POST', `/images/create?fromImage=${reg.host}/short&tag=${m}`);
      t.ok(failed(r), `${m}: pull fails (${r.text.split('\n').filter((l) => l.includes('error')).join(' ').slice(0, 200)})`);
      t.ok(reg.hits.some((h) => h.path === layerPath), `${m}: the layer was requested`);
      await unchanged(t, d, before, `pull, blob cut short (${m})`);
    }
  });

  await t.test('the daemon still loads a good archive afterwards', async (t) => {
    const r = await post(d, '/images/load?quiet=1', save);
    t.equal(r.status, 200);
    t.match(r.text, 'Loaded image: busybox:fixture');
  });

  await t.test('docker save while a layer file changes size', async (t) => {
    const id = (await busyboxSaveTar()).id;
    const chain = busyboxImage().layers[0]!.diffId.slice(7);
    const layerTar = path.join(d.dataRoot, 'layers', chain, 'layer.tar');
    const size = fs.statSync(layerTar).size;
    const original = fs.readFileSync(layerTar);
    for (const change of ['shrinks', 'grows'] as const) {
      fs.writeFileSync(layerTar, original);
      // read the first chunk, stall (the daemon is mid-file under backpressure), change the file, read the rest
      const body = await new Promise<Buffer>((resolve, reject) => {
        const req = http.get({ socketPath: d.socket, path: `/images/get?names=${id}`, headers: { host: 'x' } }, (res) => {
          const chunks: Buffer[] = [];
          let changed = false;
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            if (changed) return;
            changed = true;
            res.pause();
            setTimeout(() => {
              if (change === 'shrinks') fs.truncateSync(layerTar, 4096);
              else fs.appendFileSync(layerTar, Buffer.alloc(size));
              res.resume();
            }, 200);
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', () => resolve(Buffer.concat(chunks)));
          res.on('aborted', () => resolve(Buffer.concat(chunks)));
        });
        req.on('error', reject);
      });
      t.ok(body.length > 0, `save, layer file ${change}: got ${body.length} bytes`);
      const out = path.join(d.dir, `saved-${change}.tar`);
      fs.writeFileSync(out, body);
      // exact sizes: the archive is a well-formed tar whose layer entry keeps the size it announced
      const listing = execFileSync('tar', ['-tvf', out], { encoding: 'utf8' });
      t.match(listing, new RegExp(`\\s${size}\\s.*${chain}/layer\\.tar`), `save, layer file ${change}: the layer entry has its header's size`);
      t.match(listing, /manifest\.json/, `save, layer file ${change}: the archive is complete`);
      const ping = await d.request('GET', '/_ping');
      t.equal(ping.status, 200, `save, layer file ${change}: the daemon answers _ping`);
    }
    fs.writeFileSync(layerTar, original);
    const r = await d.request('DELETE', `/images/${id}?force=1`);
    t.equal(r.status, 200);
  });
});
