import t from 'tap';
import { privilegedOpts } from '../../helpers/privileged.js';
import { exited, testCgroup } from './helpers.js';

t.test('a process allocating past Memory is OOM-killed and counted', privilegedOpts(), async (t) => {
  const cg = testCgroup(t);
  t.equal(cg.mgr.oomKillCount(), 0);
  cg.mgr.apply({ memory: 64 << 20, memorySwap: 64 << 20 });
  const child = await cg.run([
    process.execPath, '-e', 'const a = []; for (;;) a.push(Buffer.alloc(4 << 20, 1));',
  ]);
  const res = await exited(child);
  t.equal(res.signal, 'SIGKILL', 'killed by the kernel (exit 137 in a container)');
  t.ok(cg.mgr.oomKillCount() > 0, `oomKillCount ${cg.mgr.oomKillCount()} > 0`);
  t.ok(cg.mgr.stats().oomKills > 0);
});
