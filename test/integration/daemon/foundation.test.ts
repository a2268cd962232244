// The daemon process on its socket, driven by curl, the real docker CLI and tsctl.
import t from 'tap';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, daemonMain, tsctlMain, removeDir, removeNetworking } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';

const run = promisify(execFile);

t.test('curl, docker version/info and tsctl against the socket', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  const st = fs.statSync(d.socket);
  t.ok(st.isSocket(), 'socket file');
  t.equal(st.mode & 0o777, 0o660, 'socket mode 0660');

  const ping = await run('curl', ['-s', '--unix-socket', d.socket, 'http://x/v1.44/_ping']);
  t.equal(ping.stdout, 'OK');

  const version = await run('docker', ['version'], { env: d.dockerEnv });
  t.match(version.stdout, /Server: tsd/);
  t.match(version.stdout, /API version:\s+1\.44 \(minimum version 1\.24\)/);
  const fmt = await run('docker', ['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}'], { env: d.dockerEnv });
  t.equal(fmt.stdout.trim(), '0.1.0 1.44 linux');

  const info = await run('docker', ['info'], { env: d.dockerEnv });
  t.match(info.stdout, /Storage Driver: overlay2/);
  t.match(info.stdout, /Cgroup Version: [12]/);
  t.match(info.stdout, new RegExp(`Docker Root Dir: ${d.dataRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  t.match(info.stdout, new RegExp(`Kernel Version: ${os.release().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  t.notMatch(info.stderr, /error/i);
  const ncpu = await run('docker', ['info', '--format', '{{.NCPU}} {{.MemTotal}}'], { env: d.dockerEnv });
  t.equal(ncpu.stdout.trim(), `${os.availableParallelism()} ${os.totalmem()}`);

  const tv = await run(process.execPath, [tsctlMain, '--host', `unix://${d.socket}`, 'version']);
  t.match(tv.stdout, /Server:\n Engine:\n  Version:\s+0\.1\.0/);
  const ti = await run(process.execPath, [tsctlMain, 'info'], { env: { ...process.env, DOCKER_HOST: '', TSD_HOST: `unix://${d.socket}` } });
  t.match(ti.stdout, /Storage Driver: overlay2/);

  const bad = await run('curl', ['-s', '--unix-socket', d.socket, 'http://x/v1.99/info']);
  t.same(JSON.parse(bad.stdout), { message: 'client version 1.99 is too new. Maximum supported API version is 1.44' });
});

t.test('a second daemon on the same data root refuses to start', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  const other = path.join(d.dir, 'other.sock');
  const r = await run(process.execPath, [daemonMain, '--host', other, '--data-root', d.dataRoot, '--exec-root', path.join(d.dir, 'run2')]).catch((e) => e);
  t.equal(r.code, 1);
  t.match(r.stderr, `another tsd daemon is already running with data root ${d.dataRoot} (pid ${d.proc.pid})`);
  t.notOk(fs.existsSync(other), 'no socket created');
  const ping = await d.request('GET', '/_ping');
  t.equal(ping.text, 'OK', 'the first daemon is unaffected');
});

t.test('a socket path in use by another daemon is refused', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  const r = await run(process.execPath, [daemonMain, '--host', d.socket, '--data-root', path.join(d.dir, 'data2'), '--exec-root', path.join(d.dir, 'run2'),
    '--bridge', `tsdq${process.pid % 100000}`, '--cgroup-parent', `tsd-test-q${process.pid}`]).catch((e) => e);
  t.equal(r.code, 1);
  t.match(r.stderr, 'is in use by another process');
  t.notOk(fs.existsSync(`/sys/fs/cgroup/pids/tsd-test-q${process.pid}`), 'refused before creating any cgroup');
  t.notOk(fs.existsSync(`/sys/class/net/tsdq${process.pid % 100000}`), 'refused before creating the bridge');
});

t.test('SIGTERM: in-flight requests finish, the socket and pid file go, exit 0', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  t.ok(fs.existsSync(path.join(d.execRoot, 'tsd.pid')));
  // An events stream is a long-lived request: shutdown must end it, not hang on it.
  const events = net.connect(d.socket);
  events.write('GET /v1.44/events HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => events.once('data', r));
  const code = await d.stop('SIGTERM');
  events.destroy();
  t.equal(code, 0);
  t.notOk(fs.existsSync(d.socket), 'socket removed');
  t.notOk(fs.existsSync(path.join(d.execRoot, 'tsd.pid')), 'pid file removed');
  t.match(d.output(), /"msg":"stopped"/);
  // State survives: the engine id is the same after a restart.
  const id1 = fs.readFileSync(path.join(d.dataRoot, 'engine-id'), 'utf8');
  const d2 = await startDaemon(t, ['--data-root', d.dataRoot]);
  const info = await d2.request('GET', '/info');
  t.equal(info.body.ID, id1.trim());
});

t.test('systemd: socket activation and READY=1', privilegedOpts(), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-sd-'));
  const children: ChildProcess[] = [];
  // One teardown, in order: stop the daemon (and wait), then the receiver, then remove what it left.
  t.teardown(async () => {
    for (const c of children.reverse()) {
      if (c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
        c.kill('SIGKILL');
      }
    }
    await removeNetworking(path.join(dir, 'data'), path.join(dir, 'run'), `tsds${process.pid % 100000}`).catch(() => {});
    removeDir(dir);
  });
  const sock = path.join(dir, 'act.sock');
  const notify = path.join(dir, 'notify.sock');
  // socat receives the sd_notify datagram.
  const recv = spawn('socat', ['-u', `UNIX-RECV:${notify}`, '-'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let notified = '';
  recv.stdout.on('data', (b) => (notified += b));
  children.push(recv);
  for (let i = 0; i < 100 && !fs.existsSync(notify); i++) await new Promise((r) => setTimeout(r, 20));
  const act = spawn('systemd-socket-activate', ['-l', sock, '-E', `NOTIFY_SOCKET=${notify}`, process.execPath, daemonMain,
    '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'run'), '--host', path.join(dir, 'unused.sock'),
    '--bridge', `tsds${process.pid % 100000}`, '--bip', '10.251.7.1/24', '--cgroup-parent', `tsd-test-sd-${process.pid}`, '--init-pool', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  act.stdout.on('data', (b) => (out += b));
  act.stderr.on('data', (b) => (out += b));
  children.push(act);
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
  // The first connection makes systemd-socket-activate start tsd with LISTEN_FDS=1.
  const ping = await run('curl', ['-s', '--max-time', '10', '--unix-socket', sock, 'http://x/_ping']);
  t.equal(ping.stdout, 'OK');
  for (let i = 0; i < 100 && !notified.includes('READY=1'); i++) await new Promise((r) => setTimeout(r, 20));
  t.match(notified, 'READY=1');
  t.notOk(fs.existsSync(path.join(dir, 'unused.sock')), 'did not bind its own socket');
  t.match(out, /listening on the socket passed by systemd/);
});

t.test('systemd units pass systemd-analyze verify', async (t) => {
  const dir = t.testdir({});
  const root = path.resolve(path.dirname(daemonMain), '..', '..');
  fs.chmodSync(daemonMain, 0o755);
  const svc = fs.readFileSync(path.join(root, 'systemd', 'tsd.service'), 'utf8').replaceAll('/usr/bin/tsd', daemonMain);
  fs.writeFileSync(path.join(dir, 'tsd.service'), svc);
  fs.copyFileSync(path.join(root, 'systemd', 'tsd.socket'), path.join(dir, 'tsd.socket'));
  const r = await run('systemd-analyze', ['verify', path.join(dir, 'tsd.service'), path.join(dir, 'tsd.socket')]).catch((e) => e);
  t.equal(r.code ?? 0, 0, r.stderr);
  t.match(svc, /Type=notify/);
  t.match(svc, /Delegate=yes/);
  t.match(svc, /KillMode=process/);
});
