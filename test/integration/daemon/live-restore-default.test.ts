// Live restore is on by default (#13): a daemon given no live-restore setting (an empty
// config file, so the test helper adds no --live-restore=false) reports it in `docker info`
// and leaves its containers running across a clean stop; "live-restore": false in the
// config file keeps the old behaviour (a stop stops them, info says false).
// Exec sessions across a restart: a running `docker exec` loses its stream when the daemon
// stops (as with dockerd's live restore, which loses exec streams too): its client ends
// with an error, an attached process ends with its stdio (EOF on stdin, EPIPE/SIGPIPE on
// output); a detached one (`exec -d`) keeps running inside the container, as under dockerd,
// and ends with it. The container keeps running and exec works again after the restart.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { alive, sleep, waitFor } from '../../helpers/processes.js';

const run = promisify(execFile);
const docker = async (d: TestDaemon, ...args: string[]) => (await run('docker', args, { env: d.dockerEnv })).stdout;
/** The host pids of the processes `docker top` lists, by command line. */
async function topPids(d: TestDaemon, name: string): Promise<Map<string, number>> {
  const lines = (await docker(d, 'top', name, '-eo', 'pid,args')).split('\n').slice(1).filter(Boolean);
  return new Map(lines.map((l) => { const m = /^\s*(\d+)\s+(.*)$/.exec(l)!; return [m[2]!.trim(), Number(m[1])]; }));
}

t.test('live restore is the default; "live-restore": false keeps the old behaviour', privilegedOpts(), async (t) => {
  const cfgDir = fs.mkdtempSync('/tmp/tsd-lrcfg-');
  t.teardown(() => fs.rmSync(cfgDir, { recursive: true, force: true }));
  const none = path.join(cfgDir, 'none.json');
  const off = path.join(cfgDir, 'off.json');
  fs.writeFileSync(none, '{}');
  fs.writeFileSync(off, '{"live-restore": false}');

  const d1 = await startDaemon(t, ['--config-file', none]);
  await docker(d1, 'load', '-i', (await busyboxSaveTar()).path);
  t.equal((await docker(d1, 'info', '-f', '{{.LiveRestoreEnabled}}')).trim(), 'true', 'docker info: LiveRestoreEnabled with no setting');
  t.ok(fs.existsSync(path.join(d1.execRoot, 'restore', 'holder.sock')), 'the holder runs');
  await docker(d1, 'run', '-d', '--name', 'keeper', 'busybox:fixture', 'sleep', '600');
  const s1 = JSON.parse(await docker(d1, 'inspect', '-f', '{{json .State}}', 'keeper'));

  // exec sessions running when the daemon stops
  const ids = JSON.parse(await docker(d1, 'inspect', '-f', '{{json .ExecIDs}}', 'keeper')) as string[] | null;
  t.same(ids ?? [], [], 'no exec yet');
  const interactive = spawn('docker', ['exec', '-i', 'keeper', 'cat'], { env: d1.dockerEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let echoed = '';
  interactive.stdout.on('data', (b) => (echoed += b));
  const interactiveEnd = new Promise<number | null>((r) => interactive.once('exit', (code) => r(code)));
  interactive.stdin.write('before the restart\n');
  await waitFor(() => echoed.includes('before the restart'), 15_000, 'the exec to echo');
  const writer = spawn('docker', ['exec', 'keeper', 'sh', '-c', 'while true; do echo tick; usleep 100000; done'], { env: d1.dockerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  writer.stdout.resume();
  const writerEnd = new Promise<number | null>((r) => writer.once('exit', (code) => r(code)));
  await docker(d1, 'exec', '-d', 'keeper', 'sleep', '601');
  const attach = spawn('docker', ['attach', '--sig-proxy=false', 'keeper'], { env: d1.dockerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const attachEnd = new Promise<number | null>((r) => attach.once('exit', (code) => r(code)));
  let procs = new Map<string, number>();
  await waitFor(async () => (procs = await topPids(d1, 'keeper')).has('sleep 601') && procs.has('cat') && [...procs.keys()].some((k) => k.startsWith('sh -c')), 15_000, 'the exec processes in docker top');
  const execIds = JSON.parse(await docker(d1, 'inspect', '-f', '{{json .ExecIDs}}', 'keeper')) as string[];
  t.equal(execIds.length, 3, 'three exec sessions');
  const catPid = procs.get('cat')!;
  const shPid = [...procs.entries()].find(([k]) => k.startsWith('sh -c'))![1];
  const detachedPid = procs.get('sleep 601')!;

  await sleep(500); // the attach is connected
  // the streams of containers left running do not hold the stop up (it used to wait for them until killed)
  t.equal(await d1.stop('SIGTERM'), 0, 'a clean stop, with exec and attach streams open');
  t.ok(alive(s1.Pid), 'with no setting, a clean stop leaves the container running');
  t.not(await interactiveEnd, 0, 'the exec -i client ends with an error: its stream went with the daemon');
  t.not(await writerEnd, 0, 'so does an attached exec that writes');
  t.ok((await attachEnd) !== null, 'and docker attach ends');
  await waitFor(() => !alive(catPid), 10_000, 'the attached cat to end (EOF on its stdin)');
  await waitFor(() => !alive(shPid), 10_000, 'the attached writer to end (its output has no reader)');
  t.pass('the attached exec processes ended with their streams');
  t.ok(alive(detachedPid), 'a detached exec keeps running in the container, as under dockerd');

  const d2 = await startDaemon(t, ['--config-file', none], {}, d1);
  const s2 = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', 'keeper'));
  t.equal(s2.Running, true, 're-adopted after the restart');
  t.equal(s2.Pid, s1.Pid, 'same Pid');
  t.equal(s2.StartedAt, s1.StartedAt, 'same StartedAt');
  t.equal((await docker(d2, 'exec', 'keeper', 'echo', 'again')).trim(), 'again', 'exec works again after the restart');
  const again = spawn('docker', ['exec', '-i', 'keeper', 'cat'], { env: d2.dockerEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let echoed2 = '';
  again.stdout.on('data', (b) => (echoed2 += b));
  const againEnd = new Promise<number | null>((r) => again.once('exit', (code) => r(code)));
  again.stdin.end('after the restart\n');
  t.equal(await againEnd, 0, 'an interactive exec runs to its end on the adopted container');
  t.equal(echoed2, 'after the restart\n', 'with its stdin and stdout');
  const old = await d2.request('GET', `/exec/${execIds[0]}/json`);
  t.equal(old.status, 404, 'an exec session of the old daemon is gone (sessions live in memory, as dockerd\'s)');
  t.ok((await topPids(d2, 'keeper')).has('sleep 601'), 'docker top still shows the detached exec');
  await docker(d2, 'rm', '-f', 'keeper');
  await waitFor(() => !alive(detachedPid) && !alive(s1.Pid), 10_000, 'the container and its detached exec to end');
  t.pass('rm -f ends the detached exec with its container: no exec process is left');
  t.equal(await d2.stop('SIGTERM'), 0);

  // "live-restore": false: the old behaviour
  const d3 = await startDaemon(t, ['--config-file', off], {}, d1);
  t.equal((await docker(d3, 'info', '-f', '{{.LiveRestoreEnabled}}')).trim(), 'false', 'docker info says so');
  await docker(d3, 'run', '-d', '--name', 'plain', 'busybox:fixture', 'sleep', '600');
  const pp = JSON.parse(await docker(d3, 'inspect', '-f', '{{json .State.Pid}}', 'plain')) as number;
  t.equal(await d3.stop('SIGTERM'), 0);
  await waitFor(() => !alive(pp), 15_000, 'the container to stop with the daemon');
  t.pass('a clean stop stops the containers');
  const d4 = await startDaemon(t, ['--config-file', off], {}, d1);
  t.equal(JSON.parse(await docker(d4, 'inspect', '-f', '{{json .State.Running}}', 'plain')), false, 'and they are recorded stopped');
  await docker(d4, 'rm', '-f', 'plain');
});
