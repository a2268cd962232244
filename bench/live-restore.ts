// Live restore (#13) figures, with a tsd daemon started here under --live-restore
// (own socket, data root, bridge, cgroup parent; needs root):
//  1. memory: the holder's RSS (the one process per exec root that outlives the
//     daemon) with no container, then with N sleeping containers; per container it is
//     what live restore adds on the host (dockerd pays a containerd-shim, ~13 MiB each);
//  2. output while down: the daemon is SIGKILLed, a container then writes MB of
//     numbered 100-byte lines; the daemon stays down for S seconds and is started
//     again; every line must be in `docker logs`, in order, and the writer must not
//     have blocked (its own start/end times are printed next to the downtime).
//   node dist/bench/live-restore.js [containers=100] [MB=20] [down seconds=30]
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { busyboxSaveTar } from '../test/fixtures/images.js';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 100);
const MB = Number(process.argv[3] ?? 20);
const DOWN = Number(process.argv[4] ?? 30);
const teardowns: Array<() => unknown> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The host's boot clock (the container reads the same /proc/uptime: it is not namespaced). */
const uptimeMs = (): number => Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
/** Proportional set size (shared pages split among their users): what the process really adds. */
const pssKiB = (pid: number): number => Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);

async function main() {
  const t = { teardown: (fn: () => unknown) => teardowns.push(fn) };
  let d: TestDaemon = await startDaemon(t, ['--live-restore'], { TSD_TEST_LOG_LEVEL: 'warn' });
  const bip = d.proc.spawnargs[d.proc.spawnargs.indexOf('--bip') + 1]!;
  const docker = async (...args: string[]) => (await run('docker', args, { env: d.dockerEnv, maxBuffer: 1 << 26 })).stdout;
  teardowns.unshift(async () => {
    const ids = (await docker('ps', '-aq').catch(() => '')).split('\n').filter(Boolean);
    if (ids.length) await docker('rm', '-f', ...ids).catch(() => {});
    try { process.kill(holderPid, 'SIGKILL'); } catch { /* gone */ }
  });
  await docker('load', '-i', (await busyboxSaveTar()).path);
  const holderPid = Number(fs.readFileSync(path.join(d.execRoot, 'restore', 'holder.pid'), 'utf8'));

  // ---- 1. memory -------------------------------------------------------------
  await sleep(500);
  const rss0 = rssKiB(holderPid);
  const pss0 = pssKiB(holderPid);
  const t0 = Date.now();
  for (let i = 0; i < N; i++) await docker('run', '-d', '--network', 'none', '--name', `s${i}`, 'busybox:fixture', 'sleep', '3600');
  const startSecs = (Date.now() - t0) / 1000;
  await sleep(1000);
  const rss1 = rssKiB(holderPid);
  const pss1 = pssKiB(holderPid);
  console.log(`holder with 0 containers: RSS ${(rss0 / 1024).toFixed(1)} MiB, PSS ${(pss0 / 1024).toFixed(1)} MiB`);
  console.log(`holder with ${N} sleeping containers: RSS ${(rss1 / 1024).toFixed(1)} MiB, PSS ${(pss1 / 1024).toFixed(1)} MiB (${N} started in ${startSecs.toFixed(0)} s)`);
  console.log(`added per container: RSS ${((rss1 - rss0) / N).toFixed(1)} KiB, PSS ${((pss1 - pss0) / N).toFixed(1)} KiB; the whole holder over ${N}: ${(rss1 / N).toFixed(0)} KiB each (dockerd: one containerd-shim, ~13 MiB, per container)`);
  const sleepers = Array.from({ length: N }, (_, i) => `s${i}`);
  for (let i = 0; i < sleepers.length; i += 50) await docker('rm', '-f', ...sleepers.slice(i, i + 50));

  // ---- 2. output while the daemon is down -------------------------------------
  const lines = Math.round((MB * 1e6) / 100);
  const pad = 'x'.repeat(90);
  // waits for the daemon to be gone (3 s), writes, then records its own start and end on stderr
  const script = `sleep 3; cut -d' ' -f1 /proc/uptime >&2; awk 'BEGIN{for(i=1;i<=${lines};i++) printf "%08d ${pad}\\n", i}'; cut -d' ' -f1 /proc/uptime >&2; exec sleep 3600`;
  await docker('run', '-d', '--network', 'none', '--name', 'flood', 'busybox:fixture', 'sh', '-c', script);
  await d.stop('SIGKILL');
  const downAt = uptimeMs();
  await sleep(DOWN * 1000);
  d = await startDaemon(t, ['--live-restore', '--bip', bip], { TSD_TEST_LOG_LEVEL: 'warn' }, d);
  const upAt = uptimeMs();
  const times = (await run('sh', ['-c', 'docker logs flood 2>&1 >/dev/null'], { env: d.dockerEnv })).stdout;
  const [w0, w1] = times.trim().split('\n').map((x) => Number(x) * 1000);
  // count and check the lines as they stream
  const got = await new Promise<{ n: number; ok: boolean }>((resolve, reject) => {
    const p = spawn('docker', ['logs', 'flood'], { env: d.dockerEnv, stdio: ['ignore', 'pipe', 'ignore'] });
    let n = 0;
    let ok = true;
    let rest = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (s: string) => {
      const parts = (rest + s).split('\n');
      rest = parts.pop()!;
      for (const l of parts) { n++; if (Number(l.slice(0, 8)) !== n) ok = false; }
    });
    p.on('error', reject);
    p.on('close', () => resolve({ n, ok }));
  });
  const id = (await docker('inspect', '-f', '{{.Id}}', 'flood')).trim();
  const logBytes = fs.statSync(path.join(d.dataRoot, 'containers', id, `${id}-json.log`)).size;
  console.log(`output while down: ${MB} MB (${lines} lines) written with the daemon SIGKILLed for ${((upAt - downAt) / 1000).toFixed(0)} s`);
  console.log(`  the writer ran ${((w1! - w0!) / 1000).toFixed(2)} s and ended ${((w1! - downAt) / 1000).toFixed(1)} s after the kill, the restart came at ${((upAt - downAt) / 1000).toFixed(0)} s: ${w1! < upAt ? 'it never waited for the daemon' : 'it finished only after the restart'}`);
  console.log(`  docker logs after the restart: ${got.n}/${lines} lines, ${got.ok ? 'all in order, none missing or repeated' : 'GAPS OR REPEATS'}; json-file ${(logBytes / 1e6).toFixed(0)} MB`);
}

main()
  .catch((err) => { console.error(err); process.exitCode = 1; })
  .finally(async () => { for (const fn of teardowns) await fn(); });
