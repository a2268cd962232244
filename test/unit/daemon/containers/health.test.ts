// Healthchecks over fake ports: what inspect shows of .State.Health (the last 5
// results, FailingStreak, Status) and the health_status events, as dockerd keeps
// them; the probe reads the row through the store's shared view, so a rename, an
// update or a restart must show in what the next probe uses.
import t from 'tap';
import { harness, until, type Harness } from './fakes.js';
import type { HealthState } from '../../../../daemon/containers/types.js';

const MS = 1e6; // Docker durations are nanoseconds

const health = (h: Harness, id: string): HealthState => h.svc.get(id).runtime.health!;
const statusEvents = (h: Harness, id: string) => h.events.filter((e) => e.actor.id === id && e.action.startsWith('health_status'));

t.test('status, FailingStreak, the last 5 results and health_status events', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  h.execOutput = 'probe-out\n';
  const id = await h.create({ Healthcheck: { Test: ['CMD-SHELL', 'check it'], Interval: 20 * MS, Retries: 2 }, Labels: { team: 'a' } }, 'hc');
  await h.svc.start(id);
  t.same(health(h, id), { Status: 'starting', FailingStreak: 0, Log: [] }, 'starting, with no result yet');
  const before = h.svc.get(id).runtime;

  await until(() => health(h, id).Status === 'healthy', 'healthy');
  const first = health(h, id);
  t.equal(first.FailingStreak, 0);
  t.same(first.Log[0]!.ExitCode, 0);
  t.equal(first.Log[0]!.Output, 'probe-out\n', 'the output of the probe');
  t.ok(Date.parse(first.Log[0]!.Start) <= Date.parse(first.Log[0]!.End), 'Start, then End');
  const { health: _h, ...rest } = h.svc.get(id).runtime;
  const { health: _b, ...restBefore } = before;
  t.same(rest, restBefore, 'the health writer changes nothing else of the runtime column');

  h.execExitCode = 1;
  await until(() => health(h, id).Status === 'unhealthy', 'unhealthy');
  await until(() => health(h, id).Log.length === 5 && health(h, id).Log.every((l) => l.ExitCode === 1), 'five failed probes');
  const bad = health(h, id);
  t.ok(bad.FailingStreak >= 5, `FailingStreak counts every failed probe (${bad.FailingStreak})`);
  t.equal(bad.Log.length, 5, 'the last 5 results only');
  const starts = bad.Log.map((l) => Date.parse(l.Start));
  t.same(starts, [...starts].sort((a, b) => a - b), 'oldest first');
  t.same(statusEvents(h, id).map((e) => e.action), ['health_status: healthy', 'health_status: unhealthy'], 'one event per change of status');
  t.equal(statusEvents(h, id)[0]!.actor.attributes.name, 'hc');
  t.equal(statusEvents(h, id)[0]!.actor.attributes.team, 'a', 'with the labels');
  t.equal(statusEvents(h, id)[0]!.actor.attributes.image, 'busybox');

  // probes are execs: their events are published, their sessions are not kept
  const actions = h.events.filter((e) => e.actor.id === id).map((e) => e.action);
  t.ok(actions.includes('exec_create: /bin/sh -c check it') && actions.includes('exec_start: /bin/sh -c check it') && actions.includes('exec_die'), 'exec_create, exec_start, exec_die');
  t.ok(h.svc.execs.keptOf(id) <= 1, `no finished probe is kept as an exec (${h.svc.execs.keptOf(id)})`);

  // a rename during the probes: the next health_status event has the new name (no stale row)
  await h.svc.rename(id, 'hc2');
  h.execExitCode = 0;
  await until(() => health(h, id).Status === 'healthy', 'healthy again');
  t.equal(statusEvents(h, id).at(-1)!.actor.attributes.name, 'hc2', 'the event has the name the container has now');
  t.equal(health(h, id).FailingStreak, 0);
});

t.test('a restart, an update: the probe uses the container as it is now', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  h.execOutput = '';
  const id = await h.create({ Healthcheck: { Test: ['CMD', 'true'], Interval: 20 * MS, Retries: 1 } }, 'hcr');
  await h.svc.start(id);
  await until(() => health(h, id).Status === 'healthy', 'healthy');
  t.equal(h.execsInto.at(-1), h.tasks[0]!.pid, 'the probe joins the task');

  // an update rewrites the host config: the view is parsed again, the probes go on
  await h.svc.update(id, { memory: 64 << 20 }, undefined, { Memory: 64 << 20 });
  t.equal((h.svc.store.view(id)!.hostConfig as { Memory: number }).Memory, 64 << 20, 'the view shows the update');
  const n = h.execsInto.length;
  await until(() => h.execsInto.length > n + 2, 'probes after the update');

  h.execExitCode = 1;
  await until(() => health(h, id).Status === 'unhealthy', 'unhealthy');
  await h.svc.restart(id, { timeout: 1 });
  t.equal(h.tasks.length, 2, 'a second task');
  h.execExitCode = 0;
  await until(() => h.execsInto.at(-1) === h.tasks[1]!.pid, 'a probe into the new task');
  await until(() => health(h, id).Status === 'healthy', 'healthy after the restart');
  t.notOk(h.execsInto.slice(h.execsInto.indexOf(h.tasks[1]!.pid)).includes(h.tasks[0]!.pid), 'no probe into the old task after the restart');
});

t.test('paused: no probe while paused, probes again after the unpause', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  h.execOutput = '';
  const id = await h.create({ Healthcheck: { Test: ['CMD', 'true'], Interval: 20 * MS } }, 'hcp');
  await h.svc.start(id);
  await until(() => h.execsInto.length >= 2, 'probes');
  await h.svc.pause(id);
  const n = h.execsInto.length;
  // wait for several intervals by the probes' own timers: the health log does not change while paused
  const log = JSON.stringify(health(h, id).Log);
  await new Promise((r) => setTimeout(r, 200));
  t.ok(h.execsInto.length <= n + 1, 'at most the probe already running when the pause came');
  const m = h.execsInto.length;
  await h.svc.unpause(id);
  await until(() => h.execsInto.length > m + 2, 'probes after the unpause (before: the first tick while paused ended the probes for good)');
  t.not(JSON.stringify(health(h, id).Log), log, 'new results after the unpause');
});

t.test('start period and start interval, as dockerd 25: a failure counts once the container was healthy', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  h.execOutput = '';
  h.execExitCode = 1;
  // a long start period probed every 20 ms (StartInterval); Interval is 10 s
  const id = await h.create({ Healthcheck: { Test: ['CMD', 'check'], Interval: 10_000 * MS, StartInterval: 20 * MS, StartPeriod: 60_000 * MS, Retries: 1 } }, 'hsp');
  await h.svc.start(id);
  await until(() => health(h, id).Log.length >= 3, 'three failed probes at the start interval');
  t.equal(health(h, id).Status, 'starting', 'failures within the start period, never healthy: still starting');
  t.equal(health(h, id).FailingStreak, 0, 'and not counted');
  h.execExitCode = 0;
  await until(() => health(h, id).Status === 'healthy', 'healthy');
  const n = h.execsInto.length;
  await new Promise((r) => setTimeout(r, 300));
  t.equal(h.execsInto.length, n, 'once healthy, the next probe waits for Interval (10 s), not StartInterval');

  // within the start period but healthy before: the failure counts (Retries 1: unhealthy at once)
  const h2 = harness();
  t.teardown(() => h2.cleanup());
  h2.execOutput = '';
  const id2 = await h2.create({ Healthcheck: { Test: ['CMD', 'check'], Interval: 20 * MS, StartPeriod: 60_000 * MS, StartInterval: 20 * MS, Retries: 1 } }, 'hsp2');
  await h2.svc.start(id2);
  await until(() => health(h2, id2).Status === 'healthy', 'healthy');
  h2.execExitCode = 1;
  await until(() => health(h2, id2).Log.at(-1)!.ExitCode === 1, 'a failed probe');
  t.equal(health(h2, id2).FailingStreak, 1, 'a failure after healthy counts, start period or not');
  t.equal(health(h2, id2).Status, 'unhealthy', 'and with Retries 1 makes it unhealthy');
});

t.test('no start period: StartInterval is not used, the first probe waits for Interval', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  h.execOutput = '';
  const id = await h.create({ Healthcheck: { Test: ['CMD', 'check'], Interval: 10_000 * MS, StartInterval: 20 * MS, Retries: 1 } }, 'hsi');
  await h.svc.start(id);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(h.execsInto.length, 0, 'no probe within 300 ms');
  t.equal(health(h, id).Status, 'starting');
});
