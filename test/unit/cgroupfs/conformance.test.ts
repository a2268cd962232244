import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { CgroupV1Manager, V1_CONTROLLERS } from '../../../cgroupfs/v1/manager.js';
import { CgroupV2Manager } from '../../../cgroupfs/v2/manager.js';
import { procFixture, recordingDeviceFilter, simulateV2Freezer, v1Fixture, v2Fixture } from './fixtures.js';
import { cgroupManagerSuite } from './suite.js';

cgroupManagerSuite(t, 'v1-fixture', (t) => {
  const root = t.testdir();
  v1Fixture(root, 'tsd/c');
  const mgr = new CgroupV1Manager({ root, parent: 'tsd', name: 'c', procRoot: procFixture(root) });
  return { mgr, real: false, dirs: () => V1_CONTROLLERS.map((c) => path.join(root, c, 'tsd', 'c')) };
});

cgroupManagerSuite(t, 'v2-fixture', (t) => {
  const root = t.testdir();
  v2Fixture(root, 'tsd/c');
  const dir = path.join(root, 'tsd', 'c');
  t.teardown(simulateV2Freezer(dir));
  // The fixture's memory.max starts at "max"; a kernel would reject swap below memory the same way.
  fs.writeFileSync(path.join(dir, 'memory.max'), 'max');
  fs.writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
  const mgr = new CgroupV2Manager({ root, parent: 'tsd', name: 'c', procRoot: procFixture(root), deviceFilter: recordingDeviceFilter() });
  return { mgr, real: false, dirs: () => [dir] };
});
