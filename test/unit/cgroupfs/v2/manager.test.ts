import t from 'tap';
import path from 'node:path';
import fs from 'node:fs';
import { CgroupV2Manager, planV2, subtreeControlValue } from '../../../../cgroupfs/v2/manager.js';
import { program as deviceProgram } from '../../../../cgroupfs/v2/devices.js';
import { procFixture, read, recordingDeviceFilter, simulateV2Freezer, v2Fixture } from '../fixtures.js';

const setup = (t: any) => {
  const root = t.testdir();
  v2Fixture(root, 'tsd/c1');
  const filter = recordingDeviceFilter();
  const mgr = new CgroupV2Manager({ root, parent: 'tsd', name: 'c1', procRoot: procFixture(root), deviceFilter: filter });
  mgr.create();
  return { root, mgr, filter, dir: path.join(root, 'tsd', 'c1') };
};

t.test('create enables controllers in every ancestor below the root', async (t) => {
  const { root } = setup(t);
  t.equal(read(root, 'cgroup.subtree_control'), '+cpuset +cpu +io +memory +pids');
  t.equal(read(root, 'tsd', 'cgroup.subtree_control'), '+cpuset +cpu +io +memory +pids');
  t.equal(read(root, 'tsd', 'c1', 'cgroup.subtree_control'), '', 'the leaf enables nothing');
  t.equal(subtreeControlValue(['memory', 'hugetlb', 'pids']), '+memory +pids');
});

t.test('apply writes the exact v2 files and values', async (t) => {
  const { mgr, dir } = setup(t);
  const warnings = mgr.apply({
    memory: 64 * 1024 * 1024,
    memorySwap: 96 * 1024 * 1024,
    memoryReservation: 32 * 1024 * 1024,
    nanoCpus: 5e8,
    cpuShares: 512,
    cpusetCpus: '0-1',
    cpusetMems: '0',
    pidsLimit: 100,
    blkioWeight: 500,
    blkioDeviceReadBps: [{ major: 8, minor: 0, rate: 1048576 }],
    devices: [],
  });
  t.same(warnings, []);
  t.equal(read(dir, 'memory.max'), '67108864');
  t.equal(read(dir, 'memory.swap.max'), String(32 * 1024 * 1024), 'swap alone = MemorySwap - Memory');
  t.equal(read(dir, 'memory.low'), '33554432');
  t.equal(read(dir, 'cpu.max'), '50000 100000');
  t.equal(read(dir, 'cpu.weight'), '20', 'shares 512 → weight 20');
  t.equal(read(dir, 'cpuset.cpus'), '0-1');
  t.equal(read(dir, 'cpuset.mems'), '0');
  t.equal(read(dir, 'pids.max'), '100');
  t.equal(read(dir, 'io.weight'), 'default 4950', 'no io.bfq.weight: io.weight gets the converted value');
  t.equal(read(dir, 'io.max'), '8:0 rbps=1048576');
});

t.test('unlimited values are spelled max', async (t) => {
  const { mgr, dir } = setup(t);
  mgr.apply({ memory: 64 << 20, memorySwap: -1, pidsLimit: -1, cpuQuota: -1, cpuPeriod: 50000 });
  t.equal(read(dir, 'memory.swap.max'), 'max');
  t.equal(read(dir, 'pids.max'), 'max');
  t.equal(read(dir, 'cpu.max'), 'max 50000');
  mgr.update({ pidsLimit: 0, memory: 0 });
  t.equal(read(dir, 'pids.max'), 'max');
  t.equal(read(dir, 'memory.max'), 'max');
});

t.test('update of the memory limit alone keeps Docker\'s MemorySwap (memory + swap) as v1 memsw would', async (t) => {
  const { mgr, dir } = setup(t);
  mgr.apply({ memory: 100 << 20, memorySwap: 200 << 20 });
  t.equal(read(dir, 'memory.swap.max'), String(100 << 20));
  mgr.update({ memory: 150 << 20 });
  t.equal(read(dir, 'memory.max'), String(150 << 20));
  t.equal(read(dir, 'memory.swap.max'), String(50 << 20), 'total stays 200 MiB');
  t.throws(() => mgr.update({ memory: 250 << 20 }), { kind: 'invalid-parameter', message: /Memory limit should be smaller than already set memoryswap limit/ });
  t.equal(read(dir, 'memory.max'), String(150 << 20), 'refused before writing');
  mgr.update({ memory: 250 << 20, memorySwap: -1 });
  t.equal(read(dir, 'memory.swap.max'), 'max');
  mgr.update({ memory: 300 << 20 });
  t.equal(read(dir, 'memory.swap.max'), 'max', 'unlimited swap stays unlimited');
});

t.test('update of swap alone uses the memory limit in force', async (t) => {
  const { mgr, dir } = setup(t);
  mgr.apply({ memory: 100 << 20 });
  mgr.update({ memorySwap: 150 << 20 });
  t.equal(read(dir, 'memory.swap.max'), String(50 << 20));
  t.throws(() => mgr.update({ memorySwap: 50 << 20 }), { kind: 'invalid-parameter', message: /Minimum memoryswap limit should be larger than memory limit/ });
});

t.test('io.bfq.weight is preferred when present', async (t) => {
  const { mgr, dir } = setup(t);
  fs.writeFileSync(path.join(dir, 'io.bfq.weight'), 'default 100');
  mgr.apply({ blkioWeight: 300 });
  t.equal(read(dir, 'io.bfq.weight'), '300');
  t.equal(read(dir, 'io.weight'), 'default 100', 'io.weight untouched');
});

t.test('no weight file at all is reported, not skipped', async (t) => {
  const { mgr, dir } = setup(t);
  fs.rmSync(path.join(dir, 'io.weight'));
  t.throws(() => mgr.apply({ blkioWeight: 300 }), { kind: 'not-implemented', message: /Block I\/O weight is not supported/ });
});

t.test('device rules become one eBPF program on the cgroup, attached before any file is written', async (t) => {
  const { mgr, dir, filter } = setup(t);
  const fuse = { allow: true, type: 'c' as const, major: 10, minor: 229, access: 'rwm' };
  mgr.apply({ memory: 64 << 20, devices: [fuse] });
  t.same(filter.calls.map((c) => c.dir), [dir]);
  t.same(filter.programs.get(dir), deviceProgram({ devices: [fuse] }), 'the program compiled from defaults + --device');
  t.equal(read(dir, 'memory.max'), '67108864');
  mgr.update({ memory: 96 << 20 });
  t.equal(filter.calls.length, 1, 'an update without device rules leaves the program');
  mgr.update({ devices: [] });
  t.same(filter.programs.get(dir), deviceProgram({ devices: [] }), 'an update with rules replaces it');
  mgr.apply({ devices: [{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }] });
  t.equal(filter.calls.at(-1)!.program, null, 'privileged: no filter');
  t.same(mgr.deviceProgramIds(), []);
  t.ok(mgr.support().devices, 'v2 enforces device rules');
});

t.test('v1-invalid device rules and OOM-kill disabling fail before anything is written', async (t) => {
  const { mgr, dir, filter } = setup(t);
  t.throws(
    () => mgr.apply({ memory: 64 << 20, devices: [{ allow: false, type: 'c', major: 1, minor: 3, access: 'm' }] }),
    { kind: 'invalid-parameter', message: /punches a hole in the wildcard rule/ },
  );
  t.equal(read(dir, 'memory.max'), 'max', 'nothing was half-applied');
  t.same(filter.calls, []);
  t.throws(() => mgr.apply({ oomKillDisable: true }), { kind: 'not-implemented', message: /v2/ });
});

t.test('a kernel refusing the program stops the apply before the limits', async (t) => {
  const root = t.testdir();
  v2Fixture(root, 'tsd/c1');
  const failing = { ...recordingDeviceFilter(), set() { throw new Error('bpf: EPERM'); } };
  const mgr = new CgroupV2Manager({ root, parent: 'tsd', name: 'c1', procRoot: procFixture(root), deviceFilter: failing });
  mgr.create();
  t.throws(() => mgr.apply({ memory: 64 << 20, devices: [] }), { message: 'bpf: EPERM' });
  t.equal(read(root, 'tsd', 'c1', 'memory.max'), 'max');
});

t.test('io.max combines every limit of a device into one line', async (t) => {
  const writes = planV2({
    blkioDeviceReadBps: [{ major: 8, minor: 0, rate: 1000 }],
    blkioDeviceWriteBps: [{ major: 8, minor: 0, rate: 2000 }],
    blkioDeviceReadIOps: [{ major: 8, minor: 16, rate: 10 }],
    blkioDeviceWriteIOps: [{ major: 8, minor: 0, rate: 0 }],
  });
  t.same(writes.map((w) => [w.file, w.value]), [
    ['io.max', '8:0 rbps=1000 wbps=2000 wiops=max'],
    ['io.max', '8:16 riops=10'],
  ]);
});

t.test('stats parse memory.stat, cpu.stat, io.stat, pids and events', async (t) => {
  const { mgr } = setup(t);
  const s = mgr.stats();
  t.equal(s.version, 'v2');
  t.equal(s.memory.usage, 5242880);
  t.equal(s.memory.limit, null);
  t.equal(s.memory.stats.inactive_file, 262144);
  t.equal(s.memory.maxUsage, undefined);
  t.equal(s.cpu.usageNs, 2500000000);
  t.equal(s.cpu.userNs, 2000000000);
  t.equal(s.cpu.systemNs, 500000000);
  t.equal(s.cpu.periods, 40);
  t.equal(s.cpu.throttledPeriods, 12);
  t.equal(s.cpu.throttledNs, 345678000);
  t.same(s.io.serviceBytes.slice(0, 2), [
    { major: 8, minor: 0, op: 'read', value: 4096 },
    { major: 8, minor: 0, op: 'write', value: 8192 },
  ]);
  t.same(s.pids, { current: 3, limit: null });
  t.equal(s.oomKills, 1);
  t.equal(mgr.oomKillCount(), 1);
  t.same(s.memoryEvents, { low: 0, high: 0, max: 7, oom: 2, oom_kill: 1, oom_group_kill: 0 });
  t.equal(s.pressure, undefined, 'no PSI files (kernel without CONFIG_PSI): no pressure');
  t.equal(s.host.onlineCpus, 2);
  t.equal(s.host.systemCpuUsageNs, (1000 + 20 + 300 + 50000 + 40 + 0 + 10) * 1e7);
});

t.test('stats: PSI of cpu, memory and io', async (t) => {
  const { mgr, dir } = setup(t);
  fs.writeFileSync(path.join(dir, 'cpu.pressure'), 'some avg10=1.50 avg60=0.75 avg300=0.10 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=42\n');
  fs.writeFileSync(path.join(dir, 'memory.pressure'), 'some avg10=12.00 avg60=3.00 avg300=1.00 total=999\nfull avg10=10.00 avg60=2.00 avg300=0.50 total=800\n');
  fs.writeFileSync(path.join(dir, 'io.pressure'), 'some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n');
  const p = mgr.stats().pressure!;
  t.same(p.cpu, { some: { avg10: 1.5, avg60: 0.75, avg300: 0.1, total: 123456 }, full: { avg10: 0, avg60: 0, avg300: 0, total: 42 } });
  t.equal(p.memory!.full!.avg10, 10);
  t.same(p.io, { some: { avg10: 0, avg60: 0, avg300: 0, total: 7 } }, 'a file with only "some" (older cpu.pressure)');
});

t.test('freeze writes cgroup.freeze and waits for cgroup.events', async (t) => {
  const { mgr, dir } = setup(t);
  const stop = simulateV2Freezer(dir);
  t.teardown(stop);
  await mgr.freeze();
  t.equal(read(dir, 'cgroup.freeze'), '1');
  t.ok(mgr.isFrozen());
  await mgr.thaw();
  t.equal(read(dir, 'cgroup.freeze'), '0');
  t.notOk(mgr.isFrozen());
});

t.test('freezerState: cgroup.events frozen 1, cgroup.freeze 1 before it (freezing), else thawed', async (t) => {
  const { mgr, dir } = setup(t);
  fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0\n');
  fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 0\n');
  t.equal(mgr.freezerState(), 'thawed');
  fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '1\n');
  t.equal(mgr.freezerState(), 'freezing', 'asked, not frozen yet');
  fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
  t.equal(mgr.freezerState(), 'frozen');
  fs.rmSync(dir, { recursive: true });
  t.equal(mgr.freezerState(), 'thawed', 'the cgroup is gone');
});

t.test('procsFiles and addProcess use the one directory', async (t) => {
  const { mgr, dir } = setup(t);
  t.same(mgr.procsFiles(), [path.join(dir, 'cgroup.procs')]);
  mgr.addProcess(4242);
  t.equal(read(dir, 'cgroup.procs'), '4242');
  fs.writeFileSync(path.join(dir, 'cgroup.procs'), '');
});

t.test('a path escaping the hierarchy is refused', async (t) => {
  t.throws(() => new CgroupV2Manager({ root: '/x', parent: '../etc', name: 'c' }), { kind: 'invalid-parameter', message: /invalid cgroup path/ });
  t.throws(() => new CgroupV2Manager({ root: '/x', parent: 'tsd', name: 'a/b' }), { kind: 'invalid-parameter', message: /invalid cgroup path/ });
});

t.test('a failed write restores the single-value files written before it', async (t) => {
  const { mgr, dir } = setup(t);
  mgr.apply({ memory: 64 << 20, pidsLimit: 10 });
  fs.rmSync(path.join(dir, 'cpu.max'));
  fs.mkdirSync(path.join(dir, 'cpu.max')); // writing a directory fails with EISDIR
  t.throws(() => mgr.update({ memory: 128 << 20, nanoCpus: 1e9, pidsLimit: 20 }), { code: 'TSD_ERR_CGROUP_WRITE', message: /cpu\.max/ });
  t.equal(read(dir, 'memory.max'), String(64 << 20), 'memory.max put back');
  t.equal(read(dir, 'pids.max'), '10', 'pids.max never written');
});
