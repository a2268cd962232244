// The layer store after a crash: a daemon SIGKILLed while a pull extracts a layer,
// and the states an rmi or a layer commit cut short leave (made on the stopped
// daemon's files exactly as the cut-short code leaves them: the image's rows gone
// and its layers not yet collected; a layer dir renamed into place before its
// row; a collect that removed a row and only part of its files; a container rm
// before it collected its removed image's layers). The next boot removes what
// nothing uses and keeps what an image or a container uses, also a container
// whose image was removed with rmi -f (as dockerd); then rows, dirs and short links
// agree, and docker system df and docker image prune count what is on disk.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'undici';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { buildImage, busyboxImage, pushBuilt, randomLayer } from '../../fixtures/images.js';
import { registryAvailable, startRegistry, type TestRegistry } from '../../fixtures/registry.js';

const opts = { ...privilegedOpts(), ...(registryAvailable() ? {} : { skip: 'no docker-registry' }) };

interface LayerView {
  /** hex chain ID -> size, from the rows */
  rows: Map<string, number>;
  /** rows no image lists, no container holds and no layer has as parent */
  unused: string[];
  dirs: string[];
  links: string[];
  tmp: string[];
}

function layerView(d: TestDaemon): LayerView {
  const db = new Database(path.join(d.dataRoot, 'tsd.db'), { readonly: true, fileMustExist: true });
  try {
    const hex = (c: string) => c.replace(/^sha256:/, '');
    const rows = new Map((db.prepare('SELECT chain_id, size FROM layers').all() as Array<{ chain_id: string; size: number }>).map((r) => [hex(r.chain_id), r.size]));
    const unused = (db.prepare(`SELECT chain_id FROM layers l WHERE NOT EXISTS (SELECT 1 FROM image_layers il WHERE il.chain_id = l.chain_id)
      AND NOT EXISTS (SELECT 1 FROM containers k WHERE k.layer = l.chain_id) AND NOT EXISTS (SELECT 1 FROM layers c WHERE c.parent = l.chain_id)`).all() as Array<{ chain_id: string }>).map((r) => hex(r.chain_id));
    const ls = (p: string) => { try { return fs.readdirSync(path.join(d.dataRoot, p)).sort(); } catch { return []; } };
    return { rows, unused, dirs: ls('layers'), links: ls('l'), tmp: ls('tmp') };
  } finally {
    db.close();
  }
}

/** What disagrees between the layer rows and the files (empty: all agree, and every row is used). */
function disagreements(d: TestDaemon, v = layerView(d)): string[] {
  const bad: string[] = [];
  for (const f of v.dirs) if (!v.rows.has(f)) bad.push(`layer dir ${f} without its row`);
  for (const r of v.rows.keys()) if (!fs.existsSync(path.join(d.dataRoot, 'layers', r, 'diff'))) bad.push(`layer row ${r} without its dir`);
  for (const r of v.unused) bad.push(`layer row ${r} nothing uses`);
  const short = new Set([...v.rows.keys()].map((r) => r.slice(0, 12)));
  for (const l of v.links) if (!short.has(l) || !fs.existsSync(path.join(d.dataRoot, 'l', l, '.'))) bad.push(`short link l/${l} to no layer's diff`);
  for (const s of short) if (!v.links.includes(s)) bad.push(`layer ${s} without its short link`);
  for (const f of v.tmp) bad.push(`tmp/${f} left`);
  return bad;
}

/** docker system df's LayersSize is the rows' sum, and each row's files are there (checked by disagreements). */
async function dfLayers(d: TestDaemon): Promise<number> {
  return (await d.request('GET', '/system/df')).body.LayersSize as number;
}
const sum = (v: LayerView) => [...v.rows.values()].reduce((n, s) => n + s, 0);

/** Runs statements on a stopped daemon's store, as the code cut short by a crash had run them. */
function onStore(d: TestDaemon, fn: (db: Database.Database) => void): void {
  const db = new Database(path.join(d.dataRoot, 'tsd.db'));
  try {
    db.pragma('foreign_keys = ON');
    fn(db);
  } finally {
    db.close();
  }
}


/** The manifest digest the registry serves for a tag. */
async function digestOf(reg: TestRegistry, tag: string): Promise<string> {
  const r = await fetch(`${reg.url}/v2/sweep/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  return r.headers.get('docker-content-digest')!;
}

t.test('layer store crashes', opts, async (t) => {
  let reg: TestRegistry | null = await startRegistry();
  t.teardown(async () => { await reg?.stop().catch(() => {}); reg = null; });
  const busybox = busyboxImage();
  // an image of busybox's layer and a big one of its own (64 MiB in many files: its extraction takes a while)
  const big = buildImage([busybox.layers[0]!, await randomLayer(64 * 1024 * 1024, 256)], { cmd: ['true'] });
  await pushBuilt(reg.url, 'sweep', 'big', big);
  const small = buildImage([busybox.layers[0]!, await randomLayer(300_000, 3, 'own')], { cmd: ['sh'] });
  await pushBuilt(reg.url, 'sweep', 'small', small);
  const other = buildImage([busybox.layers[0]!, await randomLayer(200_000, 2, 'other')], { cmd: ['sh'] });
  await pushBuilt(reg.url, 'sweep', 'other', other);
  const pull = async (d: TestDaemon, tag: string) => {
    const r = await d.request('POST', `/images/create?fromImage=${encodeURIComponent(`${reg!.host}/sweep`)}&tag=${tag}`);
    t.equal(r.status, 200, `pull ${tag}`);
    t.notMatch(r.text, /errorDetail/, `pull ${tag} went through`);
  };

  t.test('a pull killed while it extracts a layer leaves nothing behind after the next boot', async (t) => {
    const d = await startDaemon(t, []);
    const client = new Client('http://localhost', { socketPath: d.socket });
    t.teardown(() => client.close().catch(() => {}));
    const bigLayer = big.layers[1]!.digest.replace(/^sha256:/, '').slice(0, 12);
    const res = await client.request({ method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(`${reg!.host}/sweep`)}&tag=big` });
    let seen = '';
    let killed = false;
    try {
      for await (const chunk of res.body) {
        seen += chunk.toString();
        const lines = seen.split('\n');
        seen = lines.pop()!;
        const msgs = lines.filter(Boolean).map((l) => JSON.parse(l) as { status?: string; id?: string });
        if (msgs.some((m) => m.status === 'Extracting' && m.id === bigLayer)) {
          await d.stop('SIGKILL');
          killed = true;
          break;
        }
      }
    } catch { /* the connection ends with the daemon */ }
    t.ok(killed, 'the daemon was killed while the big layer was being extracted');
    const before = layerView(d);
    t.ok(before.tmp.length > 0, `the crash left the extraction in tmp/ (${before.tmp.join(', ')})`);
    t.equal(before.rows.size, 0, 'and no layer row (a layer is recorded only once it is in place)');
    const d2 = await startDaemon(t, [], {}, d);
    t.same(disagreements(d2), [], 'after the boot: no temp dir, and rows, dirs and links agree');
    t.equal(layerView(d2).dirs.length, 0, 'no layer dir at all');
    t.equal(await dfLayers(d2), 0, 'system df counts no layer');
    await pull(d2, 'big');
    const v = layerView(d2);
    t.equal(v.rows.size, 2, 'the pull again stores both layers');
    t.same(disagreements(d2, v), []);
    t.equal(await dfLayers(d2), sum(v), 'system df: the rows\' sizes');
    await d2.stop();
  });

  t.test('an rmi while a pull extracts does not take the layers the pull found present', async (t) => {
    const d = await startDaemon(t, []);
    await pull(d, 'other'); // busybox's layer, used by this image only
    const client = new Client('http://localhost', { socketPath: d.socket });
    t.teardown(() => client.close().catch(() => {}));
    const bigLayer = big.layers[1]!.digest.replace(/^sha256:/, '').slice(0, 12);
    const res = await client.request({ method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(`${reg!.host}/sweep`)}&tag=big` });
    let seen = '';
    let all = '';
    let rmi: Awaited<ReturnType<TestDaemon['request']>> | null = null;
    for await (const chunk of res.body) {
      seen += chunk.toString();
      all += chunk.toString();
      const lines = seen.split('\n');
      seen = lines.pop()!;
      const msgs = lines.filter(Boolean).map((l) => JSON.parse(l) as { status?: string; id?: string });
      if (!rmi && msgs.some((m) => m.status === 'Extracting' && m.id === bigLayer)) rmi = await d.request('DELETE', `/images/${encodeURIComponent(`${reg!.host}/sweep:other`)}`);
    }
    t.ok(rmi, 'the rmi ran while the big layer was extracting');
    t.match(all, /Already exists/, 'the pull had found busybox\'s layer present');
    t.equal(rmi!.status, 200, 'the rmi went through');
    t.equal((rmi!.body as Array<{ Deleted?: string }>).filter((x) => x.Deleted).length, 2, 'deleting the image and its own layer, not busybox\'s');
    t.notMatch(all, /errorDetail/, 'the pull went through');
    const v = layerView(d);
    t.equal(v.rows.size, 2, 'busybox\'s layer and the big one');
    t.same(disagreements(d, v), []);
    await d.stop();
  });

  t.test('an rmi cut short before its layers were collected, a commit before its row, a collect before the files', async (t) => {
    const d = await startDaemon(t, []);
    await pull(d, 'small');
    await pull(d, 'other');
    const smallId = (await d.request('GET', `/images/${encodeURIComponent(`${reg!.host}/sweep:small`)}/json`)).body.Id as string;
    const before = layerView(d);
    t.equal(before.rows.size, 3, 'busybox\'s layer (shared) and one of each image\'s own');
    t.same(disagreements(d, before), []);
    await d.stop('SIGKILL');
    onStore(d, (db) => {
      // store-ops.ts remove(): the tags, the digests, the image row; the crash comes before layers.collect()
      db.prepare('DELETE FROM image_tags WHERE image_id = ?').run(smallId);
      db.prepare('DELETE FROM image_digests WHERE image_id = ?').run(smallId);
      db.prepare('DELETE FROM images WHERE id = ?').run(smallId);
    });
    // layer-store.ts commit(): the dir renamed into place and its short link made, the row not yet written
    const renamed = 'c'.repeat(64);
    fs.mkdirSync(path.join(d.dataRoot, 'layers', renamed, 'diff', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(d.dataRoot, 'layers', renamed, 'layer.tar'), 'x');
    fs.symlinkSync(`../layers/${renamed}/diff`, path.join(d.dataRoot, 'l', renamed.slice(0, 12)));
    // and stage(): a half-written tar and a half-unpacked diff/ in tmp/
    fs.mkdirSync(path.join(d.dataRoot, 'tmp', 'layer-abc123', 'diff', 'etc'), { recursive: true });
    fs.writeFileSync(path.join(d.dataRoot, 'tmp', 'layer-abc123', 'layer.tar'), Buffer.alloc(4096));
    const crashed = layerView(d);
    t.equal(crashed.unused.length, 1, 'the crash left the rmi\'d image\'s own layer row, used by nothing');
    const smallOwn = crashed.unused[0]!;
    const d2 = await startDaemon(t, [], {}, d);
    const v = layerView(d2);
    t.same(disagreements(d2, v), [], 'after the boot: rows, dirs and links agree, every row used');
    t.notOk(v.rows.has(smallOwn), 'the rmi\'d image\'s own layer is gone, row and files');
    t.notOk(fs.existsSync(path.join(d.dataRoot, 'layers', smallOwn)));
    t.notOk(fs.existsSync(path.join(d.dataRoot, 'layers', renamed)), 'the layer dir without a row is gone');
    t.equal(v.rows.size, 2, 'busybox\'s layer (the other image uses it) and the other image\'s stay');
    t.equal(await dfLayers(d2), sum(v), 'system df: what is on disk');
    const r = await d2.request('POST', '/containers/create', { Image: `${reg!.host}/sweep:other`, Cmd: ['cat', '/other/f0'] });
    t.equal(r.status, 201, 'the other image still makes containers');
    t.equal((await d2.request('POST', `/containers/${r.body.Id}/start`)).status, 204, 'which start');
    t.equal((await d2.request('POST', `/containers/${r.body.Id}/wait`)).body.StatusCode, 0, 'and read their layer');
    t.equal((await d2.request('DELETE', `/containers/${r.body.Id}`)).status, 204);
    await d2.stop();
  });

  t.test('a stopped container of an image removed with rmi -f keeps its layers through a crash and the boot, until it goes', async (t) => {
    const d = await startDaemon(t, []);
    await pull(d, 'small');
    const ref = `${reg!.host}/sweep:small`;
    const smallId = (await d.request('GET', `/images/${encodeURIComponent(ref)}/json`)).body.Id as string;
    for (const name of ['holder', 'crashed']) {
      const c = await d.request('POST', `/containers/create?name=${name}`, { Image: ref, Cmd: ['cat', '/own/f0'] });
      t.equal(c.status, 201, `create ${name}`);
    }
    const rmi = await d.request('DELETE', `/images/${encodeURIComponent(ref)}?force=1`);
    t.same(rmi.body, [{ Untagged: ref }, { Untagged: `${reg!.host}/sweep@${(await digestOf(reg!, 'small'))}` }, { Deleted: smallId }],
      'rmi -f: untagged (tag and digest) and deleted, as dockerd (the containers are stopped)');
    t.equal((await d.request('GET', `/images/${smallId}/json`)).status, 404, 'the image is gone');
    const held = [...layerView(d).rows.keys()].sort();
    t.equal(held.length, 2, 'its layers stay: busybox\'s and its own');
    await d.stop('SIGKILL');
    const d2 = await startDaemon(t, [], {}, d);
    const v = layerView(d2);
    t.same([...v.rows.keys()].sort(), held, 'the boot removed no layer: the containers hold their image\'s chain');
    t.same(disagreements(d2, v), []);
    t.equal((await d2.request('POST', '/containers/holder/start')).status, 204, 'a container of the removed image starts');
    t.equal((await d2.request('POST', '/containers/holder/wait')).body.StatusCode, 0, 'and reads its image\'s own layer');
    t.equal((await d2.request('GET', '/containers/holder/json')).body.Image, smallId, 'inspect names the removed image');
    t.equal((await d2.request('GET', '/containers/holder/changes')).status, 200, 'docker diff works');
    const all = encodeURIComponent(JSON.stringify({ dangling: ['false'] }));
    const pruned = await d2.request('POST', `/images/prune?filters=${all}`);
    t.equal(pruned.status, 200);
    t.equal(pruned.body.SpaceReclaimed, 0, 'image prune -a reclaims nothing the containers use');
    t.same([...layerView(d2).rows.keys()].sort(), held, 'their layers all stay');
    t.equal(await dfLayers(d2), sum(v), 'system df: what is on disk');
    t.equal((await d2.request('DELETE', '/containers/holder')).status, 204, 'one container goes');
    t.same([...layerView(d2).rows.keys()].sort(), held, 'the other still holds the layers');
    await d2.stop('SIGKILL');
    // remove.ts: the row deleted, the crash comes before the layers it held are collected
    const crashedId = (() => { let id = ''; onStore(d2, (db) => { id = (db.prepare("SELECT id FROM containers WHERE name = 'crashed'").get() as { id: string }).id; db.prepare('DELETE FROM containers WHERE id = ?').run(id); }); return id; })();
    fs.rmSync(path.join(d2.dataRoot, 'containers', crashedId), { recursive: true, force: true });
    const d3 = await startDaemon(t, [], {}, d);
    const after = layerView(d3);
    t.equal(after.rows.size, 0, 'the boot collects the layers no container holds any more');
    t.same(after.dirs, [], 'and their dirs');
    t.equal(await dfLayers(d3), 0, 'system df: nothing');
    t.same(disagreements(d3, after), []);
    // and without a crash: a container's rm collects them at once
    await pull(d3, 'small');
    const c = await d3.request('POST', '/containers/create?name=last', { Image: ref, Cmd: ['true'] });
    t.equal((await d3.request('DELETE', `/images/${encodeURIComponent(ref)}?force=1`)).status, 200);
    t.equal(layerView(d3).rows.size, 2);
    t.equal((await d3.request('DELETE', `/containers/${c.body.Id}`)).status, 204);
    t.equal(layerView(d3).rows.size, 0, 'rm of the last container of a removed image collects its layers');
    t.same(disagreements(d3), []);
    await d3.stop();
  });
});
