// Live restore across versions (#13): a tsd of an earlier commit (built here from git, only
// what its daemon needs) runs containers under live restore; the current tsd, started on the
// same roots after the old one's clean stop (an upgrade: `systemctl restart` of a new
// package), migrates the SQLite schema (2 → current) and adopts them through the old
// version's holder: same Pid and StartedAt, every log line, the published port, exec, the
// exit code of one that exited meanwhile, and containers it starts itself survive its own
// SIGKILL too. And the versions are checked: a holder of another protocol refuses a daemon's
// hello without giving up what it holds, and a daemon refuses to start on a holder of another
// protocol, saying what to do, instead of killing or orphaning its containers.
import t from 'tap';
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { projectRoot, removeDir, startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { migrations } from '../../../store/index.js';
import { alive, sleep, waitFor } from '../../helpers/processes.js';

/**
 * The old version: 33542ce, the first commit whose holder says its protocol (1) in hello.
 * Its store is at migration 2 (the build cache's migration 3 came later), its container rows
 * have no runtime.cgroupName (0c0c6e4) and its log writes were asynchronous (dbb796e).
 */
const OLD = '33542ce10939d218efb8d270fd30969512001cd5';
const OLD_SCHEMA = 2;

const run = promisify(execFile);
const docker = async (d: TestDaemon, ...args: string[]) => (await run('docker', args, { env: d.dockerEnv })).stdout;
const lineNumbers = (out: string) => out.split('\n').filter((l) => /^line \d+$/.test(l)).map((l) => Number(l.slice(5)));
const contiguous = (ns: number[]) => ns.length > 0 && ns.every((n, i) => n === i + 1);
const schemaOf = (d: TestDaemon) => {
  const db = new Database(path.join(d.dataRoot, 'tsd.db'), { readonly: true, fileMustExist: true });
  try { return db.pragma('user_version', { simple: true }) as number; } finally { db.close(); }
};
const holderPidOf = (d: TestDaemon) => Number(fs.readFileSync(path.join(d.execRoot, 'restore', 'holder.pid'), 'utf8'));
const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');

/** Builds the old commit's daemon (git archive + tsc of its entry points, node_modules shared); null without git or the commit. */
async function buildOld(t: { teardown(fn: () => unknown): void }): Promise<string | null> {
  if (spawnSync('git', ['-C', projectRoot, 'cat-file', '-e', `${OLD}^{commit}`]).status !== 0) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-old-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const x = spawnSync('sh', ['-c', `git -C '${projectRoot}' archive ${OLD} | tar -x -C '${dir}'`], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (x.status !== 0) throw new Error(`git archive ${OLD}: ${x.stderr}`);
  fs.symlinkSync(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'));
  // what the daemon loads: its main (and what it imports, dynamic imports included), the holder and the init, both spawned by path
  fs.writeFileSync(path.join(dir, 'tsconfig.old.json'), JSON.stringify({
    extends: './tsconfig.json',
    compilerOptions: { incremental: false, sourceMap: false, noEmitOnError: false },
    include: [], files: ['daemon/main.ts', 'daemon/restore/holder.ts', 'runtime/init/main.ts'],
  }));
  const tsc = path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const b = await run(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.old.json')], { cwd: dir }).catch((e: { stdout?: string }) => e);
  const main = path.join(dir, 'dist', 'daemon', 'main.js');
  for (const f of [main, path.join(dir, 'dist', 'daemon', 'restore', 'holder.js'), path.join(dir, 'dist', 'runtime', 'init', 'main.js')]) {
    if (!fs.existsSync(f)) throw new Error(`the old build has no ${f}: ${(b as { stdout?: string }).stdout ?? ''}`);
  }
  return main;
}

t.test('upgrade: the current tsd adopts the containers an earlier version started, through its holder, after a schema migration', privilegedOpts(), async (t) => {
  const oldMain = await buildOld(t);
  if (!oldMain) {
    t.comment(`skipped: commit ${OLD.slice(0, 7)} is not in this checkout (no git history): nothing to upgrade from`);
    t.pass("nothing to upgrade from");
    return;
  }
  const d1 = await startDaemon(t, ['--live-restore'], {}, undefined, { main: oldMain });
  await docker(d1, 'load', '-i', (await busyboxSaveTar()).path);
  const holder = holderPidOf(d1);
  t.match(cmdline(holder), path.dirname(path.dirname(path.dirname(oldMain))), 'the holder is the old version\'s');
  await docker(d1, 'run', '-d', '--name', 'logger', 'busybox:fixture', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line $i"; usleep 20000; done');
  await docker(d1, 'run', '-d', '--name', 'web', '-p', '127.0.0.1:0:80', 'busybox:fixture', 'sh', '-c', 'mkdir -p /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www');
  const go = path.join(d1.dir, 'go');
  fs.mkdirSync(go);
  await docker(d1, 'run', '-d', '--name', 'quitter', '-v', `${go}:/go`, 'busybox:fixture', 'sh', '-c', 'while [ ! -e /go/now ]; do usleep 100000; done; exit 5');
  const before: Record<string, { Pid: number; StartedAt: string }> = {};
  for (const n of ['logger', 'web', 'quitter']) before[n] = JSON.parse(await docker(d1, 'inspect', '-f', '{{json .State}}', n));
  const addr = (await docker(d1, 'port', 'web', '80/tcp')).trim();
  const get = async () => (await (await fetch(`http://${addr}/index.html`, { signal: AbortSignal.timeout(3000) })).text());
  await waitFor(async () => (await get().catch(() => '')) === 'published\n', 30_000, 'the published port (old version)');

  // the upgrade: the old version stops cleanly, the new one starts on the same roots
  t.equal(await d1.stop('SIGTERM'), 0, 'the old version stops cleanly');
  t.equal(schemaOf(d1), OLD_SCHEMA, `the old version left schema version ${OLD_SCHEMA}`);
  for (const n of ['logger', 'web', 'quitter']) t.ok(alive(before[n]!.Pid), `${n} outlived the old version`);
  fs.writeFileSync(path.join(go, 'now'), '');
  await waitFor(() => !alive(before.quitter!.Pid), 20_000, 'the quitter to exit while no daemon runs');
  await sleep(1000); // the logger writes while no daemon runs

  const d2 = await startDaemon(t, ['--live-restore'], {}, d1);
  t.equal(schemaOf(d2), migrations.length, `the new version migrated the schema to ${migrations.length}`);
  t.equal(holderPidOf(d2), holder, 'the new version drives the old version\'s holder (same protocol)');
  t.ok(alive(holder), 'which still runs');
  t.equal((await docker(d2, 'info', '-f', '{{.LiveRestoreEnabled}}')).trim(), 'true');
  for (const n of ['logger', 'web']) {
    const s = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', n));
    t.equal(s.Running, true, `${n} runs under the new version`);
    t.equal(s.Pid, before[n]!.Pid, `${n}: same Pid`);
    t.equal(s.StartedAt, before[n]!.StartedAt, `${n}: same StartedAt`);
  }
  const q = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', 'quitter'));
  t.equal(q.Status, 'exited');
  t.equal(q.ExitCode, 5, 'the one that exited between the versions has its own exit code');
  const n1 = lineNumbers(await docker(d2, 'logs', 'logger')).length;
  await waitFor(async () => lineNumbers(await docker(d2, 'logs', 'logger')).length > n1 + 20, 15_000, 'new log lines');
  const ns = lineNumbers(await docker(d2, 'logs', 'logger'));
  t.ok(contiguous(ns) && ns.length > 60, `log lines 1..${ns.length} from both versions and between them, none missing or repeated`);
  t.equal((await docker(d2, 'port', 'web', '80/tcp')).trim(), addr, 'the same published port');
  t.equal(await get().catch((e) => String(e)), 'published\n', 'which answers');
  t.equal((await docker(d2, 'exec', 'web', 'cat', '/www/index.html')).trim(), 'published', 'exec works');

  // a container the new version starts through the old holder survives the new version's SIGKILL
  await docker(d2, 'run', '-d', '--name', 'fresh', 'busybox:fixture', 'sleep', '600');
  const fresh = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', 'fresh'));
  await d2.stop('SIGKILL');
  const d3 = await startDaemon(t, ['--live-restore'], {}, d1);
  for (const [n, pid] of [['fresh', fresh.Pid], ['logger', before.logger!.Pid]] as const) {
    const s = JSON.parse(await docker(d3, 'inspect', '-f', '{{json .State}}', n));
    t.ok(s.Running && s.Pid === pid, `${n} adopted again after the new version's SIGKILL`);
  }
  const waiting = run('docker', ['wait', 'logger'], { env: d3.dockerEnv });
  await docker(d3, 'stop', '-t', '1', 'logger');
  t.equal((await waiting).stdout.trim(), '137', 'stop of a container the old version started records its exit');
  await docker(d3, 'rm', '-f', 'logger', 'web', 'quitter', 'fresh');
  t.equal((await docker(d3, 'ps', '-aq')).trim(), '', 'no container left');
});

t.test('protocol versions: a holder refuses a daemon of another protocol and keeps holding; a daemon refuses to start on such a holder', privilegedOpts(), async (t) => {
  const d1 = await startDaemon(t, ['--live-restore']);
  await docker(d1, 'load', '-i', (await busyboxSaveTar()).path);
  await docker(d1, 'run', '-d', '--name', 'logger', 'busybox:fixture', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line $i"; usleep 20000; done');
  const id = (await docker(d1, 'inspect', '-f', '{{.Id}}', 'logger')).trim();
  const pid = JSON.parse(await docker(d1, 'inspect', '-f', '{{json .State.Pid}}', 'logger')) as number;
  await d1.stop('SIGKILL');
  const restoreDir = path.join(d1.execRoot, 'restore');
  const spool = path.join(restoreDir, `${id}.spool`);
  await waitFor(() => fs.existsSync(spool), 10_000, 'the holder to spool the output');

  // a daemon of protocol 999 says hello to the real holder
  const sock = net.connect(path.join(restoreDir, 'holder.sock'));
  await new Promise((r, j) => { sock.once('connect', r); sock.once('error', j); });
  let answer = '';
  sock.on('data', (b) => (answer += b));
  sock.write(`${JSON.stringify({ rid: 1, op: 'hello', pid: process.pid, protocol: 999 })}\n`);
  await waitFor(() => answer.includes('\n'), 10_000, 'the holder\'s answer');
  const m = JSON.parse(answer.split('\n')[0]!);
  t.equal(m.ok, false, 'the holder refuses the hello');
  t.equal(m.protocol, 1, 'and says its own protocol');
  t.match(m.error, /protocol 1, the daemon 999/);
  const size = fs.statSync(spool).size;
  await waitFor(() => fs.statSync(spool).size > size + 200, 10_000, 'the spool to grow');
  t.pass('with that connection open, the holder still drains the container (it did not take the stranger as its daemon)');
  sock.destroy();

  // the current daemon on a holder that answers with another protocol (a fake one, in another exec root)
  const fakeRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-fakeholder-'));
  t.teardown(() => removeDir(fakeRoot));
  fs.mkdirSync(path.join(fakeRoot, 'restore'), { recursive: true });
  const fake = net.createServer((c) => {
    let buf = '';
    c.on('data', (b) => {
      buf += b;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const req = JSON.parse(buf.slice(0, nl));
      c.write(`${JSON.stringify({ rid: req.rid, ok: true, protocol: 2, holderPid: process.pid, containers: [] })}\n`);
    });
  });
  await new Promise<void>((r) => fake.listen(path.join(fakeRoot, 'restore', 'holder.sock'), r));
  t.teardown(() => new Promise<void>((r) => fake.close(() => r())));
  const refused = await startDaemon(t, ['--live-restore', '--exec-root', fakeRoot, '--data-root', path.join(fakeRoot, 'data')]).then(() => null, (e: Error) => e.message);
  t.ok(refused, 'the daemon does not start');
  t.match(refused ?? '', /tsd: cannot start: the live-restore holder on .* speaks protocol 2, this tsd 1/, 'and says why');
  t.match(refused ?? '', /--live-restore=false/, 'and what to do');
  t.notOk(fs.existsSync(path.join(fakeRoot, 'data', 'tsd.db')), 'before it changed anything: no database made or migrated');
  t.notOk(fs.existsSync(path.join(fakeRoot, 'netns')), 'no network set up');

  // the real holder, refused nothing: the next daemon of its protocol adopts the container
  const d2 = await startDaemon(t, ['--live-restore'], {}, d1);
  const s = JSON.parse(await docker(d2, 'inspect', '-f', '{{json .State}}', 'logger'));
  t.ok(s.Running && s.Pid === pid, 'the container is adopted by a daemon of the holder\'s protocol');
  const ns = lineNumbers(await docker(d2, 'logs', 'logger'));
  t.ok(contiguous(ns), `its log lines 1..${ns.length}, none missing`);
  await docker(d2, 'rm', '-f', 'logger');
});
