// The system routes and the API core, through fastify's inject (no socket, no root).
import t from 'tap';
import { buildServer } from '../../../api/server.js';
import { statusByKind } from '../../../api/errors.js';
import { stripVersion } from '../../../api/version.js';
import { EventBus } from '../../../daemon/events.js';
import { SystemService } from '../../../daemon/system.js';
import { defaults } from '../../../daemon/config.js';
import { openDatabase } from '../../../store/index.js';
import { DaemonError, type ErrorKind } from '../../../errors/index.js';

async function app(t: { teardown(fn: () => unknown): void }) {
  const db = openDatabase(':memory:');
  const events = new EventBus();
  const config = { ...defaults, dataRoot: '/tmp/tsd-unit' };
  const system = new SystemService(db, config, 'test-id', '1');
  const a = await buildServer({ config, events, system, onShutdown: () => () => {} });
  t.teardown(async () => { await a.close(); db.close(); });
  return { a, db, events };
}

t.test('version prefixes', async (t) => {
  t.same(stripVersion('/v1.44/info'), { path: '/info', version: '1.44' });
  t.same(stripVersion('/info'), { path: '/info', version: null });
  t.match(stripVersion('/v1.45/info').error, 'client version 1.45 is too new. Maximum supported API version is 1.44');
  t.match(stripVersion('/v1.12/info').error, 'client version 1.12 is too old. Minimum supported API version is 1.24');
  t.equal(stripVersion('/v1.24/containers/json?all=1').path, '/containers/json?all=1');
});

t.test('ping: GET and HEAD with the headers the CLI reads', async (t) => {
  const { a } = await app(t);
  for (const url of ['/_ping', '/v1.44/_ping', '/v1.24/_ping']) {
    const r = await a.inject({ method: 'GET', url });
    t.equal(r.statusCode, 200, url);
    t.equal(r.body, 'OK');
    t.equal(r.headers['api-version'], '1.44');
    t.equal(r.headers['ostype'], 'linux');
    t.equal(r.headers['docker-experimental'], 'false');
  }
  const h = await a.inject({ method: 'HEAD', url: '/_ping' });
  t.equal(h.statusCode, 200);
  t.equal(h.body, '');
  t.equal(h.headers['api-version'], '1.44');
});

t.test('unsupported versions, unknown routes, bad JSON', async (t) => {
  const { a } = await app(t);
  const tooNew = await a.inject({ method: 'GET', url: '/v1.99/version' });
  t.equal(tooNew.statusCode, 400);
  t.same(tooNew.json(), { message: 'client version 1.99 is too new. Maximum supported API version is 1.44' });
  const nf = await a.inject({ method: 'GET', url: '/v1.44/nothing/here' });
  t.equal(nf.statusCode, 404);
  t.same(nf.json(), { message: 'page not found' });
});

t.test('version and info carry real host facts', async (t) => {
  const { a, db } = await app(t);
  const v = (await a.inject({ method: 'GET', url: '/v1.44/version' })).json();
  t.equal(v.ApiVersion, '1.44');
  t.equal(v.MinAPIVersion, '1.24');
  t.equal(v.Os, 'linux');
  t.ok(v.KernelVersion.length > 0);
  db.prepare("INSERT INTO containers (id, name, image_id, image_ref, created_at, state, config, host_config) VALUES ('a','n1','i','r','2026-01-01T00:00:00Z','running','{}','{}'), ('b','n2','i','r','2026-01-01T00:00:00Z','exited','{}','{}'), ('c','n3','i','r','2026-01-01T00:00:00Z','paused','{}','{}')").run();
  const i = (await a.inject({ method: 'GET', url: '/info' })).json();
  t.equal(i.Containers, 3);
  t.equal(i.ContainersRunning, 1);
  t.equal(i.ContainersPaused, 1);
  t.equal(i.ContainersStopped, 1);
  t.equal(i.Images, 0);
  t.equal(i.CgroupVersion, '1');
  t.equal(i.Driver, 'overlay2');
  t.equal(i.DockerRootDir, '/tmp/tsd-unit');
  t.ok(i.NCPU >= 1);
  t.ok(i.MemTotal > 0);
  const df = (await a.inject({ method: 'GET', url: '/system/df' })).json();
  t.equal(df.Containers.length, 3);
  t.same(df.Images, []);
});

t.test('every error kind maps to a status and a {"message"} body', async (t) => {
  const { a } = await app(t);
  const kinds = Object.keys(statusByKind) as ErrorKind[];
  a.get('/boom/:kind', async (req) => {
    const kind = (req.params as { kind: ErrorKind }).kind;
    throw new DaemonError(kind, 'TSD_ERR_SYSTEM', `failed: ${kind}`); // any code: the status follows the kind
  });
  a.get('/crash', async () => {
    throw new Error('unexpected');
  });
  for (const kind of kinds.filter((k) => k !== 'not-modified')) {
    const r = await a.inject({ method: 'GET', url: `/boom/${kind}` });
    t.equal(r.statusCode, statusByKind[kind], kind);
    t.same(r.json(), { message: `failed: ${kind}` });
  }
  const c = await a.inject({ method: 'GET', url: '/crash' });
  t.equal(c.statusCode, 500);
  t.same(c.json(), { message: 'unexpected' });
});

t.test('JSON bodies: empty is {}, malformed is 400', async (t) => {
  const { a } = await app(t);
  a.post('/echo', async (req) => ({ got: req.body }));
  const empty = await a.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '' });
  t.same(empty.json(), { got: {} });
  const bad = await a.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().message, /^invalid JSON/);
  const tar = await a.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/x-tar' }, payload: 'xx' });
  t.equal(tar.statusCode, 200, 'other content types are left for the route to read');
});

t.test('events: since/until replay with filters, then the stream ends', async (t) => {
  const { a, events } = await app(t);
  const t0 = Math.floor(Date.now() / 1000) - 1;
  events.publish('container', 'create', 'abc', { name: 'n1', image: 'busybox' }, 'busybox');
  events.publish('image', 'pull', 'busybox:latest', { name: 'busybox:latest' });
  events.publish('container', 'start', 'abc', { name: 'n1', image: 'busybox' }, 'busybox');
  const until = (Date.now() / 1000 + 0.3).toFixed(3);
  const filters = encodeURIComponent(JSON.stringify({ type: { container: true }, event: { start: true } }));
  const r = await a.inject({ method: 'GET', url: `/events?since=${t0}&until=${until}&filters=${filters}` });
  t.equal(r.statusCode, 200);
  const lines = r.body.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(lines.length, 1);
  t.match(lines[0], { Type: 'container', Action: 'start', status: 'start', id: 'abc', from: 'busybox', Actor: { ID: 'abc', Attributes: { name: 'n1' } }, scope: 'local' });
  const all = await a.inject({ method: 'GET', url: `/events?since=${t0}&until=${until}` });
  t.equal(all.body.trim().split('\n').length, 3);
  const bad = await a.inject({ method: 'GET', url: `/events?filters=${encodeURIComponent('{"colour":{"red":true}}')}` });
  t.equal(bad.statusCode, 400);
  t.same(bad.json(), { message: "invalid filter 'colour'" });
});

t.test('events: label filters must all hold (moby MatchKVList)', async (t) => {
  const { a, events } = await app(t);
  const t0 = Math.floor(Date.now() / 1000) - 1;
  events.publish('container', 'create', 'a1', { name: 'both', image: 'busybox', app: 'web', tier: 'front' }, 'busybox');
  events.publish('container', 'create', 'a2', { name: 'one', image: 'busybox', app: 'web' }, 'busybox');
  events.publish('container', 'create', 'a3', { name: 'other', image: 'busybox', app: 'db', tier: 'front' }, 'busybox');
  const until = (Date.now() / 1000 + 0.3).toFixed(3);
  const names = async (label: Record<string, boolean>) => {
    const f = encodeURIComponent(JSON.stringify({ label }));
    const r = await a.inject({ method: 'GET', url: `/events?since=${t0}&until=${until}&filters=${f}` });
    return r.body.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).Actor.Attributes.name);
  };
  t.same(await names({ 'app=web': true, tier: true }), ['both'], 'both labels required, not either');
  t.same(await names({ 'app=web': true }), ['both', 'one']);
  t.same(await names({ tier: true }), ['both', 'other'], 'a key alone: present with any value');
  t.same(await names({ 'app=web': true, 'app=db': true }), [], 'two values of one key never both hold');
});
