// Starts a tsd daemon as a child process on a temporary socket, data root, exec
// root, bridge and cgroup parent, and always tears it down (t.teardown).
//
// Live restore is tsd's default (#13), but a test daemon runs with --live-restore=false
// unless the test asks for it (a --live-restore flag or a --config-file of its own): a
// test's containers then end with its daemon, as they did before. Whatever the daemon
// ran with, the teardown also ends what live restore leaves behind once every daemon
// of the test's directory is stopped: the processes of its cgroup tree (thawed first),
// the tree itself and the holder of its exec root (<exec-root>/restore/holder.pid).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { openDatabase } from '../../store/index.js';
import { createNetworkController } from '../../netctl/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const distRoot = path.resolve(here, '..', '..'); // dist/
export const projectRoot = path.resolve(distRoot, '..');
export const daemonMain = path.join(distRoot, 'daemon', 'main.js');
export const tsctlMain = path.join(distRoot, 'cli', 'main.js');

export interface TestDaemon {
  socket: string;
  dataRoot: string;
  execRoot: string;
  bridge: string;
  /** The default bridge's --bip in effect (kept by a restart with `again`: a new subnet would replace the bridge under live containers). */
  bip: string;
  cgroupParent: string;
  dir: string;
  proc: ChildProcess;
  output: () => string;
  /** GET/POST helper over the socket: returns status, headers and parsed body (JSON when possible). */
  request(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any; text: string }>;
  /** Environment for running the real docker CLI against this daemon. */
  dockerEnv: NodeJS.ProcessEnv;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

interface Teardownable { teardown(fn: () => unknown): void }

let counter = 0;
/** The daemons started here and still running (a teardown waits for all of one directory's). */
const running = new Set<{ dir: string; cgroupParent: string; stop: () => Promise<unknown> }>();

/** A flag's value as the daemon reads it: the last `--flag value` or `--flag=value` wins. */
function flagValue(args: string[], flag: string): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag && i + 1 < args.length) v = args[++i];
    else if (args[i]!.startsWith(`${flag}=`)) v = args[i]!.slice(flag.length + 1);
  }
  return v;
}

/** The test's own live-restore choice (a flag, or a config file that may set the key); else off. */
export function liveRestoreArgs(extraArgs: string[]): string[] {
  const chooses = extraArgs.some((a) => a === '--live-restore' || a.startsWith('--live-restore=') || a === '--config-file' || a.startsWith('--config-file='));
  return chooses ? [] : ['--live-restore=false'];
}

/**
 * `again`: a daemon started on an earlier one's directories, bridge and cgroup parent
 * (a restart, after a clean stop or a crash); its teardown removes them as the first's would.
 * `opts.main`: another build's daemon/main.js (an older tsd, for upgrade tests).
 */
export async function startDaemon(t: Teardownable, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}, again?: TestDaemon, opts: { main?: string } = {}): Promise<TestDaemon> {
  const n = `${process.pid % 100000}${counter++}`;
  const dir = again?.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-test-'));
  const socket = path.join(dir, 'tsd.sock');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'run');
  const bridge = again?.bridge ?? `tsdt${n}`.slice(0, 15);
  const cgroupParent = again?.cgroupParent ?? `tsd-test-${n}`;
  const given = extraArgs.lastIndexOf('--bip');
  const bip = given >= 0 ? extraArgs[given + 1]! : again?.bip ?? freeBip();
  const args = [opts.main ?? daemonMain, '--host', socket, '--data-root', dataRoot, '--exec-root', execRoot, '--bridge', bridge,
    '--bip', bip, '--cgroup-parent', cgroupParent, '--log-level', process.env.TSD_TEST_LOG_LEVEL ?? 'debug',
    ...liveRestoreArgs(extraArgs), ...extraArgs];
  // what this daemon really uses when the test overrides the helper's picks (a restart on an earlier daemon's roots)
  const realCgroupParent = flagValue(args, '--cgroup-parent')!;
  const realExecRoot = flagValue(args, '--exec-root')!;
  const realDataRoot = flagValue(args, '--data-root')!;
  let out = '';
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let client: Client | undefined;

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    await client?.close().catch(() => {});
    client = undefined;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    }
    return exited;
  };
  const entry = { dir, cgroupParent: realCgroupParent, stop: () => stop() };
  running.add(entry);
  void exited.then(() => running.delete(entry));
  t.teardown(async () => {
    await stop();
    // live restore's leftovers, once no daemon of this directory or cgroup parent runs any more
    for (const o of [...running]) if (o.dir === dir) await o.stop();
    if (![...running].some((o) => o.cgroupParent === realCgroupParent)) killCgroupTree(realCgroupParent, false);
    killHolder(realExecRoot);
    await removeNetworking(realDataRoot, realExecRoot, flagValue(args, '--bridge')!).catch((err) => process.stderr.write(`network cleanup failed: ${err}\n`));
    if (process.env.TSD_TEST_KEEP !== '1') removeDir(dir);
    if (process.env.TSD_TEST_SHOW_LOG === '1') process.stderr.write(out);
  });

  // 60 s: a boot on a loaded machine (several engineers on 2 cores) has taken longer than 15 s;
  // an emulated v2 guest (scripts/test-v2.sh) may ask for more (TSD_TEST_DAEMON_START_MS).
  const startMs = Number(process.env.TSD_TEST_DAEMON_START_MS) || 60_000;
  const deadline = Date.now() + startMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`tsd exited with ${proc.exitCode} before listening:\n${out}`);
    if (fs.existsSync(socket) && (await ping(socket))) break;
    if (Date.now() > deadline) throw new Error(`tsd did not listen within ${startMs / 1000} s:\n${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }

  const request: TestDaemon['request'] = async (method, urlPath, body, headers = {}) => {
    client ??= new Client('http://localhost', { socketPath: socket, pipelining: 0 });
    const res = await client.request({
      method: method as 'GET',
      path: urlPath,
      headers: body !== undefined && !(body instanceof Buffer) ? { 'content-type': 'application/json', ...headers } : headers,
      body: body === undefined ? undefined : body instanceof Buffer ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    return { status: res.statusCode, headers: res.headers, body: parsed, text };
  };

  return {
    socket, dataRoot, execRoot, bridge, bip, cgroupParent, dir, proc,
    output: () => out,
    request,
    dockerEnv: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'docker-config'), DOCKER_CLI_HINTS: 'false' },
    stop,
  };
}

/** A 10.x.y.1/24 no route of this host's uses yet (test daemons run side by side; fixed subnets collided). */
export function freeBip(): string {
  const routes = execFileSync('ip', ['-4', '-o', 'route'], { encoding: 'utf8' });
  for (let i = 0; i < 200; i++) {
    const a = 100 + Math.floor(Math.random() * 150);
    const b = Math.floor(Math.random() * 250);
    if (!routes.includes(`10.${a}.${b}.`)) return `10.${a}.${b}.1/24`;
  }
  throw new Error('no free 10.x.y.0/24 for the test bridge');
}

/** Thaws, kills and removes every cgroup below `parent` (v1 controllers, or the v2 tree); `keepParent`: not `parent` itself. */
export function killCgroupTree(parent: string, keepParent: boolean): void {
  const base = '/sys/fs/cgroup';
  let roots: string[] = [];
  try {
    roots = fs.readdirSync(base).map((c) => path.join(base, c, parent));
  } catch { return; }
  roots.push(path.join(base, parent)); // pure v2: the tree is right under the mount
  roots = roots.filter((d) => { try { return fs.statSync(d).isDirectory(); } catch { return false; } });
  const dirs = (root: string): string[] => {
    const out: string[] = [];
    const walk = (d: string) => {
      try { for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name)); } catch { /* gone */ }
      out.push(d);
    };
    walk(root);
    return out; // deepest first
  };
  for (const r of roots) for (const d of dirs(r)) {
    try { if (fs.existsSync(path.join(d, 'freezer.state'))) fs.writeFileSync(path.join(d, 'freezer.state'), 'THAWED'); } catch { /* gone */ }
    try { if (fs.existsSync(path.join(d, 'cgroup.freeze'))) fs.writeFileSync(path.join(d, 'cgroup.freeze'), '0'); } catch { /* gone */ }
    try {
      for (const p of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
      }
    } catch { /* gone */ }
  }
  const end = Date.now() + 5000;
  for (const r of roots) for (const d of dirs(r)) {
    if (d === r && keepParent) continue;
    for (;;) {
      try { fs.rmdirSync(d); break; } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || Date.now() > end) break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    }
  }
}

/** Ends the live-restore holder of `execRoot`, if one runs (checked by its command line, never a stranger). */
export function killHolder(execRoot: string): void {
  const dir = path.join(execRoot, 'restore');
  let pid = 0;
  try { pid = Number(fs.readFileSync(path.join(dir, 'holder.pid'), 'utf8').trim()); } catch { return; }
  if (!(pid > 0)) return;
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.some((a) => a.endsWith('restore/holder.js')) && argv.includes(dir)) process.kill(pid, 'SIGKILL');
  } catch { /* gone */ }
}

/**
 * The daemon keeps its bridges, iptables chains and netns dir mount at shutdown
 * (as dockerd keeps docker0); a test removes them with netctl's own teardown.
 */
export async function removeNetworking(dataRoot: string, execRoot: string, bridge: string): Promise<void> {
  const dbPath = path.join(dataRoot, 'tsd.db');
  if (!fs.existsSync(dbPath)) return;
  const db = openDatabase(dbPath);
  try {
    await createNetworkController({ db, execRoot, bridge, bip: '10.255.255.1/24' }).shutdown({ removeBridge: true });
  } finally {
    db.close();
  }
}

/** Removes a test directory, first detaching whatever is still mounted below it (a daemon killed with SIGKILL leaves mounts). */
export function removeDir(dir: string): void {
  const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
    .map((m) => m.replace(/\\040/g, ' ')).filter((m) => m === dir || m.startsWith(dir + '/')).sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  fs.rmSync(dir, { recursive: true, force: true });
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new Client('http://localhost', { socketPath: socket });
    c.request({ method: 'GET', path: '/_ping' })
      .then(async (r) => { await r.body.text(); resolve(r.statusCode === 200); })
      .catch(() => resolve(false))
      .finally(() => void c.close().catch(() => {}));
  });
}
