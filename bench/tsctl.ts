// tsctl and the explain/metrics endpoints, timed against a tsd daemon started here:
// `tsctl version` (the CLI's own cost: node, commander, one request) next to
// `docker version`, `tsctl ps`, GET /containers/{id}/primitives?window=0 and
// GET /metrics with a few containers running. Prints medians; needs root.
//   node dist/bench/tsctl.js [runs=15]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDaemon, tsctlMain } from '../test/helpers/daemon.js';
import { busyboxSaveTar } from '../test/fixtures/images.js';

const run = promisify(execFile);
const runs = Number(process.argv[2] ?? 15);
const teardowns: Array<() => unknown> = [];
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]!; };

async function main() {
  const d = await startDaemon({ teardown: (fn) => teardowns.push(fn) }, [], { TSD_TEST_LOG_LEVEL: 'warn' });
  await run('docker', ['load', '-i', (await busyboxSaveTar()).path], { env: d.dockerEnv });
  const env = { ...process.env, TSD_HOST: `unix://${d.socket}` };
  for (let i = 0; i < 4; i++) await run(process.execPath, [tsctlMain, 'run', '-d', '--name', `b${i}`, '-m', '64m', 'busybox:fixture', 'sleep', '600'], { env });
  const time = async (label: string, fn: () => Promise<unknown>) => {
    await fn();
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      const s = process.hrtime.bigint();
      await fn();
      t.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    console.log(`${label.padEnd(48)} median ${median(t).toFixed(1)} ms  min ${Math.min(...t).toFixed(1)} ms  (${runs} runs)`);
  };
  await time('node -e 0 (for scale)', () => run(process.execPath, ['-e', '0']));
  await time('tsctl version', () => run(process.execPath, [tsctlMain, 'version'], { env }));
  await time('docker version', () => run('docker', ['version'], { env: d.dockerEnv }));
  await time('tsctl ps (4 running)', () => run(process.execPath, [tsctlMain, 'ps'], { env }));
  await time('GET /containers/b0/primitives?window=0', async () => { const r = await d.request('GET', '/containers/b0/primitives?window=0'); if (r.status !== 200) throw new Error(r.text); });
  await time('tsctl explain --window 0 b0', () => run(process.execPath, [tsctlMain, 'explain', '--window', '0', 'b0'], { env }));
  await time('GET /metrics (4 running)', async () => { const r = await d.request('GET', '/metrics'); if (r.status !== 200) throw new Error(r.text); });
  await run(process.execPath, [tsctlMain, 'rm', '-f', 'b0', 'b1', 'b2', 'b3'], { env });
}

main()
  .catch((e) => { console.error(e); process.exitCode = 1; })
  .finally(async () => { for (const f of teardowns.reverse()) await f(); });
