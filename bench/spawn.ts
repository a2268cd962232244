// What starting a helper costs the daemon as it grows: Node's spawn (libuv forks,
// copying the page tables of the whole process) next to posix_spawn (vfork, what
// runtime/vspawn.ts does for tsd-nsexec), from this process with 0 and N MiB of
// heap touched. Prints wall time and this process's CPU per spawn of /bin/true.
//   node dist/bench/spawn.js [--mib 150] [--n 50]
import { spawn } from 'node:child_process';
import { vspawn } from '../runtime/vspawn.js';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(k);
  return i > 0 ? process.argv[i + 1]! : d;
};
const N = Number(arg('--n', '50'));
const big: Buffer[] = [];
for (const mib of [0, Number(arg('--mib', '150'))]) {
  while (big.length < mib) big.push(Buffer.alloc(1 << 20, 1));
  for (const [name, fn] of [
    ['node spawn (fork)', () => spawn('/bin/true', [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })],
    ['posix_spawn (vfork)', () => vspawn('/bin/true', [], ['pipe', 'pipe', 'pipe'])],
  ] as const) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await new Promise((r) => fn().once('exit', r));
    const c = process.cpuUsage(c0);
    const rss = process.memoryUsage().rss / 2 ** 20;
    console.log(`${name.padEnd(20)} from ${rss.toFixed(0).padStart(4)} MiB RSS: ${((performance.now() - t0) / N).toFixed(2).padStart(6)} ms wall, CPU ${(c.user / 1000 / N).toFixed(2)} ms user + ${(c.system / 1000 / N).toFixed(2)} ms sys per spawn`);
  }
}
