// Live restore and the freezer: an adopted container is paused when its cgroup is frozen
// and running when it is thawed, whatever its row says. A daemon killed between a pause's
// freeze and its row's update leaves a frozen task recorded running (the next daemon
// adopted it as running, and `docker unpause` was refused: "not paused"); one killed
// between an unpause's thaw and its update leaves a running task recorded paused. Both
// are made here as such a kill leaves them, by writing the freezer file behind the
// daemon's back, next to a plain `docker pause`; then the daemon is restarted, after a
// SIGKILL and after a clean stop, and each container must be what its freezer says,
// unpause (or pause) must work, and the process must run on.
import t from 'tap';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { alive, sleep, waitFor } from '../../helpers/processes.js';

const run = promisify(execFile);
const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');

/** The freezer file of `pid`'s cgroup (v1 freezer.state, v2 cgroup.freeze), found through /proc/<pid>/cgroup. */
function freezerFile(pid: number): string {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  if (v2) return path.join('/sys/fs/cgroup', lines.find((l) => l.startsWith('0::'))!.slice(3), 'cgroup.freeze');
  const l = lines.find((x) => x.split(':')[1]!.split(',').includes('freezer'))!;
  return path.join('/sys/fs/cgroup/freezer', l.split(':').slice(2).join(':'), 'freezer.state');
}
const freeze = (pid: number) => fs.writeFileSync(freezerFile(pid), v2 ? '1' : 'FROZEN');
const thaw = (pid: number) => fs.writeFileSync(freezerFile(pid), v2 ? '0' : 'THAWED');
const frozen = (pid: number) => v2
  ? /^frozen 1$/m.test(fs.readFileSync(path.join(path.dirname(freezerFile(pid)), 'cgroup.events'), 'utf8'))
  : fs.readFileSync(freezerFile(pid), 'utf8').trim() === 'FROZEN';

t.test('live restore: an adopted container is paused when its cgroup is frozen, running when thawed', privilegedOpts(), async (top) => {
  const t = top;
  const docker = async (d: TestDaemon, ...args: string[]) => (await run('docker', args, { env: d.dockerEnv })).stdout;
  const state = async (d: TestDaemon, n: string) => JSON.parse(await docker(d, 'inspect', '-f', '{{json .State}}', n)) as { Status: string; Paused: boolean; Running: boolean; Pid: number };
  /** the last number the counter wrote */
  const count = async (d: TestDaemon, n: string) => {
    // the last line (--tail 1 may give a line more: what the counter appended while it was read)
    const out = await docker(d, 'logs', '--tail', '1', n);
    const last = out.split('\n').filter(Boolean).pop() ?? '0';
    if (!/^\d+$/.test(last)) throw new Error(`docker logs --tail 1 ${n}: ${JSON.stringify(out)}`);
    return Number(last);
  };
  const runsOn = async (d: TestDaemon, n: string, what: string) => {
    const from = await count(d, n);
    let now = from;
    await waitFor(async () => (now = await count(d, n)) > from + 3, 20_000, `${n} to count on (${what})`)
      .catch((err: Error) => { throw new Error(`${err.message}: ${from} then ${now}; freezer ${fs.readFileSync(freezerFile(pids[n]!), 'utf8').trim()}`); });
  };

  let d = await startDaemon(t, ['--live-restore']);
  await docker(d, 'load', '-i', (await busyboxSaveTar()).path);
  const counter = ['busybox:fixture', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i; usleep 50000; done'];
  // paused: docker pause; frozen: recorded running, its cgroup frozen; thawed: recorded paused, its cgroup thawed
  const pids: Record<string, number> = {};
  for (const n of ['paused', 'frozen', 'thawed']) {
    await docker(d, 'run', '-d', '--name', n, ...counter);
    pids[n] = (await state(d, n)).Pid;
  }

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    await t.test(`restart after ${signal}`, async (t) => {
      await docker(d, 'pause', 'paused');
      await docker(d, 'pause', 'thawed');
      freeze(pids.frozen!);
      await waitFor(() => frozen(pids.frozen!), 10_000, 'the freeze behind the daemon\'s back');
      thaw(pids.thawed!);
      t.equal((await state(d, 'frozen')).Status, 'running', 'the frozen one is recorded running');
      t.equal((await state(d, 'thawed')).Status, 'paused', 'the thawed one is recorded paused');

      await d.stop(signal);
      for (const n of ['paused', 'frozen', 'thawed']) t.ok(alive(pids[n]!), `${n} outlived the daemon`);
      d = await startDaemon(top, ['--live-restore'], {}, d); // torn down with the whole test, not this subtest
      // the events of this daemon's boot (its ring starts empty), before anything is asked of it
      const events = await docker(d, 'events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000)), '--filter', 'type=container', '--format', '{{.Action}} {{.Actor.Attributes.name}}');
      t.match(events, /^pause frozen$/m, 'the pause the old daemon did not record has its event');
      t.match(events, /^unpause thawed$/m, 'so has the unpause');
      t.notMatch(events, /pause paused/, 'the paused one, recorded as it is, has none');

      for (const n of ['paused', 'frozen']) {
        const s = await state(d, n);
        t.equal(s.Pid, pids[n], `${n}: adopted (same Pid)`);
        t.equal(s.Status, 'paused', `${n}: Status paused`);
        t.equal(s.Paused, true, `${n}: State.Paused`);
        t.equal(s.Running, true, `${n}: State.Running, as dockerd shows a paused container`);
        const held = await count(d, n);
        await sleep(500);
        t.equal(await count(d, n), held, `${n}: it does not run while paused`);
        await docker(d, 'unpause', n);
        t.same([(await state(d, n)).Status, (await state(d, n)).Paused], ['running', false], `${n}: unpause works`);
        await runsOn(d, n, 'after the unpause');
        t.notOk(frozen(pids[n]!), `${n}: its cgroup is thawed`);
      }
      const s = await state(d, 'thawed');
      t.equal(s.Pid, pids.thawed, 'thawed: adopted (same Pid)');
      t.same([s.Status, s.Paused], ['running', false], 'thawed: recorded running, as its cgroup is');
      await runsOn(d, 'thawed', 'adopted');
      await docker(d, 'pause', 'thawed');
      t.ok(frozen(pids.thawed!), 'thawed: pause works');
      await docker(d, 'unpause', 'thawed');
      await runsOn(d, 'thawed', 'after pause and unpause');

    });
  }
  await docker(d, 'rm', '-f', 'paused', 'frozen', 'thawed');
  for (const n of ['paused', 'frozen', 'thawed']) t.notOk(alive(pids[n]!), `${n} ended with rm -f`);
});
