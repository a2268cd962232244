// How long it takes to put a warm init (a Node process: multithreaded) into a
// container's cgroup, on whatever this host mounts: v1 by renaming its staging
// cgroup (what tsd does) and by moving the process; v2 by adopting the staging
// cgroup under its own name (what tsd does: cgroup2 has no rename) and by moving
// the process, with and without the cgroup2 mount's favordynmods (which trades
// fork/exit cost for cheap migrations). Prints medians in ms.
//   node dist/bench/cgroup-move.js [rounds] [--favordynmods]   (root; v2 figures in the v2vm guest)
// --favordynmods (v2) also measures the move with the mount's favordynmods toggled:
// that remounts the host's cgroup2, a host-wide change, so only in a throwaway guest.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

import { fileURLToPath } from 'node:url';
import { createCgroupManager, detectCgroupMode, removeCgroupParent } from '../cgroupfs/index.js';

const INIT = fileURLToPath(new URL('../runtime/init/main.js', import.meta.url));
const rounds = Number(process.argv.find((a) => /^\d+$/.test(a))) || 10;
const toggle = process.argv.includes('--favordynmods');
const mode = detectCgroupMode();
const parent = `tsd-bench-move-${process.pid}`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function warmInit(): Promise<ChildProcess> {
  const c = spawn(process.execPath, [INIT, '--warm'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: {} });
  return new Promise((resolve, reject) => {
    (c.stdio[3] as NodeJS.ReadableStream).once('data', () => resolve(c));
    c.once('exit', () => reject(new Error('warm init exited')));
  });
}

async function round(kind: 'rename' | 'move', i: number): Promise<number> {
  const stage = createCgroupManager({ mode, parent, name: `warm-${i}` });
  const ctr = createCgroupManager({ mode, parent, name: `ctr-${i}` });
  const init = await warmInit();
  try {
    stage.create();
    stage.addProcess(init.pid!);
    await new Promise((r) => setTimeout(r, 50));
    let t0: bigint;
    if (kind === 'rename') {
      t0 = process.hrtime.bigint();
      if (!ctr.adopt(`warm-${i}`)) throw new Error('adopt refused');
      const took = ms(t0);
      ctr.create(); // as the start path does after adopt(), and the move series before its move: not timed
      if (!ctr.pids().includes(init.pid!)) throw new Error('the adopted cgroup does not hold the init');
      return took;
    }
    ctr.create();
    t0 = process.hrtime.bigint();
    for (const f of ctr.procsFiles()) fs.writeFileSync(f, String(init.pid));
    return ms(t0);
  } finally {
    init.kill('SIGKILL');
    await new Promise((r) => init.once('exit', r));
    await ctr.destroy().catch(() => {});
    await stage.destroy().catch(() => {});
  }
}

function mountOpts(): string {
  const line = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === '/sys/fs/cgroup');
  return line?.split(' ')[3] ?? '';
}

async function series(label: string, kind: 'rename' | 'move'): Promise<void> {
  const xs: number[] = [];
  for (let i = 0; i < rounds; i++) xs.push(await round(kind, i));
  console.log(`${label.padEnd(44)} median ${median(xs).toFixed(3)} ms  (min ${Math.min(...xs).toFixed(3)}, max ${Math.max(...xs).toFixed(3)}, n=${rounds})`);
}

try {
  console.log(`cgroup mode: ${mode}; ${rounds} warm inits each`);
  if (mode === 'unified') {
    const opts = mountOpts();
    const had = opts.split(',').includes('favordynmods');
    await series('v2 adopt of the staging cgroup (no move)', 'rename');
    await series(`v2 move${had ? ' (favordynmods)' : ''}`, 'move');
    if (toggle) {
      // cgroup2 has no "nofavordynmods": a remount without the flag clears it
      const { execFileSync } = await import('node:child_process');
      const without = opts.split(',').filter((o) => o !== 'favordynmods').join(',');
      try {
        execFileSync('mount', ['-o', `remount,${had ? without : `${without},favordynmods`}`, '/sys/fs/cgroup'], { stdio: 'pipe' });
        try {
          await series(`v2 move${had ? '' : ' (favordynmods)'}`, 'move');
        } finally {
          execFileSync('mount', ['-o', `remount,${opts}`, '/sys/fs/cgroup'], { stdio: 'pipe' });
        }
      } catch (e) {
        console.log(`favordynmods not toggled: ${(e as Error).message.split('\n')[0]}`);
      }
      if (mountOpts() !== opts) console.log(`warning: /sys/fs/cgroup is now mounted ${mountOpts()} (was ${opts})`);
    }
  } else {
    await series('v1 rename of the staging cgroup', 'rename');
    await series('v1 move of the process', 'move');
  }
} finally {
  removeCgroupParent({ mode, parent });
}
