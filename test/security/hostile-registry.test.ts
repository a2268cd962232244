// Issue #9 items 9, 10 and 12: a registry that lies. Manifests of 300 MB (declared,
// chunked, or behind a Content-Length that lies) are refused at 4 MiB without the
// daemon's memory following them; every descriptor digest is parsed and verified
// with its own algorithm before it reaches a URL or a path (the child manifest of
// an index included); a pull whose only client hangs up stops downloading at once,
// while a pull another client joined goes on. After each, the daemon answers _ping
// and keeps nothing half-written.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import crypto from 'node:crypto';
import { privilegedOpts } from '../helpers/privileged.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxImage, buildImage, layerFromTar, makeTar, sha256 } from '../fixtures/images.js';
import { MANIFEST_V2, startHostileRegistry, streamBytes, type HostileRegistry, type Hit } from '../fixtures/hostile-registry.js';

const opts = privilegedOpts();
const MB = 1024 * 1024;

const vmHWM = (pid: number): number => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const sha512 = (b: Buffer): string => 'sha512:' + crypto.createHash('sha512').update(b).digest('hex');

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Nothing stored, no temp dir, and the daemon answers. */
async function clean(t: Test, d: TestDaemon, what: string): Promise<void> {
  t.equal((await d.request('GET', '/_ping')).status, 200, `${what}: the daemon answers _ping`);
  await until('temp dirs to go', () => fs.readdirSync(path.join(d.dataRoot, 'tmp')).length === 0).catch(() => {});
  t.same(fs.readdirSync(path.join(d.dataRoot, 'tmp')), [], `${what}: no temp dir left`);
  t.same(fs.readdirSync(path.join(d.dataRoot, 'layers')), [], `${what}: no layer stored`);
  t.same((await d.request('GET', '/images/json')).body, [], `${what}: no image`);
}

const pull = (d: TestDaemon, reg: HostileRegistry, repo: string, tag: string) =>
  d.request('POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/${repo}`)}&tag=${encodeURIComponent(tag)}`);
const errorOf = (r: { status: number; text: string; body: any }): string => {
  if (r.status >= 400) return String(r.body?.message ?? r.text);
  const line = r.text.split('\n').find((l) => l.includes('"error"'));
  return line ? (JSON.parse(line) as { error: string }).error : '';
};

t.test('a hostile registry', opts, async (t) => {
  const d = await startDaemon(t);
  const reg = await startHostileRegistry();
  t.teardown(() => reg.stop());
  const pid = d.proc.pid!;

  await t.test('item 9: a 300 MB manifest is refused at 4 MiB, by Content-Length and while reading', async (t) => {
    const junk = Buffer.alloc(MB, 0x20); // spaces: valid JSON whitespace, so only a size cap stops it
    const total = 300 * MB;
    reg.routes.set('/v2/big/manifests/declared', (_req, res, hit) => {
      res.writeHead(200, { 'content-type': MANIFEST_V2, 'content-length': String(total) });
      streamBytes(res, hit, total, junk);
    });
    reg.routes.set('/v2/big/manifests/chunked', (_req, res, hit) => {
      res.writeHead(200, { 'content-type': MANIFEST_V2 });
      streamBytes(res, hit, total, junk);
    });
    reg.routes.set('/v2/big/manifests/lying', (_req, res, hit) => {
      // says 1000 bytes, then keeps sending: raw bytes on the socket, past what HTTP framing allows
      const s = res.socket!;
      s.write(`HTTP/1.1 200 OK\r\ncontent-type: ${MANIFEST_V2}\r\ncontent-length: 1000\r\n\r\n`);
      const pump = (): void => {
        while (hit.bytesSent < total && !s.destroyed) {
          hit.bytesSent += junk.length;
          if (!s.write(junk)) { s.once('drain', pump); return; }
        }
      };
      pump();
    });
    const before = vmHWM(pid);
    const results: Record<string, { err: string; hit: Hit }> = {};
    for (const tag of ['declared', 'chunked', 'lying']) {
      const r = await pull(d, reg, 'big', tag);
      const hit = reg.hits.filter((h) => h.path === `/v2/big/manifests/${tag}`).pop()!;
      results[tag] = { err: errorOf(r), hit };
      t.ok(r.status >= 400 || errorOf(r), `${tag}: refused (${errorOf(r).slice(0, 120)})`);
      await until(`${tag}: the registry to see its connection closed`, () => hit.closedAt !== null || hit.bytesSent >= total);
      t.ok(hit.bytesSent < 64 * MB, `${tag}: the daemon hung up after ${(hit.bytesSent / MB).toFixed(1)} MB of ${total / MB} MB`);
      await clean(t, d, tag);
    }
    t.match(results.declared!.err, `rejecting ${total} byte manifest for ${reg.host}/big:declared`, 'by Content-Length');
    t.match(results.chunked!.err, `rejecting manifest for ${reg.host}/big:chunked: more than 4194304 bytes`, 'while reading');
    t.match(results.lying!.err, /invalid manifest|manifest/, 'a Content-Length that lies: its 1000 bytes are not a manifest');
    const after = vmHWM(pid);
    t.comment(`daemon peak RSS (VmHWM) ${(before / MB).toFixed(0)} MB before the 300 MB manifests, ${(after / MB).toFixed(0)} MB after`);
    t.ok(after - before < 150 * MB, `peak RSS grew ${((after - before) / MB).toFixed(0)} MB (a 300 MB manifest buffered whole would be +300 MB or more)`);
  });

  await t.test('item 9: error bodies and configs are capped too', async (t) => {
    const img = busyboxImage();
    reg.serveImage('bigcfg', 'x', img);
    // a config whose descriptor claims 300 MB
    const man = JSON.parse(img.manifest.toString()) as { config: { size: number } };
    man.config.size = 300 * MB;
    reg.serveBytes('/v2/bigcfg/manifests/claims', Buffer.from(JSON.stringify(man)), MANIFEST_V2);
    const r = await pull(d, reg, 'bigcfg', 'claims');
    t.match(errorOf(r), `rejecting ${300 * MB} byte config ${img.id}`);
    // a 404 whose error body is endless
    reg.routes.set('/v2/bigerr/manifests/x', (_req, res, hit) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      streamBytes(res, hit, 300 * MB, Buffer.alloc(MB, 0x61));
    });
    const e = await pull(d, reg, 'bigerr', 'x');
    t.ok(e.status >= 400, `an endless error body: ${e.status}`);
    const hit = reg.hits.filter((h) => h.path === '/v2/bigerr/manifests/x').pop()!;
    await until('the error body connection to close', () => hit.closedAt !== null);
    t.ok(hit.bytesSent < 64 * MB, `error body read stopped after ${(hit.bytesSent / MB).toFixed(1)} MB`);
    await clean(t, d, 'capped config and error body');
  });

  await t.test('item 10: descriptor digests are parsed and verified before they reach a URL or a path', async (t) => {
    const img = busyboxImage();
    const layer = img.layers[0]!;
    const good = JSON.parse(img.manifest.toString()) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number; mediaType: string }> };
    const variant = (tag: string, edit: (m: typeof good) => void) => {
      const m = JSON.parse(JSON.stringify(good)) as typeof good;
      edit(m);
      reg.serveBytes(`/v2/dg/manifests/${tag}`, Buffer.from(JSON.stringify(m)), MANIFEST_V2);
    };
    reg.serveBytes(`/v2/dg/blobs/${img.id}`, img.config);
    reg.serveBytes(`/v2/dg/blobs/${layer.digest}`, layer.gz);
    // as long as a real sha256 hex, so that only the character check can stop it
    const pad64 = (s: string) => s + 'a'.repeat(64 - s.length);
    const traversal = `sha256:${pad64('../../../../v2/elsewhere/blobs/')}`;
    const cases: Array<[string, (m: typeof good) => void, string]> = [
      ['traversal', (m) => { m.layers[0]!.digest = traversal; }, 'invalid checksum digest format'],
      ['unknown-algorithm', (m) => { m.layers[0]!.digest = 'md5:' + 'a'.repeat(32); }, 'unsupported digest algorithm'],
      ['upper-hex', (m) => { m.layers[0]!.digest = layer.digest.toUpperCase().replace('SHA256', 'sha256'); }, 'invalid checksum digest format'],
      ['short-hex', (m) => { m.layers[0]!.digest = layer.digest.slice(0, 40); }, 'invalid checksum digest length'],
      ['config-traversal', (m) => { m.config.digest = `sha256:${pad64('../../x')}`; }, 'invalid checksum digest format'],
      ['negative-size', (m) => { m.layers[0]!.size = -1; }, 'invalid size'],
    ];
    for (const [tag, edit, msg] of cases) {
      variant(tag, edit);
      const seen = reg.hits.length;
      const r = await pull(d, reg, 'dg', tag);
      t.match(errorOf(r), msg, `${tag}: refused with "${msg}"`);
      const paths = reg.hits.slice(seen).map((h) => h.path);
      t.notOk(paths.some((p) => p.includes('..') || p.includes('elsewhere') || /blobs\/(md5|SHA|sha256:[a-f0-9]{1,63}$)/i.test(p)), `${tag}: no such URL requested (${paths.join(' ')})`);
      t.notOk(paths.some((p) => p.includes('/blobs/') && p !== `/v2/dg/blobs/${img.id}`), `${tag}: no layer fetched`);
      await clean(t, d, tag);
    }
    // a diff ID that would name a path
    const evilDiff = `sha256:${pad64('../../../../tmp/x')}`;
    const evilCfg = Buffer.from(img.config.toString().replace(layer.diffId, evilDiff));
    reg.serveBytes(`/v2/dg/blobs/${sha256(evilCfg)}`, evilCfg);
    variant('diffid', (m) => { m.config = { ...m.config, digest: sha256(evilCfg), size: evilCfg.length }; });
    const r = await pull(d, reg, 'dg', 'diffid');
    t.match(errorOf(r), `diff ID "${evilDiff}": invalid checksum digest format`);
    await clean(t, d, 'diff ID');
  });

  await t.test('item 10: sha512 descriptors are verified with sha512; an index child is verified against its descriptor', async (t) => {
    const img = buildImage([layerFromTar(await makeTar([{ name: 'hello.txt', content: 'sha512 layer\n' }]))], { cmd: ['true'] });
    const layer = img.layers[0]!;
    const m = JSON.parse(img.manifest.toString()) as { layers: Array<{ digest: string }> };
    m.layers[0]!.digest = sha512(layer.gz);
    const man512 = Buffer.from(JSON.stringify(m));
    reg.serveBytes(`/v2/s5/blobs/${img.id}`, img.config);
    reg.serveBytes(`/v2/s5/blobs/${sha512(layer.gz)}`, layer.gz);
    // the index names its child by sha512; the registry serves a different manifest under that digest
    const tampered = Buffer.from(JSON.stringify({ ...m, annotations: { evil: 'yes' } }));
    const index = (child: Buffer, digest: string) => Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: MANIFEST_V2, digest, size: child.length, platform: { os: 'linux', architecture: 'amd64' } }],
    }));
    const badIndex = index(man512, sha512(man512));
    reg.serveBytes(`/v2/s5/manifests/${sha512(man512)}`, tampered, MANIFEST_V2);
    reg.serveBytes('/v2/s5/manifests/tampered', badIndex, 'application/vnd.oci.image.index.v1+json');
    reg.serveBytes(`/v2/s5/manifests/${sha256(badIndex)}`, badIndex, 'application/vnd.oci.image.index.v1+json');
    const r1 = await pull(d, reg, 's5', sha256(badIndex));
    t.match(errorOf(r1), `manifest verification failed for digest ${sha512(man512)}`, 'pull by index digest: a tampered child is refused');
    await clean(t, d, 'tampered child');

    // the honest sha512 chain pulls, verified
    reg.serveBytes(`/v2/s5/manifests/${sha512(man512)}`, man512, MANIFEST_V2);
    const goodIndex = index(man512, sha512(man512));
    reg.serveBytes('/v2/s5/manifests/good', goodIndex, 'application/vnd.oci.image.index.v1+json');
    const ok = await pull(d, reg, 's5', 'good');
    t.equal(errorOf(ok), '', 'a sha512 manifest and layer pull');
    t.match(ok.text, 'Downloaded newer image');
    t.ok(reg.hits.some((h) => h.path === `/v2/s5/blobs/${sha512(layer.gz)}`), 'the layer was fetched by its sha512 digest');
    t.equal((await d.request('DELETE', `/images/${encodeURIComponent(`${reg.host}/s5:good`)}`)).status, 200);

    // a sha512 layer whose bytes do not match
    const m2 = JSON.parse(JSON.stringify(m)) as typeof m;
    m2.layers[0]!.digest = sha512(Buffer.from('something else'));
    reg.serveBytes(`/v2/s5/blobs/${m2.layers[0]!.digest}`, layer.gz);
    reg.serveBytes('/v2/s5/manifests/badlayer', Buffer.from(JSON.stringify(m2)), MANIFEST_V2);
    const bad = await pull(d, reg, 's5', 'badlayer');
    t.match(errorOf(bad), `digest mismatch: expected ${m2.layers[0]!.digest}`);
    await clean(t, d, 'sha512 layer mismatch');
  });

  await t.test('item 12: a pull stops when its only client hangs up; a joined pull goes on', async (t) => {
    // a layer that trickles (64 KiB every 50 ms) until released
    const big = await makeTar([{ name: 'big.bin', content: crypto.randomBytes(3 * MB) }]);
    const img = buildImage([layerFromTar(big)]);
    const gz = img.layers[0]!.gz;
    reg.serveImage('slow', 'x', img);
    let release: (() => void) | null = null;
    reg.routes.set(`/v2/slow/blobs/${img.layers[0]!.digest}`, (_req, res, hit) => {
      res.writeHead(200, { 'content-length': String(gz.length) });
      let off = 0;
      const timer = setInterval(() => {
        const n = Math.min(64 * 1024, gz.length - off - 1); // never the last byte until released
        if (n > 0) { res.write(gz.subarray(off, off + n)); off += n; hit.bytesSent = off; }
      }, 50);
      res.on('close', () => clearInterval(timer));
      release = () => { clearInterval(timer); res.end(gz.subarray(off)); hit.bytesSent = gz.length; };
    });
    const blobHits = () => reg.hits.filter((h) => h.path === `/v2/slow/blobs/${img.layers[0]!.digest}`);
    /** A raw pull request that can be hung up on. */
    const client = () => {
      let text = '';
      let res: http.IncomingMessage | null = null;
      const req = http.request({ socketPath: d.socket, method: 'POST', path: `/images/create?fromImage=${reg.host}/slow&tag=x`, headers: { host: 'x' } }, (r) => {
        res = r;
        r.on('data', (c) => { text += c; });
        r.on('error', () => {});
      });
      req.on('error', () => {});
      req.end();
      const done = new Promise<void>((resolve) => req.on('close', () => resolve()));
      return { get text() { return text; }, hangUp: () => { res?.destroy(); req.destroy(); }, done };
    };

    // alone: hang up mid-download
    const a = client();
    await until('the blob download to start', () => blobHits().some((h) => h.bytesSent > 128 * 1024));
    const hit = blobHits().pop()!;
    const t0 = Date.now();
    a.hangUp();
    await until('the registry to see the blob connection closed', () => hit.closedAt !== null, 5_000);
    const closedIn = hit.closedAt! - t0;
    t.ok(closedIn < 2_000, `the registry saw the download closed ${closedIn} ms after the client hung up`);
    await clean(t, d, 'cancelled pull');

    // joined: the first client leaves, the second keeps the pull alive to the end
    const b = client();
    await until('the second download to start', () => blobHits().length === 2 && blobHits()[1]!.bytesSent > 0);
    const c = client();
    await until('the third client to join', () => c.text.includes('Downloading') || c.text.includes('Pulling fs layer'));
    t.equal(blobHits().length, 2, 'the joining client did not start a second download');
    b.hangUp();
    await new Promise((r) => setTimeout(r, 1_500));
    t.equal(blobHits()[1]!.closedAt, null, 'with a client still listening, the download goes on');
    release!();
    await c.done;
    t.match(c.text, 'Status: Downloaded newer image', 'the remaining client gets the image');
    t.equal((await d.request('GET', `/images/${encodeURIComponent(`${reg.host}/slow:x`)}/json`)).status, 200);
    t.equal((await d.request('DELETE', `/images/${encodeURIComponent(`${reg.host}/slow:x`)}`)).status, 200);
    await clean(t, d, 'joined pull');
  });
});
