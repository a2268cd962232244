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
  t.ok(cpus > 0.3 && cpus < 0.7, `busy loop used ${cpus.toFixed(3)} CPUs (0.3–0.7)`);
  t.ok(b.cpu.throttledPeriods > a.cpu.throttledPeriods, 'the CFS throttled it');
  // Lifting the limit live: the CFS stops throttling it (independent of how loaded the host is).
  cg.mgr.update({ cpuQuota: -1 });
  const c = cg.mgr.stats();
  await sleep(1000);
  const d = cg.mgr.stats();
  const free = (d.cpu.usageNs - c.cpu.usageNs) / ((d.readAt - c.readAt) * 1e6);
  t.comment(`unlimited: ${free.toFixed(3)} CPUs`);
  t.equal(d.cpu.throttledPeriods, c.cpu.throttledPeriods, 'no throttling once the quota is lifted');
  t.ok(free > 0.3, `still running unthrottled (${free.toFixed(3)} CPUs)`);
});
