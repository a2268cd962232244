// ContainerStore's reads for probes and execs: view() shares one parse of the JSON
// columns while their text is unchanged (and is never stale), health()/setHealth()
// read and write the runtime column's health alone.
import t from 'tap';
import { openDatabase, ContainerStore, type ContainerRow } from '../../../store/index.js';

const row = (id: string, over: Partial<ContainerRow> = {}): ContainerRow => ({
  id, name: `n-${id}`, imageId: 'sha256:x', imageRef: 'busybox', createdAt: '2026-01-01T00:00:00Z', state: 'running', pid: 1, pidStart: '',
  exitCode: 0, oomKilled: false, error: '', startedAt: '', finishedAt: '', restartCount: 0,
  config: { Image: 'busybox', Env: ['A=1'], Labels: { l: 'v' } }, hostConfig: { CapAdd: ['NET_ADMIN'], Memory: 0 },
  runtime: { platform: 'linux', networks: { bridge: { IPAddress: '10.0.0.2' } }, big: 12345678901234, f: 0.5 }, ...over,
});

t.test('view: one shared, frozen parse while the text is the same; a change shows at once', async (t) => {
  const db = openDatabase(':memory:');
  t.teardown(() => db.close());
  const s = new ContainerStore(db);
  s.insert(row('a'));
  const v1 = s.view('a')!;
  const v2 = s.view('a')!;
  t.equal(v1.config, v2.config, 'the same parsed config');
  t.same(v1.config, { Image: 'busybox', Env: ['A=1'], Labels: { l: 'v' } });
  t.notOk('runtime' in v1, 'no runtime column');
  t.throws(() => { (v1.config as { Env: string[] }).Env.push('B=2'); }, TypeError, 'frozen: a reader cannot change the shared parse');
  t.throws(() => { (v1.hostConfig as { Memory: number }).Memory = 1; }, TypeError);
  t.same(s.get('a')!.config, row('a').config, 'get() still gives fresh objects');

  s.update('a', { hostConfig: { CapAdd: ['NET_ADMIN'], Memory: 64 } });
  t.equal((s.view('a')!.hostConfig as { Memory: number }).Memory, 64, 'an update of the column shows in the next view');
  t.equal(s.view('a')!.config, v1.config, 'the unchanged column is not parsed again');
  s.update('a', { name: 'renamed', state: 'paused' });
  t.same([s.view('a')!.name, s.view('a')!.state], ['renamed', 'paused']);
  s.delete('a');
  t.equal(s.view('a'), undefined, 'gone with the row');
  s.insert(row('a', { config: { Image: 'other', Env: [] } }));
  t.equal((s.view('a')!.config as { Image: string }).Image, 'other', 'a new row of the same id is not the old parse');
});

t.test('health/setHealth: the runtime column keeps everything else', async (t) => {
  const db = openDatabase(':memory:');
  t.teardown(() => db.close());
  const s = new ContainerStore(db);
  s.insert(row('b'));
  t.same(s.health('b'), { state: 'running', health: undefined }, 'no health yet');
  const h = { Status: 'healthy', FailingStreak: 0, Log: [{ Start: 's', End: 'e', ExitCode: 0, Output: 'ok "quoted"\n' }] };
  s.setHealth('b', h);
  t.same(s.health('b'), { state: 'running', health: h });
  t.same(s.get('b')!.runtime, { ...(row('b').runtime as object), health: h }, 'the other keys as they were');
  t.equal(s.health('nope'), undefined);
});
