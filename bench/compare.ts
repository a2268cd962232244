// Issue #16's figures for tsd and, with --vs, another engine (dockerd), measured
// interleaved in one run and printed with the ratio tsd / other (never asserted):
//   - `docker run --rm busybox true`, bridge and --network none (medians)
//   - `docker exec` of `true` into a running container (median)
//   - a healthcheck probe's daemon-side CPU: /proc/<pid>/stat of the engine's
//     processes (self + reaped children: tsd's daemon; dockerd, containerd and the
//     container's shim) around N probes, counted from exec_die events
//   - starts/s with 4 clients × 8 `docker run --rm true`
//   - time to reach 100 running `sleep` containers (4 clients)
//   - host memory added per running container (PSS of the engine's processes before
//     and after: tsd's daemon and its helpers; dockerd + containerd + shims) and the
//     engines' RSS with them running
//   - each warm init's cost (tsd: its RSS/PSS while waiting and the CPU it took to start)
//   - the network figures (bench/network.ts, run as its own process)
// tsd is a daemon started here on temporary paths (test/helpers/daemon.ts); the
// other engine is optional. The load average is printed with every figure: the
// machine is shared. Needs root.
//   node dist/bench/compare.js [--vs unix:///var/run/docker.sock] [--runs 15] [--probes 50]
//        [--sleepers 100] [--rounds 2] [--only run,exec,probe,starts,sleepers,network]
//        [--tsd-args "--init-pool 2"] [--marks]
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from 'undici';
import { startDaemon } from '../test/helpers/daemon.js';
import { busyboxSaveTar } from '../test/fixtures/images.js';
import { childrenOf, cpuMs, loadavg, median, memKiB, processes, sumMem, totalCpuMs } from './lib/procs.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(k);
  return i > 0 ? process.argv[i + 1]! : d;
};
const runs = Number(arg('--runs', '15'));
const probes = Number(arg('--probes', '50'));
const sleepers = Number(arg('--sleepers', '100'));
const rounds = Number(arg('--rounds', '2'));
const vs = arg('--vs', '');
const only = new Set(arg('--only', 'run,exec,probe,starts,sleepers,network').split(','));
const tsdArgs = arg('--tsd-args', '').split(' ').filter(Boolean);
const teardowns: Array<() => unknown> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Engine {
  name: string;
  image: string;
  env: NodeJS.ProcessEnv;
  client: Client;
  /** the processes whose CPU and memory count as the engine's (for these containers of ours) */
  processes(containerIds: string[]): number[];
  /** the processes whose memory counts as the engine's, labelled (for the report) */
  describe(containerIds: string[]): Array<{ what: string; pids: number[] }>;
}

const docker = (e: Engine, args: string[], timeout = 300_000) => run('docker', args, { env: e.env, timeout, maxBuffer: 1 << 24 }).then((r) => r.stdout.trim());

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

// ---- the table --------------------------------------------------------------

interface Figure { label: string; unit: string; tsd?: number; other?: number; goal?: string; met?: boolean; load: string; note?: string }
const figures: Figure[] = [];
let otherName = 'other';

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || Number.isNaN(v)) return '–';
  const digits = unit === 'MiB' ? 2 : v >= 100 ? 0 : 1;
  return `${v.toFixed(digits)} ${unit}`;
}

/** Records and prints one figure; `goal` is a predicate on (tsd, ratio) with its text. */
function figure(f: Omit<Figure, 'load' | 'met'>, goal?: { text: string; met: (tsd: number, ratio: number | undefined) => boolean }): void {
  const ratio = f.tsd !== undefined && f.other !== undefined && f.other > 0 ? f.tsd / f.other : undefined;
  const rec: Figure = { ...f, load: loadavg(), goal: goal?.text, met: goal && f.tsd !== undefined ? goal.met(f.tsd, ratio) : undefined };
  figures.push(rec);
  const r = ratio === undefined ? '' : `  ratio ${ratio.toFixed(2)}`;
  const g = rec.goal ? `  goal ${rec.goal}: ${rec.met ? 'met' : 'MISSED'}` : '';
  console.log(`${f.label.padEnd(58)} tsd ${fmt(f.tsd, f.unit).padStart(11)}  ${otherName} ${fmt(f.other, f.unit).padStart(11)}${r}${g}   [${rec.load}]${f.note ? `  (${f.note})` : ''}`);
}

function markdown(): string {
  const rows = figures.map((f) => {
    const ratio = f.tsd !== undefined && f.other !== undefined && f.other > 0 ? (f.tsd / f.other).toFixed(2) : '';
    return `| ${f.label} | ${fmt(f.tsd, f.unit)} | ${fmt(f.other, f.unit)} | ${ratio} | ${f.goal ? `${f.goal} ${f.met ? '✓' : '✗'}` : ''} | ${f.load.replace('load ', '')} |`;
  });
  const notes = figures.filter((f) => f.note).map((f) => `- ${f.label}: ${f.note}`);
  return [`| figure | tsd | ${otherName} | ratio | goal | load (1, 5, 15 min) |`, '|---|---|---|---|---|---|', ...rows, '', ...notes].join('\n');
}

// ---- engines ----------------------------------------------------------------

async function tsdEngine(): Promise<Engine & { pid: number; output: () => string }> {
  // --marks: at debug, for the start marks (logging costs the daemon CPU: the other figures are then a little worse)
  const level = process.argv.includes('--marks') ? 'debug' : 'info';
  const prev = process.env.TSD_TEST_LOG_LEVEL;
  process.env.TSD_TEST_LOG_LEVEL = level;
  const d = await startDaemon({ teardown: (fn) => teardowns.push(fn) }, tsdArgs).finally(() => { if (prev === undefined) delete process.env.TSD_TEST_LOG_LEVEL; else process.env.TSD_TEST_LOG_LEVEL = prev; });
  await run('docker', ['load', '-i', (await busyboxSaveTar()).path], { env: d.dockerEnv });
  const client = new Client('http://localhost', { socketPath: d.socket });
  teardowns.push(() => client.close());
  const pid = d.proc.pid!;
  // the daemon's helpers: warm inits and in-flight exec/init helpers (its children that are not containers)
  const helpers = () => childrenOf(pid).filter((p) => /init\/main\.js|tsd-nsexec/.test(p.cmdline)).map((p) => p.pid);
  return {
    name: 'tsd', image: 'busybox:fixture', env: d.dockerEnv, client, pid, output: d.output,
    processes: () => [pid, ...helpers()],
    describe: () => [{ what: 'daemon', pids: [pid] }, { what: 'warm inits', pids: helpers() }],
  };
}

async function otherEngine(url: string): Promise<Engine | null> {
  const sock = url.replace(/^unix:\/\//, '');
  if (!fs.existsSync(sock)) {
    console.log(`(--vs ${url}: no such socket, the other engine is skipped)`);
    return null;
  }
  const env = { ...process.env, DOCKER_HOST: url, DOCKER_CONFIG: fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-bench-dcfg-')), DOCKER_CLI_HINTS: 'false' };
  const version = (await run('docker', ['version', '--format', '{{.Server.Version}}'], { env })).stdout.trim();
  const all = processes();
  const dockerds = all.filter((p) => p.comm === 'dockerd');
  const dockerd = dockerds.find((p) => p.cmdline.includes(sock)) ?? (dockerds.length === 1 ? dockerds[0] : undefined);
  if (!dockerd) console.log('(no dockerd process found for that socket: its CPU and memory figures are skipped)');
  const containerd = dockerd ? childrenOf(dockerd.pid, all).filter((p) => p.comm === 'containerd').map((p) => p.pid) : [];
  const shims = (ids: string[]) => processes().filter((p) => p.comm.startsWith('containerd-shim') && ids.some((id) => p.cmdline.includes(`-id ${id}`))).map((p) => p.pid);
  const client = new Client('http://localhost', { socketPath: sock });
  teardowns.push(() => client.close());
  otherName = `dockerd ${version}`;
  return {
    name: otherName, image: 'busybox:latest', env, client,
    processes: (ids) => [...(dockerd ? [dockerd.pid] : []), ...containerd, ...shims(ids)],
    describe: (ids) => [{ what: 'dockerd', pids: dockerd ? [dockerd.pid] : [] }, { what: 'containerd', pids: containerd }, { what: 'shims', pids: shims(ids) }],
  };
}

// ---- figures ----------------------------------------------------------------

/** Runs `fn` on each engine in turn, `n` times (+1 warm-up each), and records the medians. */
async function interleaved(label: string, engines: Engine[], n: number, fn: (e: Engine) => Promise<unknown>, goal?: Parameters<typeof figure>[1]): Promise<void> {
  const t = engines.map(() => [] as number[]);
  for (let i = 0; i <= n; i++) {
    for (const [k, e] of engines.entries()) {
      const ms = await timeMs(() => fn(e));
      if (i > 0) t[k]!.push(ms);
    }
  }
  figure({ label: `${label} (median of ${n})`, unit: 'ms', tsd: median(t[0]!), other: t[1] ? median(t[1]) : undefined }, goal);
}

async function runFigures(engines: Engine[]): Promise<void> {
  await interleaved('`docker run --rm busybox true`, bridge', engines, runs, (e) => docker(e, ['run', '--rm', e.image, 'true']), { text: '≤ 0.10×', met: (_, r) => r !== undefined && r <= 0.1 });
  await interleaved('`docker run --rm --network none busybox true`', engines, runs, (e) => docker(e, ['run', '--rm', '--network', 'none', e.image, 'true']), { text: '≤ 0.10×', met: (_, r) => r !== undefined && r <= 0.1 });
  await interleaved('`docker version` (the CLI and one round trip, for scale)', engines, runs, (e) => docker(e, ['version', '--format', '{{.Server.Version}}']));
}

async function execFigure(engines: Engine[]): Promise<void> {
  const ids = await Promise.all(engines.map((e) => docker(e, ['run', '-d', e.image, 'sleep', '3600'])));
  engines.forEach((e, i) => teardowns.push(() => docker(e, ['rm', '-f', ids[i]!]).catch(() => '')));
  await interleaved('`docker exec` of `true` into a running container', engines, runs, (e) => docker(e, ['exec', ids[engines.indexOf(e)]!, 'true']), { text: '≤ 0.5×', met: (_, r) => r !== undefined && r <= 0.5 });
  for (const [i, e] of engines.entries()) await docker(e, ['rm', '-f', ids[i]!]).catch(() => '');
}

/** Counts exec_die events of container `id` from the engine's event stream. */
async function execDies(e: Engine, id: string): Promise<{ next(): Promise<void>; close(): void }> {
  const ac = new AbortController();
  const res = await e.client.request({ method: 'GET', path: `/v1.41/events?filters=${encodeURIComponent(JSON.stringify({ container: [id], event: ['exec_die'] }))}`, signal: ac.signal });
  let count = 0;
  let waiters: Array<() => void> = [];
  let buf = '';
  res.body.setEncoding('utf8');
  res.body.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      count++;
      for (const w of waiters.splice(0)) w();
    }
  });
  res.body.on('error', () => undefined);
  let seen = 0;
  return {
    next: () => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${e.name}: no health probe finished in 60 s`)), 60_000);
      const check = () => {
        if (count > seen) { seen++; clearTimeout(timer); resolve(); } else waiters.push(check);
      };
      check();
    }),
    close: () => ac.abort(),
  };
}

async function probeFigure(engines: Engine[]): Promise<void> {
  const per: Array<number | undefined> = [];
  const notes: string[] = [];
  for (const e of engines) {
    const id = await docker(e, ['run', '-d', '--health-cmd', 'true', '--health-interval', '100ms', '--health-timeout', '10s', e.image, 'sleep', '3600']);
    teardowns.push(() => docker(e, ['rm', '-f', id]).catch(() => ''));
    const dies = await execDies(e, id);
    try {
      // idle CPU of the engine for this container over 2 s (a baseline subtracted below)
      const pids = e.processes([id]);
      if (pids.length === 0) { per.push(undefined); continue; }
      await dies.next();
      const c0 = totalCpuMs(pids);
      const s0 = pids.map((p) => cpuMs(p).self).reduce((a, b) => a + b, 0);
      const t0 = performance.now();
      for (let i = 0; i < probes; i++) await dies.next();
      const wall = performance.now() - t0;
      const c1 = totalCpuMs(pids);
      const s1 = pids.map((p) => cpuMs(p).self).reduce((a, b) => a + b, 0);
      per.push((c1 - c0) / probes);
      notes.push(`${e.name === 'tsd' ? 'tsd' : 'dockerd'}: ${((s1 - s0) / probes).toFixed(1)} ms in the daemon${e.name === 'tsd' ? '' : 's'} itself, ${(probes / (wall / 1000)).toFixed(1)} probes/s`);
    } finally {
      dies.close();
      await docker(e, ['rm', '-f', id]).catch(() => '');
    }
  }
  figure({ label: `healthcheck probe (CMD-SHELL true, every 100 ms): engine CPU per probe, ${probes} probes`, unit: 'ms', tsd: per[0], other: per[1], note: notes.join('; ') },
    { text: '≤ 5 ms', met: (t) => t <= 5 });
}

/** `clients` loops each running `each` commands; returns the wall time in ms. */
async function parallel(clients: number, each: number, fn: (client: number, i: number) => Promise<unknown>): Promise<number> {
  return timeMs(() => Promise.all(Array.from({ length: clients }, async (_, c) => { for (let i = 0; i < each; i++) await fn(c, i); })));
}

async function startsFigure(engines: Engine[]): Promise<void> {
  const rate = engines.map(() => [] as number[]);
  const cpu = engines.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [k, e] of engines.entries()) {
      const pids = e.processes([]);
      const c0 = totalCpuMs(pids);
      const ms = await parallel(4, 8, () => docker(e, ['run', '--rm', e.image, 'true']));
      cpu[k]!.push((totalCpuMs(pids) - c0) / 32);
      rate[k]!.push(32 / (ms / 1000));
    }
  }
  figure({ label: `starts/s, 4 clients × 8 \`docker run --rm true\` (median of ${rounds})`, unit: '/s', tsd: median(rate[0]!), other: rate[1] ? median(rate[1]) : undefined },
    { text: '≥ 10×', met: (_, r) => r !== undefined && r >= 10 });
  figure({ label: 'engine CPU per `docker run --rm true` in that run', unit: 'ms', tsd: median(cpu[0]!), other: cpu[1] ? median(cpu[1]) : undefined,
    note: 'tsd: the daemon and every process it reaped (inits, the containers); dockerd: dockerd + containerd only, its shims (and the runc and container processes they reap) are not counted' });
}

/** Where a start's time goes: the daemon's debug marks (ms from the start request), medians over `runs` starts. */
async function marksFigure(e: Engine, output: () => string): Promise<void> {
  const from = output().length;
  for (let i = 0; i < runs; i++) await docker(e, ['run', '--rm', e.image, 'true']);
  const marks: Record<string, number[]> = {};
  for (const line of output().slice(from).split('\n')) {
    if (!line.includes('container started')) continue;
    try {
      for (const [k, v] of Object.entries((JSON.parse(line) as { ms?: Record<string, number> }).ms ?? {})) (marks[k] ??= []).push(v);
    } catch { /* not a JSON line */ }
  }
  const text = Object.entries(marks).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ');
  figure({ label: 'tsd start marks, ms since the start request (median)', unit: '', note: text || 'none logged (run with --marks: the daemon logs them at debug)' });
}

async function sleepersFigure(engines: Engine[]): Promise<void> {
  const reach: Array<number | undefined> = [];
  const perCtr: Array<number | undefined> = [];
  const rss: Array<number | undefined> = [];
  const notes: string[] = [];
  for (const e of engines) {
    await sleep(2000);
    const before = sumMem(e.processes([]));
    const ids: string[] = [];
    teardowns.push(() => (ids.length ? docker(e, ['rm', '-f', ...ids]).catch(() => '') : ''));
    const ms = await parallel(4, Math.ceil(sleepers / 4), async (c, i) => {
      if (c * Math.ceil(sleepers / 4) + i >= sleepers) return;
      ids.push(await docker(e, ['run', '-d', e.image, 'sleep', '3600']));
    });
    reach.push(ms / 1000);
    await sleep(3000); // settle (the pool refills, buffers are freed)
    const parts = e.describe(ids).map((d) => ({ what: d.what, n: d.pids.length, m: sumMem(d.pids) }));
    const after = sumMem(e.processes(ids));
    if (after.pss === 0) {
      perCtr.push(undefined);
      rss.push(undefined);
    } else {
      perCtr.push((after.pss - before.pss) / 1024 / sleepers);
      rss.push(after.rss / 1024);
      notes.push(`${e.name}: ${parts.map((p) => `${p.what}${p.n > 1 ? ` (${p.n})` : ''} ${(p.m.rss / 1024).toFixed(0)} MiB RSS / ${(p.m.pss / 1024).toFixed(0)} MiB PSS`).join(', ')}; PSS ${(before.pss / 1024).toFixed(1)} → ${(after.pss / 1024).toFixed(1)} MiB`);
    }
    for (let i = 0; i < ids.length; i += 25) await docker(e, ['rm', '-f', ...ids.slice(i, i + 25)]).catch(() => '');
    ids.length = 0;
  }
  figure({ label: `time to reach ${sleepers} running \`sleep\` containers (4 clients × \`run -d\`)`, unit: 's', tsd: reach[0], other: reach[1] },
    { text: '≤ 0.2×', met: (_, r) => r !== undefined && r <= 0.2 });
  figure({ label: 'host memory added per running container (engine PSS, before/after)', unit: 'MiB', tsd: perCtr[0], other: perCtr[1], note: notes.join('; ') },
    { text: '≤ 0.5 MiB', met: (t) => t <= 0.5 });
  figure({ label: `engine RSS with ${sleepers} running (tsd: daemon + warm inits; dockerd + containerd + shims)`, unit: 'MiB', tsd: rss[0], other: rss[1] },
    { text: '≤ 0.33×', met: (_, r) => r !== undefined && r <= 1 / 3 });
}

function warmInitFigure(e: Engine & { pid: number }): void {
  const inits = childrenOf(e.pid).filter((p) => /--warm/.test(p.cmdline));
  for (const [i, p] of inits.entries()) {
    const m = memKiB(p.pid);
    const c = cpuMs(p.pid);
    figure({ label: `warm init ${i + 1} (waiting): RSS / PSS, CPU it took to start`, unit: 'MiB', tsd: m.rss / 1024, note: `PSS ${(m.pss / 1024).toFixed(1)} MiB, ${c.self.toFixed(0)} ms CPU, ${p.cmdline.split(' ')[0]}` });
  }
  if (!inits.length) figure({ label: 'warm inits', unit: '', note: 'none waiting (--init-pool 0, or a pool that does not use processes)' });
}

async function networkFigures(): Promise<void> {
  const args = [path.join(here, 'network.js'), '--runs', String(runs), ...(vs ? ['--vs', vs] : [])];
  console.log(`\n-- bench/network.ts (${loadavg()}):`);
  const out = await new Promise<string>((resolve) => {
    let text = '';
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.on('data', (d) => { process.stdout.write(String(d).replace(/^FIGURES-JSON .*\n?/m, '')); text += d; });
    p.once('close', () => resolve(text));
  });
  // its figures (tsd, the other engine, goal) as network.ts computed them, on its last line
  const json = out.split('\n').find((l) => l.startsWith('FIGURES-JSON '));
  for (const f of json ? (JSON.parse(json.slice(13)) as Array<Omit<Figure, 'load'>>) : []) figures.push({ ...f, label: `network: ${f.label}`, load: loadavg() });
  if (!json) figures.push({ label: 'network', unit: '', load: loadavg(), note: 'bench/network.js printed no figures (see its output above)' });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the bench needs root');
  const cpu = os.cpus();
  console.log(`tsd bench (issue #16), ${new Date().toISOString()}, ${os.hostname()}: ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`);
  console.log(`command: node dist/bench/compare.js ${process.argv.slice(2).join(' ')}   [${loadavg()}]`);
  const tsd = await tsdEngine();
  const other = vs ? await otherEngine(vs) : null;
  const engines = [tsd, ...(other ? [other] : [])];
  if (only.has('run')) await runFigures(engines);
  if (only.has('exec')) await execFigure(engines);
  if (only.has('probe')) await probeFigure(engines);
  if (only.has('starts')) await startsFigure(engines);
  if (process.argv.includes('--marks')) await marksFigure(tsd, tsd.output);
  if (only.has('sleepers')) await sleepersFigure(engines);
  warmInitFigure(tsd);
  if (only.has('network')) await networkFigures();
  console.log(`\n${markdown()}\n\n${loadavg()} at the end`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const f of teardowns.reverse()) {
      try { await f(); } catch { /* best effort */ }
    }
  });
