import t from 'tap';
import { privilegedOpts } from '../../helpers/privileged.js';
import { exited, sleep, testCgroup } from './helpers.js';

const HOLD = (mb: number) =>
  `const b = Buffer.alloc(${mb} << 20, 1); setInterval(() => b[0]++, 100);`;

t.test('update raises the memory limit live; lowering below usage is refused', privilegedOpts(), async (t) => {
  const cg = testCgroup(t);
  cg.mgr.apply({ memory: 200 << 20, memorySwap: 200 << 20 });
  t.equal(cg.mgr.stats().memory.limit, 200 << 20);
  const child = await cg.run([process.execPath, '-e', HOLD(60)]);
  await sleep(1000);
  const usage = cg.mgr.stats().memory.usage;
  t.ok(usage > 60 << 20, `usage ${usage} holds the buffer`);

  t.throws(
    () => cg.mgr.update({ memory: 16 << 20, memorySwap: 16 << 20 }),
    { kind: 'invalid-parameter', message: /cannot write "16777216" to .*memory/ },
    'the kernel refuses a limit below usage; the error names file and value',
  );
  t.equal(child.exitCode, null, 'the process survives the refused update');
  const after = cg.mgr.stats();
  t.equal(after.memory.limit, 200 << 20, 'memory limit unchanged after the refusal');
  t.equal(after.memory.stats.hierarchical_memsw_limit, 200 << 20, 'memsw restored (it was lifted first)');
  t.throws(
    () => cg.mgr.update({ memory: 300 << 20 }),
    { kind: 'invalid-parameter', message: /Memory limit should be smaller than already set memoryswap limit/ },
    'raising memory above memsw without the swap says what to do',
  );

  cg.mgr.update({ memory: 400 << 20, memorySwap: 800 << 20 });
  const s = cg.mgr.stats();
  t.equal(s.memory.limit, 400 << 20, 'raised live');
  t.equal(s.memory.stats.hierarchical_memsw_limit, 800 << 20, 'memsw raised too');
  child.kill('SIGKILL');
  await exited(child);
  t.equal(cg.mgr.oomKillCount(), 0);
});
