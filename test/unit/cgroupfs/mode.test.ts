import t from 'tap';
import path from 'node:path';
import { createCgroupManager, detectCgroupMode } from '../../../cgroupfs/index.js';
import { CGROUP2_SUPER_MAGIC, TMPFS_MAGIC } from '../../../cgroupfs/mode.js';
import { v1Fixture, v2Fixture } from './fixtures.js';

const fakeStatfs = (table: Record<string, number>) => (p: string) => table[p];

t.test('detectCgroupMode from injected statfs results', async (t) => {
  t.equal(detectCgroupMode('/c', fakeStatfs({ '/c': CGROUP2_SUPER_MAGIC })), 'unified');
  t.equal(detectCgroupMode('/c', fakeStatfs({ '/c': TMPFS_MAGIC, [path.join('/c', 'unified')]: CGROUP2_SUPER_MAGIC })), 'hybrid');
  t.equal(detectCgroupMode('/c', fakeStatfs({ '/c': TMPFS_MAGIC })), 'legacy');
  t.equal(detectCgroupMode('/c', fakeStatfs({})), 'legacy', 'nothing mounted: legacy (and v1 managers find no controllers)');
});

t.test('a fake root on a plain filesystem is legacy; the factory honours an explicit mode', async (t) => {
  const root = t.testdir();
  t.equal(detectCgroupMode(root), 'legacy');
  v1Fixture(path.join(root, 'v1'), 'p/c');
  v2Fixture(path.join(root, 'v2'), 'p/c');
  t.equal(createCgroupManager({ root: path.join(root, 'v1'), parent: 'p', name: 'c' }).version, 'v1');
  t.equal(createCgroupManager({ root: path.join(root, 'v1'), mode: 'hybrid', parent: 'p', name: 'c' }).version, 'v1', 'hybrid drives v1');
  t.equal(createCgroupManager({ root: path.join(root, 'v2'), mode: 'unified', parent: 'p', name: 'c' }).version, 'v2');
});
