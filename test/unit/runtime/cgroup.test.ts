// The runtime's cgroups (no root, on the cgroupfs fixtures): a task's cgroup is
// adopted from a warm init's staging cgroup when it can be, else made; limits
// are applied either way.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { Cgroups } from '../../../runtime/cgroup.js';
import { v1Fixture, v2Fixture } from '../cgroupfs/fixtures.js';

t.test('v1: the staging cgroup of a warm init becomes the task cgroup', async (t) => {
  const root = t.testdir({});
  v1Fixture(root, 'tsd/warm-42');
  const cg = new Cgroups('legacy', 'tsd', root);
  const p = cg.place({ parent: 'tsd', name: 'ctr1', resources: { memory: 64 << 20, pidsLimit: 20 } }, 'warm-42');
  t.equal(p.adopted, true);
  t.same(p.procs, [], 'the init is already inside: nothing to join');
  t.notOk(fs.existsSync(path.join(root, 'memory', 'tsd', 'warm-42')), 'the staging cgroup was renamed');
  t.equal(fs.readFileSync(path.join(root, 'memory', 'tsd', 'ctr1', 'memory.limit_in_bytes'), 'utf8').trim(), String(64 << 20), 'limits applied');
  t.equal(fs.readFileSync(path.join(root, 'pids', 'tsd', 'ctr1', 'pids.max'), 'utf8').trim(), '20');
});

t.test('another parent, or no warm init: a new cgroup the init joins', async (t) => {
  const root = t.testdir({});
  v1Fixture(root, 'tsd/warm-43');
  v1Fixture(root, 'other/x');
  const cg = new Cgroups('legacy', 'tsd', root);
  const p = cg.place({ parent: 'other', name: 'ctr2', resources: {} }, 'warm-43');
  t.equal(p.adopted, false, 'a staging cgroup is only adopted under its own parent');
  t.ok(p.procs.length > 0 && p.procs.every((f) => f.endsWith('/other/ctr2/cgroup.procs')), 'the init writes its pid into the task cgroup');
  t.ok(fs.existsSync(path.join(root, 'memory', 'tsd', 'warm-43')), 'the staging cgroup is left for the runtime to discard');
  const cold = cg.place({ parent: 'tsd', name: 'ctr3', resources: {} }, null);
  t.equal(cold.adopted, false);
  t.ok(fs.existsSync(path.join(root, 'memory', 'tsd', 'ctr3')));
});

t.test('v2: the staging cgroup becomes the task cgroup under its own name (cgroup2 cannot rename)', async (t) => {
  const root = t.testdir({});
  v2Fixture(root, 'tsd/warm-44');
  const cg = new Cgroups('unified', 'tsd', root);
  const p = cg.place({ parent: 'tsd', name: 'ctr4', resources: { memory: 64 << 20, pidsLimit: 20 } }, 'warm-44');
  t.equal(p.adopted, true);
  t.same(p.procs, [], 'the init is already inside: nothing to join');
  t.equal(p.manager.path, 'tsd/warm-44', 'the task\'s cgroup is the staging one');
  t.notOk(fs.existsSync(path.join(root, 'tsd', 'ctr4')), 'no cgroup under the container\'s name');
  t.equal(fs.readFileSync(path.join(root, 'tsd', 'warm-44', 'memory.max'), 'utf8').trim(), String(64 << 20), 'limits applied to it');
  t.equal(fs.readFileSync(path.join(root, 'tsd', 'warm-44', 'pids.max'), 'utf8').trim(), '20');
  v2Fixture(root, 'other/x');
  const q = cg.place({ parent: 'other', name: 'ctr5', resources: {} }, 'warm-44');
  t.equal(q.adopted, false, 'not under another parent');
  t.same(q.procs, [path.join(root, 'other', 'ctr5', 'cgroup.procs')]);
});

t.test('a memory limit below what the warm init is charged: a fresh cgroup the init joins (v1 EBUSY, v2 OOM otherwise)', async (t) => {
  for (const mode of ['legacy', 'unified'] as const) {
    const root = t.testdir({});
    const usageFile = mode === 'legacy' ? path.join(root, 'memory', 'tsd', 'warm-46', 'memory.usage_in_bytes') : path.join(root, 'tsd', 'warm-46', 'memory.current');
    const limitFile = (name: string) => (mode === 'legacy' ? path.join(root, 'memory', 'tsd', name, 'memory.limit_in_bytes') : path.join(root, 'tsd', name, 'memory.max'));
    // the fixture stands in for the kernel's files of the new cgroup too
    for (const n of ['tsd/warm-46', 'tsd/ctr7']) (mode === 'legacy' ? v1Fixture : v2Fixture)(root, n);
    fs.writeFileSync(usageFile, String(25 << 20));
    const cg = new Cgroups(mode, 'tsd', root);
    const small = cg.place({ parent: 'tsd', name: 'ctr7', resources: { memory: 7 << 20, memorySwap: 14 << 20 } }, 'warm-46');
    t.equal(small.adopted, false, `${mode}: -m 7m does not adopt a staging cgroup charged 25 MiB`);
    t.ok(small.procs.length > 0 && small.procs.every((f) => f.includes('/tsd/ctr7/')), `${mode}: the init joins the task cgroup`);
    t.equal(fs.readFileSync(limitFile('ctr7'), 'utf8').trim(), String(7 << 20), `${mode}: the limit written while it is empty`);
    t.ok(fs.existsSync(path.dirname(usageFile)), `${mode}: the staging cgroup is left for the launcher to discard`);
    const big = cg.place({ parent: 'tsd', name: 'ctr8', resources: { memory: 512 << 20 } }, 'warm-46');
    t.equal(big.adopted, true, `${mode}: a limit with room above the init's usage keeps the fast path`);
  }
});

t.test('boot: stale staging cgroups are removed, but not one a live-restored task adopted', async (t) => {
  const root = t.testdir({});
  for (const n of ['warm-51', 'warm-52', 'ctr6']) v2Fixture(root, `tsd/${n}`);
  const destroyed: string[] = [];
  class Spy extends Cgroups {
    override manager(parent: string, name: string) {
      const m = super.manager(parent, name);
      m.destroy = async () => { destroyed.push(name); };
      return m;
    }
  }
  await new Spy('unified', 'tsd', root).removeStaleStaging(['warm-52']);
  t.same(destroyed, ['warm-51'], 'warm-52 is a live task\'s cgroup; ctr6 is no staging cgroup');
});
