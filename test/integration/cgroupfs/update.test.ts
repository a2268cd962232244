import t from 'tap';
import { privilegedOpts } from '../../helpers/privileged.js';
import { eventually, exited, sleep, testCgroup } from './helpers.js';

const HOLD = (mb: number) =>
  `const b = Buffer.alloc(${mb} << 20, 1); setInterval(() => b[0]++, 100);`;

t.test('update raises the memory limit live; lowering below usage is refused (v1) or reclaims (v2)', privilegedOpts(), async (t) => {
  const cg = testCgroup(t);
  const v2 = cg.mgr.version === 'v2';
  cg.mgr.apply({ memory: 200 << 20, memorySwap: 200 << 20 });
  t.equal(cg.mgr.stats().memory.limit, 200 << 20);
  const child = await cg.run([process.execPath, '-e', HOLD(60)]);
  // a Node start takes seconds in the emulated v2 guest: wait for the buffer, not a fixed time
  await eventually(() => cg.mgr.stats().memory.usage > 60 << 20, 60_000);
  const usage = cg.mgr.stats().memory.usage;
  t.ok(usage > 60 << 20, `usage ${usage} holds the buffer`);

  if (!v2) {
    t.throws(
      () => cg.mgr.update({ memory: 16 << 20, memorySwap: 16 << 20 }),
      { kind: 'invalid-parameter', message: /cannot write "16777216" to .*memory/ },
      'v1: the kernel refuses a limit below usage; the error names file and value',
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
  } else {
    t.throws(
      () => cg.mgr.update({ memory: 300 << 20 }),
      { kind: 'invalid-parameter', message: /Memory limit should be smaller than already set memoryswap limit/ },
      'v2 keeps Docker\'s MemorySwap: memory above it without the swap says what to do',
    );
    t.equal(cg.mgr.stats().memory.limit, 200 << 20, 'and nothing was written');
  }

  cg.mgr.update({ memory: 400 << 20, memorySwap: 800 << 20 });
  const s = cg.mgr.stats();
  t.equal(s.memory.limit, 400 << 20, 'raised live');
  if (v2) t.equal(s.memory.stats.hierarchical_memsw_limit, undefined);
  else t.equal(s.memory.stats.hierarchical_memsw_limit, 800 << 20, 'memsw raised too');
  t.equal(child.exitCode, null, 'the process lives on');

  if (v2) {
    // v2 takes a limit below usage and reclaims (here: no swap to reclaim to, so the OOM killer acts), as runc's update does
    cg.mgr.update({ memory: 16 << 20, memorySwap: 16 << 20 });
    t.equal(cg.mgr.stats().memory.limit, 16 << 20, 'v2: a limit below usage is written');
    t.ok(await eventually(() => child.exitCode !== null || child.signalCode !== null, 30_000), 'and the process over it is OOM-killed');
    t.ok(cg.mgr.oomKillCount() >= 1, 'memory.events counts it');
    return;
  }
  child.kill('SIGKILL');
  await exited(child);
  t.equal(cg.mgr.oomKillCount(), 0);
  void sleep;
});
