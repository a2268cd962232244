import t from 'tap';
import { ZERO_TIME, cpuPercent, memUsageNoCache, toDockerStats } from '../../../api/translate/stats.js';
import type { CgroupStats } from '../../../cgroupfs/index.js';

const host = { systemCpuUsageNs: 1_000_000_000_000, onlineCpus: 2, memTotal: 8 << 30 };
const v1 = (over: Partial<CgroupStats> = {}): CgroupStats => ({
  version: 'v1',
  readAt: Date.parse('2026-11-29T18:02:10.000Z'),
  cpu: { usageNs: 5e9, userNs: 3e9, systemNs: 1e9, perCpuNs: [2e9, 3e9], periods: 10, throttledPeriods: 2, throttledNs: 12345 },
  memory: { usage: 100 << 20, maxUsage: 120 << 20, failcnt: 0, limit: 256 << 20, stats: { total_inactive_file: 20 << 20, cache: 30 << 20 } },
  pids: { current: 3, limit: null },
  io: { serviceBytes: [{ major: 8, minor: 0, op: 'Read', value: 4096 }], serviced: [{ major: 8, minor: 0, op: 'Read', value: 1 }] },
  oomKills: 0,
  host,
  ...over,
});

t.test('first sample: zero preread and zeroed precpu_stats', async (t) => {
  const d = toDockerStats(v1(), undefined, { id: 'abc', name: '/t1' });
  t.equal(d.read, '2026-11-29T18:02:10.000Z');
  t.equal(d.preread, ZERO_TIME);
  t.same(d.precpu_stats, { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } });
  t.equal(d.name, '/t1');
  t.equal(d.id, 'abc');
  t.equal(d.num_procs, 0);
  t.same(d.storage_stats, {});
  t.same(d.pids_stats, { current: 3 }, 'no limit when unlimited');
  t.same(d.cpu_stats, {
    cpu_usage: { total_usage: 5e9, usage_in_kernelmode: 1e9, usage_in_usermode: 3e9, percpu_usage: [2e9, 3e9] },
    system_cpu_usage: 1e12,
    online_cpus: 2,
    throttling_data: { periods: 10, throttled_periods: 2, throttled_time: 12345 },
  });
  t.same(d.memory_stats, { usage: 100 << 20, stats: { total_inactive_file: 20 << 20, cache: 30 << 20 }, max_usage: 120 << 20, failcnt: 0, limit: 256 << 20 });
  t.same(d.blkio_stats.io_service_bytes_recursive, [{ major: 8, minor: 0, op: 'Read', value: 4096 }]);
  t.equal(d.blkio_stats.io_queue_recursive, null);
  t.equal(d.networks, undefined);
  t.equal(cpuPercent(d), 1, 'against zeroed precpu the CLI divides by the whole system usage: 5e9 / 1e12 × 2 × 100');
});

t.test('docker CLI arithmetic on two samples', async (t) => {
  const prev = v1();
  const cur = v1({
    readAt: prev.readAt + 1000,
    cpu: { ...prev.cpu, usageNs: prev.cpu.usageNs + 0.5e9 },
    host: { ...host, systemCpuUsageNs: host.systemCpuUsageNs + 2e9 }, // 1 s on 2 CPUs
  });
  const d = toDockerStats(cur, prev, { id: 'abc', name: '/t1', networks: { eth0: { rx_bytes: 1, rx_packets: 1, rx_errors: 0, rx_dropped: 0, tx_bytes: 2, tx_packets: 1, tx_errors: 0, tx_dropped: 0 } } });
  t.equal(d.preread, '2026-11-29T18:02:10.000Z');
  t.equal(cpuPercent(d), 50, '0.5 s of CPU in 1 s = 50% (docker: Δcpu/Δsystem × online × 100)');
  t.equal(memUsageNoCache(d), 80 << 20, 'v1: usage - total_inactive_file');
  t.equal(d.networks?.eth0?.tx_bytes, 2);
});

t.test('v2: no percpu, inactive_file, host memory as limit, io ops lowercase', async (t) => {
  const s = v1({
    version: 'v2',
    cpu: { usageNs: 5e9, userNs: 3e9, systemNs: 1e9, periods: 0, throttledPeriods: 0, throttledNs: 0 },
    memory: { usage: 100 << 20, limit: null, stats: { inactive_file: 10 << 20 } },
    pids: { current: 2, limit: 50 },
    io: { serviceBytes: [{ major: 8, minor: 0, op: 'read', value: 1 }], serviced: [] },
  });
  const d = toDockerStats(s, undefined, { id: 'x', name: '/x' });
  t.equal(d.cpu_stats.cpu_usage.percpu_usage, undefined);
  t.equal(d.memory_stats.limit, 8 << 30, 'unlimited → host memory, as dockerd reports');
  t.equal(d.memory_stats.max_usage, undefined);
  t.equal(d.memory_stats.failcnt, undefined);
  t.equal(memUsageNoCache(d), 90 << 20);
  t.same(d.pids_stats, { current: 2, limit: 50 });
  t.equal(d.blkio_stats.io_serviced_recursive, null);
  t.same(d.blkio_stats.io_service_bytes_recursive, [{ major: 8, minor: 0, op: 'read', value: 1 }]);
  const withEvents = toDockerStats({ ...s, memoryEvents: { low: 0, high: 3, max: 9, oom: 4, oom_kill: 1 } }, undefined, { id: 'x', name: '/x' });
  t.equal(withEvents.memory_stats.failcnt, 4, 'v2 failcnt is memory.events oom, as moby statsV2 sets it');
});

t.test('a limit above host memory is capped to host memory', async (t) => {
  const d = toDockerStats(v1({ memory: { usage: 1, limit: 64 << 30, stats: {} } }), undefined, { id: 'x', name: '/x' });
  t.equal(d.memory_stats.limit, 8 << 30);
});
