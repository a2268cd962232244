// --live-restore (#13): SIGKILL and SIGTERM of the daemon leave running containers
// running; the next daemon on the same roots re-adopts them (same Pid and
// StartedAt, logs with no line missing or repeated, wait/stop/kill/rm -f, the
// published port, stdin, pause), and a container that exited while the daemon was
// down shows its own exit code. Driven with the docker CLI against the real daemon.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { killCgroupTree, startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { alive, sleep, waitFor } from '../../helpers/processes.js';

const run = promisify(execFile);


async function freeBip(): Promise<string> {
  const routes = (await run('ip', ['-4', 'route'])).stdout;
  for (;;) {
    const a = 100 + Math.floor(Math.random() * 150);
    const b = Math.floor(Math.random() * 250);
    if (!routes.includes(`10.${a}.${b}.`)) return `10.${a}.${b}.1/24`;
  }
}

/** The numbers of "line N" records in `docker logs`, checked to be 1..max with no gap or repeat. */
function lineNumbers(out: string): number[] {
  return out.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => /^line \d+$/.test(l)).map((l) => Number(l.slice(5)));
}
function contiguous(ns: number[]): boolean {
  return ns.length > 0 && ns.every((n, i) => n === i + 1);
}
/** Where the numbers first break the 1..n run (for the failure message). */
function firstBreak(ns: number[]): string {
  const i = ns.findIndex((n, j) => n !== j + 1);
  return i < 0 ? 'none' : `at index ${i}: ${ns.slice(Math.max(0, i - 2), i + 3).join(',')}`;
}

t.test('live restore: containers survive SIGKILL and SIGTERM of the daemon', privilegedOpts(), async (t) => {
  let current: TestDaemon | null = null;
  const pids: number[] = [];
  let holderPid = 0;
  let cgroupParent = '';
  // A daemon under --live-restore leaves its containers running when it stops, and the holder
  // outlives it: whatever happens, remove them through the daemon if one runs, then from the
  // kernel (thaw, kill, rmdir the cgroups), then end the holder. Runs before the helper's teardown.
  const cleanup = async () => {
    const daemonAlive = () => !!current && current.proc.exitCode === null && current.proc.signalCode === null;
    if (current && daemonAlive()) {
      const env = current.dockerEnv;
      const ids = (await run('docker', ['ps', '-aq'], { env }).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
      if (ids.length) await run('docker', ['rm', '-f', ...ids], { env }).catch(() => {});
    }
    if (cgroupParent) killCgroupTree(cgroupParent, daemonAlive());
    if (process.env.LR_DEBUG) process.stderr.write(`kill pids ${pids.join(' ')} holder ${holderPid} self ${process.pid}\n`);
    for (const p of pids) if (p > 0) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    if (holderPid > 0) try { process.kill(holderPid, 'SIGKILL'); } catch { /* gone */ }
  };
  try {
    await scenario();
  } finally {
    await cleanup();
  }

  async function scenario(): Promise<void> {
  // A subnet no bridge on this host routes yet (a colleague's leftover bridge on the helper's pick
  // would take the published port's traffic), kept for every restart.
  const bip = await freeBip();
  const d1 = await startDaemon(t, ['--live-restore', '--bip', bip]);
  current = d1;
  cgroupParent = d1.cgroupParent;
  const holderPidFile = path.join(d1.execRoot, 'restore', 'holder.pid');
  await waitFor(() => fs.existsSync(holderPidFile), 10_000, 'the holder');
  holderPid = Number(fs.readFileSync(holderPidFile, 'utf8'));
  const docker = async (d: TestDaemon, ...args: string[]) => (await run('docker', args, { env: d.dockerEnv })).stdout;
  const { path: tar } = await busyboxSaveTar();
  await docker(d1, 'load', '-i', tar);

  await docker(d1, 'run', '-d', '--name', 'logger', 'busybox:fixture', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line $i"; usleep 20000; done');
  // exits with 7 once the test says so (after the daemon was killed), through a bind-mounted directory
  const go = path.join(d1.dir, 'go');
  fs.mkdirSync(go);
  await docker(d1, 'run', '-d', '--name', 'quitter', '-v', `${go}:/go`, 'busybox:fixture', 'sh', '-c', 'while [ ! -e /go/now ]; do usleep 100000; done; exit 7');
  await docker(d1, 'run', '-d', '--name', 'web', '-p', '127.0.0.1:0:80', 'busybox:fixture', 'sh', '-c', 'mkdir -p /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www');
  await docker(d1, 'run', '-d', '-i', '--name', 'cat', 'busybox:fixture', 'cat');
  await docker(d1, 'run', '-d', '--name', 'frozen', 'busybox:fixture', 'sleep', '600');
  await docker(d1, 'pause', 'frozen');
  await docker(d1, 'run', '-d', '-t', '--name', 'tty', 'busybox:fixture', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line $i"; usleep 50000; done');
  await docker(d1, 'run', '-d', '--name', 'always', '--restart', 'always', 'busybox:fixture', 'sleep', '600');
  const before: Record<string, { Pid: number; StartedAt: string }> = {};
  for (const n of ['logger', 'quitter', 'web', 'cat', 'frozen', 'tty', 'always']) {
    const s = JSON.parse(await docker(d1, 'inspect', '-f', '{{json .State}}', n));
    before[n] = s;
    if (n !== 'quitter') t.ok(s.Pid > 0, `${n} runs`);
    pids.push(s.Pid);
  }
  const addr = (await docker(d1, 'port', 'web', '80/tcp')).trim();
  const get = async () => (await (await fetch(`http://${addr}/index.html`, { signal: AbortSignal.timeout(3000) })).text());
  let last = '';
  await waitFor(async () => (await get().catch((err) => { last = String(err.cause ?? err); return ''; })) === 'published\n', 30_000, 'the published port')
    .catch((err: Error) => { throw new Error(`${err.message} ${addr}: ${last}\n${d1.output().slice(-3000)}`); });

  // ---- SIGKILL --------------------------------------------------------------
  await d1.stop('SIGKILL');
  for (const n of ['logger', 'web', 'cat', 'frozen', 'tty', 'always']) t.ok(alive(before[n]!.Pid), `${n} outlived the killed daemon`);
  // the quitter exits (code 7) and the logger keeps writing while no daemon runs
  t.ok(before.quitter!.Pid > 0, 'the quitter was still running when the daemon was killed');
  fs.writeFileSync(path.join(go, 'now'), '');
  await waitFor(() => !alive(before.quitter!.Pid), 20_000, 'the quitter to exit');
  await sleep(1500);

  // the same --bip as the first daemon (a changed default subnet would replace the bridge under the running containers)
  const d2 = await startDaemon(t, ['--live-restore', '--bip', bip], {}, d1);
  current = d2;
  for (const n of ['logger', 'web', 'cat', 'frozen', 'tty', 'always']) {
    const s = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', n));
    t.equal(s.Running, true, `${n} is running after the restart`);
    t.equal(s.Pid, before[n]!.Pid, `${n}: same Pid`);
    t.equal(s.StartedAt, before[n]!.StartedAt, `${n}: same StartedAt`);
  }
  t.equal(JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State.Paused}}', 'frozen')), true, 'the paused one is still paused');
  const q = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', 'quitter'));
  t.equal(q.Status, 'exited', 'the container that exited while the daemon was down is exited');
  t.equal(q.ExitCode, 7, 'with its own exit code');
  t.ok(Date.parse(q.FinishedAt) < Date.now() - 1000, 'and the time it exited, not the boot time');
  t.equal((await docker(d2, 'wait', 'quitter')).trim(), '7', 'docker wait gives its code');
  t.match(await docker(d2, 'ps', '--format', '{{.Names}}'), /logger/, 'docker ps lists the adopted ones');

  // logs: every line, in order, including those written while the daemon was down, and new ones
  const n1 = lineNumbers(await docker(d2, 'logs', 'logger'));
  await waitFor(async () => lineNumbers(await docker(d2, 'logs', 'logger')).length > n1.length + 20, 15_000, 'new log lines');
  const n2 = lineNumbers(await docker(d2, 'logs', 'logger'));
  t.ok(contiguous(n2), `log lines 1..${n2.length} with none missing or repeated (break: ${firstBreak(n2)})`);
  t.ok(n2.length > 100, `lines from before, during and after the outage (${n2.length})`);
  const stamped = (await docker(d2, 'logs', '-t', 'logger')).split('\n').filter(Boolean);
  t.ok(stamped.every((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z line \d+$/.test(l)), 'every line has a timestamp');
  const times = stamped.map((l) => Date.parse(l.split(' ')[0]!));
  t.ok(times.every((x, i) => i === 0 || x >= times[i - 1]!), 'timestamps in order');

  // a tty container: its output comes through the pty master the holder kept
  const nt1 = lineNumbers(await docker(d2, 'logs', 'tty')).length;
  await waitFor(async () => lineNumbers(await docker(d2, 'logs', 'tty')).length > nt1 + 5, 15_000, 'new tty lines');
  const nt = lineNumbers(await docker(d2, 'logs', 'tty'));
  t.ok(contiguous(nt), `tty lines 1..${nt.length} with none missing or repeated (break: ${firstBreak(nt)})`);

  // the published port still answers; exec, top and stats work
  const addr2 = (await docker(d2, 'port', 'web', '80/tcp')).trim();
  t.equal(addr2, addr, 'the same host port');
  const body2 = await get().catch((err) => String(err.cause ?? err));
  t.equal(body2, 'published\n', 'the published port answers after the restart');
  if (body2 !== 'published\n') t.comment(d2.output().split('\n').filter((l) => /publish|proxy|port/i.test(l)).join('\n'));
  t.equal((await docker(d2, 'exec', 'web', 'cat', '/www/index.html')).trim(), 'published', 'exec works');
  t.match(await docker(d2, 'top', 'web'), /httpd/, 'top works');

  // stdin: what goes in through attach comes out in the logs
  const att = spawn('docker', ['attach', '--sig-proxy=false', 'cat'], { env: d2.dockerEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let attOut = '';
  att.stdout.on('data', (d) => (attOut += d));
  await sleep(1000);
  att.stdin.write('hello after restore\n');
  await waitFor(() => attOut.includes('hello after restore'), 10_000, 'stdin echoed back through attach');
  att.kill('SIGKILL');
  t.match(await docker(d2, 'logs', 'cat'), /hello after restore/, 'stdin reached the adopted container');

  await docker(d2, 'unpause', 'frozen');
  t.equal(JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State.Paused}}', 'frozen')), false, 'unpause works');

  // wait + stop + kill on adopted containers get their real exits
  const waiting = run('docker', ['wait', 'logger'], { env: d2.dockerEnv });
  await docker(d2, 'stop', '-t', '1', 'logger');
  t.equal((await waiting).stdout.trim(), '137', 'docker wait on an adopted container gives its exit code');
  t.equal(JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State.ExitCode}}', 'logger')), 137, 'stop recorded the exit');
  t.notOk(alive(before.logger!.Pid), 'stop killed it');
  await docker(d2, 'kill', '-s', 'KILL', 'web');
  await waitFor(async () => JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State.Running}}', 'web')) === false, 10_000, 'web to be recorded exited');
  t.equal(JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State.ExitCode}}', 'web')), 137, 'kill recorded 137');

  // ---- SIGTERM (a clean stop) ---------------------------------------------------
  await docker(d2, 'rm', '-f', 'logger', 'web', 'quitter');
  await docker(d2, 'run', '-d', '--name', 'logger2', 'busybox:fixture', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line $i"; usleep 20000; done');
  const l2 = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', 'logger2'));
  pids.push(l2.Pid);
  await sleep(500);
  t.equal(await d2.stop('SIGTERM'), 0, 'the daemon stops cleanly');
  t.ok(alive(l2.Pid), 'a clean stop under --live-restore leaves the container running');
  t.ok(alive(before.always!.Pid), 'the --restart always one too');
  await sleep(1500);
  const d3 = await startDaemon(t, ['--live-restore', '--bip', bip], {}, d1);
  current = d3;
  const s3 = JSON.parse(await docker(d3, 'inspect', '-f', '{{json .State}}', 'logger2'));
  t.equal(s3.Running, true, 'logger2 is running after the clean restart');
  t.equal(s3.Pid, l2.Pid, 'same Pid');
  await sleep(500);
  const n3 = lineNumbers(await docker(d3, 'logs', 'logger2'));
  t.ok(contiguous(n3) && n3.length > 50, `logger2's lines 1..${n3.length} with none missing or repeated (break: ${firstBreak(n3)})`);
  // rm -f works on adopted containers and leaves nothing behind
  const all = ['logger2', 'cat', 'frozen', 'tty', 'always'];
  const ids = [];
  for (const n of all) ids.push((await docker(d3, 'inspect', '-f', '{{.Id}}', n)).trim());
  await docker(d3, 'rm', '-f', ...all);
  for (const n of [...all.map((x) => x === 'logger2' ? l2.Pid : before[x]!.Pid)]) t.notOk(alive(n), `process ${n} is gone after rm -f`);
  const mounts = fs.readFileSync('/proc/mounts', 'utf8');
  t.ok(ids.every((id) => !mounts.includes(id)), 'no rootfs mount left');
  t.equal((await docker(d3, 'ps', '-aq')).trim(), '', 'no container left');
  t.equal(await d3.stop('SIGTERM'), 0);
  // a daemon without --live-restore stops its containers as before
  const d4 = await startDaemon(t, ['--bip', bip], {}, d1);
  current = d4;
  await docker(d4, 'run', '-d', '--name', 'plain', 'busybox:fixture', 'sleep', '600');
  const pp = JSON.parse(await docker(d4, 'inspect', '-f', '{{json .State.Pid}}', 'plain'));
  pids.push(pp);
  t.equal(await d4.stop('SIGTERM'), 0);
  await waitFor(() => !alive(pp), 15_000, 'the container to stop with the daemon');
  t.pass('without --live-restore a stop stops the containers');
  }
});

t.test('without live restore, --restart always containers come back after a crash', privilegedOpts(), async (t) => {
  // The boot used to restart them before the network reconcile released their old endpoints
  // ("endpoint with name x already exists in network bridge"): restarts now come after it.
  const bip = await freeBip();
  const d1 = await startDaemon(t, ['--bip', bip]);
  const docker = async (d: TestDaemon, ...args: string[]) => (await run('docker', args, { env: d.dockerEnv })).stdout;
  await docker(d1, 'load', '-i', (await busyboxSaveTar()).path);
  await docker(d1, 'run', '-d', '--name', 'back', '--restart', 'always', '-p', '127.0.0.1:0:80', 'busybox:fixture', 'sleep', '600');
  const pid1 = JSON.parse(await docker(d1, 'inspect', '-f', '{{json .State.Pid}}', 'back'));
  await d1.stop('SIGKILL');
  const d2 = await startDaemon(t, ['--bip', bip], {}, d1);
  try {
    const s = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', 'back'));
    t.equal(s.Running, true, 'it runs again after the boot');
    t.not(s.Pid, pid1, 'as a new process (the old one was killed: no live restore)');
    t.equal(s.Error, '', 'the restart on boot did not fail');
    t.notOk(alive(pid1), 'the old process is gone');
    t.match(await docker(d2, 'port', 'back'), /80\/tcp -> 127\.0\.0\.1:\d+/, 'with its port published again');
  } finally {
    await docker(d2, 'rm', '-f', 'back').catch(() => '');
  }
});

t.test('live restore: the holder goes once every container it held exited, and leaves their exit and output on disk', privilegedOpts(), async (t) => {
  const bip = await freeBip();
  const d1 = await startDaemon(t, ['--live-restore', '--bip', bip]);
  const docker = async (d: TestDaemon, ...args: string[]) => (await run('docker', args, { env: d.dockerEnv })).stdout;
  const holderPidFile = path.join(d1.execRoot, 'restore', 'holder.pid');
  await waitFor(() => fs.existsSync(holderPidFile), 10_000, 'the holder');
  const holderPid = Number(fs.readFileSync(holderPidFile, 'utf8'));
  let pid = 0;
  try {
    await docker(d1, 'load', '-i', (await busyboxSaveTar()).path);
    await docker(d1, 'run', '-d', '--name', 'brief', 'busybox:fixture', 'sh', '-c', 'echo before; sleep 4; echo while-down; exit 3');
    pid = JSON.parse(await docker(d1, 'inspect', '-f', '{{json .State.Pid}}', 'brief'));
    await waitFor(async () => (await docker(d1, 'logs', 'brief')).includes('before'), 10_000, 'the first line');
    await d1.stop('SIGKILL');
    await waitFor(() => !alive(pid), 20_000, 'the container to exit');
    await waitFor(() => !alive(holderPid), 20_000, 'the holder to exit, nothing left to hold');
    const d2 = await startDaemon(t, ['--live-restore', '--bip', bip], {}, d1);
    const s = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', 'brief'));
    t.equal(s.Status, 'exited');
    t.equal(s.ExitCode, 3, 'its own exit code, from the record the holder left');
    t.equal((await docker(d2, 'logs', 'brief')).split('\n').filter(Boolean).join(','), 'before,while-down', 'the output written while down, from the spool');
    await docker(d2, 'rm', '-f', 'brief');
  } finally {
    if (pid > 0) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    try { process.kill(holderPid, 'SIGKILL'); } catch { /* gone */ }
  }
});
