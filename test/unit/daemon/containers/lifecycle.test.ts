// The container lifecycle over fake ports: every verb moves the record along the
// transition table, and the exit handler applies the restart policy.
import t from 'tap';
import { RuntimeStartError } from '../../../../runtime/index.js';
import { harness, until } from './fakes.js';

t.test('create, start, pause, unpause, stop', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create({ Cmd: ['sh', '-c', 'sleep 100'], Labels: { team: 'a' } }, 'web');
  t.equal(h.state(id), 'created');
  t.equal(await h.svc.start('web'), true);
  t.equal(h.state(id), 'running');
  t.same(h.tasks[0]!.spec.args, ['sh', '-c', 'sleep 100']);
  t.same(h.tasks[0]!.spec.cgroup, { parent: 'tsd', name: id, resources: { devices: [] } }, 'one launch, with the cgroup the runtime makes');
  t.equal(await h.svc.start(id.slice(0, 8)), false, 'already running: 304');
  await h.svc.pause(id);
  t.equal(h.state(id), 'paused');
  await t.rejects(h.svc.start(id), { kind: 'conflict', message: 'cannot start a paused container, try unpause instead' });
  await t.rejects(h.svc.pause(id), { message: `Container ${id} is already paused` });
  await h.svc.unpause(id);
  t.equal(h.state(id), 'running');
  const wait = h.svc.wait(id, 'not-running');
  t.equal(await h.svc.stop(id, { timeout: 5 }), true);
  t.same(await wait.result, { StatusCode: 143, Error: null }, 'the waiter gets the exit code');
  const c = h.svc.get(id);
  t.equal(c.state, 'exited');
  t.equal(c.exitCode, 143);
  t.equal(c.runtime.manuallyStopped, true);
  t.equal(await h.svc.stop(id), false, 'already stopped: 304');
  t.same(h.events.filter((e) => e.type === 'container').map((e) => e.action), ['create', 'start', 'pause', 'unpause', 'kill', 'die', 'stop']);
  t.equal(h.events[0]!.actor.attributes.team, 'a', 'events carry the labels');
  t.same(h.cgroupLog.map((l) => l.split(' ')[1]), ['create', 'pause', 'resume', 'delete'], 'paused through the task; the exit deleted it');
});

t.test('stop: SIGKILL after the timeout', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create();
  await h.svc.start(id);
  await h.svc.stop(id, { signal: 'SIGUSR1', timeout: 0 });
  t.same(h.tasks[0]!.signals, [10, 'SIGKILL']);
  t.equal(h.svc.get(id).exitCode, 137);
  t.ok(h.cgroupLog.some((l) => l.endsWith('killAll')), 'and the cgroup is emptied');
});

t.test('restart policy on-failure:2: two restarts, with backoff, then down', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create({ HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } } });
  await h.svc.start(id);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    await until(() => h.tasks.length === i + 1 && h.state(id) === 'running', `run ${i + 1}`);
    times.push(Date.now());
    h.tasks[i]!.exit(1);
    if (i < 2) await until(() => h.state(id) === 'restarting' || h.tasks.length > i + 1, `restarting ${i + 1}`);
  }
  await until(() => h.state(id) === 'exited', 'down after the third exit');
  const c = h.svc.get(id);
  t.equal(c.restartCount, 2);
  t.equal(c.exitCode, 1);
  t.ok(times[1]! - times[0]! >= 100, 'the first restart waits 100 ms');
  t.ok(times[2]! - times[1]! >= 200, 'the second waits twice as long');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(h.tasks.length, 3, 'no third restart');
  t.same(h.events.filter((e) => e.type === 'container').map((e) => e.action), ['create', 'start', 'die', 'start', 'restart', 'die', 'start', 'restart', 'die']);
});

t.test('kill between restarts cancels the restart; kill by hand is not restarted', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create({ HostConfig: { RestartPolicy: { Name: 'always' } } });
  await h.svc.start(id);
  h.tasks[0]!.exit(2);
  await until(() => h.state(id) === 'restarting', 'restarting');
  await h.svc.kill(id);
  t.equal(h.state(id), 'exited');
  await new Promise((r) => setTimeout(r, 250));
  t.equal(h.tasks.length, 1, 'the pending restart was cancelled');
  await h.svc.start(id);
  await h.svc.kill(id, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 250));
  t.equal(h.state(id), 'exited', 'killed by hand: stays down');
  await t.rejects(h.svc.kill(id), { code: 'TSD_ERR_NOT_RUNNING' });
});

t.test('rm: refused while running, -f kills first; --rm removes after the exit', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create({}, 'db');
  await h.svc.start(id);
  await t.rejects(h.svc.remove('db'), { kind: 'conflict', message: /container is running: stop the container before removing or force remove/ });
  const removed = h.svc.wait(id, 'removed');
  await h.svc.remove('db', { force: true });
  t.same(h.tasks[0]!.signals, ['SIGKILL']);
  t.equal((await removed.result).StatusCode, 137);
  t.equal(h.svc.tryGet(id), null);
  t.throws(() => h.svc.get('db'), { code: 'TSD_ERR_NO_SUCH_CONTAINER' });

  const tmp = await h.create({ HostConfig: { AutoRemove: true } });
  await h.svc.start(tmp);
  h.tasks[1]!.exit(0);
  await until(() => h.svc.tryGet(tmp) === null, 'auto-removed');
  t.ok(h.events.some((e) => e.action === 'destroy' && e.actor.id === tmp));
});

t.test('a wait that comes after an AutoRemove removed the container answers with its exit code (docker-py run(detach, auto_remove).wait())', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create({ HostConfig: { AutoRemove: true } }, 'quick');
  await h.svc.start(id);
  h.tasks[0]!.exit(3);
  await until(() => h.svc.tryGet(id) === null, 'auto-removed');
  t.throws(() => h.svc.get(id), { code: 'TSD_ERR_NO_SUCH_CONTAINER' }, 'the container is gone');
  for (const cond of ['not-running', 'next-exit', 'removed']) {
    t.same(await h.svc.wait(id, cond).result, { StatusCode: 3, Error: null }, `wait?condition=${cond} by id: its exit code`);
  }
  t.same(await h.svc.wait('quick').result, { StatusCode: 3, Error: null }, 'by name');
  t.throws(() => h.svc.wait(id, 'bogus'), { message: /invalid condition/ }, 'a bad condition is still refused');

  // a new container with the name: a wait by name is the new one's
  const again = await h.create({}, 'quick');
  const w = h.svc.wait('quick', 'next-exit');
  let answered = false;
  void w.result.then(() => (answered = true));
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(answered, 'the wait by name is for the new (created) container');
  w.cancel();
  await h.svc.remove(again, {});

  // removed by hand (docker rm): no such container, as dockerd
  const byHand = await h.create({}, 'byhand');
  await h.svc.start(byHand);
  h.tasks[1]!.exit(0);
  await until(() => h.state(byHand) === 'exited', 'exited');
  await h.svc.remove(byHand, {});
  t.throws(() => h.svc.wait(byHand), { code: 'TSD_ERR_NO_SUCH_CONTAINER' }, 'a container removed by rm: 404');
});

t.test('a failed launch undoes the start and leaves the container created', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create();
  h.failLaunch = new RuntimeStartError('exec: "nope": executable file not found in $PATH', 127, 'exec', 'invalid-parameter');
  await t.rejects(h.svc.start(id), { kind: 'invalid-parameter', message: /executable file not found/ }, 'dockerd answers 400 for a missing command');
  const c = h.svc.get(id);
  t.equal(c.state, 'created');
  t.equal(c.exitCode, 127);
  h.failLaunch = null;
  await h.svc.start(id);
  t.equal(h.state(id), 'running', 'a later start works');
});

t.test('output that arrives just after the exit is still logged', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create();
  await h.svc.start(id);
  const wait = h.svc.wait(id);
  h.tasks[0]!.exitThenWrite(0, 'last words\n');
  await wait.result;
  const lines: string[] = [];
  for await (const e of h.svc.logs(id, { stdout: true, stderr: true, follow: false, signal: new AbortController().signal }).entries) lines.push(e.line.toString());
  t.same(lines, ['last words\n'], 'the pipes drained before the output was ended');
});

t.test("an exec's output that arrives just after its exit still reaches the client", async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  const id = await h.create();
  await h.svc.start(id);
  h.execOutput = 'hello-test\n';
  const execId = h.svc.execs.create(h.svc.get(id), { Cmd: ['sh', '-c', 'echo $GREETING-$MODE'], AttachStdout: true, AttachStderr: true });
  const { session, hub } = await h.svc.execs.start(execId, {});
  const chunks: Buffer[] = [];
  hub.attach({ write: (_s, b) => { chunks.push(b); return true; }, writableLength: 0, closed: false, close: () => {}, onClose: () => {} }, { stdout: true, stderr: true });
  await session.done;
  t.equal(Buffer.concat(chunks).toString(), 'hello-test\n', 'the pipes drained before the output was ended (compose exec -T printed nothing)');
  t.equal(session.exitCode, 0);
});

t.test('create: name conflicts and no command', async (t) => {
  const h = harness();
  t.teardown(() => h.cleanup());
  await h.create({}, 'one');
  await t.rejects(h.create({}, 'one'), { code: 'TSD_ERR_NAME_CONFLICT' });
  await t.rejects(h.create({ Cmd: [], Entrypoint: [''] }, 'two'), { code: 'TSD_ERR_NO_COMMAND' });
});
