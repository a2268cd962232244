// tsctl's everyday verbs and flags against a test daemon, each checked through
// the API or the kernel rather than by tsctl's own word.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { startDaemon, tsctlMain } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { freePort } from '../../fixtures/registry.js';

const run = promisify(execFile);

t.test('tsctl verbs', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  const tar = (await busyboxSaveTar()).path;
  const env = { ...process.env, TSD_HOST: '', DOCKER_HOST: `unix://${d.socket}` };
  const tsctl = (...args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> => run(process.execPath, [tsctlMain, ...args], { env, maxBuffer: 64 << 20 }).catch((e) => e as { code: number; stdout: string; stderr: string });
  const ok = async (...args: string[]) => {
    const r = await tsctl(...args);
    if (r.code) throw new Error(`tsctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const inspect = async (name: string) => (await d.request('GET', `/containers/${name}/json`)).body;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsctl-verbs-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  t.match(await ok('load', '-i', tar), /Loaded image: busybox:fixture/, 'load from a file (DOCKER_HOST is honoured)');

  await t.test('run flags reach the container record and the kernel', async (t) => {
    fs.writeFileSync(path.join(tmp, 'env'), '# comment\nFROM_FILE=yes\n');
    fs.mkdirSync(path.join(tmp, 'bind'));
    fs.writeFileSync(path.join(tmp, 'bind', 'f'), 'bound');
    const port = String(await freePort());
    const id = (await ok('run', '-d', '--name', 'full', '-e', 'A=1', '--env-file', path.join(tmp, 'env'), '-p', `127.0.0.1:${port}:80`, '-p', '53/udp',
      '-v', `${path.join(tmp, 'bind')}:/data:ro`, '--mount', 'type=volume,source=vol1,target=/vol', '--tmpfs', '/scratch:size=8m',
      '-m', '48m', '--memory-swap', '96m', '--cpus', '0.5', '--cpuset-cpus', '0', '--pids-limit', '33', '--restart', 'on-failure:2',
      '-u', '1000:1000', '-w', '/tmp', '--read-only', '--cap-drop', 'NET_RAW', '--cap-add', 'SYS_PTRACE', '--security-opt', 'no-new-privileges',
      '-l', 'tier=web', '--health-cmd', 'true', '--health-interval', '1s', '--init', '--hostname', 'h1', '--network-alias', 'ignored-on-default',
      'busybox:fixture', 'sleep', '300')).trim();
    t.match(id, /^[0-9a-f]{64}$/);
    const c = await inspect('full');
    t.same(c.Config.Env.filter((e: string) => /^(A|FROM_FILE)=/.test(e)), ['FROM_FILE=yes', 'A=1'], 'env files first, then -e (docker order)');
    t.same(c.HostConfig.PortBindings['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: port }]);
    t.ok(c.HostConfig.PortBindings['53/udp']);
    t.same(c.HostConfig.Binds, [`${path.join(tmp, 'bind')}:/data:ro`]);
    t.equal(c.HostConfig.Memory, 48 << 20);
    t.equal(c.HostConfig.MemorySwap, 96 << 20);
    t.equal(c.HostConfig.NanoCpus, 5e8);
    t.equal(c.HostConfig.CpusetCpus, '0');
    t.equal(c.HostConfig.PidsLimit, 33);
    t.same(c.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    t.equal(c.Config.User, '1000:1000');
    t.equal(c.Config.WorkingDir, '/tmp');
    t.equal(c.HostConfig.ReadonlyRootfs, true);
    t.same(c.HostConfig.CapDrop, ['NET_RAW']);
    t.same(c.HostConfig.CapAdd, ['SYS_PTRACE']);
    t.same(c.HostConfig.SecurityOpt, ['no-new-privileges']);
    t.equal(c.Config.Labels.tier, 'web');
    t.same(c.Config.Healthcheck.Test, ['CMD-SHELL', 'true']);
    t.equal(c.Config.Healthcheck.Interval, 1e9);
    t.equal(c.HostConfig.Init, true);
    t.equal(c.Config.Hostname, 'h1');
    // and the kernel agrees
    const pid = c.State.Pid;
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    t.match(status, /NoNewPrivs:\s+1/);
    t.equal((await ok('exec', 'full', 'cat', '/data/f')), 'bound');
    t.match(await ok('exec', 'full', 'id'), /uid=1000\S* gid=1000/);
    t.match((await tsctl('exec', 'full', 'touch', '/x')).stderr, /Read-only file system/);
    t.match(await ok('exec', '-u', '0', 'full', 'sh', '-c', 'grep -E "^/dev/|tmpfs /scratch" /proc/mounts | grep scratch'), /size=8192k/);
    t.equal(await ok('port', 'full', '80'), `127.0.0.1:${port}\n`);
    t.match(await ok('port', 'full'), new RegExp(`53/udp -> 0\\.0\\.0\\.0:\\d+\\n80/tcp -> 127\\.0\\.0\\.1:${port}\\n`));
    t.match(await ok('ps', '--filter', 'label=tier=web', '--format', '{{.Names}}|{{.Ports}}|{{.Labels}}'), new RegExp(`^full\\|.*127\\.0\\.0\\.1:${port}->80/tcp.*\\|tier=web\\n$`));
    t.equal(await ok('inspect', '--format', '{{.HostConfig.Memory}} {{json .Config.Cmd}}', 'full'), `${48 << 20} ["sleep","300"]\n`);
    t.equal(await ok('update', '--memory', '64m', '--memory-swap', '128m', '--pids-limit', '40', 'full'), 'full\n');
    t.equal((await inspect('full')).HostConfig.Memory, 64 << 20);
    t.equal((await inspect('full')).HostConfig.PidsLimit, 40);
    t.equal(await ok('rm', '-f', 'full'), 'full\n');
  });

  await t.test('lifecycle verbs', async (t) => {
    await ok('create', '--name', 'lc', 'busybox:fixture', 'sh', '-c', 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.1; done');
    t.equal((await inspect('lc')).State.Status, 'created');
    t.equal(await ok('start', 'lc'), 'lc\n');
    t.equal((await inspect('lc')).State.Status, 'running');
    t.equal(await ok('pause', 'lc'), 'lc\n');
    t.equal((await inspect('lc')).State.Status, 'paused');
    t.equal(await ok('unpause', 'lc'), 'lc\n');
    t.match(await ok('top', 'lc'), /PID[^]*sh -c/);
    t.equal(await ok('rename', 'lc', 'lc2'), '');
    t.equal((await inspect('lc2')).Name, '/lc2');
    t.equal(await ok('stop', '-t', '5', 'lc2'), 'lc2\n');
    t.equal((await inspect('lc2')).State.ExitCode, 0);
    t.match(await ok('logs', 'lc2'), /started\n(.*\n)?got-term\n/);
    t.match(await ok('logs', '-t', '--tail', '1', 'lc2'), /^\d{4}-\d\d-\d\dT[\d:.]+Z got-term\n$/);
    t.equal(await ok('restart', '-t', '1', 'lc2'), 'lc2\n');
    t.equal((await inspect('lc2')).State.Running, true);
    t.equal(await ok('kill', '-s', 'KILL', 'lc2'), 'lc2\n');
    t.equal(await ok('wait', 'lc2'), '137\n');
    t.match(await ok('ps', '-a', '--filter', 'name=lc2'), /Exited \(137\)/);
  });

  await t.test('start -a, exit codes and errors as docker', async (t) => {
    await ok('create', '--name', 'sa', 'busybox:fixture', 'sh', '-c', 'echo attached; exit 3');
    const r = await tsctl('start', '-a', 'sa');
    t.equal(r.code, 3);
    t.equal(r.stdout, 'attached\n');
    t.equal((await tsctl('run', '--rm', 'busybox:fixture', '/nonexistent')).code, 127);
    t.equal((await tsctl('run', '--rm', 'busybox:fixture', '/etc')).code, 126);
    t.equal((await tsctl('run', '--rm', 'nosuchimage:here', 'true')).code, 125);
    const flag = await tsctl('run', '--no-such-flag', 'busybox:fixture');
    t.equal(flag.code, 125);
    t.match(flag.stderr, /unknown flag: --no-such-flag\nSee 'tsctl run --help'/);
    t.equal((await tsctl('stop', 'nope')).code, 1);
    const ins = await tsctl('inspect', 'nope');
    t.equal(ins.code, 1);
    t.equal(ins.stdout, '[]\n');
    t.match(ins.stderr, 'Error: No such object: nope');
    const host = await run(process.execPath, [tsctlMain, '--host', `unix://${d.socket}`, 'version', '--format', '{{.Server.ApiVersion}}'], { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent' } });
    t.equal(host.stdout, '1.44\n', '--host wins over DOCKER_HOST');
    const tsdHost = await run(process.execPath, [tsctlMain, 'version', '--format', '{{.Server.ApiVersion}}'], { env: { ...process.env, TSD_HOST: `unix://${d.socket}`, DOCKER_HOST: 'unix:///nonexistent' } });
    t.equal(tsdHost.stdout, '1.44\n', 'TSD_HOST wins over DOCKER_HOST');
    const echo = spawn(process.execPath, [tsctlMain, 'run', '-i', '--rm', 'busybox:fixture', 'sh', '-c', 'cat; exit 9'], { env });
    let out = '';
    echo.stdout.on('data', (b) => (out += b));
    echo.stdin.end('through stdin\n');
    t.equal(await new Promise((r) => echo.once('exit', r)), 9);
    t.equal(out, 'through stdin\n');
    await ok('rm', 'sa', 'lc2');
  });

  await t.test('files: cp, diff, export, commit', async (t) => {
    await ok('run', '-d', '--name', 'fs', 'busybox:fixture', 'sh', '-c', 'echo made > /made.txt; rm /bin/true; sleep 300');
    for (let i = 0; i < 50 && !(await ok('diff', 'fs')).includes('/made.txt'); i++) await new Promise((r) => setTimeout(r, 100));
    const diff = await ok('diff', 'fs');
    t.match(diff, /^A \/made\.txt$/m);
    t.match(diff, /^D \/bin\/true$/m);
    t.match(diff, /^C \/bin$/m);
    await ok('cp', 'fs:/made.txt', path.join(tmp, 'copied.txt'));
    t.equal(fs.readFileSync(path.join(tmp, 'copied.txt'), 'utf8'), 'made\n');
    fs.writeFileSync(path.join(tmp, 'up.txt'), 'uploaded\n');
    await ok('cp', path.join(tmp, 'up.txt'), 'fs:/tmp/');
    await ok('cp', path.join(tmp, 'up.txt'), 'fs:/tmp/renamed.txt');
    t.equal(await ok('exec', 'fs', 'cat', '/tmp/up.txt', '/tmp/renamed.txt'), 'uploaded\nuploaded\n');
    await ok('export', '-o', path.join(tmp, 'fs.tar'), 'fs');
    t.match((await run('tar', ['-tf', path.join(tmp, 'fs.tar')])).stdout, /^\.?\/?made\.txt$/m);
    const img = (await ok('commit', '-m', 'snap', '-c', 'ENV SNAP=1', 'fs', 'snap:v1')).trim();
    t.match(img, /^sha256:[0-9a-f]{64}$/);
    t.equal(await ok('run', '--rm', 'snap:v1', 'sh', '-c', 'cat /made.txt; echo $SNAP'), 'made\n1\n');
    await ok('rm', '-f', 'fs');
  });

  await t.test('images: tag, history, save, import, rmi, image prune', async (t) => {
    t.equal(await ok('tag', 'busybox:fixture', 'mine/box:t1'), '');
    t.match(await ok('images', 'mine/box'), /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n(?:.*\n)*mine\/box\s+t1\s+[0-9a-f]{12}\s+.+ago\s+[\d.]+[kM]B\n/);
    t.match(await ok('history', 'snap:v1'), /IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n[0-9a-f]{12}\s.*snap/);
    await ok('save', '-o', path.join(tmp, 'save.tar'), 'mine/box:t1');
    t.match((await run('tar', ['-tf', path.join(tmp, 'save.tar')])).stdout, /manifest\.json/);
    t.match(await ok('import', path.join(tmp, 'fs.tar'), 'imported:v1'), /^sha256:[0-9a-f]{64}\n$/);
    t.equal(await ok('run', '--rm', 'imported:v1', 'cat', '/made.txt'), 'made\n');
    t.match(await ok('rmi', 'mine/box:t1', 'imported:v1'), /Untagged: mine\/box:t1\n[^]*Untagged: imported:v1/);
    t.equal((await tsctl('rmi', 'mine/box:t1')).code, 1);
    t.match(await ok('image', 'prune', '-f'), /Total reclaimed space/);
  });

  await t.test('networks, volumes, system', async (t) => {
    const netId = (await ok('network', 'create', '--subnet', '10.213.7.0/24', '--label', 'k=v', 'clinet')).trim();
    t.match(netId, /^[0-9a-f]{64}$/);
    t.match(await ok('network', 'ls'), /clinet\s+bridge\s+local/);
    t.equal(await ok('network', 'inspect', '-f', '{{.Labels.k}}', 'clinet'), 'v\n');
    await ok('run', '-d', '--name', 'n1', '--network', 'clinet', '--network-alias', 'web', '--ip', '10.213.7.50', 'busybox:fixture', 'sleep', '300');
    t.equal((await inspect('n1')).NetworkSettings.Networks.clinet.IPAddress, '10.213.7.50');
    t.same((await inspect('n1')).NetworkSettings.Networks.clinet.Aliases?.includes('web'), true);
    await ok('run', '-d', '--name', 'n2', 'busybox:fixture', 'sleep', '300');
    t.equal(await ok('network', 'connect', '--alias', 'other', 'clinet', 'n2'), '');
    t.ok((await inspect('n2')).NetworkSettings.Networks.clinet);
    t.ok((await inspect('n2')).NetworkSettings.Networks.clinet.Aliases?.includes('other'), 'connect --alias');
    t.equal(await ok('network', 'disconnect', 'clinet', 'n2'), '');
    t.notOk((await inspect('n2')).NetworkSettings.Networks.clinet);
    await ok('rm', '-f', 'n1', 'n2');
    t.equal(await ok('network', 'rm', 'clinet'), 'clinet\n');

    t.equal(await ok('volume', 'create', '--label', 'a=b', 'v1'), 'v1\n');
    t.match(await ok('volume', 'ls'), /local\s+v1\n/);
    t.equal(await ok('volume', 'inspect', '-f', '{{.Labels.a}} {{.Driver}}', 'v1'), 'b local\n');
    t.equal(await ok('volume', 'rm', 'v1'), 'v1\n');
    t.equal((await tsctl('volume', 'inspect', 'v1')).code, 1);

    t.match(await ok('system', 'df'), /TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+\d+/);
    t.match(await ok('info'), /Cgroup Version: [12]/);
    t.match(await ok('version'), /Server:[^]*API version:\s+1\.44/);
    t.match(await ok('system', 'prune', '-f', '--volumes'), /Total reclaimed space/);
  });

  await t.test('events streams as the daemon publishes', async (t) => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await ok('run', '--rm', '--name', 'ev', 'busybox:fixture', 'true');
    const r = await ok('events', '--since', since, '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'container=ev');
    t.match(r, /^\d{4}-\d\d-\d\dT[\d:]+\.\d{9}Z container create [0-9a-f]{64} \(.*name=ev.*\)$/m);
    t.match(r, /container start [0-9a-f]{64}/);
    t.match(r, /container die [0-9a-f]{64} \(.*exitCode=0/);
    t.match(r, /container destroy/);
  });
});
