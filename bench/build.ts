// docker build of a 10-step multi-stage Dockerfile through the docker CLI (the
// classic builder): from scratch (--no-cache) and again fully cached, on a tsd
// daemon started here and, with --vs <socket>, on another engine (dockerd's
// classic builder) side by side, interleaved run by run. Prints medians; root.
//   node dist/bench/build.js [runs=5] [--vs unix:///var/run/docker.sock]
// Goals (issue #15): cached rebuild at most half of dockerd's, cold build within dockerd's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { Client } from 'undici';
import { promisify } from 'node:util';
import { startDaemon } from '../test/helpers/daemon.js';
import { busyboxSaveTar } from '../test/fixtures/images.js';

const run = promisify(execFile);
const args = process.argv.slice(2);
const vsAt = args.indexOf('--vs');
const vs = vsAt >= 0 ? args[vsAt + 1] : undefined;
const runs = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--vs') ?? 5);
const teardowns: Array<() => unknown> = [];
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]!; };

// RUN (the benchmark's pid, as a build arg) makes every image of a run its own (no cache hit on an
// earlier run's images, whose removal is not ours) and labels the first stage's for the cleanup.
const DOCKERFILE = `FROM busybox:fixture AS build
ARG RUN
LABEL tsd.bench.build=$RUN
WORKDIR /src
COPY src/ ./
RUN mkdir -p /out && cat *.txt > /out/all && echo $RUN >> /out/all
RUN sha256sum /out/all > /out/sum
FROM busybox:fixture
COPY --from=build /out /app
CMD ["cat", "/app/all"]
`;

interface Engine { name: string; socket: string; env: NodeJS.ProcessEnv; built: Set<string>; cold: number[]; cached: number[]; apiCold: number[]; apiCached: number[] }

/** The same build over the API alone (no CLI process): the builder's own time. */
async function apiBuild(e: Engine, tar: Buffer, nocache: boolean): Promise<number> {
  const c = new Client('http://localhost', { socketPath: e.socket });
  try {
    const s = process.hrtime.bigint();
    const res = await c.request({ method: 'POST', path: `/v1.41/build?t=tsd-bench-build:${process.pid}&buildargs=${encodeURIComponent(JSON.stringify({ RUN: String(process.pid) }))}&labels=${encodeURIComponent(JSON.stringify({ 'tsd.bench.build': String(process.pid) }))}${nocache ? '&nocache=1' : ''}`, headers: { 'content-type': 'application/x-tar' }, body: tar });
    const text = await res.body.text();
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    const id = /"aux":\{"ID":"sha256:([0-9a-f]{12})/.exec(text)?.[1];
    if (res.statusCode !== 200 || !id || text.includes('"error"')) throw new Error(`API build on ${e.name} failed: ${text.slice(-500)}`);
    e.built.add(id);
    return ms;
  } finally {
    await c.close();
  }
}

async function build(e: Engine, ctx: string, extra: string[]): Promise<number> {
  const s = process.hrtime.bigint();
  const { stdout } = await run('docker', ['build', ...extra, '--build-arg', `RUN=${process.pid}`, '--label', `tsd.bench.build=${process.pid}`, '-t', `tsd-bench-build:${process.pid}`, ctx], { env: e.env, maxBuffer: 16 << 20 });
  const ms = Number(process.hrtime.bigint() - s) / 1e6;
  const id = /Successfully built ([0-9a-f]{12})/.exec(stdout)?.[1];
  if (!id) throw new Error(`no image from ${e.name}:\n${stdout}`);
  e.built.add(id);
  return ms;
}

async function main() {
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-bench-build-'));
  teardowns.push(() => fs.rmSync(ctx, { recursive: true, force: true }));
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  fs.mkdirSync(path.join(ctx, 'src'));
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(ctx, 'src', `f${i}.txt`), `file ${i}\n`.repeat(100));

  const d = await startDaemon({ teardown: (fn) => teardowns.push(fn) }, [], { TSD_TEST_LOG_LEVEL: 'warn' });
  const fresh = () => ({ built: new Set<string>(), cold: [], cached: [], apiCold: [], apiCached: [] });
  const engines: Engine[] = [{ name: 'tsd', socket: d.socket, env: d.dockerEnv, ...fresh() }];
  if (vs) engines.push({ name: vs.replace(/^unix:\/\//, ''), socket: vs.replace(/^unix:\/\//, ''), env: { ...process.env, DOCKER_HOST: vs, DOCKER_CLI_HINTS: 'false' }, ...fresh() });
  const tarball = execFileSync('tar', ['-c', '--owner=0', '--group=0', '-C', ctx, '.']);
  const { path: tar } = await busyboxSaveTar();
  await run('docker', ['load', '-i', tar], { env: d.dockerEnv });
  for (const e of engines) {
    // images the engine had before (a cached build may end at one of them): never removed
    const before = new Set((await run('docker', ['images', '-aq'], { env: e.env })).stdout.split('\n').filter(Boolean));
    teardowns.push(async () => {
      // only what this benchmark built: its tag, then each new image with the intermediate images under it
      await run('docker', ['rmi', `tsd-bench-build:${process.pid}`], { env: e.env }).catch(() => {});
      for (const id of e.built) if (!before.has(id)) await run('docker', ['rmi', id], { env: e.env }).catch(() => {});
      // the images labelled with this run (the first stage's, and the last's through --label), children before parents
      for (let pass = 0; pass < 20; pass++) {
        const left = (await run('docker', ['images', '-aq', '--filter', `label=tsd.bench.build=${process.pid}`], { env: e.env })).stdout.split('\n').filter(Boolean);
        if (!left.length) break;
        for (const id of new Set(left)) await run('docker', ['rmi', id], { env: e.env }).catch(() => {});
      }
    });
    await build(e, ctx, []); // warm-up, and the cache the cached runs hit
  }
  for (let i = 0; i < runs; i++) {
    for (const e of engines) e.cold.push(await build(e, ctx, ['--no-cache']));
    for (const e of engines) e.cached.push(await build(e, ctx, []));
    for (const e of engines) e.apiCold.push(await apiBuild(e, tarball, true));
    for (const e of engines) e.apiCached.push(await apiBuild(e, tarball, false));
  }
  const row = (label: string, pick: (e: Engine) => [number[], number[]]) => {
    console.log(label);
    for (const e of engines) {
      const [cold, cached] = pick(e);
      console.log(`  ${e.name.padEnd(24)} from scratch median ${median(cold).toFixed(0).padStart(6)} ms   fully cached median ${median(cached).toFixed(0).padStart(6)} ms`);
    }
    if (engines.length === 2) {
      const [a, b] = engines.map(pick) as [[number[], number[]], [number[], number[]]];
      console.log(`  tsd / ${engines[1]!.name}: from scratch ${(median(a[0]) / median(b[0])).toFixed(2)} (goal <= 1.00), cached ${(median(a[1]) / median(b[1])).toFixed(2)} (goal <= 0.50)`);
    }
  };
  row(`docker build, 10-step multi-stage Dockerfile, through the docker CLI (${runs} runs each, interleaved)`, (e) => [e.cold, e.cached]);
  row('the same POST /build over the API alone (no CLI process)', (e) => [e.apiCold, e.apiCached]);
}

main().catch((e) => { console.error(e); process.exitCode = 1; }).finally(async () => {
  for (const f of teardowns.reverse()) await f();
});
