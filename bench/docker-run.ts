// Time `docker run --rm busybox true` against a tsd daemon started here (its own
// temporary socket, data root, bridge and cgroup parent), and the same lifecycle
// over the API without the CLI. Prints medians; needs root.
//   node dist/bench/docker-run.js [runs=20]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDaemon } from '../test/helpers/daemon.js';
import { busyboxSaveTar } from '../test/fixtures/images.js';

const run = promisify(execFile);
const runs = Number(process.argv[2] ?? 20);
const teardowns: Array<() => unknown> = [];
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]!; };

async function main() {
  const d = await startDaemon({ teardown: (fn) => teardowns.push(fn) }, [], { TSD_TEST_LOG_LEVEL: 'warn' });
  const { path: tar } = await busyboxSaveTar();
  await run('docker', ['load', '-i', tar], { env: d.dockerEnv });
  // Back to back (the warm pool refills while the next run starts: 2 cores shared), and paced
  // (300 ms apart: what one `docker run` on an idle daemon costs).
  const time = async (label: string, args: string[], pause = 0) => {
    await run('docker', args, { env: d.dockerEnv }); // warm-up
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      if (pause) await new Promise((r) => setTimeout(r, pause));
      const s = process.hrtime.bigint();
      await run('docker', args, { env: d.dockerEnv });
      t.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    console.log(`${label.padEnd(52)} median ${median(t).toFixed(1)} ms  min ${Math.min(...t).toFixed(1)} ms  (${runs} runs)`);
  };
  await time('docker run --rm busybox true', ['run', '--rm', 'busybox:fixture', 'true']);
  await time('docker run --rm --network none busybox true', ['run', '--rm', '--network', 'none', 'busybox:fixture', 'true']);
  await time('  the same, paced 300 ms apart (bridge)', ['run', '--rm', 'busybox:fixture', 'true'], 300);
  await time('  the same, paced 300 ms apart (--network none)', ['run', '--rm', '--network', 'none', 'busybox:fixture', 'true'], 300);
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    await run('docker', ['version', '--format', '{{.Server.Version}}'], { env: d.dockerEnv });
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  console.log(`${'docker version (CLI + one round trip, for scale)'.padEnd(52)} median ${median(t).toFixed(1)} ms`);
  // API only: create → start → wait → delete, no CLI process.
  const api: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    const c = await d.request('POST', '/v1.44/containers/create', { Image: 'busybox:fixture', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    await d.request('POST', `/v1.44/containers/${c.body.Id}/start`);
    await d.request('POST', `/v1.44/containers/${c.body.Id}/wait`);
    await d.request('DELETE', `/v1.44/containers/${c.body.Id}`);
    api.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  console.log(`${'API create+start+wait+rm, --network none'.padEnd(52)} median ${median(api).toFixed(1)} ms`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; }).finally(async () => {
  for (const f of teardowns.reverse()) await f();
});
