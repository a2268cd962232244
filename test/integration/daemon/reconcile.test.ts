// A daemon killed with SIGKILL while a container runs: the next daemon on the
// same roots records the container as exited and collects its process, mounts,
// cgroup, veth and netns file.
import t from 'tap';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { startDaemon } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';

const run = promisify(execFile);
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

t.test('reconcile after a crash leaves nothing behind', privilegedOpts(), async (t) => {
  const d1 = await startDaemon(t);
  const { path: tar } = await busyboxSaveTar();
  await run('docker', ['load', '-i', tar], { env: d1.dockerEnv });
  const id = (await run('docker', ['run', '-d', '--name', 'survivor', '--restart', 'no', 'busybox:fixture', 'sleep', '300'], { env: d1.dockerEnv })).stdout.trim();
  const pid = Number((await run('docker', ['inspect', '-f', '{{.State.Pid}}', id], { env: d1.dockerEnv })).stdout.trim());
  t.ok(pid > 0 && alive(pid), 'container process runs');
  t.match(fs.readFileSync('/proc/mounts', 'utf8'), id, 'rootfs mounted');
  const veths = (await run('ip', ['-o', 'link', 'show', 'master', d1.bridge])).stdout;
  t.match(veths, /veth|tsd/, 'a veth on the bridge');

  await d1.stop('SIGKILL');
  t.ok(alive(pid), 'the container outlived the daemon');

  const d2 = await startDaemon(t, ['--data-root', d1.dataRoot, '--exec-root', d1.execRoot, '--bridge', d1.bridge, '--cgroup-parent', d1.cgroupParent]);
  const inspect = JSON.parse((await run('docker', ['inspect', id], { env: d2.dockerEnv })).stdout)[0];
  t.equal(inspect.State.Status, 'exited');
  t.equal(inspect.State.Running, false);
  t.equal(inspect.State.ExitCode, 137);
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  t.notOk(alive(pid), 'the orphaned process was collected');
  t.notMatch(fs.readFileSync('/proc/mounts', 'utf8'), id, 'no mount left');
  const after = (await run('ip', ['-o', 'link', 'show', 'master', d1.bridge]).catch(() => ({ stdout: '' }))).stdout;
  t.equal(after.trim(), '', 'no veth left on the bridge');
  t.notOk(fs.existsSync(`${d1.execRoot}/netns/${id}`), 'no netns file left');
  const cg = (await run('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-name', `${id}*`])).stdout.trim();
  t.equal(cg, '', 'no cgroup left');
  // And it starts again.
  await run('docker', ['start', id], { env: d2.dockerEnv });
  t.equal((await run('docker', ['inspect', '-f', '{{.State.Running}}', id], { env: d2.dockerEnv })).stdout.trim(), 'true');
  await run('docker', ['rm', '-f', id], { env: d2.dockerEnv });
  t.equal(await d2.stop(), 0, 'the second daemon stops cleanly');
});

t.test('a --rm container that does not run when the daemon boots is removed, as dockerd restores', privilegedOpts(), async (t) => {
  const d1 = await startDaemon(t);
  const { path: tar } = await busyboxSaveTar();
  await run('docker', ['load', '-i', tar], { env: d1.dockerEnv });
  const running = (await run('docker', ['run', '-d', '--rm', 'busybox:fixture', 'sleep', '300'], { env: d1.dockerEnv })).stdout.trim();
  const created = (await run('docker', ['create', '--rm', 'busybox:fixture', 'true'], { env: d1.dockerEnv })).stdout.trim();
  const kept = (await run('docker', ['create', 'busybox:fixture', 'true'], { env: d1.dockerEnv })).stdout.trim();
  const pid = Number((await run('docker', ['inspect', '-f', '{{.State.Pid}}', running], { env: d1.dockerEnv })).stdout.trim());
  await d1.stop('SIGKILL');

  const d2 = await startDaemon(t, ['--data-root', d1.dataRoot, '--exec-root', d1.execRoot, '--bridge', d1.bridge, '--cgroup-parent', d1.cgroupParent]);
  for (const id of [running, created]) {
    const r = await d2.request('GET', `/containers/${id}/json`);
    t.equal(r.status, 404, `${id.slice(0, 12)} is gone`);
    t.notOk(fs.existsSync(`${d1.dataRoot}/containers/${id}`), 'and its directory');
  }
  t.equal((await d2.request('GET', `/containers/${kept}/json`)).status, 200, 'a container without --rm stays');
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  t.notOk(alive(pid), 'the --rm container\'s process was collected');
  t.notMatch(fs.readFileSync('/proc/mounts', 'utf8'), running, 'no mount left');
  const names = (await d2.request('GET', '/containers/json?all=1')).body.map((c: { Id: string }) => c.Id);
  t.same(names, [kept], 'only the container without --rm is listed');
  await run('docker', ['rm', '-f', kept], { env: d2.dockerEnv });
  t.equal(await d2.stop(), 0, 'the second daemon stops cleanly');
});
