// The v1 layout (which controllers a root mounts, co-mounts resolved) is kept per
// root: these change a root after its layout was kept and look for the change.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { v1Layout } from '../../../../cgroupfs/v1/layout.js';
import { CgroupV1Manager } from '../../../../cgroupfs/v1/manager.js';

/** Past the window in which a root's change may carry the same time stamp as the read (layout.ts RACY_MS). */
const settle = () => new Promise((r) => setTimeout(r, 2100));
const summary = (root: string) => v1Layout(root).hierarchies.map((h) => `${h.controllers.join(',')}@${path.basename(h.mount)}`);

t.test('a kept layout is read again once the root gains, loses or re-points an entry', async (t) => {
  const root = t.testdir();
  fs.mkdirSync(path.join(root, 'cpu,cpuacct'));
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpu'));
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpuacct'));
  fs.mkdirSync(path.join(root, 'memory'));
  await settle();

  const first = v1Layout(root);
  t.equal(v1Layout(root), first, 'an unchanged root: the kept layout');
  t.same(summary(root), ['cpu,cpuacct@cpu', 'memory@memory']);

  fs.mkdirSync(path.join(root, 'pids'));
  t.same(summary(root), ['cpu,cpuacct@cpu', 'memory@memory', 'pids@pids'], 'a new controller directory is seen');
  t.same(new CgroupV1Manager({ root, parent: 'tsd', name: 'c' }).procsFiles(),
    ['cpu', 'memory', 'pids'].map((c) => path.join(root, c, 'tsd', 'c', 'cgroup.procs')), 'and the managers made after it use it');

  await settle();
  t.equal(v1Layout(root), v1Layout(root), 'kept again once settled');
  // cpuacct no longer co-mounted with cpu: its own hierarchy
  fs.unlinkSync(path.join(root, 'cpuacct'));
  fs.mkdirSync(path.join(root, 'cpuacct'));
  t.same(summary(root), ['cpu@cpu', 'cpuacct@cpuacct', 'memory@memory', 'pids@pids'], 'a re-pointed entry is seen');

  await settle();
  v1Layout(root);
  fs.rmdirSync(path.join(root, 'pids'));
  t.same(summary(root), ['cpu@cpu', 'cpuacct@cpuacct', 'memory@memory'], 'a removed controller is gone');
});

t.test('a root changed just before the read is not kept', async (t) => {
  const root = t.testdir();
  fs.mkdirSync(path.join(root, 'memory'));
  const a = v1Layout(root);
  t.not(v1Layout(root), a, 'read again: its change may share a time stamp with the next');
});
