// Pure (stat injectable): Docker HostConfig resource fields → tsd's Resources,
// validated as dockerd does (moby daemon/daemon_unix.go
// verifyPlatformContainerResources and adaptContainerSettings), with Docker's
// messages. Errors are invalid-parameter DaemonErrors; discarded settings come
// back as Docker's warnings.
import fs from 'node:fs';
import { DaemonError, invalidParameter } from '../../errors/index.js';
import { parseDeviceRule } from '../../cgroupfs/index.js';
import type {
  CgroupMode, CgroupSupport, DeviceRule, Resources, ThrottleDevice, WeightDevice,
} from '../../cgroupfs/index.js';

const MIN_MEMORY = 6291456; // 6 MiB: dockerd's own floor, not the kernel's
const MIN_SHARES = 2;
const MAX_SHARES = 262144;

export interface DeviceInfo { type: 'b' | 'c'; major: number; minor: number }

export interface ResourceInfo {
  /** CPUs the host has (sysinfo.NumCPU) */
  ncpu: number;
  mode: CgroupMode;
  /** validating a POST /containers/{id}/update body rather than a create */
  update?: boolean;
  /** what the kernel supports (manager.support()); missing keys count as supported */
  support?: Partial<CgroupSupport>;
  /** cpus and memory nodes available for cpuset ("0-1"); default 0..ncpu-1 and "0" */
  cpus?: string;
  mems?: string;
  /** resolve a device path to its type and major:minor (default: fs.statSync rdev) */
  statDevice?: (path: string) => DeviceInfo;
  /** real-time group scheduling (v1 cpu.rt_runtime_us); default: looked up under /sys/fs/cgroup */
  cpuRealtime?: boolean;
}

let hostRealtime: boolean | undefined;
/** Whether the v1 cpu hierarchy has cpu.rt_runtime_us (moby sysinfo.CPURealtime), looked up once. */
function hostHasRealtime(): boolean {
  hostRealtime ??= ['cpu', 'cpu,cpuacct'].some((d) => fs.existsSync(`/sys/fs/cgroup/${d}/cpu.rt_runtime_us`));
  return hostRealtime;
}

/** stat through the injected resolver; any failure becomes invalid-parameter with its message. */
function statOrInvalid(stat: (p: string) => DeviceInfo, p: string): DeviceInfo {
  try {
    return stat(p);
  } catch (e) {
    if (e instanceof DaemonError) throw e;
    throw invalidParameter((e as Error).message);
  }
}

export interface TranslatedResources { resources: Resources; warnings: string[] }

/** makedev decoding as glibc does it. */
const major = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

export function statDevice(p: string): DeviceInfo {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw invalidParameter(`stat ${p}: ${code === 'ENOENT' ? 'no such file or directory' : code}`);
  }
  if (!st.isBlockDevice() && !st.isCharacterDevice()) {
    throw invalidParameter(`${p} is not a device node`);
  }
  return { type: st.isBlockDevice() ? 'b' : 'c', major: major(st.rdev), minor: minor(st.rdev) };
}

/** moby pkg/parsers ParseUintList: "0-2,4" → set; throws "invalid format: …". */
export function parseUintList(val: string, maxValue = Infinity): Set<number> {
  const out = new Set<number>();
  if (val === '') return out;
  for (const part of val.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`invalid format: ${val}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`invalid format: ${val}`);
    if (hi > maxValue) throw new Error(`value of out range, maximum is ${maxValue}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

const int = (v: unknown, field: string): number | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !Number.isInteger(v)) {
    throw invalidParameter(`invalid value for ${field}: ${JSON.stringify(v)}`);
  }
  return v;
};

function throttleList(
  list: unknown, field: string, stat: (p: string) => DeviceInfo,
): ThrottleDevice[] | undefined {
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) throw invalidParameter(`invalid value for ${field}: expected an array`);
  return list.map((d: any) => {
    if (!d || typeof d.Path !== 'string') throw invalidParameter(`invalid value for ${field}: Path is required`);
    const rate = int(d.Rate, `${field}.Rate`) ?? 0;
    if (rate < 0) throw invalidParameter(`invalid rate for device: ${d.Path}:${rate}. The rate must be a positive integer`);
    const dev = statOrInvalid(stat, d.Path);
    return { major: dev.major, minor: dev.minor, rate };
  });
}

function weightList(list: unknown, stat: (p: string) => DeviceInfo): WeightDevice[] | undefined {
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) throw invalidParameter('invalid value for BlkioWeightDevice: expected an array');
  return list.map((d: any) => {
    if (!d || typeof d.Path !== 'string') throw invalidParameter('invalid value for BlkioWeightDevice: Path is required');
    const weight = int(d.Weight, 'BlkioWeightDevice.Weight') ?? 0;
    if (weight < 10 || weight > 1000) {
      throw invalidParameter(`invalid weight for device: ${d.Path}:${weight}. Weight must be between 10 and 1000`);
    }
    const dev = statOrInvalid(stat, d.Path);
    return { major: dev.major, minor: dev.minor, weight };
  });
}

function deviceRules(hc: any, stat: (p: string) => DeviceInfo): DeviceRule[] | undefined {
  const rules: DeviceRule[] = [];
  let any = false;
  if (hc.Privileged === true) {
    rules.push({ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' });
    any = true;
  }
  if (Array.isArray(hc.Devices)) {
    any = true;
    for (const d of hc.Devices) {
      const host = d?.PathOnHost;
      if (typeof host !== 'string' || host === '') throw invalidParameter('invalid device: PathOnHost is required');
      const perms = d.CgroupPermissions === undefined || d.CgroupPermissions === '' ? 'rwm' : String(d.CgroupPermissions);
      if (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length) {
        throw invalidParameter(`invalid device mode: ${perms}`);
      }
      let dev: DeviceInfo;
      try {
        dev = stat(host);
      } catch (e) {
        throw invalidParameter(
          `error gathering device information while adding custom device "${host}": ${(e as Error).message}`,
        );
      }
      rules.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access: perms });
    }
  }
  if (Array.isArray(hc.DeviceCgroupRules)) {
    any = true;
    for (const s of hc.DeviceCgroupRules) {
      const r = typeof s === 'string' ? parseDeviceRule(s) : null;
      if (!r) throw invalidParameter(`invalid device cgroup rule format: '${String(s)}'`);
      rules.push(r);
    }
  }
  return any ? rules : [];
}

/**
 * Validate and translate. Create semantics unless `info.update`: zero values
 * mean "unset"; MemorySwap 0 with a Memory limit becomes 2×Memory (dockerd's
 * default); CpuShares are clamped to 2..262144.
 */
export function translateDockerResources(hostConfig: any, info: ResourceInfo): TranslatedResources {
  const hc = hostConfig ?? {};
  const warnings: string[] = [];
  const sup = { ...(info.support ?? {}) } as Partial<CgroupSupport>;
  const ok = (k: keyof CgroupSupport) => sup[k] !== false;
  const v2 = info.mode === 'unified';
  const stat = info.statDevice ?? statDevice;
  const update = info.update === true;

  let memory = int(hc.Memory, 'Memory') ?? 0;
  let memorySwap = int(hc.MemorySwap, 'MemorySwap') ?? 0;
  let memoryReservation = int(hc.MemoryReservation, 'MemoryReservation') ?? 0;
  let swappiness = int(hc.MemorySwappiness, 'MemorySwappiness');
  if (swappiness === -1) swappiness = undefined; // fixMemorySwappiness
  let oomKillDisable: boolean | undefined = typeof hc.OomKillDisable === 'boolean' ? hc.OomKillDisable : undefined;
  let pidsLimit = int(hc.PidsLimit, 'PidsLimit');
  const nanoCpus = int(hc.NanoCpus, 'NanoCpus') ?? 0;
  let cpuPeriod = int(hc.CpuPeriod, 'CpuPeriod') ?? 0;
  let cpuQuota = int(hc.CpuQuota, 'CpuQuota') ?? 0;
  let cpuShares = int(hc.CpuShares, 'CpuShares') ?? 0;
  let cpusetCpus = typeof hc.CpusetCpus === 'string' ? hc.CpusetCpus : '';
  let cpusetMems = typeof hc.CpusetMems === 'string' ? hc.CpusetMems : '';
  let blkioWeight = int(hc.BlkioWeight, 'BlkioWeight') ?? 0;
  const rtPeriod = int(hc.CpuRealtimePeriod, 'CpuRealtimePeriod') ?? 0;
  const rtRuntime = int(hc.CpuRealtimeRuntime, 'CpuRealtimeRuntime') ?? 0;

  // memory
  if (memory !== 0 && memory < MIN_MEMORY) throw invalidParameter('Minimum memory limit allowed is 6MB');
  if (memory > 0 && !ok('memoryLimit')) {
    warnings.push('Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
    memory = 0;
    memorySwap = -1;
  }
  if (memory > 0 && memorySwap !== -1 && !ok('swapLimit')) {
    warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    memorySwap = -1;
  }
  if (memory > 0 && memorySwap > 0 && memorySwap < memory) {
    throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (memory === 0 && memorySwap > 0 && !update) {
    throw invalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (swappiness !== undefined && (v2 || !ok('memorySwappiness'))) {
    warnings.push('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
    swappiness = undefined;
  }
  if (swappiness !== undefined && (swappiness < 0 || swappiness > 100)) {
    throw invalidParameter(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  if (memoryReservation > 0 && !ok('memoryReservation')) {
    warnings.push('Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.');
    memoryReservation = 0;
  }
  if (memoryReservation > 0 && memoryReservation < MIN_MEMORY) {
    throw invalidParameter('Minimum memory reservation allowed is 6MB');
  }
  if (memory > 0 && memoryReservation > 0 && memory < memoryReservation) {
    throw invalidParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if (oomKillDisable !== undefined && (v2 || !ok('oomKillDisable'))) {
    if (oomKillDisable) warnings.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    oomKillDisable = undefined;
  }
  if (oomKillDisable === true && memory === 0) {
    warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  if (pidsLimit !== undefined && !ok('pidsLimit')) {
    if (pidsLimit > 0) warnings.push('Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.');
    pidsLimit = undefined;
  }

  // cpu
  if (nanoCpus > 0 && cpuPeriod > 0) throw invalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nanoCpus > 0 && cpuQuota > 0) throw invalidParameter('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nanoCpus > 0 && !ok('cpuCfs')) {
    throw invalidParameter('NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted');
  }
  if (nanoCpus < 0 || nanoCpus > info.ncpu * 1e9) {
    throw invalidParameter(`Range of CPUs is from 0.01 to ${info.ncpu}.00, as there are only ${info.ncpu} CPUs available`);
  }
  if (cpuShares < 0) throw invalidParameter('shares: invalid argument');
  if (cpuShares > 0 && !ok('cpuShares')) {
    warnings.push('Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.');
    cpuShares = 0;
  }
  if (!update && cpuShares > 0) cpuShares = Math.min(MAX_SHARES, Math.max(MIN_SHARES, cpuShares));
  if ((cpuPeriod !== 0 || cpuQuota !== 0) && !ok('cpuCfs')) {
    warnings.push('Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.');
    cpuPeriod = 0;
    cpuQuota = 0;
  }
  if (cpuPeriod !== 0 && (cpuPeriod < 1000 || cpuPeriod > 1000000)) {
    throw invalidParameter('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (cpuQuota > 0 && cpuQuota < 1000) throw invalidParameter('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  // moby runconfig validateResources: real-time group scheduling is v1 with CONFIG_RT_GROUP_SCHED only
  if ((rtPeriod !== 0 || rtRuntime !== 0) && (v2 || !(info.cpuRealtime ?? hostHasRealtime()))) {
    throw invalidParameter('kernel does not support CPU real-time scheduler');
  }
  if (rtPeriod !== 0 && rtRuntime !== 0 && rtRuntime > rtPeriod) {
    throw invalidParameter('cpu real-time runtime cannot be higher than cpu real-time period');
  }
  // on create these come from fromDockerCreate, which sees the fields before they are dropped
  if (update) warnings.push(...discardedFieldWarnings(hc));

  // cpuset
  if ((cpusetCpus !== '' || cpusetMems !== '') && !ok('cpuset')) {
    warnings.push('Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.');
    cpusetCpus = '';
    cpusetMems = '';
  }
  const availCpusText = info.cpus ?? (info.ncpu > 1 ? `0-${info.ncpu - 1}` : '0');
  const availMemsText = info.mems ?? '0';
  checkCpuset(cpusetCpus, availCpusText, 'cpus', 'Requested CPUs are not available');
  checkCpuset(cpusetMems, availMemsText, 'mems', 'Requested memory nodes are not available');

  // blkio
  if (blkioWeight > 0 && !ok('blkioWeight')) {
    warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    blkioWeight = 0;
  }
  if (blkioWeight > 0 && (blkioWeight < 10 || blkioWeight > 1000)) {
    throw invalidParameter('Range of blkio weight is from 10 to 1000');
  }
  if ((int(hc.IOMaximumBandwidth, 'IOMaximumBandwidth') ?? 0) !== 0 || (int(hc.IOMaximumIOps, 'IOMaximumIOps') ?? 0) !== 0) {
    throw invalidParameter('Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps');
  }
  let weightDevices = weightList(hc.BlkioWeightDevice, stat);
  if (weightDevices?.length && !ok('blkioWeightDevice')) {
    warnings.push('Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
    weightDevices = undefined;
  }
  const throttles: Array<[keyof Resources, string, string]> = [
    ['blkioDeviceReadBps', 'BlkioDeviceReadBps', 'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.'],
    ['blkioDeviceWriteBps', 'BlkioDeviceWriteBps', 'Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.'],
    ['blkioDeviceReadIOps', 'BlkioDeviceReadIOps', 'Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.'],
    ['blkioDeviceWriteIOps', 'BlkioDeviceWriteIOps', 'Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.'],
  ];

  const res: Resources = {};
  if (memory > 0) res.memory = memory;
  if (!update && memory > 0 && memorySwap === 0) memorySwap = memory * 2; // adaptContainerSettings
  if (memorySwap !== 0 && (memory > 0 || update)) res.memorySwap = memorySwap;
  if (memoryReservation > 0) res.memoryReservation = memoryReservation;
  if (swappiness !== undefined) res.memorySwappiness = swappiness;
  if (oomKillDisable !== undefined) res.oomKillDisable = oomKillDisable;
  if (nanoCpus > 0) res.nanoCpus = nanoCpus;
  if (cpuPeriod > 0) res.cpuPeriod = cpuPeriod;
  if (cpuQuota !== 0) res.cpuQuota = cpuQuota;
  if (cpuShares > 0) res.cpuShares = cpuShares;
  if (rtPeriod !== 0) res.cpuRealtimePeriod = rtPeriod;
  if (rtRuntime !== 0) res.cpuRealtimeRuntime = rtRuntime;
  if (cpusetCpus !== '') res.cpusetCpus = cpusetCpus;
  if (cpusetMems !== '') res.cpusetMems = cpusetMems;
  if (pidsLimit !== undefined) res.pidsLimit = pidsLimit <= 0 ? -1 : pidsLimit;
  if (blkioWeight > 0) res.blkioWeight = blkioWeight;
  if (weightDevices?.length) res.blkioWeightDevice = weightDevices;
  for (const [key, field, warning] of throttles) {
    const list = throttleList(hc[field], field, stat);
    if (!list?.length) continue;
    if (!ok('blkioThrottle')) {
      warnings.push(warning);
      continue;
    }
    (res as Record<string, unknown>)[key] = list;
  }
  if (!update) {
    const devices = deviceRules(hc, stat) ?? [];
    // Always present on create: v1 writes devices.allow/deny, v2 attaches the eBPF filter compiled from it.
    res.devices = devices;
  }
  return { resources: res, warnings };
}

/**
 * Resource fields that do nothing on Linux here, said rather than silent: CpuPercent
 * (moby discards it with this warning), CpuCount (moby keeps it without a word),
 * KernelMemory/KernelMemoryTCP (removed from the API in 1.42/1.52; current moby drops them).
 */
export function discardedFieldWarnings(hc: Record<string, unknown>): string[] {
  const out: string[] = [];
  if ((int(hc.CpuPercent, 'CpuPercent') ?? 0) > 0) out.push('linux does not support CPU percent. Percent discarded.');
  if ((int(hc.CpuCount, 'CpuCount') ?? 0) > 0) out.push('linux does not support CPU count. Count ignored.');
  for (const k of ['KernelMemory', 'KernelMemoryTCP']) {
    if ((int(hc[k], k) ?? 0) !== 0) out.push(`${k} is ignored: kernel memory limits are deprecated and not supported (removed from the Docker API)`);
  }
  return out;
}

function checkCpuset(value: string, available: string, what: 'cpus' | 'mems', notAvailable: string): void {
  let wanted: Set<number>;
  try {
    wanted = parseUintList(value);
  } catch (e) {
    throw invalidParameter(`Invalid value ${value} for cpuset ${what}: ${(e as Error).message}`);
  }
  const avail = parseUintList(available);
  for (const n of wanted) {
    if (!avail.has(n)) throw invalidParameter(`${notAvailable} - requested ${value}, available: ${available}`);
  }
}

/** Just the Resources (warnings dropped); see translateDockerResources. */
export function fromDockerResources(hostConfig: any, info: ResourceInfo): Resources {
  return translateDockerResources(hostConfig, info).resources;
}
