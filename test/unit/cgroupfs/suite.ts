// cgroupManagerSuite: one conformance suite run against every CgroupManager
// implementation (containerd core/snapshots/testsuite): v1 fixture, v2 fixture,
// and the real kernel (test/integration/cgroupfs/conformance.test.ts).
import fs from 'node:fs';
import type { Test } from 'tap';
import type { CgroupManager } from '../../../cgroupfs/index.js';

export interface SuiteSubject {
  mgr: CgroupManager;
  /** true on a real kernel: processes can join */
  real: boolean;
  /** directories that must be gone after destroy() */
  dirs(): string[];
}

export type SuiteFactory = (t: Test) => SuiteSubject;

export function cgroupManagerSuite(t: Test, name: string, factory: SuiteFactory): void {
  t.test(`${name}: create is idempotent and makes every procs file`, async (t) => {
    const { mgr } = factory(t);
    mgr.create();
    mgr.create();
    t.ok(mgr.procsFiles().length >= 1);
    for (const f of mgr.procsFiles()) t.ok(fs.existsSync(f), `${f} exists`);
    t.same(mgr.pids(), []);
  });

  t.test(`${name}: apply then read back through stats()`, async (t) => {
    const { mgr } = factory(t);
    mgr.create();
    mgr.apply({ memory: 64 << 20, memorySwap: 128 << 20, pidsLimit: 20, cpuShares: 512, nanoCpus: 5e8 });
    const s = mgr.stats();
    t.equal(s.memory.limit, 64 << 20);
    t.equal(s.pids.limit, 20);
    t.ok(s.host.onlineCpus >= 1);
    t.ok(s.host.systemCpuUsageNs > 0);
  });

  t.test(`${name}: update changes a limit live and unlimited reads back as null`, async (t) => {
    const { mgr } = factory(t);
    mgr.create();
    mgr.apply({ memory: 64 << 20, pidsLimit: 20 });
    mgr.update({ memory: 96 << 20, pidsLimit: -1 });
    const s = mgr.stats();
    t.equal(s.memory.limit, 96 << 20);
    t.equal(s.pids.limit, null);
  });

  t.test(`${name}: freeze and thaw`, async (t) => {
    const { mgr } = factory(t);
    mgr.create();
    t.notOk(mgr.isFrozen());
    await mgr.freeze();
    t.ok(mgr.isFrozen());
    await mgr.thaw();
    t.notOk(mgr.isFrozen());
  });

  t.test(`${name}: a fresh cgroup has no OOM kills`, async (t) => {
    const { mgr } = factory(t);
    mgr.create();
    t.equal(mgr.oomKillCount(), 0);
  });

  t.test(`${name}: swap below memory is refused`, async (t) => {
    const { mgr } = factory(t);
    mgr.create();
    t.throws(() => mgr.apply({ memory: 64 << 20, memorySwap: 32 << 20 }), {
      kind: 'invalid-parameter',
      message: /memoryswap limit should be larger/,
    });
    t.not(mgr.stats().memory.limit, 64 << 20, 'nothing was written');
  });

  t.test(`${name}: destroy removes every directory and is idempotent`, async (t) => {
    const subject = factory(t);
    subject.mgr.create();
    await subject.mgr.destroy();
    for (const d of subject.dirs()) t.notOk(fs.existsSync(d), `${d} removed`);
    await subject.mgr.destroy();
  });
}
