// Shared setup for the container acceptance tests: one daemon per file with
// busybox:fixture loaded, a `docker` runner over the real CLI, and cleanup of
// every container the file created (docker rm -f) before the daemon stops.
import fs from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { privilegedOpts } from '../../helpers/privileged.js';
import { freeBip, startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { openDatabase } from '../../../store/index.js';
import { createNetworkController } from '../../../netctl/index.js';

interface Teardownable { teardown(fn: () => unknown): void }

export interface DockerResult { code: number; out: string; err: string }

export interface Env {
  d: TestDaemon;
  /** Runs the docker CLI; never throws. */
  docker(args: string[], opts?: { input?: string; timeout?: number }): Promise<DockerResult>;
  /** Runs the docker CLI and throws with stderr and the daemon log tail on a non-zero exit. */
  ok(...args: string[]): Promise<string>;
  /** Unique name for a container / volume / network in this file. */
  name(base: string): string;
}

export function containerOpts(): { skip: string | false } {
  const opts = privilegedOpts();
  if (!opts.skip && !process.env.PATH?.split(':').some((p) => fs.existsSync(path.join(p, 'docker')))) opts.skip = 'needs the docker CLI';
  return opts;
}

/**
 * The daemon keeps its bridge, iptables chains and netns dir mount at shutdown
 * (live restore), so after it stopped we remove them with netctl's own
 * shutdown({ removeBridge: true }) on its database, then let startDaemon clean up.
 */
async function removeNetworking(d: TestDaemon): Promise<void> {
  const db = openDatabase(path.join(d.dataRoot, 'tsd.db'));
  try {
    const ctl = createNetworkController({ db, execRoot: d.execRoot, bridge: d.bridge, bip: '10.255.255.1/24' });
    await ctl.shutdown({ removeBridge: true });
  } finally {
    db.close();
  }
}

/** Re-exported: tests import it from here (startDaemon now picks one itself). */
export { freeBip };

export async function containerEnv(t: Teardownable, daemonArgs: string[] = []): Promise<Env> {
  const later: Array<() => unknown> = [];
  let d: TestDaemon | undefined;
  // Registered before the daemon starts: one that never answers is still stopped and its dirs removed.
  t.teardown(async () => {
    if (d) {
      await d.stop();
      await removeNetworking(d);
    }
    for (const fn of later.reverse()) await fn();
  });
  d = await startDaemon({ teardown: (fn) => later.push(fn) }, ['--bip', freeBip(), ...daemonArgs]);
  const docker: Env['docker'] = (args, opts = {}) => new Promise((resolve) => {
    const child = execFile('docker', args, { env: d.dockerEnv, timeout: opts.timeout ?? (Number(process.env.TSD_TEST_DOCKER_TIMEOUT_MS) || 60_000), maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => {
      resolve({ code: e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1) : 0, out: String(out), err: String(err) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
  const ok: Env['ok'] = async (...args) => {
    const r = await docker(args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.err}\n--- daemon log tail ---\n${d.output().slice(-3000)}`);
    return r.out;
  };
  // Registered after startDaemon's teardown, so it runs first (tap runs teardowns in reverse).
  t.teardown(async () => {
    const ids = (await docker(['ps', '-aq'])).out.split('\n').filter(Boolean);
    if (ids.length) await docker(['rm', '-f', ...ids]);
  });
  const save = await busyboxSaveTar();
  await ok('load', '-i', save.path);
  let n = 0;
  return { d, docker, ok, name: (base) => `${base}-${process.pid}-${n++}` };
}

/** Spawns `docker` with args and collects output until it exits. */
export function dockerSpawn(d: TestDaemon, args: string[]) {
  const child = spawn('docker', args, { env: d.dockerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, done, out: () => out, err: () => err };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
