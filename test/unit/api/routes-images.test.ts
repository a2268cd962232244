// The image routes through fastify's inject, with a real image service on a
// temp data root (no registry, no mounts).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildServer } from '../../../api/server.js';
import { EventBus } from '../../../daemon/events.js';
import { SystemService } from '../../../daemon/system.js';
import { defaults } from '../../../daemon/config.js';
import { openDatabase } from '../../../store/index.js';
import { createImageService } from '../../../image/index.js';
import { busyboxSaveTar } from '../../fixtures/images.js';

async function app(t: { teardown(fn: () => unknown): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-imgroutes-${process.pid}-`));
  const db = openDatabase(path.join(dir, 'tsd.db'));
  const events = new EventBus();
  const config = { ...defaults, dataRoot: dir };
  const system = new SystemService(db, config, 'test-id', '1');
  const images = createImageService({ db, dataRoot: dir, events });
  const a = await buildServer({ config, events, system, images, onShutdown: () => () => {} });
  t.teardown(async () => { await a.close(); db.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  return { a, images, events };
}

const lines = (body: string) => body.split('\r\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('load, list, inspect, tag, history, delete', async (t) => {
  const { a, events } = await app(t);
  const save = await busyboxSaveTar();
  const seen: string[] = [];
  events.subscribe((e) => seen.push(`${e.type}:${e.action}`));
  const load = await a.inject({ method: 'POST', url: '/v1.44/images/load?quiet=1', payload: fs.readFileSync(save.path), headers: { 'content-type': 'application/x-tar' } });
  t.equal(load.statusCode, 200);
  t.equal(load.headers['content-type'], 'application/json');
  t.same(lines(load.body), [{ stream: 'Loaded image: busybox:fixture\n' }]);
  t.ok(load.body.endsWith('\r\n'));

  const list = await a.inject({ url: '/images/json' });
  const arr = list.json() as Array<Record<string, unknown>>;
  t.equal(arr.length, 1);
  t.equal(arr[0]!.Id, save.id);
  t.same(arr[0]!.RepoTags, ['busybox:fixture']);
  t.type(arr[0]!.Created, 'number');

  const tag = await a.inject({ method: 'POST', url: '/images/busybox:fixture/tag?repo=docker.io%2Ftrace%2Ftagged&tag=1' });
  t.equal(tag.statusCode, 201);
  const ins = (await a.inject({ url: `/images/trace/tagged:1/json` })).json() as Record<string, any>;
  t.equal(ins.Id, save.id);
  t.same(ins.RepoTags, ['busybox:fixture', 'trace/tagged:1']);
  t.same(ins.RootFS, { Type: 'layers', Layers: [ins.RootFS.Layers[0]] });
  t.equal(ins.GraphDriver.Name, 'overlay2');
  t.match(ins.GraphDriver.Data.UpperDir, /\/layers\/[a-f0-9]{64}\/diff$/);
  t.same(ins.Config.Cmd, ['sh']);
  t.equal(ins.Os, 'linux');

  const filtered = (await a.inject({ url: `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: { 'trace/*': true } }))}` })).json() as unknown[];
  t.equal(filtered.length, 1);
  const dangling = (await a.inject({ url: `/images/json?filters=${encodeURIComponent(JSON.stringify({ dangling: ['true'] }))}` })).json() as unknown[];
  t.equal(dangling.length, 0);
  t.equal((await a.inject({ url: `/images/json?filters=${encodeURIComponent('{"bogus":["x"]}')}` })).statusCode, 400);

  const hist = (await a.inject({ url: '/images/busybox:fixture/history' })).json() as Array<Record<string, unknown>>;
  t.equal(hist[0]!.Id, save.id);

  const miss = await a.inject({ url: '/images/nosuchthing/json' });
  t.equal(miss.statusCode, 404);
  t.same(miss.json(), { message: 'No such image: nosuchthing:latest' });
  t.equal((await a.inject({ url: '/images/BAD:ref:x/json' })).statusCode, 404);

  const byId = await a.inject({ method: 'DELETE', url: `/images/${save.id.slice(7, 19)}` });
  t.equal(byId.statusCode, 409);
  t.match(byId.json().message, /unable to delete [a-f0-9]{12} \(must be forced\) - image is referenced in multiple repositories/);

  const untag = await a.inject({ method: 'DELETE', url: '/images/trace/tagged:1' });
  t.same(untag.json(), [{ Untagged: 'trace/tagged:1' }]);
  const del = await a.inject({ method: 'DELETE', url: '/images/busybox:fixture' });
  const d = del.json() as Array<Record<string, string>>;
  t.same(d[0], { Untagged: 'busybox:fixture' });
  t.same(d[1], { Deleted: save.id });
  t.same((await a.inject({ url: '/images/json' })).json(), []);
  t.ok(seen.includes('image:load') && seen.includes('image:tag') && seen.includes('image:delete'), 'events published');
});

t.test('pull errors before streaming are HTTP errors; import streams the id', async (t) => {
  const { a } = await app(t);
  const bad = await a.inject({ method: 'POST', url: '/images/create?fromImage=UPPER%2F%2Fx&tag=1' });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().message, /invalid reference format/);
  const none = await a.inject({ method: 'POST', url: '/images/create' });
  t.equal(none.statusCode, 400);
  const { busyboxRootfsTar } = await import('../../fixtures/busybox.js');
  const imp = await a.inject({ method: 'POST', url: '/images/create?fromSrc=-&repo=imp%3A1&changes=CMD%20%5B%22sh%22%5D', payload: fs.readFileSync(busyboxRootfsTar()), headers: { 'content-type': 'text/plain' } });
  t.equal(imp.statusCode, 200);
  const l = lines(imp.body);
  t.match(l[0]!.status, /^sha256:[a-f0-9]{64}$/);
  const ins = (await a.inject({ url: '/images/imp:1/json' })).json() as Record<string, any>;
  t.equal(ins.Id, l[0]!.status);
  t.same(ins.Config.Cmd, ['sh']);
  t.equal(ins.Comment, 'Imported from -');
  const save = await a.inject({ url: '/images/get?names=imp%3A1' });
  t.equal(save.statusCode, 200);
  t.equal(save.headers['content-type'], 'application/x-tar');
  t.ok(save.rawPayload.includes(Buffer.from('manifest.json')));
  const push = await a.inject({ method: 'POST', url: '/images/127.0.0.1:1/nothere/push?tag=1' });
  t.equal(push.statusCode, 404);
  t.match(push.json().message, 'An image does not exist locally with the tag: 127.0.0.1:1/nothere');
});
