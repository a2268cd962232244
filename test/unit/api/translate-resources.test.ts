import t from 'tap';
import { fromDockerResources, parseUintList, translateDockerResources } from '../../../api/translate/resources.js';
import type { ResourceInfo } from '../../../api/translate/resources.js';

const statDevice = (p: string) => {
  if (p === '/dev/sda') return { type: 'b' as const, major: 8, minor: 0 };
  if (p === '/dev/null') return { type: 'c' as const, major: 1, minor: 3 };
  throw new Error(`stat ${p}: no such file or directory`);
};
const info: ResourceInfo = { ncpu: 2, mode: 'hybrid', statDevice };
const MB = 1024 * 1024;

t.test('Docker field names become our Resources', async (t) => {
  const r = fromDockerResources({
    Memory: 64 * MB, MemoryReservation: 32 * MB, NanoCpus: 5e8, CpuShares: 512, CpusetCpus: '0-1', CpusetMems: '0',
    PidsLimit: 100, BlkioWeight: 300, OomKillDisable: true, MemorySwappiness: 10,
    BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1048576 }],
    BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 200 }],
    Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'rw' }],
    DeviceCgroupRules: ['c 10:* rmw'],
  }, info);
  t.same(r, {
    memory: 64 * MB,
    memorySwap: 128 * MB,
    memoryReservation: 32 * MB,
    memorySwappiness: 10,
    oomKillDisable: true,
    nanoCpus: 5e8,
    cpuShares: 512,
    cpusetCpus: '0-1',
    cpusetMems: '0',
    pidsLimit: 100,
    blkioWeight: 300,
    blkioWeightDevice: [{ major: 8, minor: 0, weight: 200 }],
    blkioDeviceReadBps: [{ major: 8, minor: 0, rate: 1048576 }],
    devices: [
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
      { allow: true, type: 'c', major: 10, minor: -1, access: 'rmw' },
    ],
  });
});

t.test('create defaults: swap = 2 × memory, shares clamped, zeroes unset, PidsLimit 0 → unlimited', async (t) => {
  t.same(fromDockerResources({ Memory: 10 * MB, MemorySwap: 0, CpuShares: 1, NanoCpus: 0, PidsLimit: 0 }, info), {
    memory: 10 * MB, memorySwap: 20 * MB, cpuShares: 2, pidsLimit: -1, devices: [],
  });
  t.same(fromDockerResources({ CpuShares: 1 << 20 }, info).cpuShares, 262144);
  t.same(fromDockerResources({ Memory: 10 * MB, MemorySwap: -1 }, info).memorySwap, -1);
  t.same(fromDockerResources({}, info), { devices: [] });
  t.same(fromDockerResources({ Privileged: true }, info).devices, [{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }]);
});

t.test('update semantics: no swap default, no device rules', async (t) => {
  t.same(fromDockerResources({ Memory: 10 * MB }, { ...info, update: true }), { memory: 10 * MB });
  t.same(fromDockerResources({ MemorySwap: 30 * MB }, { ...info, update: true }), { memorySwap: 30 * MB });
});

const errors: Array<[string, object, string, Partial<ResourceInfo>?]> = [
  ['memory floor', { Memory: 4 * MB }, 'Minimum memory limit allowed is 6MB'],
  ['swap below memory', { Memory: 64 * MB, MemorySwap: 32 * MB }, 'Minimum memoryswap limit should be larger than memory limit, see usage'],
  ['swap without memory', { MemorySwap: 32 * MB }, 'You should always set the Memory limit when using Memoryswap limit, see usage'],
  ['reservation floor', { MemoryReservation: MB }, 'Minimum memory reservation allowed is 6MB'],
  ['reservation above limit', { Memory: 10 * MB, MemoryReservation: 20 * MB }, 'Minimum memory limit can not be less than memory reservation limit, see usage'],
  ['swappiness range', { MemorySwappiness: 101 }, 'Invalid value: 101, valid memory swappiness range is 0-100'],
  ['nano + period', { NanoCpus: 1e9, CpuPeriod: 100000 }, 'Conflicting options: Nano CPUs and CPU Period cannot both be set'],
  ['nano + quota', { NanoCpus: 1e9, CpuQuota: 50000 }, 'Conflicting options: Nano CPUs and CPU Quota cannot both be set'],
  ['too many cpus', { NanoCpus: 3e9 }, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'],
  ['negative cpus', { NanoCpus: -1 }, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'],
  ['period range', { CpuPeriod: 999 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'],
  ['quota floor', { CpuQuota: 999 }, 'CPU cfs quota can not be less than 1ms (i.e. 1000)'],
  ['cpuset syntax', { CpusetCpus: '1-x' }, 'Invalid value 1-x for cpuset cpus: invalid format: 1-x'],
  ['cpuset availability', { CpusetCpus: '0-3' }, 'Requested CPUs are not available - requested 0-3, available: 0-1'],
  ['mems availability', { CpusetMems: '1' }, 'Requested memory nodes are not available - requested 1, available: 0'],
  ['blkio weight range', { BlkioWeight: 5 }, 'Range of blkio weight is from 10 to 1000'],
  ['negative shares', { CpuShares: -1 }, 'shares: invalid argument'],
  ['bad device rule', { DeviceCgroupRules: ['c 1:3 x'] }, "invalid device cgroup rule format: 'c 1:3 x'"],
  ['missing device', { Devices: [{ PathOnHost: '/dev/nope', PathInContainer: '/dev/nope' }] },
    'error gathering device information while adding custom device "/dev/nope": stat /dev/nope: no such file or directory'],
  ['throttle device missing', { BlkioDeviceWriteIOps: [{ Path: '/dev/nope', Rate: 1 }] }, 'stat /dev/nope: no such file or directory'],
  ['IO maximum (Windows only)', { IOMaximumIOps: 5 }, 'Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps'],
  ['not a number', { Memory: 'lots' }, 'invalid value for Memory: "lots"'],
];
for (const [name, hc, message] of errors) {
  t.test(`invalid: ${name}`, async (t) => {
    t.throws(() => fromDockerResources(hc, info), { kind: 'invalid-parameter', message });
  });
}

t.test('unsupported settings are discarded with Docker\'s warnings', async (t) => {
  const { resources, warnings } = translateDockerResources(
    { Memory: 64 * MB, BlkioWeight: 300, OomKillDisable: true, MemorySwappiness: 0 },
    { ...info, support: { swapLimit: false, blkioWeight: false } },
  );
  t.same(warnings, [
    'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
    'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
  ]);
  t.equal(resources.memorySwap, -1);
  t.equal(resources.blkioWeight, undefined);
  t.equal(resources.oomKillDisable, true);
});

t.test('on cgroup v2, OomKillDisable and swappiness are discarded like dockerd does', async (t) => {
  const { resources, warnings } = translateDockerResources({ OomKillDisable: true, MemorySwappiness: 30, Memory: 64 * MB }, { ...info, mode: 'unified' });
  t.equal(resources.oomKillDisable, undefined);
  t.equal(resources.memorySwappiness, undefined);
  t.match(warnings.join('\n'), /OomKillDisable discarded/);
  t.match(warnings.join('\n'), /Memory swappiness discarded/);
});

t.test('parseUintList', async (t) => {
  t.same([...parseUintList('0-2,5')], [0, 1, 2, 5]);
  t.same([...parseUintList('')], []);
  t.throws(() => parseUintList('2-1'));
  t.throws(() => parseUintList('a'));
});

t.test('real-time CPU (v1 cpu.rt_*), and the fields without effect on Linux', async (t) => {
  t.same(fromDockerResources({ CpuRealtimePeriod: 1000000, CpuRealtimeRuntime: 950 }, { ...info, cpuRealtime: true }), { cpuRealtimePeriod: 1000000, cpuRealtimeRuntime: 950, devices: [] });
  t.throws(() => translateDockerResources({ CpuRealtimeRuntime: 950 }, { ...info, cpuRealtime: false }), { message: 'kernel does not support CPU real-time scheduler' });
  t.throws(() => translateDockerResources({ CpuRealtimeRuntime: 950 }, { ...info, mode: 'unified', cpuRealtime: true }), { message: 'kernel does not support CPU real-time scheduler' }, 'never on v2');
  t.throws(() => translateDockerResources({ CpuRealtimePeriod: 1000, CpuRealtimeRuntime: 2000 }, { ...info, cpuRealtime: true }), { message: 'cpu real-time runtime cannot be higher than cpu real-time period' });
  const u = translateDockerResources({ CpuPercent: 20, KernelMemory: 1 << 20, KernelMemoryTCP: 1 << 20 }, { ...info, update: true });
  t.same(u.warnings.map((w) => w.split(' ').slice(0, 3).join(' ')), ['linux does not', 'KernelMemory is ignored:', 'KernelMemoryTCP is ignored:'], 'said on update');
  t.same(translateDockerResources({ CpuPercent: 20 }, info).warnings, [], 'on create, fromDockerCreate says it (it sees the raw fields)');
});
