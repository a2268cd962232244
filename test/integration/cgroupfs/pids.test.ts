import t from 'tap';
import { execFileSync } from 'node:child_process';
import { privilegedOpts } from '../../helpers/privileged.js';
import { sleep, testCgroup } from './helpers.js';

t.test('a fork bomb under PidsLimit stays at the limit', privilegedOpts(), async (t) => {
  const cg = testCgroup(t);
  cg.mgr.apply({ pidsLimit: 16 });
  // The inner shell forks until the kernel refuses (busybox sh then exits); the outer one restarts it.
  await cg.run(['/bin/busybox', 'sh', '-c', 'while :; do /bin/busybox sh -c "while :; do /bin/busybox sleep 30 & done" 2>/dev/null; done']);
  await sleep(800);
  const s = cg.mgr.stats();
  t.equal(s.pids.limit, 16);
  t.ok(s.pids.current <= 16, `pids.current ${s.pids.current} <= 16`);
  t.ok(s.pids.current >= 12, `the bomb filled the cgroup (${s.pids.current})`);
  t.ok(cg.mgr.pids().length <= 16);
  t.equal(execFileSync('/bin/echo', ['host ok'], { encoding: 'utf8' }).trim(), 'host ok', 'the host still forks');
  await cg.mgr.killAll();
  t.same(cg.mgr.pids(), [], 'killAll (freeze, kill, thaw) empties it');
});
