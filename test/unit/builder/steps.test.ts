// The pure pieces of step dispatch and of the build cache: build-arg scoping,
// history comments, destinations, EXPOSE specs, signals, --chown lookups,
// cache keys, and the cache-from matching of dockerd's image/cache.
import t from 'tap';
import { BuildArgs } from '../../../builder/buildargs.js';
import { cmdComment, cmdCommentString, healthString, normalizeDest, normalizeWorkdir, parseExposedPorts, resolveChown, validSignal, parseChmod } from '../../../builder/dispatch-helpers.js';
import { CacheProber, cacheKey, isValidParent, layerForHistoryIndex } from '../../../builder/cache.js';
import type { BuildImage, ImageConfig } from '../../../builder/types.js';

t.test('build args: declared ARGs only, meta args re-declared, proxies builtin (the Dockerfile reference)', async (t) => {
  const top = new BuildArgs({ user: 'what_user', CONT_IMG_VER: 'v2.0.1', HTTP_PROXY: 'http://p', unused: 'x' });
  top.addArg('VERSION', 'latest');
  top.addMetaArg('VERSION', 'latest');
  const st = top.forStage();
  t.same([...st.allowedValues()], [['HTTP_PROXY', 'http://p']], 'a stage starts with no ARG; given proxies are visible');
  t.same([...st.metaValues()].sort(), [['HTTP_PROXY', 'http://p'], ['VERSION', 'latest']]);
  st.addArg('VERSION', null);
  st.addArg('user', 'some_user');
  st.addArg('CONT_IMG_VER', null);
  t.same(Object.fromEntries(st.allowedValues()), { VERSION: 'latest', user: 'what_user', CONT_IMG_VER: 'v2.0.1', HTTP_PROXY: 'http://p' });
  t.same(st.filterAllowed(['CONT_IMG_VER=from-env', 'PATH=/bin']).sort(), ['HTTP_PROXY=http://p', 'VERSION=latest', 'user=what_user']);
  t.equal(st.isReferencedOrNotBuiltin('HTTP_PROXY'), false, 'an undeclared proxy stays out of the cache key');
  t.equal(st.isReferencedOrNotBuiltin('user'), true);
  top.mergeReferenced(st);
  t.equal(top.unusedWarning(), '[Warning] One or more build-args [unused] were not consumed\n');
  const nullArg = new BuildArgs({ A: null });
  nullArg.addArg('A', 'default');
  t.same(Object.fromEntries(nullArg.allowedValues()), { A: 'default' }, '--build-arg A without a value takes the default');
});

t.test('history comments and paths', async (t) => {
  t.same(cmdComment({}, 'ENV A=1'), ['/bin/sh', '-c', '#(nop) ', 'ENV A=1']);
  t.equal(cmdComment({}, 'CMD ["a"]').join(' '), '/bin/sh -c #(nop)  CMD ["a"]');
  t.equal(cmdCommentString({ Shell: ['/bin/bash', '-c'] }, 'COPY file:x in /y ').join(' '), '/bin/bash -c #(nop) COPY file:x in /y ');
  // Docker 20.10's %q of the config (recorded against dockerd)
  t.equal(healthString({ Test: ['CMD', 'true'], Interval: 30e9, Timeout: 3e9 }), '&{["CMD" "true"] "30s" "3s" "0s" \'\\x00\'}');
  t.equal(healthString({ Test: ['CMD-SHELL', 'curl -f http://localhost/'], Interval: 300e9, Timeout: 3e9, StartPeriod: 0, Retries: 3 }),
    '&{["CMD-SHELL" "curl -f http://localhost/"] "5m0s" "3s" "0s" \'\\x03\'}');
  t.equal(normalizeWorkdir('', 'a'), '/a');
  t.equal(normalizeWorkdir('/a', 'b/../c'), '/a/c');
  t.equal(normalizeWorkdir('/a', '/x/../y'), '/x/../y', 'an absolute WORKDIR is taken as written');
  t.equal(normalizeDest('/app', 'sub/'), '/app/sub/');
  t.equal(normalizeDest('', '.'), '/');
  t.equal(normalizeDest('/app', '/abs'), '/abs');
});

t.test('EXPOSE specs, STOPSIGNAL names, --chmod', async (t) => {
  t.same(parseExposedPorts(['80', '80/tcp', '53/UDP', '8000-8002/tcp', '127.0.0.1:8080:80']), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp']);
  t.throws(() => parseExposedPorts(['80/xyz']), { message: 'Invalid proto: xyz' });
  t.throws(() => parseExposedPorts(['x']), { message: 'Invalid containerPort: x' });
  for (const s of ['SIGTERM', 'term', 'KILL', '9', 'SIGRTMIN+3']) t.ok(validSignal(s), s);
  for (const s of ['FOO', '0', 'SIGFOO']) t.notOk(validSignal(s), s);
  t.equal(parseChmod('0755'), 0o755);
  t.throws(() => parseChmod('u+x'), /invalid chmod parameter u\+x/);
});

t.test('--chown lookups in the image', async (t) => {
  const files: Record<string, string | null> = { '/etc/passwd': 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n', '/etc/group': 'root:x:0:\napp:x:1001:\nstaff:x:50:\n' };
  const read = (f: '/etc/passwd' | '/etc/group') => files[f] ?? null;
  t.same(resolveChown('1000', read), { uid: 1000, gid: 1000 });
  t.same(resolveChown('app', read), { uid: 1000, gid: 1001 });
  t.same(resolveChown('app:staff', read), { uid: 1000, gid: 50 });
  t.same(resolveChown('10:20', read), { uid: 10, gid: 20 });
  t.throws(() => resolveChown('nobody', read), { message: "can't find uid for user nobody: no such user: nobody" });
  t.throws(() => resolveChown('a:b:c', read), { message: 'invalid chown string format: a:b:c' });
  t.throws(() => resolveChown('x', () => null), { message: "can't find uid for user x: open /etc/passwd: no such file or directory" });
});

const plat = { os: 'linux', architecture: 'amd64' };

t.test('cache keys: what a step depends on, nothing else', async (t) => {
  const base = { Env: ['PATH=/bin'], Cmd: ['/bin/sh', '-c', 'make'], Labels: { b: '2', a: '1' } };
  const k = cacheKey('sha256:p', base, plat);
  t.equal(cacheKey('sha256:p', { Labels: { a: '1', b: '2' }, Cmd: ['/bin/sh', '-c', 'make'], Env: ['PATH=/bin'] }, plat), k, 'field and map order do not matter');
  t.not(cacheKey('sha256:q', base, plat), k, 'parent');
  t.not(cacheKey('sha256:p', { ...base, Cmd: ['|1', 'A=b', '/bin/sh', '-c', 'make'] }, plat), k, 'build args in the Cmd');
  t.not(cacheKey('sha256:p', { ...base, Env: ['PATH=/usr/bin'] }, plat), k, 'env');
  t.not(cacheKey('sha256:p', base, { os: 'linux', architecture: 'arm64' }), k, 'platform');
});

function img(id: string, parent: string, history: Array<{ created_by: string; empty_layer?: boolean }>, diffIds: string[]): BuildImage {
  const config: ImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, history: history.map((h) => ({ created: '2024-01-01T00:00:00Z', ...h })) };
  return { id, parent, config };
}

t.test('cache-from: history and layers of a pulled image stand in for local steps', async (t) => {
  const created: ImageConfig[] = [];
  const images = new Map<string, BuildImage>();
  const backend = {
    findImage: (id: string) => images.get(id) ?? null,
    createImage: (c: ImageConfig, parent: string) => {
      const id = `sha256:restored${created.length}`;
      created.push(c);
      images.set(id, { id, parent, config: c });
      return id;
    },
  };
  const records = new Map<string, string>();
  const index = { lookup: (k: string) => records.get(k) ?? null, record: (e: { key: string; imageId: string }) => { records.set(e.key, e.imageId); }, forget: (k: string) => { records.delete(k); } };
  const base = img('sha256:base', '', [{ created_by: 'fixture' }], ['sha256:L0']);
  const target = img('sha256:target', '', [{ created_by: 'fixture' }, { created_by: '/bin/sh -c echo hi > /x' }, { created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true }], ['sha256:L0', 'sha256:L1']);
  images.set(base.id, base);
  images.set(target.id, target);
  t.ok(isValidParent(target.config, base.config));
  t.notOk(isValidParent(base.config, target.config));
  t.equal(layerForHistoryIndex(target.config, 1), 'sha256:L1');
  t.equal(layerForHistoryIndex(target.config, 2), '');
  const prober = new CacheProber(backend, index, { noCache: false, cacheFrom: [target], dockerVersion: 'test' });
  const run1 = { Cmd: ['/bin/sh', '-c', 'echo hi > /x'] };
  const id1 = prober.probe(base, run1, plat, { Cmd: ['sh'] });
  t.equal(id1, 'sha256:restored0', 'a middle step becomes a new local image');
  t.same(created[0]!.rootfs.diff_ids, ['sha256:L0', 'sha256:L1']);
  t.same(created[0]!.history!.map((h) => h.created_by), ['fixture', '/bin/sh -c echo hi > /x']);
  const id2 = prober.probe(images.get(id1!)!, { Cmd: ['/bin/sh', '-c', '#(nop) ', 'CMD ["sh"]'] }, plat, {});
  t.equal(id2, 'sha256:target', 'the last step is the cache-from image itself');
  t.equal(prober.probe(base, { Cmd: ['/bin/sh', '-c', 'other'] }, plat, {}), null, 'a different step misses');
  const noCache = new CacheProber(backend, index, { noCache: true, cacheFrom: [target], dockerVersion: 'test' });
  t.equal(noCache.probe(base, run1, plat, {}), null, 'nocache wins');
});

t.test('local cache: a record whose image is gone is forgotten', async (t) => {
  const records = new Map<string, string>();
  const index = { lookup: (k: string) => records.get(k) ?? null, record: (e: { key: string; imageId: string }) => { records.set(e.key, e.imageId); }, forget: (k: string) => { records.delete(k); } };
  const p = new CacheProber({ findImage: () => null, createImage: () => '' }, index, { noCache: false, cacheFrom: [], dockerVersion: 'x' });
  const parent = img('sha256:p', '', [], []);
  p.record(parent, { Cmd: ['x'] }, plat, 'sha256:gone', 'x');
  t.equal(records.size, 1);
  t.equal(p.probe(parent, { Cmd: ['x'] }, plat, {}), null);
  t.equal(records.size, 0);
});
