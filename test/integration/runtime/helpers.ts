// Shared by the runtime integration tests: an overlay rootfs of the busybox
// fixture in a temp dir, a spec builder, and a runner that collects output.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Test } from 'tap';
import { busyboxRootfs } from '../../fixtures/busybox.js';
import { launch } from '../../../runtime/index.js';
import type { RuntimeSpec, Process } from '../../../runtime/index.js';

/** Mounts an overlay of the busybox fixture; unmounted and removed in teardown. */
export function overlayRootfs(t: Test): { dir: string; rootfs: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-rt-${process.pid}-`));
  for (const d of ['upper', 'work', 'rootfs']) fs.mkdirSync(path.join(dir, d));
  const rootfs = path.join(dir, 'rootfs');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${busyboxRootfs()},upperdir=${dir}/upper,workdir=${dir}/work`, rootfs]);
  t.teardown(() => {
    try { execFileSync('umount', [rootfs]); } catch { execFileSync('umount', ['-l', rootfs]); }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, rootfs };
}

export function baseSpec(rootfs: string, args: string[], extra: Partial<RuntimeSpec> = {}): RuntimeSpec {
  return {
    id: `test${process.pid}`, rootfs, args, env: [], cwd: '', user: '', hostname: 'ctr', tty: false, openStdin: false,
    readonlyRootfs: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], ulimits: [], mounts: [],
    network: { mode: 'none' }, cgroupProcs: [], ...extra,
  };
}

export const collect = (r: Readable | null): Promise<string> =>
  new Promise((resolve) => {
    if (!r) return resolve('');
    let s = '';
    r.setEncoding('utf8');
    r.on('data', (d: string) => { s += d; });
    r.on('end', () => resolve(s));
    r.on('error', () => resolve(s));
  });

/** Kills the task in teardown if the test left it running. */
export function guard(t: Test, task: Process): Process {
  t.teardown(async () => {
    task.kill('SIGKILL');
    await task.exited;
  });
  return task;
}

/** Launches, waits for the exit, returns stdout, stderr and the exit code. */
export async function run(t: Test, spec: RuntimeSpec): Promise<{ out: string; err: string; code: number }> {
  const task = guard(t, await launch(spec));
  const [out, err, ex] = await Promise.all([collect(task.stdout), collect(task.stderr), task.exited]);
  return { out, err, code: ex.exitCode };
}

/** Pids of host processes whose PID namespace is `nsLink` (e.g. 'pid:[4026532]'). */
export function pidsInNamespace(nsLink: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readlinkSync(`/proc/${p}/ns/pid`) === nsLink) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}
