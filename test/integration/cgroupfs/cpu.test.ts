import t from 'tap';
import { privilegedOpts } from '../../helpers/privileged.js';
import { sleep, testCgroup } from './helpers.js';

t.test('NanoCpus 0.5e9 holds a busy loop near half a CPU', privilegedOpts(), async (t) => {
  const cg = testCgroup(t);
  cg.mgr.apply({ nanoCpus: 5e8 });
  await cg.run(['/bin/busybox', 'sh', '-c', 'while :; do :; done']);
  await sleep(200);
  const a = cg.mgr.stats();
  await sleep(3000);
  const b = cg.mgr.stats();
  const cpus = (b.cpu.usageNs - a.cpu.usageNs) / ((b.readAt - a.readAt) * 1e6);
  t.comment(`measured ${cpus.toFixed(3)} CPUs`);
  // The quota is a ceiling: never above it, whatever the load. On a loaded host (2 cores shared
  // by several test runs) the loop may get less than its half CPU; then the CFS had no reason to throttle it.
  t.ok(cpus > 0 && cpus < 0.7, `busy loop used ${cpus.toFixed(3)} CPUs (at most the 0.5 quota, with slack)`);
  if (b.cpu.throttledPeriods > a.cpu.throttledPeriods) t.pass('the CFS throttled it');
  else t.ok(cpus < 0.45, `not throttled only because the loaded host gave it less than its quota (${cpus.toFixed(3)} CPUs)`);
  // Lifting the limit live: the CFS stops throttling it (independent of how loaded the host is).
  cg.mgr.update({ cpuQuota: -1 });
  const c = cg.mgr.stats();
  await sleep(1000);
  const d = cg.mgr.stats();
  const free = (d.cpu.usageNs - c.cpu.usageNs) / ((d.readAt - c.readAt) * 1e6);
  t.comment(`unlimited: ${free.toFixed(3)} CPUs`);
  t.equal(d.cpu.throttledPeriods, c.cpu.throttledPeriods, 'no throttling once the quota is lifted');
  t.ok(free > 0, `still running unthrottled (${free.toFixed(3)} CPUs)`);
});
