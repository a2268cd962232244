// The engines a client scenario runs against: a tsd test daemon (always) and,
// when TSD_COMPARE_SOCK names a socket, that engine too (a dockerd kept for
// side-by-side runs), so each scenario is proven right against dockerd before
// it judges tsd. Both get busybox:fixture loaded. Published ports of the
// compare engine are reachable only inside its network namespace
// (TSD_COMPARE_NETNS, default /run/netns/cmpdocker), so host-side port checks go
// through `engine.inNetns` (nsenter) or are skipped for it with a reason.
import fs from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { startDaemon, projectRoot, distRoot, type TestDaemon } from '../helpers/daemon.js';
import { privilegedReason } from '../helpers/privileged.js';
import { busyboxSaveTar } from '../fixtures/images.js';
import { startRegistry, registryAvailable, type TestRegistry } from '../fixtures/registry.js';

interface Teardownable { teardown(fn: () => unknown): void }

export const clientFixtures = path.join(projectRoot, 'test', 'clients', 'fixtures');
export const distDir = distRoot;

export interface Engine {
  /** 'tsd' or 'dockerd' (the compare engine) */
  name: 'tsd' | 'dockerd';
  socket: string;
  env: NodeJS.ProcessEnv;
  /** The tsd daemon, for its log on failure (undefined for the compare engine). */
  daemon?: TestDaemon;
  /** Wraps a host command so it runs where the engine's published ports are reachable. */
  inNetns(cmd: string[]): string[];
  /** Runs a command with the engine's DOCKER_HOST; never throws. */
  run(cmd: string, args: string[], opts?: { cwd?: string; input?: string; timeout?: number; env?: NodeJS.ProcessEnv }): Promise<{ code: number; out: string; err: string }>;
  /** Like run, but throws with stderr (and tsd's log tail) on a non-zero exit. */
  ok(cmd: string, args: string[], opts?: { cwd?: string; input?: string; timeout?: number; env?: NodeJS.ProcessEnv }): Promise<string>;
  logTail(): string;
}

export function clientOpts(bin?: string): { skip: string | false } {
  const why = privilegedReason();
  if (why) return { skip: why };
  if (bin && !onPath(bin)) return { skip: `needs ${bin}` };
  if (!onPath('docker')) return { skip: 'needs the docker CLI' };
  return { skip: false };
}

export function onPath(bin: string): boolean {
  if (bin.startsWith('/')) return fs.existsSync(bin);
  return (process.env.PATH ?? '').split(':').some((p) => fs.existsSync(path.join(p, bin)));
}

/** A bridge subnet no host route uses yet (startDaemon's pid-derived one can collide with leftovers). */
function freeBip(): string {
  const routes = execFileSync('ip', ['-4', '-o', 'route'], { encoding: 'utf8' });
  for (let i = 0; i < 200; i++) {
    const a = 100 + Math.floor(Math.random() * 150);
    const b = Math.floor(Math.random() * 250);
    if (!routes.includes(`10.${a}.${b}.`)) return `10.${a}.${b}.1/24`;
  }
  throw new Error('no free 10.x.y.0/24 for the test bridge');
}

function runner(env: NodeJS.ProcessEnv, logTail: () => string): Pick<Engine, 'run' | 'ok'> {
  const run: Engine['run'] = (cmd, args, opts = {}) => new Promise((resolve) => {
    const child = execFile(cmd, args, { env: { ...env, ...opts.env }, cwd: opts.cwd, timeout: opts.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1) : 0;
      resolve({ code, out: String(out), err: String(err) });
    });
    // a command that exits before reading its stdin must not turn the write into an uncaught EPIPE
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
  const ok: Engine['ok'] = async (cmd, args, opts) => {
    const r = await run(cmd, args, opts);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}):\n${r.out.slice(-2000)}\n${r.err.slice(-3000)}\n--- engine log tail ---\n${logTail()}`);
    return r.out;
  };
  return { run, ok };
}

/** The engines to run on; each is cleaned up by its teardown (containers, networks and volumes the file made, then the daemon). */
export async function engines(t: Teardownable): Promise<Engine[]> {
  const out: Engine[] = [];
  const later: Array<() => unknown> = [];
  const d = await startDaemon({ teardown: (fn) => later.push(fn) }, ['--bip', freeBip()]);
  let tsdRef: Engine | undefined;
  t.teardown(async () => {
    // Containers first (the daemon leaves them running at shutdown, as live restore does).
    if (tsdRef) {
      const ids = (await tsdRef.run('docker', ['ps', '-aq'])).out.split('\n').filter(Boolean);
      if (ids.length) await tsdRef.run('docker', ['rm', '-fv', ...ids]);
    }
    for (const fn of later.reverse()) await fn();
  });
  const tsdEnv = { ...d.dockerEnv, DOCKER_HOST: `unix://${d.socket}` };
  const tsd: Engine = { name: 'tsd', socket: d.socket, env: tsdEnv, daemon: d, inNetns: (c) => c, logTail: () => d.output().slice(-4000), ...runner(tsdEnv, () => d.output().slice(-4000)) };
  out.push(tsd);
  tsdRef = tsd;
  const cmp = process.env.TSD_COMPARE_SOCK;
  if (cmp && fs.existsSync(cmp)) {
    const netns = process.env.TSD_COMPARE_NETNS ?? '/run/netns/cmpdocker';
    const env = { ...process.env, DOCKER_HOST: `unix://${cmp}`, DOCKER_CONFIG: path.join(d.dir, 'docker-config-cmp'), DOCKER_CLI_HINTS: 'false' };
    out.push({
      name: 'dockerd', socket: cmp, env,
      inNetns: (c) => (fs.existsSync(netns) ? ['nsenter', `--net=${netns}`, ...c] : c),
      logTail: () => '(compare engine)',
      ...runner(env, () => '(compare engine)'),
    });
  }
  const save = await busyboxSaveTar();
  for (const e of out) await e.ok('docker', ['load', '-i', save.path]);
  return out;
}

/** Removes what a scenario made on an engine, by label, even when it failed. */
export async function cleanupByLabel(e: Engine, label: string): Promise<void> {
  const ids = (await e.run('docker', ['ps', '-aq', '--filter', `label=${label}`])).out.split('\n').filter(Boolean);
  if (ids.length) await e.run('docker', ['rm', '-fv', ...ids]);
  const nets = (await e.run('docker', ['network', 'ls', '-q', '--filter', `label=${label}`])).out.split('\n').filter(Boolean);
  if (nets.length) await e.run('docker', ['network', 'rm', ...nets]);
  const vols = (await e.run('docker', ['volume', 'ls', '-q', '--filter', `label=${label}`])).out.split('\n').filter(Boolean);
  if (vols.length) await e.run('docker', ['volume', 'rm', '-f', ...vols]);
}

/** A throwaway registry on loopback, or null where Debian's docker-registry is missing. */
export async function registry(t: Teardownable): Promise<TestRegistry | null> {
  if (!registryAvailable()) return null;
  const r = await startRegistry();
  t.teardown(() => r.stop());
  return r;
}

export async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A host command through the engine's netns; resolves with its output, or null when it failed. */
export async function hostFetch(e: Engine, url: string): Promise<string | null> {
  const [cmd, ...args] = e.inNetns(['curl', '-sf', '--max-time', '3', url]);
  const r = await e.run(cmd!, args, { timeout: 10_000 });
  return r.code === 0 ? r.out : null;
}
