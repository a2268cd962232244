// adopt(): a container's cgroup made by renaming a staging sibling (v1), or by taking it under its own name (v2).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { CgroupV1Manager } from '../../../cgroupfs/v1/manager.js';
import { CgroupV2Manager } from '../../../cgroupfs/v2/manager.js';
import { v1Fixture, v2Fixture } from './fixtures.js';

t.test('v1: every hierarchy renamed, or none', async (t) => {
  const root = t.testdir({});
  v1Fixture(root, 'tsd/warm-42');
  const m = new CgroupV1Manager({ root, mode: 'legacy', parent: 'tsd', name: 'ctr1' });
  t.equal(m.adopt('warm-42'), true);
  for (const c of ['memory', 'pids', 'cpu']) {
    t.ok(fs.existsSync(path.join(root, c, 'tsd', 'ctr1')), `${c}: renamed`);
    t.notOk(fs.existsSync(path.join(root, c, 'tsd', 'warm-42')), `${c}: staging gone`);
  }
  const other = new CgroupV1Manager({ root, mode: 'legacy', parent: 'tsd', name: 'ctr2' });
  t.equal(other.adopt('warm-missing'), false, 'a missing sibling: nothing adopted');
  t.notOk(fs.existsSync(path.join(root, 'memory', 'tsd', 'ctr2')));
  t.equal(other.adopt('../escape'), false, 'only plain sibling names');
});

t.test('v1: a partial failure is rolled back', async (t) => {
  const root = t.testdir({});
  v1Fixture(root, 'tsd/warm-7');
  fs.rmSync(path.join(root, 'pids', 'tsd', 'warm-7'), { recursive: true });
  const m = new CgroupV1Manager({ root, mode: 'legacy', parent: 'tsd', name: 'ctr3' });
  t.equal(m.adopt('warm-7'), false);
  t.ok(fs.existsSync(path.join(root, 'memory', 'tsd', 'warm-7')), 'the renamed ones went back');
  t.notOk(fs.existsSync(path.join(root, 'memory', 'tsd', 'ctr3')));
});

t.test('v2: cgroup2 cannot rename, so the staging cgroup is taken under its own name', async (t) => {
  const root = t.testdir({});
  v2Fixture(root, 'tsd/warm-9');
  const m = new CgroupV2Manager({ root, mode: 'unified', parent: 'tsd', name: 'ctr4' });
  t.equal(m.path, 'tsd/ctr4');
  t.equal(m.adopt('warm-9'), true);
  t.equal(m.path, 'tsd/warm-9', 'the manager is the staging cgroup now');
  t.same(m.procsFiles(), [path.join(root, 'tsd', 'warm-9', 'cgroup.procs')], 'and joins go there');
  m.create();
  t.notOk(fs.existsSync(path.join(root, 'tsd', 'ctr4')), 'no second cgroup under the container\'s name');
  t.ok(fs.existsSync(path.join(root, 'tsd', 'warm-9')), 'nothing renamed');
  const other = new CgroupV2Manager({ root, mode: 'unified', parent: 'tsd', name: 'ctr5' });
  t.equal(other.adopt('warm-missing'), false, 'a missing sibling: nothing adopted');
  t.equal(other.path, 'tsd/ctr5');
  t.equal(other.adopt('../tsd/warm-9'), false, 'only plain sibling names');
  t.equal(other.path, 'tsd/ctr5');
});
