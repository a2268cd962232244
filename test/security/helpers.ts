// The security suite's setup: a daemon with busybox:fixture and `tsd-sec:helpers`
// (busybox plus /usr/local/bin/sechelper, a static C helper built here with gcc
// from fixtures/sechelper.c: renameat2 swaps and /proc/<pid>/exe watching, which
// busybox cannot do), a binary-safe docker CLI runner, and the checks every
// attack ends with: the host untouched (a sentinel's content and mode,
// /etc/shadow's digest and mode) and the daemon still answering _ping.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';
import type { Test } from 'tap';
import { containerEnv, containerOpts, type Env } from '../integration/containers/helpers.js';
import { fixtureDir, busyboxRootfsTar } from '../fixtures/busybox.js';
import { buildImage, layerFromTar, makeTar, type TarEntry } from '../fixtures/images.js';

export { containerOpts };

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/security -> test/security/fixtures (sources are not copied to dist) */
const sourceDir = path.resolve(here, '..', '..', '..', 'test', 'security', 'fixtures');
export const HELPER_IMAGE = 'tsd-sec:helpers';

interface Teardownable { teardown(fn: () => unknown): void }

/** Builds the static helper (cached by the source's digest). */
export function sechelperBinary(): string {
  const src = path.join(sourceDir, 'sechelper.c');
  const digest = crypto.createHash('sha256').update(fs.readFileSync(src)).digest('hex').slice(0, 12);
  const out = path.join(fixtureDir, `sechelper-${digest}`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(fixtureDir, { recursive: true });
  const tmp = `${out}.${process.pid}`;
  execFileSync('gcc', ['-static', '-O2', '-o', tmp, src], { stdio: 'inherit' });
  fs.renameSync(tmp, out);
  return out;
}

/** docker-save tarball of tsd-sec:helpers (the busybox layer and one with the helper). */
export async function helperImageTar(): Promise<string> {
  const bin = sechelperBinary();
  const out = `${bin}-image.tar`;
  if (fs.existsSync(out)) return out;
  const extra = await makeTar([
    { name: 'usr/', type: 'directory' }, { name: 'usr/local/', type: 'directory' }, { name: 'usr/local/bin/', type: 'directory' },
    { name: 'usr/local/bin/sechelper', content: fs.readFileSync(bin), mode: 0o755 },
  ]);
  await saveTar(`${out}.${process.pid}`, HELPER_IMAGE, [fs.readFileSync(busyboxRootfsTar()), extra]);
  fs.renameSync(`${out}.${process.pid}`, out);
  return out;
}

/** Writes a docker-save tarball of `layers` (raw layer tars, bottom first) tagged `ref`; returns its path. */
async function saveTar(out: string, ref: string, layers: Buffer[], config: { cmd?: string[]; workdir?: string } = {}): Promise<string> {
  const built = layers.map((l) => layerFromTar(l));
  const img = buildImage(built, { cmd: config.cmd ?? ['sh'] });
  let cfgBytes = img.config;
  if (config.workdir) {
    const j = JSON.parse(cfgBytes.toString()) as { config: Record<string, unknown> };
    j.config.WorkingDir = config.workdir;
    cfgBytes = Buffer.from(JSON.stringify(j));
  }
  const cfgName = `${crypto.createHash('sha256').update(cfgBytes).digest('hex')}.json`;
  const files: Array<{ name: string; content: Buffer | string }> = [];
  const names: string[] = [];
  for (const l of built) {
    const id = l.diffId.slice(7);
    files.push({ name: `${id}/VERSION`, content: '1.0' }, { name: `${id}/json`, content: JSON.stringify({ id }) }, { name: `${id}/layer.tar`, content: l.tar });
    names.push(`${id}/layer.tar`);
  }
  files.push({ name: cfgName, content: cfgBytes }, { name: 'manifest.json', content: JSON.stringify([{ Config: cfgName, RepoTags: [ref], Layers: names }]) });
  fs.writeFileSync(out, await makeTar(files.map((f) => ({ name: f.name, content: f.content }))));
  return out;
}

/** Loads busybox plus layers made of `layers` (tar entry lists) as `ref`, with config overrides. */
export async function loadCustomImage(env: Env, ref: string, layers: TarEntry[][], config: { cmd?: string[]; workdir?: string } = {}): Promise<void> {
  const raw: Buffer[] = [fs.readFileSync(busyboxRootfsTar())];
  for (const l of layers) raw.push(await makeTar(l));
  const out = path.join(env.d.dir, `image-${crypto.randomUUID()}.tar`);
  await saveTar(out, ref, raw, config);
  await env.ok('load', '-i', out);
  fs.rmSync(out, { force: true });
}

export interface SecEnv extends Env {
  /** Runs the docker CLI with binary stdin/stdout. */
  dockerBin(args: string[], input?: Buffer, timeout?: number): Promise<{ code: number; out: Buffer; err: string }>;
  /** GET /_ping answers OK. */
  ping(): Promise<boolean>;
}

/** A daemon for one test file, with both images loaded. */
export async function secEnv(t: Teardownable): Promise<SecEnv> {
  const env = await containerEnv(t);
  await env.ok('load', '-i', await helperImageTar());
  const dockerBin: SecEnv['dockerBin'] = (args, input, timeout = 60_000) => new Promise((resolve) => {
    const child = execFile('docker', args, { env: env.d.dockerEnv, timeout, maxBuffer: 256 * 1024 * 1024, encoding: 'buffer' }, (e, out, err) => {
      resolve({ code: e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1) : 0, out: out as Buffer, err: (err as Buffer).toString() });
    });
    child.stdin!.on('error', () => {});
    if (input) child.stdin!.end(input);
    else child.stdin!.end();
  });
  const ping = async () => {
    try {
      const r = await env.d.request('GET', '/_ping');
      return r.status === 200 && r.text === 'OK';
    } catch {
      return false;
    }
  };
  return { ...env, dockerBin, ping };
}

/** Names and contents of a tar's entries. */
export async function tarEntries(buf: Buffer): Promise<Array<{ name: string; type: string; body: Buffer }>> {
  const ex = tar.extract();
  const out: Array<{ name: string; type: string; body: Buffer }> = [];
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.push({ name: e.header.name, type: e.header.type, body: Buffer.concat(chunks) });
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

/** A host file whose content and mode a test checks afterwards. */
export interface Sentinel { path: string; content: string; mode: number }

export function makeSentinel(dir: string, name = 'sentinel', content = `host sentinel ${crypto.randomUUID()}\n`): Sentinel {
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  fs.writeFileSync(p, content, { mode: 0o600 });
  fs.chmodSync(p, 0o600);
  return { path: p, content, mode: 0o600 };
}

export interface HostSnapshot { shadow: string; shadowMode: number }

export function hostSnapshot(): HostSnapshot {
  const st = fs.statSync('/etc/shadow');
  return { shadow: crypto.createHash('sha256').update(fs.readFileSync('/etc/shadow')).digest('hex'), shadowMode: st.mode & 0o7777 };
}

/** The end of every attack: sentinels and /etc/shadow as they were, the daemon answering. */
export async function assertHostUntouched(t: Test, env: SecEnv, before: HostSnapshot, sentinels: Sentinel[] = []): Promise<void> {
  for (const s of sentinels) {
    t.equal(fs.readFileSync(s.path, 'utf8'), s.content, `${path.basename(s.path)}: content unchanged`);
    t.equal(fs.statSync(s.path).mode & 0o7777, s.mode, `${path.basename(s.path)}: mode unchanged`);
  }
  t.same(hostSnapshot(), before, '/etc/shadow unchanged (digest and mode)');
  t.ok(await env.ping(), 'the daemon still answers _ping');
}

/** A host directory for sentinels under the test daemon's dir (removed with it). */
export function hostDir(env: Env, name: string): string {
  const d = path.join(env.d.dir, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** Spawns a long-running docker CLI (e.g. `docker exec` in a loop); returns its exit. */
export function spawnDocker(env: Env, args: string[]) {
  const child = spawn('docker', args, { env: env.d.dockerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  return { child, done: new Promise<number | null>((r) => child.once('exit', (c) => r(c))), out: () => out };
}
