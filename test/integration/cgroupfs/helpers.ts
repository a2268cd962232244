// Shared by the cgroupfs integration tests: a unique parent cgroup per test,
// removed in teardown even on failure, and children placed in the cgroup by a
// wrapper that writes its own pid into every cgroup.procs and then execs.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createCgroupManager, removeCgroupParent } from '../../../cgroupfs/index.js';
import type { CgroupManager } from '../../../cgroupfs/index.js';

let counter = 0;

export function uniqueParent(): string {
  return `tsd-test-${process.pid}-${++counter}`;
}

export interface TestCgroup {
  mgr: CgroupManager;
  parent: string;
  /** start `argv` inside the cgroup; resolves once the kernel lists the pid */
  run(argv: string[]): Promise<ChildProcess>;
  /** run a short-lived `argv` inside the cgroup to completion (exit 97: could not join) */
  runToExit(argv: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Create a cgroup under a fresh parent; teardown kills everything in it and removes both. */
export function testCgroup(t: { teardown(fn: () => unknown): void }, root = '/sys/fs/cgroup'): TestCgroup {
  const parent = uniqueParent();
  const mgr = createCgroupManager({ root, parent, name: 'c' });
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    try {
      await mgr.destroy();
    } finally {
      removeCgroupParent({ root, parent });
    }
  });
  mgr.create();
  const start = (argv: string[]) => {
    const script = 'for f in $TSD_PROCS; do echo $$ > "$f" || exit 97; done; exec "$@"';
    const child = spawn('/bin/sh', ['-c', script, 'sh', ...argv], {
      stdio: ['ignore', 'ignore', process.env.TSD_TEST_DEBUG ? 'inherit' : 'ignore'],
      env: { ...process.env, TSD_PROCS: mgr.procsFiles().join(' ') },
    });
    children.push(child);
    return child;
  };
  return {
    mgr,
    parent,
    runToExit: (argv: string[]) => exited(start(argv)),
    async run(argv: string[]) {
      const child = start(argv);
      // a shell's start and one write: instant here, but seconds in the emulated v2 guest on a loaded host
      const deadline = Date.now() + (process.env.TSD_TEST_EMULATED === '1' ? 60_000 : 10_000);
      while (!mgr.pids().includes(child.pid!)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`child exited early: ${child.exitCode ?? child.signalCode}`);
        if (Date.now() > deadline) throw new Error('child never joined the cgroup');
        await new Promise((r) => setTimeout(r, 5));
      }
      return child;
    },
  };
}

export const exited = (c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve({ code: c.exitCode, signal: c.signalCode })
    : new Promise((r) => c.once('exit', (code, signal) => r({ code, signal })));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const readNum = (f: string) => Number(fs.readFileSync(f, 'utf8').trim());

/** Poll `cond` every 20 ms until true or `ms` pass; returns the last result (the machine may be loaded). */
export async function eventually(cond: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}
