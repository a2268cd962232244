// The systemd cgroup driver without systemd: slice names and paths as systemd lays them
// out, the unit properties a Resources becomes (runc's names and units), and the scope
// manager's calls (start with the pid, files written, update both ways, stop on destroy)
// against a recorder of the D-Bus API over a fake v2 tree.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { CgroupV2Manager } from '../../../cgroupfs/v2/manager.js';
import {
  SystemdCgroupManager, checkSlice, cpuMask, quotaPerSecUSec, scopeName, scopePath, slicePath, unitProperties,
} from '../../../cgroupfs/systemd/manager.js';
import type { SystemdApi, UnitProperty } from '../../../cgroupfs/systemd/bus.js';
import { v2Fixture } from './fixtures.js';

const INF = 2n ** 64n - 1n;
const props = (list: UnitProperty[]) => Object.fromEntries(list.map((p) => [p.name, p.value]));

t.test('slices and scopes, as systemd names and lays them out', async (t) => {
  t.equal(slicePath('system.slice'), 'system.slice');
  t.equal(slicePath('a-b-c.slice'), 'a.slice/a-b.slice/a-b-c.slice');
  t.equal(slicePath('-.slice'), '', 'the root slice');
  t.equal(scopeName('abc'), 'docker-abc.scope');
  t.equal(scopeName('docker-abc.scope'), 'docker-abc.scope', 'a recorded cgroup name stays as it is');
  t.equal(scopePath('system.slice', 'abc'), 'system.slice/docker-abc.scope');
  t.equal(scopePath('k8s-pod1.slice', 'abc'), 'k8s.slice/k8s-pod1.slice/docker-abc.scope');
  for (const bad of ['tsd', '.slice', 'a/b.slice', 'a--b.slice', '-a.slice', 'a-.slice', '/system.slice']) {
    t.throws(() => checkSlice(bad), { code: 'TSD_ERR_CGROUP_SLICE', kind: 'invalid-parameter', message: /should be a valid slice named as "xxx\.slice"/ }, bad);
  }
});

t.test('Resources → unit properties (v2 names, runc\'s conversions)', async (t) => {
  t.same(props(unitProperties({ memory: 64 << 20, memorySwap: 96 << 20, memoryReservation: 32 << 20, pidsLimit: 50, cpuShares: 1024, nanoCpus: 5e8, cpusetCpus: '0-2,9', cpusetMems: '0' }, 'v2')), {
    MemoryMax: BigInt(64 << 20), MemoryLow: BigInt(32 << 20), MemorySwapMax: BigInt(32 << 20), CPUWeight: 39n,
    CPUQuotaPerSecUSec: 500000n, TasksMax: 50n, AllowedCPUs: Buffer.from([0b111, 0b10]), AllowedMemoryNodes: Buffer.from([1]),
  });
  t.same(props(unitProperties({ cpuQuota: 33333, cpuPeriod: 100000 }, 'v2')), { CPUQuotaPerSecUSec: 340000n, CPUQuotaPeriodUSec: 100000n }, 'rounded up to 10 ms as systemd keeps it');
  t.equal(quotaPerSecUSec(50000, 100000), 500000n);
  t.equal(quotaPerSecUSec(1, 100000), 10000n);
  t.same(props(unitProperties({ memorySwap: -1, memory: 1 << 20 }, 'v2')).MemorySwapMax, INF, 'unlimited swap');
  t.same(unitProperties({ memory: 0, pidsLimit: 0 }, 'v2'), [], 'apply: 0 is "not set"');
  t.same(props(unitProperties({ memory: 0, pidsLimit: -1, cpuQuota: -1 }, 'v2', true)), { MemoryMax: INF, TasksMax: INF, CPUQuotaPerSecUSec: INF }, 'update: 0/-1 lifts the limit');
  t.same(props(unitProperties({ memory: 1 << 20, cpuShares: 512, pidsLimit: 9 }, 'v1')), { MemoryLimit: BigInt(1 << 20), CPUShares: 512n, TasksMax: 9n }, 'v1 names');
  t.same(cpuMask('0,8-9'), [1, 3]);
  t.throws(() => cpuMask('3-1'), { message: /invalid cpuset list/ });
});

function recorder(fail: Partial<Record<keyof SystemdApi, unknown>> = {}) {
  const calls: Array<[string, string, UnitProperty[]?]> = [];
  const api: SystemdApi = {
    async startTransientUnit(name, p) {
      calls.push(['start', name, p]);
      const e = fail.startTransientUnit;
      if (e) { fail.startTransientUnit = undefined; throw e; }
    },
    async stopUnit(name) { calls.push(['stop', name]); },
    async setUnitProperties(name, p) { calls.push(['set', name, p]); },
    async resetFailedUnit(name) { calls.push(['reset', name]); },
    async version() { return '252'; },
  };
  return { api, calls };
}

t.test('a scope: started with the pid and the limits, files written, updated both ways, stopped on destroy', async (t) => {
  const root = t.testdir({});
  v2Fixture(root, 'system.slice/docker-c1.scope');
  const { api, calls } = recorder();
  const m = new SystemdCgroupManager({ root, mode: 'unified', parent: 'system.slice', name: 'c1', api, files: (o) => new CgroupV2Manager(o) });
  t.equal(m.path, 'system.slice/docker-c1.scope');
  t.same(m.procsFiles(), [path.join(root, 'system.slice/docker-c1.scope/cgroup.procs')], 'exec joins through the files');
  t.equal(m.adopt(), false, 'no staging cgroup to adopt');
  await m.start(4242, { memory: 64 << 20, pidsLimit: 50 });
  const [op, unit, p] = calls[0]!;
  t.equal(op, 'start');
  t.equal(unit, 'docker-c1.scope');
  t.match(props(p!), { Slice: 'system.slice', Delegate: true, PIDs: [4242], DefaultDependencies: false, MemoryMax: BigInt(64 << 20), TasksMax: 50n });
  m.apply({ memory: 64 << 20, pidsLimit: 50 });
  const cg = path.join(root, 'system.slice/docker-c1.scope');
  t.equal(fs.readFileSync(path.join(cg, 'memory.max'), 'utf8'), String(64 << 20), 'the files hold the limits too');
  m.update({ memory: 128 << 20 });
  t.equal(fs.readFileSync(path.join(cg, 'memory.max'), 'utf8'), String(128 << 20));
  await m.settled();
  t.same(calls.at(-1), ['set', 'docker-c1.scope', [{ name: 'MemoryMax', signature: 't', value: BigInt(128 << 20) }]], 'SetUnitProperties after the files');
  await m.destroy();
  t.same(calls.slice(-2).map((c) => c[0]), ['stop', 'reset'], 'destroy stops the unit');
  t.notOk(fs.existsSync(cg), 'and removes what is left');
});

t.test('a unit of that name left over is stopped, reset and started again, once', async (t) => {
  const root = t.testdir({});
  v2Fixture(root, 'system.slice/docker-c2.scope');
  const { api, calls } = recorder({ startTransientUnit: Object.assign(new Error('exists'), { dbusError: 'org.freedesktop.systemd1.UnitExists' }) });
  const m = new SystemdCgroupManager({ root, mode: 'unified', parent: 'system.slice', name: 'c2', api, files: (o) => new CgroupV2Manager(o) });
  await m.start(7);
  t.same(calls.map((c) => c[0]), ['start', 'stop', 'reset', 'start']);
  const other = recorder({ startTransientUnit: Object.assign(new Error('no'), { dbusError: 'org.freedesktop.DBus.Error.AccessDenied' }) });
  const m2 = new SystemdCgroupManager({ root, mode: 'unified', parent: 'system.slice', name: 'c2', api: other.api, files: (o) => new CgroupV2Manager(o) });
  await t.rejects(m2.start(7), /no/, 'other errors fail the start');
});
