// The systemd cgroup driver (dockerd's --exec-opt native.cgroupdriver=systemd), shaped
// as runc's libcontainer/cgroups/systemd: a container's cgroup is a transient scope
// unit, docker-<id>.scope in a slice (system.slice by default; a parent is a slice
// name, "a-b.slice" living at /a.slice/a-b.slice), started over D-Bus with the init's
// pid in it (systemd moves the process), Delegate=yes (the subtree is the engine's:
// exec'd processes join by cgroupfs, the eBPF device program is tsd's own) and the
// limits systemd knows as unit properties; then the cgroupfs manager of that same
// directory (v1/ or v2/) writes every limit into the files, exactly, including what
// systemd has no property for (swappiness, throttles, devices). Updates go both ways
// too (files first: the kernel judges the value; then SetUnitProperties, so systemd
// does not write its older values back on a daemon-reload). Removal stops the unit.
import fs from 'node:fs';
import path from 'node:path';
import { invalidParameter } from '../../errors/index.js';
import { sharesToWeight } from '../convert.js';
import type { CgroupManager, CgroupManagerOptions, CgroupStats, CgroupSupport, CgroupVersion, FreezerState, Resources } from '../types.js';
import type { SystemdApi, UnitProperty } from './bus.js';

/** systemd's "infinity" for a uint64 limit */
const INFINITY = 2n ** 64n - 1n;
const SLICE = '.slice';

/**
 * The scope of a container: docker-<id>.scope, as dockerd names it (cgroupsPath "system.slice:docker:<id>").
 * A name that is a scope's already (a record's cgroupName, the basename of the task's cgroup) stays as it is.
 */
export const scopeName = (name: string): string => (/^docker-[^/]+\.scope$/.test(name) ? name : `docker-${name}.scope`);

/** A slice name, checked as systemd does: "<a>[-<b>...].slice", no empty dash-separated part, no '/'. */
export function checkSlice(slice: string): void {
  const bad = () => invalidParameter(`cgroup-parent for systemd cgroup should be a valid slice named as "xxx.slice": ${JSON.stringify(slice)}`, 'TSD_ERR_CGROUP_SLICE');
  if (!slice.endsWith(SLICE) || slice.length === SLICE.length || slice.includes('/')) throw bad();
  const stem = slice.slice(0, -SLICE.length);
  if (stem === '-') return;
  if (!/^[A-Za-z0-9:_.\\-]+$/.test(stem) || stem.split('-').some((p) => p === '')) throw bad();
}

/**
 * The directory of a slice below the cgroup root, as systemd lays slices out:
 * "system.slice" → "system.slice", "a-b-c.slice" → "a.slice/a-b.slice/a-b-c.slice",
 * "-.slice" (the root slice) → "".
 */
export function slicePath(slice: string): string {
  checkSlice(slice);
  const stem = slice.slice(0, -SLICE.length);
  if (stem === '-') return '';
  const parts = stem.split('-');
  return parts.map((_, i) => parts.slice(0, i + 1).join('-') + SLICE).join('/');
}

/** The cgroup path (relative to the hierarchy roots) of the scope of `name` in `slice`. */
export const scopePath = (slice: string, name: string): string => {
  const dir = slicePath(slice);
  return dir ? `${dir}/${scopeName(name)}` : scopeName(name);
};

/** "0-2,5" → the bitmask systemd's AllowedCPUs/AllowedMemoryNodes take: bit i of byte j is CPU 8j+i. */
export function cpuMask(list: string): number[] {
  const bytes: number[] = [];
  for (const part of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw invalidParameter(`invalid cpuset list ${JSON.stringify(list)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 8191) throw invalidParameter(`invalid cpuset list ${JSON.stringify(list)}`);
    for (let c = lo; c <= hi; c++) {
      while (bytes.length <= c >> 3) bytes.push(0);
      bytes[c >> 3]! |= 1 << (c & 7);
    }
  }
  return bytes;
}

const u64 = (name: string, n: number | bigint): UnitProperty => ({ name, signature: 't', value: BigInt(n) });

/**
 * CPU time per second of wall time, in µs, as systemd's CPUQuotaPerSecUSec wants it: rounded
 * up to whole 10 ms, the granularity systemd keeps (runc rounds the same way; the exact quota
 * is then written into cpu.max by the cgroupfs manager).
 */
export function quotaPerSecUSec(quotaUs: number, periodUs: number): bigint {
  const perSec = Math.floor((quotaUs * 1_000_000) / periodUs);
  return BigInt(perSec % 10_000 === 0 ? perSec : (Math.floor(perSec / 10_000) + 1) * 10_000);
}

/**
 * The unit properties of `res` that systemd knows, named per cgroup version as runc's
 * systemd driver names them (v2: MemoryMax, MemoryLow, MemorySwapMax, CPUWeight,
 * CPUQuotaPerSecUSec, CPUQuotaPeriodUSec, TasksMax, AllowedCPUs, AllowedMemoryNodes;
 * v1: MemoryLimit, CPUShares, CPUQuotaPerSecUSec, TasksMax). `update`: a field given as
 * 0 or -1 means "lift the limit" (infinity), as docker update means it.
 */
export function unitProperties(res: Resources, version: CgroupVersion, update = false): UnitProperty[] {
  const out: UnitProperty[] = [];
  const limit = (name: string, n: number | undefined) => {
    if (n === undefined) return;
    if (n > 0) out.push(u64(name, n));
    else if (update) out.push(u64(name, INFINITY));
  };
  limit(version === 'v2' ? 'MemoryMax' : 'MemoryLimit', res.memory);
  if (version === 'v2') {
    if (res.memoryReservation !== undefined && (res.memoryReservation > 0 || update)) out.push(u64('MemoryLow', Math.max(0, res.memoryReservation)));
    // Docker's MemorySwap is memory + swap; systemd's MemorySwapMax is the swap alone
    if (res.memorySwap === -1) out.push(u64('MemorySwapMax', INFINITY));
    else if (res.memorySwap !== undefined && res.memorySwap > 0 && res.memory !== undefined && res.memory > 0 && res.memorySwap >= res.memory) {
      out.push(u64('MemorySwapMax', res.memorySwap - res.memory));
    }
  }
  if (res.cpuShares !== undefined && res.cpuShares > 0) {
    out.push(version === 'v2' ? u64('CPUWeight', sharesToWeight(Math.min(262144, Math.max(2, res.cpuShares)))) : u64('CPUShares', res.cpuShares));
  }
  const period = res.cpuPeriod && res.cpuPeriod > 0 ? res.cpuPeriod : 100_000;
  if (res.nanoCpus !== undefined && res.nanoCpus > 0) {
    out.push(u64('CPUQuotaPerSecUSec', quotaPerSecUSec((res.nanoCpus / 1e9) * 100_000, 100_000)));
  } else if (res.cpuQuota !== undefined && res.cpuQuota > 0) {
    out.push(u64('CPUQuotaPerSecUSec', quotaPerSecUSec(res.cpuQuota, period)));
  } else if (update && (res.cpuQuota !== undefined || res.nanoCpus !== undefined)) {
    out.push(u64('CPUQuotaPerSecUSec', INFINITY));
  }
  if (version === 'v2' && res.cpuPeriod !== undefined && res.cpuPeriod > 0) out.push(u64('CPUQuotaPeriodUSec', res.cpuPeriod));
  limit('TasksMax', res.pidsLimit);
  if (version === 'v2' && res.cpusetCpus) out.push({ name: 'AllowedCPUs', signature: 'ay', value: Buffer.from(cpuMask(res.cpusetCpus)) });
  if (version === 'v2' && res.cpusetMems) out.push({ name: 'AllowedMemoryNodes', signature: 'ay', value: Buffer.from(cpuMask(res.cpusetMems)) });
  return out;
}

/** What StartTransientUnit gets besides the limits (runc's startUnit: Slice, Delegate, the pids, accounting on). */
export function scopeProperties(slice: string, pid: number, description: string): UnitProperty[] {
  const b = (name: string, value: boolean): UnitProperty => ({ name, signature: 'b', value });
  return [
    { name: 'Description', signature: 's', value: description },
    { name: 'Slice', signature: 's', value: slice },
    b('Delegate', true),
    { name: 'PIDs', signature: 'au', value: [pid] },
    b('DefaultDependencies', false),
    b('MemoryAccounting', true),
    b('CPUAccounting', true),
    b('IOAccounting', true),
    b('TasksAccounting', true),
    // a scope that failed (e.g. OOM) is collected, so the name can start again
    { name: 'CollectMode', signature: 's', value: 'inactive-or-failed' },
  ];
}

export interface SystemdManagerOptions extends CgroupManagerOptions {
  /** the D-Bus calls (bus.ts's systemdBus(), or a recorder) */
  api: SystemdApi;
  /** the cgroupfs manager of a directory, for the files (index.ts: the v1 or v2 one) */
  files: (opts: CgroupManagerOptions) => CgroupManager;
}

/**
 * One container's scope. `parent` is the slice ("system.slice"), `name` the container id.
 * create() makes nothing (a scope needs its first process): start(pid) does, and joins it.
 */
export class SystemdCgroupManager implements CgroupManager {
  readonly version: CgroupVersion;
  readonly path: string;
  readonly unit: string;
  private readonly slice: string;
  private readonly files: CgroupManager;
  private readonly api: SystemdApi;
  /** SetUnitProperties calls not finished yet (destroy waits for them) */
  private pending: Promise<void> = Promise.resolve();
  private readonly root: string;
  /** the highest oom_kill count seen while the scope lived (systemd removes an emptied scope's cgroup at once) */
  private oomKills = 0;
  private watcher: fs.FSWatcher | null = null;

  constructor(opts: SystemdManagerOptions) {
    this.slice = opts.parent;
    this.unit = scopeName(opts.name);
    this.api = opts.api;
    this.files = opts.files({ ...opts, parent: slicePath(opts.parent), name: this.unit });
    this.version = this.files.version;
    this.path = this.files.path;
    this.root = opts.root ?? '/sys/fs/cgroup';
  }

  /**
   * systemd stops a scope once its last process exits and removes its cgroup then, racing
   * the daemon's read of the exit's OOM kills: a v2 scope's memory.events is watched
   * (inotify: the kernel notifies its changes) and every count seen is kept.
   */
  private watchOom(): void {
    if (this.version !== 'v2' || this.watcher) return;
    const note = () => { try { this.oomKills = Math.max(this.oomKills, this.files.oomKillCount()); } catch { /* gone */ } };
    try {
      this.watcher = fs.watch(path.join(this.root, this.path, 'memory.events'), { persistent: false }, note);
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = null; });
    } catch { /* no memory controller here */ }
  }

  /**
   * StartTransientUnit docker-<id>.scope with `pid` in it and `res` as properties: systemd
   * moves the process (the init, warm or just spawned) into the new cgroup before the job is done. A unit of that
   * name left over (a crashed daemon's, a failed one) is stopped and reset first, once.
   */
  async start(pid: number, res: Resources = {}, description = `tsd container ${this.unit}`): Promise<void> {
    const props = [...scopeProperties(this.slice, pid, description), ...unitProperties(res, this.version)];
    try {
      await this.api.startTransientUnit(this.unit, props);
    } catch (e) {
      if ((e as { dbusError?: string }).dbusError !== 'org.freedesktop.systemd1.UnitExists') throw e;
      await this.api.stopUnit(this.unit);
      await this.api.resetFailedUnit(this.unit);
      await this.api.startTransientUnit(this.unit, props);
    }
    this.watchOom();
  }

  create(): void { /* the scope is made by start(pid) */ }
  procsFiles(): string[] { return this.files.procsFiles(); }
  addProcess(pid: number): void { this.files.addProcess(pid); }

  /** Limits into the files (exact, and what systemd lacks); start() gave systemd the properties it knows. */
  apply(res: Resources): string[] {
    return this.files.apply(res);
  }

  update(res: Resources): string[] {
    const warnings = this.files.update(res);
    this.setProperties(unitProperties(res, this.version, true));
    return warnings;
  }

  /** Resolves once systemd has the properties of every apply()/update() so far (rejects if it refused one). */
  settled(): Promise<void> {
    return this.pending;
  }

  private setProperties(props: UnitProperty[]): void {
    if (props.length === 0) return;
    const p = this.pending.catch(() => {}).then(() => this.api.setUnitProperties(this.unit, props));
    this.pending = p;
    p.catch(() => { /* seen by settled(); the files already hold the limits */ });
  }

  freeze(): Promise<void> { return this.files.freeze(); }
  thaw(): Promise<void> { return this.files.thaw(); }
  isFrozen(): boolean { return this.files.isFrozen(); }
  freezerState(): FreezerState { return this.files.freezerState(); }
  stats(): CgroupStats { return this.files.stats(); }
  pids(): number[] { return this.files.pids(); }
  oomKillCount(): number {
    this.oomKills = Math.max(this.oomKills, this.files.oomKillCount());
    return this.oomKills;
  }
  support(): CgroupSupport { return this.files.support(); }
  killAll(signal?: number): Promise<void> { return this.files.killAll(signal); }

  /**
   * Kills what is left (so the stop job does not wait out systemd's TimeoutStopSec), stops
   * the unit (systemd removes its cgroup), resets it if it failed, then lets the files'
   * manager detach the device program and remove whatever is still there. Idempotent.
   */
  async destroy(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    await this.pending.catch(() => {});
    await this.files.killAll(9);
    await this.api.stopUnit(this.unit);
    await this.api.resetFailedUnit(this.unit).catch(() => {});
    await this.files.destroy();
  }

  /** A scope is started with its process in it: no staging cgroup to take over. */
  adopt(): boolean { return false; }
}
