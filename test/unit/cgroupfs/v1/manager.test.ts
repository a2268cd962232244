import t from 'tap';
import path from 'node:path';
import { CgroupV1Manager, planV1 } from '../../../../cgroupfs/v1/manager.js';
import { procFixture, read, v1Fixture } from '../fixtures.js';

const setup = (t: any, opts: { blkioWeight?: boolean } = {}) => {
  const root = t.testdir();
  v1Fixture(root, 'tsd/c1', opts);
  const mgr = new CgroupV1Manager({ root, parent: 'tsd', name: 'c1', procRoot: procFixture(root) });
  mgr.create();
  return { root, mgr, d: (c: string) => path.join(root, c, 'tsd', 'c1') };
};

t.test('plan: memory with swap lifts memsw first, then sets both', async (t) => {
  t.same(planV1({ memory: 100, memorySwap: 300 }).map((w) => [w.controller, w.file, w.value]), [
    ['memory', 'memory.memsw.limit_in_bytes', '-1'],
    ['memory', 'memory.limit_in_bytes', '100'],
    ['memory', 'memory.memsw.limit_in_bytes', '300'],
  ]);
  t.same(planV1({ memory: 100 }).map((w) => w.file), ['memory.limit_in_bytes'], 'no swap: memsw untouched');
  t.same(planV1({ memorySwap: -1 }).map((w) => w.value), ['-1']);
});

t.test('plan: cpu, pids, cpuset, oom, swappiness, blkio, devices', async (t) => {
  const w = planV1({
    nanoCpus: 1.5e9, cpuShares: 512, pidsLimit: 0, cpusetCpus: '1', oomKillDisable: true, memorySwappiness: 10,
    blkioDeviceWriteIOps: [{ major: 8, minor: 0, rate: 50 }], devices: [{ allow: false, type: 'c', major: 1, minor: 9, access: 'r' }],
  }).map((x) => `${x.controller}/${x.file}=${x.value}`);
  t.same(w.slice(0, 9), [
    'cpuset/cpuset.cpus=1',
    'memory/memory.swappiness=10',
    'memory/memory.oom_control=1',
    'cpu/cpu.shares=512',
    'cpu/cpu.cfs_quota_us=-1',
    'cpu/cpu.cfs_period_us=100000',
    'cpu/cpu.cfs_quota_us=150000',
    'pids/pids.max=max',
    'blkio/blkio.throttle.write_iops_device=8:0 50',
  ]);
  t.equal(w[9], 'devices/devices.deny=a', 'devices: deny all first');
  t.ok(w.includes('devices/devices.allow=c 1:3 rwm'), 'then the default allow list');
  t.ok(w.includes('devices/devices.allow=c *:* m'));
  t.equal(w.at(-1), 'devices/devices.deny=c 1:9 r', 'then the container rules, in order');
});

t.test('create copies cpuset.cpus/mems down the parent chain', async (t) => {
  const { root, d } = setup(t);
  t.equal(read(root, 'cpuset', 'tsd', 'cpuset.cpus'), '0-1');
  t.equal(read(root, 'cpuset', 'tsd', 'cpuset.mems'), '0');
  t.equal(read(d('cpuset'), 'cpuset.cpus'), '0-1');
});

t.test('apply writes each controller in its own hierarchy', async (t) => {
  const { mgr, d } = setup(t);
  const warnings = mgr.apply({ memory: 64 << 20, memorySwap: 128 << 20, cpuShares: 256, nanoCpus: 5e8, pidsLimit: 20, memoryReservation: 32 << 20 });
  t.same(warnings, []);
  t.equal(read(d('memory'), 'memory.limit_in_bytes'), String(64 << 20));
  t.equal(read(d('memory'), 'memory.memsw.limit_in_bytes'), String(128 << 20));
  t.equal(read(d('memory'), 'memory.soft_limit_in_bytes'), String(32 << 20));
  t.equal(read(d('cpu'), 'cpu.shares'), '256');
  t.equal(read(d('cpu'), 'cpu.cfs_quota_us'), '50000');
  t.equal(read(d('cpu'), 'cpu.cfs_period_us'), '100000');
  t.equal(read(d('pids'), 'pids.max'), '20');
});

t.test('memsw missing (no swap accounting): skipped with a warning', async (t) => {
  const { mgr, d } = setup(t);
  const fs = await import('node:fs');
  fs.rmSync(path.join(d('memory'), 'memory.memsw.limit_in_bytes'));
  const warnings = mgr.apply({ memory: 64 << 20, memorySwap: 128 << 20 });
  t.equal(warnings.length, 2);
  t.match(warnings[0], /memory\.memsw\.limit_in_bytes does not exist/);
  t.equal(read(d('memory'), 'memory.limit_in_bytes'), String(64 << 20));
});

t.test('blkio weight without a weight file is reported clearly', async (t) => {
  const { mgr } = setup(t);
  t.throws(() => mgr.apply({ blkioWeight: 300 }), { kind: 'not-implemented', message: /Block I\/O weight is not supported/ });
  t.equal(mgr.support().blkioWeight, false);
});

t.test('blkio weight with CFQ-style files', async (t) => {
  const { mgr, d } = setup(t, { blkioWeight: true });
  mgr.apply({ blkioWeight: 300, blkioWeightDevice: [{ major: 8, minor: 0, weight: 200 }] });
  t.equal(read(d('blkio'), 'blkio.weight'), '300');
  t.equal(read(d('blkio'), 'blkio.weight_device'), '8:0 200');
  t.equal(mgr.support().blkioWeight, true);
});

t.test('stats parse the v1 files', async (t) => {
  const { mgr } = setup(t);
  const s = mgr.stats();
  t.equal(s.version, 'v1');
  t.equal(s.memory.usage, 5242880);
  t.equal(s.memory.maxUsage, 6291456);
  t.equal(s.memory.failcnt, 2);
  t.equal(s.memory.limit, null, 'the v1 "unlimited" number becomes null');
  t.equal(s.memory.stats.total_inactive_file, 524288);
  t.equal(s.cpu.usageNs, 2500000000);
  t.same(s.cpu.perCpuNs, [1500000000, 1000000000]);
  t.equal(s.cpu.userNs, 2e9, 'cpuacct.stat ticks × 1e9 / CLK_TCK');
  t.equal(s.cpu.systemNs, 5e8);
  t.equal(s.cpu.throttledNs, 345678000);
  t.same(s.io.serviceBytes[0], { major: 8, minor: 0, op: 'Read', value: 4096 });
  t.equal(s.io.serviceBytes.length, 6, '"Total N" summary line dropped');
  t.same(s.pids, { current: 3, limit: null });
  t.equal(s.oomKills, 0);
});

t.test('freezerState reads freezer.state: FROZEN, FREEZING (a freeze under way), THAWED', async (t) => {
  const fs = await import('node:fs');
  const { mgr, d } = setup(t);
  const f = path.join(d('freezer'), 'freezer.state');
  t.equal(mgr.freezerState(), 'thawed', 'no freezer.state written yet');
  for (const [file, state] of [['FROZEN\n', 'frozen'], ['FREEZING\n', 'freezing'], ['THAWED\n', 'thawed']] as const) {
    fs.writeFileSync(f, file);
    t.equal(mgr.freezerState(), state, file.trim());
  }
  fs.rmSync(d('freezer'), { recursive: true });
  t.equal(mgr.freezerState(), 'thawed', 'the cgroup is gone');
});

t.test('freezer.state round trip and procs files for every hierarchy', async (t) => {
  const { mgr, d } = setup(t);
  await mgr.freeze();
  t.equal(read(d('freezer'), 'freezer.state'), 'FROZEN');
  t.ok(mgr.isFrozen());
  await mgr.thaw();
  t.notOk(mgr.isFrozen());
  t.equal(mgr.procsFiles().length, 8);
  t.ok(mgr.procsFiles().includes(path.join(d('cpuacct'), 'cgroup.procs')));
});

t.test('co-mounted cpu,cpuacct is one hierarchy, created and joined once', async (t) => {
  const fs = await import('node:fs');
  const root = t.testdir();
  v1Fixture(root, 'tsd/c1');
  // cpu,cpuacct as one mount with the two names as symlinks (the common systemd layout)
  fs.renameSync(path.join(root, 'cpu'), path.join(root, 'cpu,cpuacct'));
  for (const f of fs.readdirSync(path.join(root, 'cpuacct', 'tsd', 'c1'))) {
    fs.copyFileSync(path.join(root, 'cpuacct', 'tsd', 'c1', f), path.join(root, 'cpu,cpuacct', 'tsd', 'c1', f));
  }
  fs.rmSync(path.join(root, 'cpuacct'), { recursive: true });
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpu'));
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpuacct'));
  const mgr = new CgroupV1Manager({ root, parent: 'tsd', name: 'c1', procRoot: procFixture(root) });
  mgr.create();
  t.equal(mgr.procsFiles().length, 7, 'one procs file per distinct hierarchy');
  mgr.apply({ nanoCpus: 1e9 });
  t.equal(read(root, 'cpu,cpuacct', 'tsd', 'c1', 'cpu.cfs_quota_us'), '100000');
  t.equal(mgr.stats().cpu.usageNs, 2500000000, 'cpuacct read through the shared directory');
  await mgr.destroy();
  t.notOk(fs.existsSync(path.join(root, 'cpu,cpuacct', 'tsd', 'c1')));
});

t.test('real-time: the daemon budget on every ancestor (top down), the container\'s own with apply', async (t) => {
  t.same(planV1({ cpuRealtimePeriod: 500000, cpuRealtimeRuntime: 8000 }).map((w) => `${w.file}=${w.value}`), ['cpu.rt_period_us=500000', 'cpu.rt_runtime_us=8000'], 'period first (runc)');
  const root = t.testdir();
  v1Fixture(root, 'a/b/c1');
  const mgr = new CgroupV1Manager({ root, parent: 'a/b', name: 'c1', procRoot: procFixture(root), realtimeParent: { runtime: 20000 } });
  mgr.create();
  t.equal(read(root, 'cpu', 'a', 'cpu.rt_runtime_us'), '20000');
  t.equal(read(root, 'cpu', 'a', 'b', 'cpu.rt_runtime_us'), '20000');
  t.throws(() => read(root, 'cpu', 'a', 'b', 'c1', 'cpu.rt_runtime_us'), 'not the container itself');
  t.throws(() => read(root, 'memory', 'a', 'cpu.rt_runtime_us'), 'the cpu hierarchy only');
  t.equal(mgr.support().cpuRealtime, false, 'the fixture has no rt files at the root');
});
