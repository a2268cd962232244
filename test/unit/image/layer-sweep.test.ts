// The layer store's boot sweep and collection, on a real SQLite store and real
// layer dirs in a temp data root: each state a crash in a pull, a commit or an
// rmi can leave is made the way that crash leaves it, and the sweep's decisions
// are checked against the rows and the files. Layers a container holds stay,
// also once the image it was made from is gone.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FakeSyscalls } from '../../../sys/fake.js';
import { chainIds, createImageService, type ImageService } from '../../../image/index.js';
import { ContainerStore, openDatabase, type DB } from '../../../store/index.js';
import { makeTar } from '../../fixtures/images.js';

interface Env { dir: string; db: DB; svc: ImageService; ctrs: ContainerStore }

function env(t: { teardown(fn: () => void): void }): Env {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-test-sweep-${process.pid}-`));
  const db = openDatabase(path.join(dir, 'tsd.db'));
  t.teardown(() => { db.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  return { dir, db, svc: createImageService({ db, dataRoot: dir, sys: new FakeSyscalls() }), ctrs: new ContainerStore(db) };
}

let seq = 0;
/** Stages a one-file layer (a real tar, unpacked) and commits it on `parent`'s chain; returns its chain ID. */
async function layer(e: Env, diffIdsBelow: string[]): Promise<{ chain: string; diffIds: string[] }> {
  const tar = await makeTar([{ name: `f${seq}`, content: `layer ${seq++} ${'x'.repeat(100)}` }]);
  const staged = await e.svc.layers.stage(Readable.from([tar]));
  const diffIds = [...diffIdsBelow, staged.diffId];
  const chains = chainIds(diffIds);
  e.svc.layers.commit(staged, chains.at(-1)!, chains.at(-2) ?? null, null);
  return { chain: chains.at(-1)!, diffIds };
}

/** Records an image over the given chain (bottom first). */
function image(e: Env, name: string, diffIds: string[]): string {
  const id = `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`;
  e.svc.images.insert({ id, config: JSON.stringify({ rootfs: { type: 'layers', diff_ids: diffIds } }), manifest: null, created: new Date(0).toISOString(), size: 0, parent: '', addedAt: Date.now() }, chainIds(diffIds));
  return id;
}

function container(e: Env, id: string, imageId: string, layer: string | null): void {
  e.ctrs.insert({
    id, name: `n-${id.slice(0, 8)}`, imageId, imageRef: 'x', createdAt: new Date().toISOString(), state: 'exited', pid: 0, pidStart: '', exitCode: 0,
    oomKilled: false, error: '', startedAt: '', finishedAt: '', restartCount: 0, config: {}, hostConfig: {}, runtime: {}, layer,
  });
}

const hex = (c: string) => c.replace(/^sha256:/, '');
const rows = (e: Env) => e.svc.layerRows.all().map((r) => hex(r.chainId)).sort();
const dirs = (e: Env) => fs.readdirSync(path.join(e.dir, 'layers')).sort();
const links = (e: Env) => fs.readdirSync(path.join(e.dir, 'l')).sort();

/** What disagrees between rows, dirs and short links (each row its dir with diff/ and its link, each dir its row, each link a row's diff). */
function disagreements(e: Env): string[] {
  const bad: string[] = [];
  const r = new Set(rows(e));
  for (const d of dirs(e)) if (!r.has(d)) bad.push(`dir ${d} without its row`);
  for (const x of r) if (!fs.existsSync(path.join(e.dir, 'layers', x, 'diff'))) bad.push(`row ${x} without its diff dir`);
  const short = new Set([...r].map((x) => x.slice(0, 12)));
  for (const l of links(e)) if (!short.has(l) || !fs.existsSync(path.join(e.dir, 'l', l, '.'))) bad.push(`link ${l} to no row's diff dir`);
  for (const x of short) if (!links(e).includes(x)) bad.push(`row ${x} without its link`);
  return bad;
}

t.test('an rmi cut short between the image row and its layers: the rows nothing uses go with their files, shared ones stay', async (t) => {
  const e = env(t);
  const base = await layer(e, []);
  const a = await layer(e, base.diffIds);
  const b = await layer(e, base.diffIds);
  const ia = image(e, 'a', a.diffIds);
  image(e, 'b', b.diffIds);
  // the crash: the image's row is deleted, collect() never ran
  e.svc.images.remove(ia);
  t.equal(rows(e).length, 3, 'the crash left a row no image lists');
  const s = e.svc.sweep();
  t.same(s.rows, [a.chain], 'only the layer of the removed image goes (its parent is b\'s too)');
  t.same(rows(e), [hex(base.chain), hex(b.chain)].sort());
  t.same(disagreements(e), [], 'after the sweep: rows, dirs and links agree');
  t.same(e.svc.sweep(), { temp: 0, rows: [], dirs: [], links: 0, missing: [] }, 'a second sweep finds nothing');
});

t.test('a pull cut short: an extraction in tmp/, and layers committed before the image row was written', async (t) => {
  const e = env(t);
  const kept = await layer(e, []);
  image(e, 'kept', kept.diffIds);
  const l1 = await layer(e, []);
  await layer(e, l1.diffIds);
  // a half-extracted layer: the tar partly written, diff/ partly unpacked
  const tmp = e.svc.layers.makeTemp('layer');
  fs.writeFileSync(path.join(tmp, 'layer.tar'), Buffer.alloc(700));
  fs.mkdirSync(path.join(tmp, 'diff', 'usr', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'diff', 'usr', 'bin', 'half'), 'x');
  fs.mkdirSync(path.join(e.dir, 'tmp', 'push-abc'));
  const s = e.svc.sweep();
  t.equal(s.temp, 2, 'both temp dirs counted');
  t.same(fs.readdirSync(path.join(e.dir, 'tmp')), [], 'tmp/ is empty');
  t.equal(s.rows.length, 2, 'the committed chain of the unfinished pull goes, top first then its parent');
  t.same(rows(e), [hex(kept.chain)]);
  t.same(disagreements(e), [], 'after the sweep: rows, dirs and links agree');
});

t.test('a commit cut short between the rename and the row, and a collect between the row and the files', async (t) => {
  const e = env(t);
  const kept = await layer(e, []);
  image(e, 'kept', kept.diffIds);
  // renamed into place with its short link, no row yet
  const renamed = 'a'.repeat(64);
  fs.mkdirSync(path.join(e.dir, 'layers', renamed, 'diff', 'etc'), { recursive: true });
  fs.writeFileSync(path.join(e.dir, 'layers', renamed, 'layer.tar'), 'x');
  fs.symlinkSync(`../layers/${renamed}/diff`, path.join(e.dir, 'l', renamed.slice(0, 12)));
  // the row removed, the dir half removed (layer.tar gone, diff/ still there), the link still there
  const half = await layer(e, []);
  e.svc.layerRows.remove(half.chain);
  fs.rmSync(path.join(e.dir, 'layers', hex(half.chain), 'layer.tar'));
  // a link to nothing
  fs.symlinkSync('../layers/' + 'b'.repeat(64) + '/diff', path.join(e.dir, 'l', 'bbbbbbbbbbbb'));
  const s = e.svc.sweep();
  t.same(s.dirs.sort(), [renamed, hex(half.chain)].sort(), 'both dirs without a row removed');
  t.equal(s.links, 3, 'their links and the dangling one removed');
  t.same(s.rows, [], 'no row removed: the kept one is used');
  t.same(disagreements(e), [], 'after the sweep: rows, dirs and links agree');
});

t.test('a container holds its image\'s chain, also once the image is removed (rmi -f), until the container goes', async (t) => {
  const e = env(t);
  const base = await layer(e, []);
  const top = await layer(e, base.diffIds);
  const other = await layer(e, []);
  const img = image(e, 'app', top.diffIds);
  image(e, 'other', other.diffIds);
  container(e, 'c'.repeat(64), img, top.chain);
  container(e, 'd'.repeat(64), 'sha256:' + 'e'.repeat(64), null); // an image without layers
  e.svc.images.remove(img);
  const s = e.svc.sweep();
  t.same(s.rows, [], 'nothing removed: the container holds the top layer, the top layer its parent');
  t.same(rows(e), [hex(base.chain), hex(top.chain), hex(other.chain)].sort());
  t.same(e.svc.collectLayers(), [], 'nor by a collect at run time');
  t.throws(() => e.svc.layerRows.remove(top.chain), /FOREIGN KEY/, 'the store itself refuses to drop a layer a container holds');
  t.ok(fs.existsSync(path.join(e.dir, 'l', hex(base.chain).slice(0, 12), '.')), 'the chain is still mountable');
  e.ctrs.delete('c'.repeat(64));
  t.same(e.svc.collectLayers(), [top.chain, base.chain], 'with the container gone the chain goes, top first');
  t.same(rows(e), [hex(other.chain)]);
  t.same(disagreements(e), [], 'after the container went: rows, dirs and links agree');
});

t.test('a used layer whose short link is missing gets it again; one whose files are gone is reported and kept', async (t) => {
  const e = env(t);
  const a = await layer(e, []);
  const b = await layer(e, []);
  image(e, 'a', a.diffIds);
  image(e, 'b', b.diffIds);
  fs.rmSync(path.join(e.dir, 'l', hex(a.chain).slice(0, 12)));
  fs.rmSync(path.join(e.dir, 'layers', hex(b.chain), 'diff'), { recursive: true });
  const s = e.svc.sweep();
  t.equal(s.links, 2, "a's missing link made again, b's dangling one removed");
  t.ok(fs.existsSync(path.join(e.dir, 'l', hex(a.chain).slice(0, 12), '.')), 'and it leads to the diff dir');
  t.same(s.missing, [b.chain], 'the used layer without its files is reported');
  t.same(rows(e), [hex(a.chain), hex(b.chain)].sort(), 'and its row kept (an image lists it)');
  t.notOk(e.svc.layers.has(b.chain), 'has() says it is not there, so a pull unpacks it again');
});

t.test('a lease (a pull or load that found the layers present) keeps them from a collect until it is released', async (t) => {
  const e = env(t);
  const base = await layer(e, []);
  const img = image(e, 'a', base.diffIds);
  const release = e.svc.layers.lease([base.chain]);
  const again = e.svc.layers.lease([base.chain]);
  e.svc.images.remove(img);
  t.same(e.svc.collectLayers(), [], 'leased: kept (an rmi meanwhile)');
  release();
  release();
  t.same(e.svc.collectLayers(), [], 'still held by the second lease (one release counts once)');
  again();
  t.same(e.svc.collectLayers(), [base.chain], 'released: collected');
  t.same(disagreements(e), []);
});

t.test('the migration gives containers made before it their image\'s top layer', async (t) => {
  const { migrations } = await import('../../../store/index.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-test-sweep-${process.pid}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tsd.db');
  const v = migrations.find((m) => m.name === 'container-layer')!.version;
  const old = openDatabase(file, migrations.filter((m) => m.version < v));
  old.prepare("INSERT INTO layers (chain_id, diff_id, parent, size, created_at) VALUES ('sha256:l1', 'sha256:d1', NULL, 1, 0), ('sha256:l2', 'sha256:d2', 'sha256:l1', 1, 0)").run();
  old.prepare("INSERT INTO images (id, config, created, size, parent, added_at) VALUES ('sha256:i', '{}', '', 0, '', 0)").run();
  old.prepare("INSERT INTO image_layers (image_id, idx, chain_id) VALUES ('sha256:i', 0, 'sha256:l1'), ('sha256:i', 1, 'sha256:l2')").run();
  const ins = old.prepare("INSERT INTO containers (id, name, image_id, image_ref, created_at, state, config, host_config, runtime) VALUES (?, ?, ?, 'x', '', 'exited', '{}', '{}', '{}')");
  ins.run('c1', 'c1', 'sha256:i');
  ins.run('c2', 'c2', 'sha256:gone');
  old.close();
  const db = openDatabase(file);
  t.teardown(() => db.close());
  const cs = new ContainerStore(db);
  t.equal(cs.get('c1')!.layer, 'sha256:l2', 'its image\'s top layer');
  t.equal(cs.get('c2')!.layer, null, 'none when its image was gone already');
});
