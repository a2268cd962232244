// The v2 manager on this machine's real cgroup2 mount (/sys/fs/cgroup/unified in
// hybrid mode). It offers no resource controllers here, but the core files
// (cgroup.procs, cgroup.freeze, cgroup.events, cgroup.kill) are the kernel's own,
// so freezing, killing and removal run against the real thing.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { detectCgroupMode } from '../../../cgroupfs/index.js';
import { CGROUP2_SUPER_MAGIC } from '../../../cgroupfs/mode.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { eventually, sleep, testCgroup } from './helpers.js';

const root = detectCgroupMode() === 'unified' ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
const isV2 = (() => {
  try {
    return Number(fs.statfsSync(root).type) === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
})();
const opts = { skip: privilegedOpts().skip || (!isV2 && 'needs a cgroup2 mount') };

t.test('v2 on a real cgroup2 mount: join, freeze, thaw, kill, destroy', opts, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-cg-v2-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const counter = path.join(dir, 'n');
  const cg = testCgroup(t, root);
  t.equal(cg.mgr.version, 'v2');
  t.same(cg.mgr.procsFiles(), [path.join(root, cg.parent, 'c', 'cgroup.procs')]);
  await cg.run(['/bin/busybox', 'sh', '-c',
    `/bin/busybox sleep 60 & i=0; while :; do i=$((i+1)); echo $i > ${counter}; /bin/busybox usleep 20000; done`]);
  const read = () => {
    try {
      return Number(fs.readFileSync(counter, 'utf8').trim() || 0);
    } catch {
      return 0;
    }
  };
  t.ok(await eventually(() => read() > 2), 'the counter runs');
  t.ok(cg.mgr.pids().length >= 2, 'shell and its background child are listed');
  await cg.mgr.freeze();
  t.ok(cg.mgr.isFrozen(), 'cgroup.events says frozen 1');
  const at = read();
  await sleep(300);
  t.equal(read(), at, 'no progress while frozen');
  await cg.mgr.thaw();
  t.ok(await eventually(() => read() > at), 'progress after thaw');
  await cg.mgr.killAll();
  t.same(cg.mgr.pids(), [], 'cgroup.kill emptied it');
});

t.test('v2 on a mount without resource controllers: limits fail loudly', opts, async (t) => {
  const cg = testCgroup(t, root);
  const available = fs.readFileSync(path.join(root, 'cgroup.controllers'), 'utf8');
  if (/\bmemory\b/.test(available)) {
    t.pass('memory controller present: nothing to check here');
    return;
  }
  t.throws(() => cg.mgr.apply({ memory: 64 << 20 }), { kind: 'system', message: /cannot write "67108864" to .*memory\.max: ENOENT/ });
});
