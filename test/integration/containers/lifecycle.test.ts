// The container lifecycle through the real docker CLI, checked against what
// Docker prints and returns: ps filters, logs, exec, stop/kill/pause/restart,
// rename, inspect, stats, top, cp, diff, export, wait, rm, prune, events.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { containerEnv, containerOpts, dockerSpawn, waitFor } from './helpers.js';

const opts = containerOpts();

t.test('container lifecycle over the docker CLI', opts, async (t) => {
  const e = await containerEnv(t);
  const { docker, ok, d } = e;
  const inspect = async (ref: string): Promise<Record<string, any>> => (JSON.parse(await ok('inspect', ref)) as Array<Record<string, any>>)[0]!;
  const status = async (ref: string) => (await ok('inspect', '-f', '{{.State.Status}}', ref)).trim();

  const web = e.name('web');
  const job = e.name('job');
  const id = (await ok('run', '-d', '--name', web, '--label', `suite=${process.pid}`, '--label', 'role=web', 'busybox:fixture',
    'sh', '-c', 'trap "echo got-term; exit 0" TERM; echo line1; echo line2; echo line3; while true; do sleep 0.1; done')).trim();
  t.match(id, /^[0-9a-f]{64}$/, 'run -d prints the full id');
  const r3 = await docker(['run', '--name', job, '--label', `suite=${process.pid}`, 'busybox:fixture', 'sh', '-c', 'echo out; exit 3']);
  t.equal(r3.code, 3);

  await t.test('ps and ps -a with filters', async (t) => {
    const names = async (...args: string[]) => (await ok('ps', '--format', '{{.Names}}', ...args)).split('\n').filter(Boolean).sort();
    t.same(await names(), [web], 'ps shows running only');
    t.same(await names('-a'), [job, web].sort(), 'ps -a shows both');
    t.same(await names('-a', '--filter', 'status=exited'), [job]);
    t.same(await names('--filter', 'status=running'), [web]);
    t.same(await names('-a', '--filter', `name=${job}`), [job]);
    t.same(await names('-a', '--filter', 'label=role=web'), [web]);
    t.same(await names('-a', '--filter', `label=suite=${process.pid}`), [job, web].sort());
    t.same(await names('-a', '--filter', 'ancestor=busybox:fixture'), [job, web].sort());
    t.same(await names('-a', '--filter', 'exited=3'), [job]);
    t.same(await names('-a', '--filter', 'exited=0'), []);
    const q = (await ok('ps', '-q')).trim();
    t.equal(q, id.slice(0, 12), 'ps -q prints short ids');
    const st = (await ok('ps', '-a', '--filter', `name=${job}`, '--format', '{{.Status}}')).trim();
    t.match(st, /^Exited \(3\) .*ago$/);
    const img = (await ok('ps', '--format', '{{.Image}} {{.Command}}')).trim();
    t.match(img, /^busybox:fixture "sh -c /);
  });

  await t.test('logs, --tail, -t, -f', async (t) => {
    await waitFor(async () => (await ok('logs', web)).includes('line3'), 10_000, 'logs');
    t.equal(await ok('logs', web), 'line1\nline2\nline3\n');
    t.equal(await ok('logs', '--tail', '2', web), 'line2\nline3\n');
    t.equal(await ok('logs', '--tail', '0', web), '');
    const ts = (await ok('logs', '-t', web)).split('\n').filter(Boolean);
    t.equal(ts.length, 3);
    t.match(ts[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line1$/, 'RFC3339Nano timestamp prefix');
    const errName = e.name('err');
    t.equal((await docker(['run', '--name', errName, 'busybox:fixture', 'sh', '-c', 'echo to-err >&2'])).code, 0);
    const el = await docker(['logs', errName]);
    t.same([el.out, el.err], ['', 'to-err\n'], 'logs keeps stderr on stderr');
    const le = await docker(['logs', 'nosuch']);
    t.equal(le.code, 1, 'logs of a missing container fails');
    t.match(le.err, 'No such container: nosuch');

    const follow = e.name('follow');
    await ok('run', '-d', '--name', follow, 'busybox:fixture', 'sh', '-c', 'for i in 1 2 3; do echo tick$i; sleep 0.3; done');
    const f = dockerSpawn(d, ['logs', '-f', follow]);
    const code = await Promise.race([f.done, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    t.equal(code, 0, 'logs -f ends by itself when the container stops');
    t.equal(f.out(), 'tick1\ntick2\ntick3\n');
  });

  await t.test('exec: exit code, -e, -w, -u', async (t) => {
    t.equal((await ok('exec', web, 'echo', 'hello')), 'hello\n');
    t.equal((await docker(['exec', web, 'sh', '-c', 'exit 7'])).code, 7);
    t.equal((await ok('exec', '-e', 'FOO=bar', web, 'sh', '-c', 'echo $FOO')), 'bar\n');
    t.equal((await ok('exec', '-w', '/tmp', web, 'pwd')), '/tmp\n');
    t.equal((await ok('exec', '-u', '1000', web, 'id', '-u')), '1000\n');
    t.equal((await ok('exec', '-u', '1000:1000', web, 'id', '-g')), '1000\n');
    const missing = await docker(['exec', web, 'nosuchbinary']);
    t.equal(missing.code, 127, 'missing binary in exec → 127');
    const stopped = await docker(['exec', job, 'true']);
    t.not(stopped.code, 0);
    t.match(stopped.err, /is not running/);
    t.equal((await ok('exec', '-i', web, 'cat')), '', 'exec -i with closed stdin');
    t.equal((await ok('exec', '-d', '-e', 'BG=1', '-w', '/tmp', web, 'sh', '-c', 'echo $BG $(pwd) > /tmp/bg')), '', 'exec -d prints nothing');
    await waitFor(async () => (await docker(['exec', web, 'cat', '/tmp/bg'])).out === '1 /tmp\n', 5000, 'exec -d ran');
    t.pass('exec -d ran with its env and workdir');
  });

  await t.test('inspect ExecIDs: created and running execs only, as dockerd', async (t) => {
    const execIds = async () => (JSON.parse(await ok('inspect', '-f', '{{json .ExecIDs}}', web)) as string[] | null) ?? [];
    const before = await execIds();
    const created = (await d.request('POST', `/v1.44/containers/${web}/exec`, { Cmd: ['sleep', '30'] })).body.Id as string;
    t.ok((await execIds()).includes(created), 'a created exec is listed');
    const started = await d.request('POST', `/v1.44/exec/${created}/start`, { Detach: true });
    t.equal(started.status, 200);
    await waitFor(async () => (await d.request('GET', `/v1.44/exec/${created}/json`)).body.Running === true, 10_000, 'the exec to run');
    t.ok((await execIds()).includes(created), 'a running exec is listed');
    const pid = (await d.request('GET', `/v1.44/exec/${created}/json`)).body.Pid as number;
    t.ok(pid > 0, 'the running exec has a host pid');
    process.kill(pid, 'SIGTERM');
    await waitFor(async () => (await d.request('GET', `/v1.44/exec/${created}/json`)).body.Running === false, 10_000, 'the exec to end');
    const ended = await d.request('GET', `/v1.44/exec/${created}/json`);
    t.equal(ended.status, 200, 'an ended exec is still inspectable by its id');
    t.equal(ended.body.ExitCode, 143, 'with its exit code (SIGTERM)');
    const after = await execIds();
    t.notOk(after.includes(created), 'an ended exec has left the container\'s ExecIDs');
    t.same(after.filter((x) => !before.includes(x)), [], 'and so have the execs the CLI ran meanwhile');
  });

  await t.test('top and stats', async (t) => {
    const top = await ok('top', web);
    t.match(top, /PID\s+USER\s+TIME\s+COMMAND|UID\s+PID\s+PPID/);
    t.match(top, /sh -c trap/);
    const stats = await ok('stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', web);
    t.match(stats.trim(), new RegExp(`^${web} [\\d.]+[KMG]?i?B / [\\d.]+[KMGT]?i?B [1-9]\\d*$`));
  });

  await t.test('inspect', async (t) => {
    const c = await inspect(web);
    t.equal(c.Id, id);
    t.equal(c.Name, `/${web}`);
    t.equal(c.State.Status, 'running');
    t.equal(c.State.Running, true);
    t.ok(c.State.Pid > 0, 'State.Pid');
    t.ok(fs.existsSync(`/proc/${c.State.Pid}`), 'the pid is a live process');
    t.equal(c.State.OOMKilled, false);
    t.ok(Date.parse(c.State.StartedAt) > Date.now() - 120_000, 'StartedAt is recent');
    t.equal(c.State.FinishedAt, '0001-01-01T00:00:00Z');
    t.ok(c.LogPath && fs.existsSync(c.LogPath), 'LogPath exists on disk');
    t.equal(c.GraphDriver.Name, 'overlay2');
    t.ok(c.GraphDriver.Data.MergedDir && fs.existsSync(c.GraphDriver.Data.MergedDir), 'MergedDir exists');
    t.ok(c.GraphDriver.Data.UpperDir);
    t.ok(c.GraphDriver.Data.LowerDir);
    t.same(c.Mounts, []);
    t.match(c.NetworkSettings.IPAddress, /^10\.\d+\.\d+\.\d+$/);
    t.ok(c.NetworkSettings.Networks.bridge, 'attached to bridge');
    t.match(c.NetworkSettings.Networks.bridge.IPAddress, c.NetworkSettings.IPAddress);
    t.match(c.NetworkSettings.SandboxKey, /./);
    t.equal(c.Config.Image, 'busybox:fixture');
    t.match(c.Image, /^sha256:[0-9a-f]{64}$/);
    t.equal(c.Config.Labels.role, 'web');
    const x = await inspect(job);
    t.equal(x.State.Status, 'exited');
    t.equal(x.State.ExitCode, 3);
    t.equal(x.State.Pid, 0);
    t.ok(Date.parse(x.State.FinishedAt) >= Date.parse(x.State.StartedAt), 'FinishedAt after StartedAt');
    const nf = await docker(['inspect', 'nosuch']);
    t.equal(nf.code, 1);
    t.match(nf.err, /Error: No such object: nosuch/);
    t.equal((await ok('inspect', '-f', '{{.Name}}', id.slice(0, 10))).trim(), `/${web}`, 'id prefix resolves');
  });

  await t.test('pause and unpause', async (t) => {
    await ok('pause', web);
    t.equal(await status(web), 'paused');
    const st = (await ok('ps', '--filter', `name=${web}`, '--format', '{{.Status}}')).trim();
    t.match(st, /\(Paused\)$/);
    const ex = await docker(['exec', web, 'true']);
    t.not(ex.code, 0, 'exec in a paused container fails');
    t.match(ex.err, /paused/);
    await ok('unpause', web);
    t.equal(await status(web), 'running');
    t.equal(await ok('exec', web, 'echo', 'back'), 'back\n');
  });

  await t.test('cp both ways, diff, export', async (t) => {
    const src = path.join(d.dir, 'in.txt');
    fs.writeFileSync(src, 'copied in\n');
    await ok('cp', src, `${web}:/tmp/in.txt`);
    t.equal(await ok('exec', web, 'cat', '/tmp/in.txt'), 'copied in\n');
    await ok('exec', web, 'sh', '-c', 'mkdir -p /made/sub && echo data > /made/sub/f && rm /bin/true');
    const dst = path.join(d.dir, 'out');
    await ok('cp', `${web}:/made`, dst);
    t.equal(fs.readFileSync(path.join(dst, 'sub', 'f'), 'utf8'), 'data\n');
    const miss = await docker(['cp', `${web}:/nonexistent`, dst]);
    t.not(miss.code, 0);
    t.match(miss.err, /Could not find the file \/nonexistent in container/);
    const diff = (await ok('diff', web)).split('\n').filter(Boolean);
    t.ok(diff.includes('A /made'), 'diff shows added dir');
    t.ok(diff.includes('A /made/sub/f'), 'diff shows added file');
    t.ok(diff.includes('D /bin/true'), 'diff shows deletion');
    t.ok(diff.includes('C /tmp'), 'diff shows changed dir');
    const tarPath = path.join(d.dir, 'export.tar');
    await ok('export', '-o', tarPath, web);
    const list = execFileSync('tar', ['-tf', tarPath], { maxBuffer: 64 << 20 }).toString().split('\n');
    t.ok(list.includes('made/sub/f'), 'export contains the new file');
    t.ok(list.includes('bin/busybox'), 'export contains the image files');
    t.notOk(list.includes('bin/true'), 'export lacks the deleted file');
  });

  await t.test('stop, kill -s, restart, rename, wait', async (t) => {
    const t0 = Date.now();
    t.equal((await ok('stop', web)).trim(), web, 'stop echoes the name');
    t.ok(Date.now() - t0 < 5000, 'trap on TERM makes stop quick');
    t.equal(await status(web), 'exited');
    t.equal((await inspect(web)).State.ExitCode, 0);
    t.match(await ok('logs', '--tail', '1', web), 'got-term\n');

    await ok('start', web);
    t.equal(await status(web), 'running');
    t.equal((await ok('kill', '-s', 'KILL', web)).trim(), web);
    await waitFor(async () => (await status(web)) === 'exited', 5000, 'killed');
    t.equal((await inspect(web)).State.ExitCode, 137);

    const sleeper = e.name('sleeper');
    // PID 1 only gets signals it handles (as under Docker), hence the trap.
    await ok('run', '-d', '--name', sleeper, 'busybox:fixture', 'sh', '-c', 'trap "exit 42" USR1; while :; do sleep 0.1; done');
    const pid1 = (await inspect(sleeper)).State.Pid;
    await ok('restart', '-t', '1', sleeper);
    const after = await inspect(sleeper);
    t.equal(after.State.Status, 'running');
    t.not(after.State.Pid, pid1, 'restart gives a new process');
    await ok('kill', '-s', 'USR1', sleeper);
    await waitFor(async () => (await status(sleeper)) === 'exited', 5000, 'USR1 reaches the trap');
    t.equal((await inspect(sleeper)).State.ExitCode, 42);

    const renamed = e.name('renamed');
    await ok('rename', sleeper, renamed);
    t.equal((await inspect(renamed)).Name, `/${renamed}`);
    t.equal((await docker(['inspect', sleeper])).code, 1, 'old name is gone');

    const w = e.name('wait');
    await ok('run', '-d', '--name', w, 'busybox:fixture', 'sh', '-c', 'sleep 0.5; exit 4');
    t.equal((await ok('wait', w)).trim(), '4', 'wait prints the exit code');
    t.equal((await ok('wait', w)).trim(), '4', 'wait on an exited container returns at once');
  });

  await t.test('stop, kill and rm -f of --rm containers', async (t) => {
    for (const verb of [['stop', '-t', '1'], ['kill'], ['rm', '-f']]) {
      const name = e.name('auto');
      await ok('run', '-d', '--rm', '--name', name, 'busybox:fixture', 'sleep', '300');
      const r = await Promise.race([docker([...verb, name]), new Promise<null>((res) => setTimeout(() => res(null), 10_000))]);
      t.ok(r && r.code === 0, `${verb[0]} returns`);
      await waitFor(async () => (await docker(['inspect', name])).code !== 0, 5000, `${name} auto-removed`);
      t.pass(`${verb[0]}: container removed`);
    }
  });

  await t.test('rm -f and container prune', async (t) => {
    const live = e.name('live');
    await ok('run', '-d', '--name', live, 'busybox:fixture', 'sleep', '300');
    const rm = await docker(['rm', live]);
    t.equal(rm.code, 1);
    t.match(rm.err, /cannot remove container .*: container is running: stop the container before removing or force remove|You cannot remove a running container/);
    t.equal((await ok('rm', '-f', live)).trim(), live);
    t.equal((await docker(['inspect', live])).code, 1);
    const before = (await ok('ps', '-aq', '--filter', 'status=exited')).split('\n').filter(Boolean).length;
    t.ok(before >= 2);
    const pr = await ok('container', 'prune', '-f');
    t.match(pr, /Deleted Containers:/);
    t.match(pr, /Total reclaimed space:/);
    t.equal((await ok('ps', '-aq')).trim(), '', 'nothing left after prune');
  });

  await t.test('health checks', async (t) => {
    const name = e.name('hc');
    await ok('run', '-d', '--name', name, '--health-cmd', 'test -f /tmp/ok', '--health-interval', '200ms', '--health-retries', '2',
      // healthy after 3 s: probes now take a few ms, so "starting" must last longer than the two reads below on a loaded machine
      '--health-start-period', '5s', 'busybox:fixture', 'sh', '-c', 'sleep 3; touch /tmp/ok; sleep 300');
    const health = async () => (await ok('inspect', '-f', '{{.State.Health.Status}}', name)).trim();
    t.equal(await health(), 'starting');
    t.match((await ok('ps', '--filter', `name=${name}`, '--format', '{{.Status}}')).trim(), /\(health: starting\)$/);
    await waitFor(async () => (await health()) === 'healthy', 10_000, 'healthy');
    t.match((await ok('ps', '--filter', `name=${name}`, '--format', '{{.Status}}')).trim(), /\(healthy\)$/);
    t.same((await ok('ps', '--filter', 'health=healthy', '--format', '{{.Names}}')).trim(), name);
    await ok('exec', name, 'rm', '/tmp/ok');
    await waitFor(async () => (await health()) === 'unhealthy', 10_000, 'unhealthy');
    const h = (await inspect(name)).State.Health;
    t.ok(h.FailingStreak >= 2, 'FailingStreak counts the failed probes');
    t.ok(h.Log.length > 0 && h.Log.length <= 5, 'keeps at most 5 probe results');
    t.equal(h.Log[h.Log.length - 1].ExitCode, 1);
    await ok('rm', '-f', name);
  });

  await t.test('events for run --rm', async (t) => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const name = e.name('ev');
    await ok('run', '--rm', '--name', name, 'busybox:fixture', 'true');
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await ok('events', '--since', String(since), '--until', String(until), '--filter', `container=${name}`, '--format', '{{.Type}} {{.Action}}');
    const seq = ev.split('\n').filter(Boolean).filter((l) => l.startsWith('container '));
    const want = ['create', 'attach', 'start', 'die', 'destroy'];
    const got = seq.map((l) => l.split(' ')[1]).filter((a) => want.includes(a!));
    t.same(got.filter((a) => a !== 'attach'), ['create', 'start', 'die', 'destroy'], `order: ${seq.join(', ')}`);
    const json = await ok('events', '--since', String(since), '--until', String(until), '--filter', `container=${name}`, '--filter', 'event=die', '--format', '{{json .}}');
    const die = JSON.parse(json.trim().split('\n')[0]!) as Record<string, any>;
    t.equal(die.Actor.Attributes.name, name);
    t.equal(die.Actor.Attributes.exitCode, '0');
    t.equal(die.Actor.Attributes.image, 'busybox:fixture');
  });
});
