// A small memory limit on a container started from the warm pool: a warm init is a
// Node process whose memory is charged to its staging cgroup (<parent>/warm-<pid>),
// well above moby's 6 MiB minimum. Adopting that cgroup and then writing the limit
// fails on v1 (EBUSY: memory.limit_in_bytes below usage, nothing to reclaim without
// swap) and OOM-kills the init on v2. `docker run -m 6m` works with dockerd, so it
// must here too, warm pool on, every time.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { detectCgroupMode } from '../../../cgroupfs/index.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { containerOpts, freeBip, waitFor } from './helpers.js';

const opts = containerOpts();
const v2 = detectCgroupMode() === 'unified';
const IMAGE = 'busybox:fixture';
const timeout = Number(process.env.TSD_TEST_DOCKER_TIMEOUT_MS) || 60_000;
const MIN = 6 << 20; // moby's minimum (linuxMinMemory)

interface R { code: number; out: string; err: string }
const dockerOf = (d: TestDaemon) => (...args: string[]): Promise<R> => new Promise((resolve) => {
  execFile('docker', args, { env: d.dockerEnv, timeout, maxBuffer: 16 << 20 }, (e, out, err) => {
    resolve({ code: e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1) : 0, out: String(out), err: String(err) });
  }).stdin!.end();
});

/** The memory usage of each warm init's staging cgroup under the parent `p`. */
function stagingUsage(p: string): number[] {
  const dir = v2 ? path.join('/sys/fs/cgroup', p) : path.join('/sys/fs/cgroup/memory', p);
  const file = v2 ? 'memory.current' : 'memory.usage_in_bytes';
  let names: string[] = [];
  try { names = fs.readdirSync(dir).filter((n) => /^warm-\d+$/.test(n)); } catch { return []; }
  const out: number[] = [];
  for (const n of names) {
    try { out.push(Number(fs.readFileSync(path.join(dir, n, file), 'utf8'))); } catch { /* gone meanwhile */ }
  }
  return out;
}

// Both kinds of warm init: the Node init (TSD_NSEXEC=0), whose charge made the bug, and
// tsd-nsexec (the default where it is built), charged far less, which must start the same.
for (const [label, env] of [['a warm Node init', { TSD_NSEXEC: '0' }], ['a warm tsd-nsexec', {}]] as const) {
  t.test(`docker run -m 6m on ${label}`, opts, async (t) => {
    const nodeInits = 'TSD_NSEXEC' in env;
    const d = await startDaemon(t, ['--bip', freeBip(), '--init-pool', '2'], env);
    const docker = dockerOf(d);
    const load = await docker('load', '-i', (await busyboxSaveTar()).path);
    t.equal(load.code, 0, load.err);

    for (let i = 0; i < 3; i++) {
      // the precondition that made the bug: a ready warm init charged more than the limit
      if (nodeInits) await waitFor(() => stagingUsage(d.cgroupParent).filter((u) => u > MIN + (1 << 20)).length >= 2, 60_000, 'two warm inits charged more than 7 MiB');
      else await waitFor(() => stagingUsage(d.cgroupParent).length >= 2, 60_000, 'two warm inits staged');
      t.ok(true, `staging usage (bytes): ${stagingUsage(d.cgroupParent).join(', ')}`);
      const r = await docker('run', '--rm', '-m', '7m', IMAGE, 'sh', '-c', v2 ? 'cat /sys/fs/cgroup/memory.max' : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes');
      t.equal(r.code, 0, `-m 7m starts (run ${i + 1}): ${r.err}`);
      t.equal(r.out.trim(), String(7 << 20), 'the limit is the container\'s');
    }
    const r = await docker('run', '--rm', '-m', '6m', '--memory-swap', '6m', IMAGE, 'echo', 'ok');
    t.equal(r.code, 0, `-m 6m --memory-swap 6m starts: ${r.err}`);
    t.equal(r.out.trim(), 'ok');

    // the common case keeps the fast path: no limit, the staging cgroup is adopted (v1: renamed to the id)
    const id = (await docker('run', '-d', IMAGE, 'sleep', '300')).out.trim();
    t.ok(id, 'started');
    if (!v2) {
      const pid = Number((await docker('inspect', '-f', '{{.State.Pid}}', id)).out.trim());
      const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'))!;
      t.equal(line.slice(line.lastIndexOf('/') + 1), id, 'in its own cgroup');
    }
    await docker('rm', '-f', id);

    // the staging cgroups of the inits that joined a fresh cgroup were discarded: only the pool's remain
    const dir = v2 ? path.join('/sys/fs/cgroup', d.cgroupParent) : path.join('/sys/fs/cgroup/memory', d.cgroupParent);
    const left = () => fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    await waitFor(() => left().every((n) => /^warm-\d+$/.test(n)) && left().length <= 2, 20_000, 'only the pool\'s staging cgroups left').catch(() => {});
    t.ok(left().every((n) => /^warm-\d+$/.test(n)) && left().length <= 2, `left under the parent: ${left().join(', ')}`);
  });
}
