// adopt(): a container's cgroup made by renaming a staging sibling (v1), never on v2.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { CgroupV1Manager, CgroupV2Manager } from '../../../cgroupfs/index.js';
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

t.test('v2: cgroup2 cannot rename, so never adopts', async (t) => {
  const root = t.testdir({});
  v2Fixture(root, 'tsd/warm-9');
  const m = new CgroupV2Manager({ root, mode: 'unified', parent: 'tsd', name: 'ctr4' });
  t.equal(m.adopt('warm-9'), false);
  t.ok(fs.existsSync(path.join(root, 'tsd', 'warm-9')));
});
