// Time from "start" to the entrypoint running (execve done: launch() resolved)
// and to its exit, for `true` in the busybox fixture. Median of N runs.
//   node dist/bench/runtime-start.js [runs=20] [--warm]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { busyboxRootfs } from '../test/fixtures/busybox.js';
import { launch, warmPool } from '../runtime/index.js';
import type { RuntimeSpec } from '../runtime/index.js';

const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
const warm = args.includes('--warm');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('runtime-start needs root');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-bench-'));
  for (const d of ['upper', 'work', 'rootfs']) fs.mkdirSync(path.join(dir, d));
  const rootfs = path.join(dir, 'rootfs');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${busyboxRootfs()},upperdir=${dir}/upper,workdir=${dir}/work`, rootfs]);
  const spec: RuntimeSpec = {
    id: 'bench', rootfs, args: ['true'], env: [], cwd: '', user: '', hostname: 'bench', tty: false, openStdin: false,
    readonlyRootfs: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], ulimits: [], mounts: [],
    network: { mode: 'none' }, cgroupProcs: [],
  };
  const cleanup = () => {
    if (warm) warmPool.disable();
    try { execFileSync('umount', [rootfs]); } catch { /* not mounted */ }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { cleanup(); process.exit(130); });
  if (warm) warmPool.enable(2);
  const toRunning: number[] = [];
  const toExit: number[] = [];
  try {
    for (let i = 0; i < runs + 1; i++) {
      if (warm) await warmPool.ready();
      const t0 = performance.now();
      const task = await launch(spec);
      const t1 = performance.now();
      task.stdout?.resume();
      task.stderr?.resume();
      const ex = await task.exited;
      const t2 = performance.now();
      if (ex.exitCode !== 0) throw new Error(`true exited ${ex.exitCode}`);
      if (i === 0) continue; // warm-up (module caches)
      toRunning.push(t1 - t0);
      toExit.push(t2 - t0);
    }
  } finally {
    cleanup();
  }
  console.log(`runtime-start (${warm ? 'warm pool' : 'cold'}), ${runs} runs of \`true\` in busybox:`);
  console.log(`  start -> entrypoint running: median ${median(toRunning).toFixed(1)} ms (min ${Math.min(...toRunning).toFixed(1)}, max ${Math.max(...toRunning).toFixed(1)})`);
  console.log(`  start -> exit:               median ${median(toExit).toFixed(1)} ms (min ${Math.min(...toExit).toFixed(1)}, max ${Math.max(...toExit).toFixed(1)})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
