// Pure: tsd's CgroupStats samples → Docker's ContainerStatsResponse JSON
// (API v1.44), shaped so that the docker CLI's calculateCPUPercentUnix and
// calculateMemUsageUnixNoCache give the same figures as against dockerd.
import type { CgroupStats, IoEntry } from '../../cgroupfs/index.js';

export interface DockerNetworkStats {
  rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}

export interface DockerBlkioEntry { major: number; minor: number; op: string; value: number }

export interface DockerCpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface DockerStats {
  name: string;
  id: string;
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: DockerBlkioEntry[] | null;
    io_serviced_recursive: DockerBlkioEntry[] | null;
    io_queue_recursive: null;
    io_service_time_recursive: null;
    io_wait_time_recursive: null;
    io_merged_recursive: null;
    io_time_recursive: null;
    sectors_recursive: null;
  };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: DockerCpuStats;
  precpu_stats: DockerCpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  networks?: Record<string, DockerNetworkStats>;
}

/** Go's zero time, which Docker sends as `preread` on the first sample. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

const ZERO_CPU: DockerCpuStats = {
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
};

export function toDockerCpuStats(s: CgroupStats): DockerCpuStats {
  const cpu_usage: DockerCpuStats['cpu_usage'] = {
    total_usage: s.cpu.usageNs,
    usage_in_kernelmode: Math.round(s.cpu.systemNs),
    usage_in_usermode: Math.round(s.cpu.userNs),
  };
  if (s.version === 'v1' && s.cpu.perCpuNs && s.cpu.perCpuNs.length > 0) cpu_usage.percpu_usage = s.cpu.perCpuNs;
  return {
    cpu_usage,
    system_cpu_usage: Math.round(s.host.systemCpuUsageNs),
    online_cpus: s.host.onlineCpus,
    throttling_data: {
      periods: s.cpu.periods,
      throttled_periods: s.cpu.throttledPeriods,
      throttled_time: s.cpu.throttledNs,
    },
  };
}

const blkio = (entries: IoEntry[]): DockerBlkioEntry[] =>
  entries.map((e) => ({ major: e.major, minor: e.minor, op: e.op, value: e.value }));

/**
 * One stats object. `prev` is the previous sample (undefined on the first one,
 * which gets Docker's zero `preread` and zeroed `precpu_stats`). `name` is
 * with its leading slash, as Docker sends it.
 */
export function toDockerStats(
  cur: CgroupStats,
  prev: CgroupStats | undefined,
  opts: { id: string; name: string; networks?: Record<string, DockerNetworkStats> },
): DockerStats {
  // Docker reports the host's memory as the limit when the container has none (or a larger one).
  const memTotal = cur.host.memTotal;
  let limit = cur.memory.limit ?? memTotal;
  if (memTotal > 0 && limit > memTotal) limit = memTotal;
  const memory_stats: DockerStats['memory_stats'] = { usage: cur.memory.usage, stats: { ...cur.memory.stats } };
  if (cur.version === 'v1') {
    if (cur.memory.maxUsage !== undefined) memory_stats.max_usage = cur.memory.maxUsage;
    if (cur.memory.failcnt !== undefined) memory_stats.failcnt = cur.memory.failcnt;
  } else if (cur.memoryEvents?.oom !== undefined) {
    // moby statsV2: "Failcnt is set to the "oom" field of the "memory.events" file"
    memory_stats.failcnt = cur.memoryEvents.oom;
  }
  memory_stats.limit = limit;

  const pids_stats: DockerStats['pids_stats'] = { current: cur.pids.current };
  if (cur.pids.limit !== null) pids_stats.limit = cur.pids.limit;

  const out: DockerStats = {
    name: opts.name,
    id: opts.id,
    read: new Date(cur.readAt).toISOString(),
    preread: prev ? new Date(prev.readAt).toISOString() : ZERO_TIME,
    pids_stats,
    blkio_stats: {
      io_service_bytes_recursive: blkio(cur.io.serviceBytes),
      io_serviced_recursive: cur.version === 'v1' ? blkio(cur.io.serviced) : null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: toDockerCpuStats(cur),
    precpu_stats: prev ? toDockerCpuStats(prev) : structuredClone(ZERO_CPU),
    memory_stats,
  };
  if (opts.networks) out.networks = opts.networks;
  return out;
}

/** The docker CLI's CPU % (calculateCPUPercentUnix), for tests and tsctl. */
export function cpuPercent(s: DockerStats): number {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const online = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  if (sysDelta > 0 && cpuDelta > 0) return (cpuDelta / sysDelta) * online * 100;
  return 0;
}

/** The docker CLI's memory usage without page cache (calculateMemUsageUnixNoCache). */
export function memUsageNoCache(s: DockerStats): number {
  const usage = s.memory_stats.usage ?? 0;
  const st = s.memory_stats.stats ?? {};
  if (st.total_inactive_file !== undefined && st.total_inactive_file < usage) return usage - st.total_inactive_file;
  if (st.inactive_file !== undefined && st.inactive_file < usage) return usage - st.inactive_file;
  return usage;
}
