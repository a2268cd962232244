// Docker-style errors (text and CLI exit code) and resource limits end to end:
// OOM kill, pids limit, docker update on a running container, restart policy.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { containerEnv, containerOpts, waitFor } from './helpers.js';

const opts = containerOpts();

t.test('errors and resources', opts, async (t) => {
  const e = await containerEnv(t);
  const { docker, ok, d } = e;
  const inspect = async (ref: string): Promise<Record<string, any>> => (JSON.parse(await ok('inspect', ref)) as Array<Record<string, any>>)[0]!;
  const count = async () => (await ok('ps', '-aq')).split('\n').filter(Boolean).length;

  await t.test('Docker-style errors', async (t) => {
    const before = await count();
    let r = await docker(['run', '--pull', 'never', 'nosuch:1']);
    t.equal(r.code, 125);
    t.match(r.err, 'Error response from daemon: No such image: nosuch:1');

    r = await docker(['inspect', 'nosuch']);
    t.equal(r.code, 1);
    t.equal(r.out.trim(), '[]');
    t.match(r.err, 'Error: No such object: nosuch');

    for (const verb of ['stop', 'start', 'kill', 'rm', 'pause', 'restart', 'logs', 'top', 'port']) {
      r = await docker([verb, 'nosuch']);
      t.equal(r.code, 1, `${verb} nosuch exits 1`);
      t.match(r.err, /Error response from daemon: No such container: nosuch/, `${verb} nosuch message`);
    }

    const name = e.name('clash');
    await ok('create', '--name', name, 'busybox:fixture', 'true');
    const id = (await inspect(name)).Id as string;
    r = await docker(['run', '--name', name, 'busybox:fixture', 'true']);
    t.equal(r.code, 125);
    t.match(r.err, `Error response from daemon: Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);

    r = await docker(['run', '--restart', 'bogus', 'busybox:fixture', 'true']);
    t.equal(r.code, 125);
    t.match(r.err, /invalid restart policy: unknown policy 'bogus'/);

    r = await docker(['run', '--memory', '1k', 'busybox:fixture', 'true']);
    t.equal(r.code, 125);
    t.match(r.err, 'Error response from daemon: Minimum memory limit allowed is 6MB');

    r = await docker(['run', '-p', '99999:80', 'busybox:fixture', 'true']);
    t.equal(r.code, 125);
    t.match(r.err, /invalid hostPort: 99999/);

    r = await docker(['run', '--rm', 'busybox:fixture', 'nosuchbinary']);
    t.equal(r.code, 127);
    t.match(r.err, /exec: "nosuchbinary": executable file not found in \$PATH/);
    r = await docker(['run', '--rm', 'busybox:fixture', '/etc/passwd']);
    t.equal(r.code, 126);
    t.match(r.err, /permission denied/);

    r = await docker(['run', '--name', 'a', 'busybox:fixture']);
    t.equal(r.code, 125);
    t.match(r.err, /Invalid container name \(a\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed/);

    r = await docker(['rename', name, name]);
    t.not(r.code, 0, 'rename to the same name fails');

    t.equal(await count(), before + 1, 'failed commands left no container behind (only the clash one)');
    await ok('rm', name);
  });

  await t.test('memory limit: OOM kill is reported', async (t) => {
    const name = e.name('oom');
    const r = await docker(['run', '--name', name, '--memory', '32m', 'busybox:fixture', 'sh', '-c', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived']);
    t.equal(r.code, 137);
    t.notMatch(r.out, 'survived');
    const c = await inspect(name);
    t.equal(c.State.OOMKilled, true);
    t.equal(c.State.ExitCode, 137);
    t.equal(c.HostConfig.Memory, 32 * 1024 * 1024);
    const ev = await ok('events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', `container=${name}`, '--filter', 'event=oom', '--format', '{{.Action}}');
    t.match(ev, /^oom$/m, 'an oom event was emitted');
  });

  await t.test('pids limit', async (t) => {
    const r = await docker(['run', '--rm', '--pids-limit', '10', 'busybox:fixture', 'sh', '-c', 'for i in $(seq 1 20); do sleep 5 & done; wait']);
    t.not(r.code, 0);
    t.match(r.err, /can't fork/);
    const ok2 = await docker(['run', '--rm', '--pids-limit', '10', 'busybox:fixture', 'sh', '-c', 'sleep 0.1 & wait; echo fine']);
    t.equal(ok2.out, 'fine\n', 'a few processes are allowed');
  });

  await t.test('docker update on a running container', async (t) => {
    const name = e.name('upd');
    await ok('run', '-d', '--name', name, '--memory', '64m', 'busybox:fixture', 'sleep', '300');
    const id = (await inspect(name)).Id as string;
    t.equal((await ok('update', '--memory', '48m', '--memory-swap', '96m', '--pids-limit', '50', name)).trim(), name);
    const c = await inspect(name);
    t.equal(c.HostConfig.Memory, 48 * 1024 * 1024);
    t.equal(c.HostConfig.MemorySwap, 96 * 1024 * 1024);
    t.equal(c.HostConfig.PidsLimit, 50);
    const limitFile = path.join('/sys/fs/cgroup/memory', d.cgroupParent, id, 'memory.limit_in_bytes');
    if (fs.existsSync(limitFile)) t.equal(fs.readFileSync(limitFile, 'utf8').trim(), String(48 * 1024 * 1024), 'the cgroup got the new limit');
    else t.fail(`no memory cgroup at ${limitFile}`);
    const pidsFile = path.join('/sys/fs/cgroup/pids', d.cgroupParent, id, 'pids.max');
    t.equal(fs.readFileSync(pidsFile, 'utf8').trim(), '50');
    t.match(await ok('stats', '--no-stream', '--format', '{{.MemUsage}}', name), /\/ 48MiB/);
    const bad = await docker(['update', '--memory', '1k', name]);
    t.equal(bad.code, 1);
    t.match(bad.err, 'Minimum memory limit allowed is 6MB');
    t.equal((await inspect(name)).HostConfig.Memory, 48 * 1024 * 1024, 'a rejected update changes nothing');
    await ok('rm', '-f', name);
  });

  await t.test('restart policy on-failure:2', async (t) => {
    const name = e.name('rp');
    await docker(['run', '--name', name, '--restart', 'on-failure:2', 'busybox:fixture', 'sh', '-c', 'echo try; exit 1']);
    await waitFor(async () => {
      const c = await inspect(name);
      return c.RestartCount === 2 && c.State.Status === 'exited';
    }, 15_000, 'two restarts');
    const c = await inspect(name);
    t.equal(c.RestartCount, 2);
    t.equal(c.State.ExitCode, 1);
    t.equal(c.HostConfig.RestartPolicy.Name, 'on-failure');
    t.equal(c.HostConfig.RestartPolicy.MaximumRetryCount, 2);
    await new Promise((r) => setTimeout(r, 1500));
    t.equal((await inspect(name)).RestartCount, 2, 'no third restart');
    t.equal(await ok('logs', name), 'try\ntry\ntry\n', 'ran three times');
    const ok0 = e.name('rp0');
    await docker(['run', '--name', ok0, '--restart', 'on-failure:2', 'busybox:fixture', 'true']);
    await new Promise((r) => setTimeout(r, 500));
    t.equal((await inspect(ok0)).RestartCount, 0, 'exit 0 is not restarted');
  });

  await t.test('restart policy always: a crash restarts, docker kill does not', async (t) => {
    const name = e.name('always');
    await ok('run', '-d', '--name', name, '--restart', 'always', 'busybox:fixture', 'sleep', '100');
    const pid = (await inspect(name)).State.Pid;
    process.kill(pid, 'SIGKILL'); // a crash, not the API
    await waitFor(async () => { const c = await inspect(name); return c.RestartCount === 1 && c.State.Status === 'running'; }, 10_000, 'restarted after a crash');
    await ok('kill', name);
    await new Promise((r) => setTimeout(r, 1000));
    const c = await inspect(name);
    t.equal(c.State.Running, false, 'killed by hand: stays down');
    t.equal(c.RestartCount, 1);
    // Killed while it waits to be restarted: the restart is cancelled (dockerd does the same).
    await ok('start', name);
    process.kill((await inspect(name)).State.Pid, 'SIGKILL');
    // The window between restarts is 200 ms here: poll the API directly, then kill through it.
    let seen = false;
    for (const end = Date.now() + 5000; !seen && Date.now() < end;) seen = (await e.d.request('GET', `/v1.44/containers/${name}/json`)).body.State.Status === 'restarting';
    t.ok(seen, 'caught it restarting');
    t.equal((await e.d.request('POST', `/v1.44/containers/${name}/kill`)).status, 204);
    await new Promise((r) => setTimeout(r, 1500));
    t.equal((await inspect(name)).State.Status, 'exited', 'a kill between restarts cancels the restart');
    await ok('rm', name);
  });
});
