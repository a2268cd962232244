import t from 'tap';
import path from 'node:path';
import { createCgroupManager, detectCgroupMode, removeCgroupParent } from '../../../cgroupfs/index.js';
import { V1_CONTROLLERS } from '../../../cgroupfs/v1/manager.js';
import { privilegedReason } from '../../helpers/privileged.js';
import { cgroupManagerSuite } from '../../unit/cgroupfs/suite.js';
import { uniqueParent } from './helpers.js';

const why = privilegedReason();
if (why) {
  t.plan(0, why);
} else {
  const root = '/sys/fs/cgroup';
  const mode = detectCgroupMode(root);
  cgroupManagerSuite(t, `real-${mode}`, (t) => {
    const parent = uniqueParent();
    const mgr = createCgroupManager({ root, mode, parent, name: 'c' });
    t.teardown(async () => {
      try {
        await mgr.destroy();
      } finally {
        removeCgroupParent({ root, mode, parent });
      }
    });
    const dirs = () =>
      mode === 'unified' ? [path.join(root, parent, 'c')] : V1_CONTROLLERS.map((c) => path.join(root, c, parent, 'c'));
    return { mgr, real: true, dirs };
  });
}
