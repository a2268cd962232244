// A container's cgroup as its files say it: for each controller the limit
// next to the current usage, with the file each figure came from, and the
// counters that say why a process was killed or held back (OOM kills, CPU
// throttling, pids limit hits, pressure stall information).
import { join, type HostView } from './host.js';

export interface Figure {
  /** what the figure is, in words ("memory limit") */
  what: string;
  /** the file it was read from, relative to the controller directory */
  file: string;
  /** the raw text of the file (first line, or the relevant key) */
  raw: string;
  /** the number, when it is one (null: "max"/unlimited) */
  value: number | null;
}

export interface ControllerView {
  name: string;
  /** absolute directory of the cgroup in this controller's hierarchy */
  dir: string;
  present: boolean;
  figures: Figure[];
}

export interface CpuStat { nrPeriods: number; nrThrottled: number; throttledUsec: number; usageUsec: number }

export interface CgroupView {
  version: 'v1' | 'v2';
  /** who made the cgroup: tsd (cgroupfs) or systemd (a transient scope); the readers say cgroupfs, the daemon corrects it */
  driver: 'cgroupfs' | 'systemd';
  /** the path relative to the hierarchy roots */
  path: string;
  /** true when the cgroup directories exist */
  present: boolean;
  controllers: ControllerView[];
  memory: { limit: number | null; usage: number | null; peak: number | null; swapLimit: number | null; high: number | null; oomKills: number; failcnt: number | null; events: Record<string, number> };
  cpu: { quotaUsec: number | null; periodUsec: number; shares: number | null; weight: number | null; cpus: string; stat: CpuStat };
  pids: { limit: number | null; current: number | null; maxHits: number };
  /** PSI per resource ("some avg10=0.00 ..."), v2 only; null when the kernel has none here */
  pressure: Record<string, Record<string, Record<string, number>>> | null;
}

const num = (s: string | null | undefined): number | null => {
  if (s === null || s === undefined) return null;
  const t = s.trim().split(/\s+/)[0] ?? '';
  if (t === '' || t === 'max') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
};

export function parseFlatKeyed(text: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

export function parsePressure(text: string | null): Record<string, Record<string, number>> | null {
  if (!text) return null;
  const out: Record<string, Record<string, number>> = {};
  for (const line of text.split('\n')) {
    const [kind, ...kv] = line.trim().split(/\s+/);
    if (!kind) continue;
    out[kind] = Object.fromEntries(kv.map((p) => p.split('=')).map(([k, v]) => [k!, Number(v)]));
  }
  return out;
}

/** v1 reports "no limit" as a huge page-aligned number. */
const V1_UNLIMITED = 2 ** 62;
const v1limit = (n: number | null) => (n === null || n >= V1_UNLIMITED ? null : n);

function fig(h: HostView, dir: string, what: string, file: string, key?: string): Figure {
  const text = h.read(join(dir, file));
  if (key) {
    const kv = parseFlatKeyed(text);
    return { what, file: `${file} ${key}`, raw: text === null ? '' : String(kv[key] ?? ''), value: kv[key] ?? null };
  }
  const raw = text === null ? '' : text.trim();
  return { what, file, raw, value: num(raw) };
}

const pick = (figs: Figure[], file: string) => figs.find((f) => f.file === file);

/** v1: one directory per controller hierarchy. */
export function readCgroupV1(h: HostView, cgPath: string): CgroupView {
  const dir = (c: string) => join(h.cgroupRoot, c, cgPath);
  const exists = (c: string) => h.read(join(dir(c), 'cgroup.procs')) !== null;
  const ctl = (name: string, figures: Figure[]): ControllerView => ({ name, dir: dir(name), present: exists(name), figures: exists(name) ? figures : [] });
  const m = dir('memory');
  const memFigs = [
    fig(h, m, 'memory limit', 'memory.limit_in_bytes'), fig(h, m, 'memory usage', 'memory.usage_in_bytes'),
    fig(h, m, 'peak usage', 'memory.max_usage_in_bytes'), fig(h, m, 'memory+swap limit', 'memory.memsw.limit_in_bytes'),
    fig(h, m, 'memory+swap usage', 'memory.memsw.usage_in_bytes'), fig(h, m, 'soft limit', 'memory.soft_limit_in_bytes'),
    fig(h, m, 'times the limit was hit', 'memory.failcnt'), fig(h, m, 'OOM kills', 'memory.oom_control', 'oom_kill'),
    fig(h, m, 'OOM killer disabled', 'memory.oom_control', 'oom_kill_disable'), fig(h, m, 'under OOM now', 'memory.oom_control', 'under_oom'),
  ];
  const c = dir('cpu');
  const cpuStat = parseFlatKeyed(h.read(join(c, 'cpu.stat')));
  const usageNs = num(h.read(join(dir('cpuacct'), 'cpuacct.usage')));
  const cpuFigs = [
    fig(h, c, 'CPU quota per period (µs)', 'cpu.cfs_quota_us'), fig(h, c, 'CPU period (µs)', 'cpu.cfs_period_us'), fig(h, c, 'CPU shares', 'cpu.shares'),
    fig(h, c, 'periods', 'cpu.stat', 'nr_periods'), fig(h, c, 'throttled periods', 'cpu.stat', 'nr_throttled'), fig(h, c, 'throttled time (ns)', 'cpu.stat', 'throttled_time'),
  ];
  const cs = dir('cpuset');
  const cpusetFigs = [fig(h, cs, 'CPUs', 'cpuset.cpus'), fig(h, cs, 'memory nodes', 'cpuset.mems')];
  const p = dir('pids');
  const pidsFigs = [fig(h, p, 'pids limit', 'pids.max'), fig(h, p, 'pids now', 'pids.current'), fig(h, p, 'times fork was refused at the limit', 'pids.events', 'max')];
  const b = dir('blkio');
  const blkFigs = ['blkio.weight', 'blkio.throttle.read_bps_device', 'blkio.throttle.write_bps_device', 'blkio.throttle.read_iops_device', 'blkio.throttle.write_iops_device']
    .map((f) => fig(h, b, f.replace('blkio.', '').replace(/_/g, ' '), f)).filter((f) => f.raw !== '');
  const d = dir('devices');
  const devFigs = [{ what: 'device rules', file: 'devices.list', raw: (h.read(join(d, 'devices.list')) ?? '').trim(), value: null }];
  const quota = num(pick(cpuFigs, 'cpu.cfs_quota_us')?.raw);
  return {
    version: 'v1', driver: 'cgroupfs', path: cgPath, present: exists('memory') || exists('pids'),
    controllers: [ctl('memory', memFigs), ctl('cpu', cpuFigs), ctl('cpuset', cpusetFigs), ctl('pids', pidsFigs), ctl('blkio', blkFigs), ctl('devices', devFigs)],
    memory: {
      limit: v1limit(pick(memFigs, 'memory.limit_in_bytes')!.value), usage: pick(memFigs, 'memory.usage_in_bytes')!.value,
      peak: pick(memFigs, 'memory.max_usage_in_bytes')!.value, swapLimit: v1limit(pick(memFigs, 'memory.memsw.limit_in_bytes')!.value), high: null,
      oomKills: pick(memFigs, 'memory.oom_control oom_kill')!.value ?? 0, failcnt: pick(memFigs, 'memory.failcnt')!.value,
      events: parseFlatKeyed(h.read(join(m, 'memory.oom_control'))),
    },
    cpu: {
      quotaUsec: quota !== null && quota > 0 ? quota : null, periodUsec: num(pick(cpuFigs, 'cpu.cfs_period_us')?.raw) ?? 100000,
      shares: num(pick(cpuFigs, 'cpu.shares')?.raw), weight: null, cpus: pick(cpusetFigs, 'cpuset.cpus')!.raw,
      stat: { nrPeriods: cpuStat.nr_periods ?? 0, nrThrottled: cpuStat.nr_throttled ?? 0, throttledUsec: Math.round((cpuStat.throttled_time ?? 0) / 1000), usageUsec: usageNs === null ? 0 : Math.round(usageNs / 1000) },
    },
    pids: { limit: pick(pidsFigs, 'pids.max')!.value, current: pick(pidsFigs, 'pids.current')!.value, maxHits: pick(pidsFigs, 'pids.events max')!.value ?? 0 },
    pressure: null,
  };
}

/** v2: one directory, controller files side by side. */
export function readCgroupV2(h: HostView, cgPath: string): CgroupView {
  const dir = join(h.cgroupRoot, cgPath);
  const present = h.read(join(dir, 'cgroup.procs')) !== null;
  const enabled = new Set((h.read(join(dir, 'cgroup.controllers')) ?? '').trim().split(/\s+/));
  const f = (what: string, file: string, key?: string) => fig(h, dir, what, file, key);
  const memFigs = [
    f('memory limit', 'memory.max'), f('memory usage', 'memory.current'), f('peak usage', 'memory.peak'), f('throttle point', 'memory.high'),
    f('protected', 'memory.low'), f('swap limit', 'memory.swap.max'), f('swap usage', 'memory.swap.current'),
    f('times the limit was hit', 'memory.events', 'max'), f('OOM events', 'memory.events', 'oom'), f('OOM kills', 'memory.events', 'oom_kill'),
  ];
  const cpuStat = parseFlatKeyed(h.read(join(dir, 'cpu.stat')));
  const cpuFigs = [
    f('CPU quota and period (µs)', 'cpu.max'), f('CPU weight', 'cpu.weight'),
    f('periods', 'cpu.stat', 'nr_periods'), f('throttled periods', 'cpu.stat', 'nr_throttled'), f('throttled time (µs)', 'cpu.stat', 'throttled_usec'),
  ];
  const cpusetFigs = [f('CPUs', 'cpuset.cpus'), f('CPUs in effect', 'cpuset.cpus.effective'), f('memory nodes', 'cpuset.mems')];
  const pidsFigs = [f('pids limit', 'pids.max'), f('pids now', 'pids.current'), f('times fork was refused at the limit', 'pids.events', 'max')];
  const ioFigs = [f('I/O limits', 'io.max'), f('I/O weight', 'io.weight')].filter((x) => x.raw !== '');
  const cpuMax = (pick(cpuFigs, 'cpu.max')?.raw ?? 'max 100000').split(/\s+/);
  const memEvents = parseFlatKeyed(h.read(join(dir, 'memory.events')));
  const pressure: Record<string, Record<string, Record<string, number>>> = {};
  for (const r of ['cpu', 'memory', 'io']) {
    const p = parsePressure(h.read(join(dir, `${r}.pressure`)));
    if (p) pressure[r] = p;
  }
  const ctl = (name: string, figures: Figure[]): ControllerView => ({ name, dir, present: present && (enabled.has(name) || name === 'cgroup'), figures: present ? figures : [] });
  return {
    version: 'v2', driver: 'cgroupfs', path: cgPath, present,
    controllers: [ctl('memory', memFigs), ctl('cpu', cpuFigs), ctl('cpuset', cpusetFigs), ctl('pids', pidsFigs), ctl('io', ioFigs)],
    memory: {
      limit: pick(memFigs, 'memory.max')!.value, usage: pick(memFigs, 'memory.current')!.value, peak: pick(memFigs, 'memory.peak')!.value,
      swapLimit: pick(memFigs, 'memory.swap.max')!.value, high: pick(memFigs, 'memory.high')!.value,
      oomKills: memEvents.oom_kill ?? 0, failcnt: memEvents.max ?? null, events: memEvents,
    },
    cpu: {
      quotaUsec: cpuMax[0] === 'max' ? null : Number(cpuMax[0]), periodUsec: Number(cpuMax[1] ?? 100000), shares: null,
      weight: pick(cpuFigs, 'cpu.weight')!.value, cpus: pick(cpusetFigs, 'cpuset.cpus.effective')!.raw || pick(cpusetFigs, 'cpuset.cpus')!.raw,
      stat: { nrPeriods: cpuStat.nr_periods ?? 0, nrThrottled: cpuStat.nr_throttled ?? 0, throttledUsec: cpuStat.throttled_usec ?? 0, usageUsec: cpuStat.usage_usec ?? 0 },
    },
    pids: { limit: pick(pidsFigs, 'pids.max')!.value, current: pick(pidsFigs, 'pids.current')!.value, maxHits: pick(pidsFigs, 'pids.events max')!.value ?? 0 },
    pressure: Object.keys(pressure).length ? pressure : null,
  };
}

export function readCgroup(h: HostView, version: 'v1' | 'v2', cgPath: string): CgroupView {
  return version === 'v2' ? readCgroupV2(h, cgPath) : readCgroupV1(h, cgPath);
}

/** The throttled share over a window: two cpu.stat samples. */
export function throttleWindow(a: CpuStat, b: CpuStat, seconds: number): { seconds: number; periods: number; throttled: number; share: number; usageUsec: number } {
  const periods = b.nrPeriods - a.nrPeriods;
  const throttled = b.nrThrottled - a.nrThrottled;
  return { seconds, periods, throttled, share: periods > 0 ? throttled / periods : 0, usageUsec: b.usageUsec - a.usageUsec };
}
