// Contracts of cgroupfs. `Resources` is tsd's own vocabulary (camelCase, bytes,
// nanoseconds, major:minor pairs); Docker field names never reach this folder
// (api/translate/resources.ts maps HostConfig onto it).

/** How the host mounts cgroups. `hybrid` = v1 controllers plus a cgroup2 mount beside them; tsd drives it as v1. */
export type CgroupMode = 'legacy' | 'hybrid' | 'unified';

/** Which file layout a manager writes: v1 (one hierarchy per controller) or v2 (one unified tree). */
export type CgroupVersion = 'v1' | 'v2';

/** A per-device throttle: bytes or operations per second on block device major:minor. */
export interface ThrottleDevice { major: number; minor: number; rate: number }
/** A per-device block I/O weight. */
export interface WeightDevice { major: number; minor: number; weight: number }

/** One device cgroup rule, as in devices.allow / devices.deny ("c 1:3 rwm"). `-1` for major/minor means '*'. */
export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'b' | 'c';
  major: number;
  minor: number;
  access: string;
}

/**
 * Limits for one container. Every field is optional: absent means "leave as is"
 * (on update) or "kernel default" (on apply).
 */
export interface Resources {
  /** Hard memory limit in bytes; 0 = unlimited. */
  memory?: number;
  /** Soft limit in bytes (v1 memory.soft_limit_in_bytes, v2 memory.low). 0 = unset. */
  memoryReservation?: number;
  /** Docker semantics: memory + swap in bytes; -1 = unlimited swap; 0 = not set. */
  memorySwap?: number;
  /** 0-100, v1 only (v2 has no per-cgroup swappiness; ignored there). */
  memorySwappiness?: number;
  /** v1 only; v2 throws not-implemented when true. */
  oomKillDisable?: boolean;
  /** CPU limit in units of 1e-9 CPUs (0.5 CPU = 5e8); becomes quota/period with period 100000 µs. */
  nanoCpus?: number;
  /** CFS quota in µs per period; -1 or 0 = unlimited. */
  cpuQuota?: number;
  /** CFS period in µs. */
  cpuPeriod?: number;
  /** v1 cpu.rt_period_us (µs; needs CONFIG_RT_GROUP_SCHED). 0 = unset. */
  cpuRealtimePeriod?: number;
  /** v1 cpu.rt_runtime_us (µs of real-time scheduling per period; the parent must have that budget). 0 = unset. */
  cpuRealtimeRuntime?: number;
  /** v1 cpu.shares (2..262144); v2 cpu.weight via sharesToWeight. 0 = unset. */
  cpuShares?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** Max number of tasks; 0 or -1 = unlimited. */
  pidsLimit?: number;
  /** 10..1000; 0 = unset. */
  blkioWeight?: number;
  blkioWeightDevice?: WeightDevice[];
  blkioDeviceReadBps?: ThrottleDevice[];
  blkioDeviceWriteBps?: ThrottleDevice[];
  blkioDeviceReadIOps?: ThrottleDevice[];
  blkioDeviceWriteIOps?: ThrottleDevice[];
  /**
   * Device access rules. When present (even empty) the device controller is
   * reset to deny-all, then the default Docker allow list plus these rules are written.
   */
  devices?: DeviceRule[];
}

/**
 * One file write planned by a controller. `optional`: a missing file is skipped
 * with a warning (e.g. memory.memsw.* without swap accounting). `unsupported`:
 * a missing file means the feature is not available here; the executor throws
 * a not-implemented DaemonError with this text instead of skipping silently.
 */
export interface CgroupWrite {
  file: string;
  value: string;
  optional?: boolean;
  unsupported?: string;
  /** v1 only: the controller hierarchy the file lives in (cpu, memory, ...). */
  controller?: string;
  /** when this file is missing, write this instead (v2 io.bfq.weight → io.weight). */
  orElse?: CgroupWrite;
}

export interface IoEntry { major: number; minor: number; op: string; value: number }

/** One line of a PSI file: the share of wall time (percent) tasks stalled over 10/60/300 s, and the total in µs. */
export interface PressureLine { avg10: number; avg60: number; avg300: number; total: number }
/** `some`: at least one task stalled; `full`: all non-idle tasks stalled at once (cpu.pressure has it since 5.13). */
export interface Pressure { some: PressureLine; full?: PressureLine }

/** Stats in tsd's own shape; api/translate/stats.ts turns two samples into Docker's JSON. */
export interface CgroupStats {
  version: CgroupVersion;
  /** ms since epoch when sampled. */
  readAt: number;
  cpu: {
    /** total CPU time of the cgroup, ns */
    usageNs: number;
    userNs: number;
    systemNs: number;
    /** per-CPU usage in ns (v1 only; v2 has none). */
    perCpuNs?: number[];
    periods: number;
    throttledPeriods: number;
    throttledNs: number;
  };
  memory: {
    usage: number;
    /** v1 only */
    maxUsage?: number;
    /** v1 only */
    failcnt?: number;
    /** bytes, or null when unlimited */
    limit: number | null;
    stats: Record<string, number>;
  };
  pids: { current: number; limit: number | null };
  io: { serviceBytes: IoEntry[]; serviced: IoEntry[] };
  oomKills: number;
  /**
   * v2 memory.events (hierarchical): low, high (times memory.high throttled), max (times
   * memory.max was hit), oom (allocations that failed at the limit), oom_kill, oom_group_kill.
   */
  memoryEvents?: Record<string, number>;
  /** v2 pressure stall information of the cgroup (cpu.pressure, memory.pressure, io.pressure); absent without CONFIG_PSI. */
  pressure?: { cpu?: Pressure; memory?: Pressure; io?: Pressure };
  host: HostCpu;
}

/** Host-wide CPU figures, as Docker computes them. */
export interface HostCpu {
  /** sum of the first 7 fields of /proc/stat's cpu line, × 1e9 / CLK_TCK */
  systemCpuUsageNs: number;
  onlineCpus: number;
  /** MemTotal from /proc/meminfo, bytes */
  memTotal: number;
}

/** What the kernel here can do; the daemon turns gaps into Docker's warnings. */
export interface CgroupSupport {
  memoryLimit: boolean;
  swapLimit: boolean;
  memoryReservation: boolean;
  memorySwappiness: boolean;
  oomKillDisable: boolean;
  cpuShares: boolean;
  cpuCfs: boolean;
  /** v1 cpu.rt_runtime_us exists (real-time group scheduling); never on v2 */
  cpuRealtime: boolean;
  cpuset: boolean;
  pidsLimit: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioThrottle: boolean;
  devices: boolean;
  freezer: boolean;
}

/**
 * How a v2 cgroup gets its device policy (an eBPF program; bpf(2) for real, a
 * recorder in unit tests). `program` is the encoded instruction array.
 */
export interface DeviceFilter {
  /** attach `program` in place of any device program at `dir`; null = no filter (detach them all) */
  set(dir: string, program: Buffer | null): void;
  /** ids of the device programs attached at `dir` itself */
  attached(dir: string): number[];
  /** detach every device program at `dir` */
  clear(dir: string): void;
}

export interface CgroupManagerOptions {
  /** mount point of the cgroup tree, default /sys/fs/cgroup */
  root?: string;
  /** default: detectCgroupMode(root) */
  mode?: CgroupMode;
  /** parent cgroup, relative to each hierarchy root (e.g. "tsd"); may contain '/' */
  parent: string;
  /** leaf name, typically the container id */
  name: string;
  /** where host figures come from (tests inject fixtures); default /proc */
  procRoot?: string;
  /** v2 only: how device programs are attached (default: bpf(2)) */
  deviceFilter?: DeviceFilter;
  /**
   * v1: the real-time budget create() writes into every ancestor of the cgroup
   * (the daemon's --cpu-rt-period/--cpu-rt-runtime, as moby's initCPURtController):
   * a child's cpu.rt_runtime_us can't exceed its parent's, which is 0 by default.
   */
  realtimeParent?: { period?: number; runtime?: number };
}

export type FreezerState = 'frozen' | 'freezing' | 'thawed';

/**
 * One container's cgroup, across every hierarchy it lives in.
 *
 * Lifecycle: create() → (runtime's init writes its pid into procsFiles()) →
 * apply(res) → update(res)* / freeze()/thaw() / stats() → killAll() → destroy().
 * apply() may also come before the process joins; limits take effect either way.
 */
export interface CgroupManager {
  readonly version: CgroupVersion;
  /** the cgroup path relative to the hierarchy roots: "<parent>/<name>" (v2, after adopt(): "<parent>/<sibling>") */
  readonly path: string;
  /** make the directories (and the parent chain, with inherited cpuset values on v1). Idempotent. */
  create(): void;
  /** cgroup.procs of every hierarchy, for the init to write its own pid before execve. */
  procsFiles(): string[];
  addProcess(pid: number): void;
  /** write all limits; returns warnings for settings the kernel could not take (optional files missing). */
  apply(res: Resources): string[];
  /** change limits live; kernel refusals (e.g. memory below usage) come back as DaemonErrors naming file and value. */
  update(res: Resources): string[];
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  isFrozen(): boolean;
  /**
   * The freezer as the kernel has it now, read without writing: 'frozen'; 'freezing', a freeze asked
   * for and not complete (v1 FREEZING, v2 cgroup.freeze 1 while cgroup.events says frozen 0); or
   * 'thawed' (also when the cgroup is gone). What a daemon that adopts a task reads to know whether
   * it is paused, whatever the row of a daemon killed mid-pause says.
   */
  freezerState(): FreezerState;
  stats(): CgroupStats;
  pids(): number[];
  /** how many times the kernel OOM-killed a task in this cgroup */
  oomKillCount(): number;
  support(): CgroupSupport;
  /** SIGKILL (or `signal`) every task, freezing first on v1 so forks cannot escape. Waits until empty. */
  killAll(signal?: number): Promise<void>;
  /** kill what is left, wait, and rmdir the cgroup in every hierarchy. Idempotent. */
  destroy(): Promise<void>;
  /**
   * Becomes a sibling (same parent) that already holds processes, e.g. a pre-started
   * init staged there, so its tasks need not move (a migration waits for an RCU grace
   * period): v1 renames the sibling to this cgroup's name; v2, which cannot rename
   * cgroups, takes the sibling as it is (`path` is the sibling's from then on).
   * Returns false (changing nothing) when the sibling is missing or the rename is
   * refused; then create() and join as usual.
   */
  adopt(sibling: string): boolean;
}
