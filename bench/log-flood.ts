// API latency under a log flood (issue #9 item 16): a tsd daemon started here
// (own socket, data root, bridge, cgroup parent), `_ping` answered back to back
// for a few seconds while idle and while a container writes stdout as fast as it
// can (json-file, max-size 100m x 2 so the disk does not fill). Prints p50/p99/max
// of _ping and how fast the log grew; needs root.
//   node dist/bench/log-flood.js [seconds=6] [container cpus=0.5]
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon } from '../test/helpers/daemon.js';
import { busyboxSaveTar } from '../test/fixtures/images.js';

const secs = Number(process.argv[2] ?? 6);
// the flooding container's CPU quota: it writes as fast as it can within it (0 = none)
const cpus = Number(process.argv[3] ?? 0.5);
const teardowns: Array<() => unknown> = [];
const q = (a: number[], p: number): number => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * p))]!; };

async function main() {
  const d = await startDaemon({ teardown: (fn) => teardowns.push(fn) }, [], { TSD_TEST_LOG_LEVEL: 'warn' });
  await d.request('POST', '/images/load?quiet=1', fs.readFileSync((await busyboxSaveTar()).path), { 'content-type': 'application/x-tar' });
  const pings = async (label: string, logFile?: string) => {
    const lat: number[] = [];
    const size0 = logFile ? logSize(logFile) : 0;
    const cpu0 = cpuTicks(d.proc.pid!);
    const end = Date.now() + secs * 1000;
    while (Date.now() < end) {
      const s = process.hrtime.bigint();
      await d.request('GET', '/_ping');
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      if (logFile) logSize(logFile);
    }
    const grew = logFile ? (logSize(logFile) - size0) / secs / 1e6 : 0;
    const cpu = (cpuTicks(d.proc.pid!) - cpu0) / ticksPerSec / secs * 100;
    console.log(`${label.padEnd(34)} _ping p50 ${q(lat, 0.5).toFixed(2).padStart(7)} ms  p99 ${q(lat, 0.99).toFixed(2).padStart(7)} ms  max ${Math.max(...lat).toFixed(1).padStart(7)} ms  (${lat.length} pings)  daemon CPU ${cpu.toFixed(0)}%${logFile ? `  log +${grew.toFixed(1)} MB/s` : ''}`);
  };
  await pings('idle daemon');
  const line = 'x'.repeat(99);
  const c = await d.request('POST', '/containers/create', {
    Image: 'busybox:fixture', Cmd: ['yes', line], HostConfig: { NetworkMode: 'none', NanoCpus: cpus * 1e9, LogConfig: { Type: 'json-file', Config: { 'max-size': '100m', 'max-file': '2' } } },
  });
  const id = c.body.Id as string;
  await d.request('POST', `/containers/${id}/start`);
  const logFile = path.join(d.dataRoot, 'containers', id, `${id}-json.log`);
  await new Promise((r) => setTimeout(r, 500));
  await pings('one container flooding stdout', logFile);
  await d.request('DELETE', `/containers/${id}?force=1`);
}

const ticksPerSec = 100; // USER_HZ
/** utime + stime of a process, in clock ticks */
function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Bytes written so far, across rotations (the live file plus the rotated one). */
let rotatedSeen = 0;
let lastLive = 0;
function logSize(f: string): number {
  let live = 0;
  try { live = fs.statSync(f).size; } catch { /* not yet */ }
  if (live < lastLive) rotatedSeen += lastLive; // rotated since the last look (approximate: one rotation between looks)
  lastLive = live;
  return rotatedSeen + live;
}

main().catch((e) => { console.error(e); process.exitCode = 1; }).finally(async () => {
  for (const f of teardowns.reverse()) await f();
});
