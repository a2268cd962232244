// cgroup v2: one directory <root>/<parent>/<name>; controllers are enabled in
// each ancestor's cgroup.subtree_control.
import fs from 'node:fs';
import path from 'node:path';
import { DaemonError } from '../../errors/index.js';
import {
  PROCS, checkCgroupPath, mkdirOne, prefixes, readPids, rmdirCgroup, signalAll, sleep, waitFor,
} from '../common.js';
import { parseLimit } from '../convert.js';
import { readHostCpu } from '../host.js';
import { parseIoStatV2, parseKeyValues, parsePressure } from '../parse.js';
import type { CgroupManager, CgroupManagerOptions, CgroupStats, CgroupSupport, CgroupWrite, DeviceFilter, FreezerState, Resources } from '../types.js';
import { applyWrites, readOr, writeError } from '../write.js';
import * as cpu from './cpu.js';
import * as cpuset from './cpuset.js';
import * as devices from './devices.js';
import * as freezer from './freezer.js';
import * as io from './io.js';
import * as memory from './memory.js';
import * as pids from './pids.js';

export const SUBTREE_CONTROL = 'cgroup.subtree_control';
export const CONTROLLERS = 'cgroup.controllers';
/** The controllers tsd enables below the root, in this order. */
export const V2_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'pids'] as const;

/** Every file write for `res` (the device policy is a program, not a write: devices.program). */
export function planV2(res: Resources, current?: memory.MemoryNow): CgroupWrite[] {
  return [
    ...cpuset.plan(res),
    ...memory.plan(res, current),
    ...cpu.plan(res),
    ...pids.plan(res),
    ...io.plan(res),
  ];
}

/** Pure: the subtree_control line for a level offering `available` controllers. */
export function subtreeControlValue(available: string[]): string {
  return V2_CONTROLLERS.filter((c) => available.includes(c)).map((c) => `+${c}`).join(' ');
}

const num = (s: string): number => Number(s) || 0;

export class CgroupV2Manager implements CgroupManager {
  readonly version = 'v2' as const;
  /** "<parent>/<name>", or "<parent>/<staging name>" once a staging cgroup was adopted */
  path: string;
  dir: string;
  private readonly root: string;
  private readonly procRoot: string;
  private readonly devices: DeviceFilter;

  constructor(opts: CgroupManagerOptions) {
    this.root = opts.root ?? '/sys/fs/cgroup';
    this.procRoot = opts.procRoot ?? '/proc';
    this.devices = opts.deviceFilter ?? devices.bpfDeviceFilter;
    this.path = checkCgroupPath(opts.parent, opts.name);
    this.dir = path.join(this.root, this.path);
  }

  /**
   * cgroup2 has no rename (kernfs offers it to v1 hierarchies only), and moving the
   * staged init costs a write lock on cgroup_threadgroup_rwsem, an RCU grace period
   * each time (bench/cgroup-move.ts). So the staging cgroup, which already holds
   * the init, becomes this container's cgroup under its own name: from here on
   * `path`/`dir` are the sibling's, apply() gives it the container's limits and
   * destroy() removes it. Callers that need the path read `path` (or
   * /proc/<pid>/cgroup), not "<parent>/<id>". False (nothing changed) for a
   * missing sibling or anything but a plain name.
   */
  adopt(sibling: string): boolean {
    if (!/^[A-Za-z0-9_.-]+$/.test(sibling)) return false;
    const rel = checkCgroupPath(path.posix.dirname(this.path), sibling);
    const dir = path.join(this.root, rel);
    if (!fs.existsSync(path.join(dir, PROCS))) return false;
    this.path = rel;
    this.dir = dir;
    return true;
  }

  create(): void {
    let level = this.root;
    for (const rel of prefixes(this.path)) {
      enableControllers(level);
      level = path.join(this.root, rel);
      mkdirOne(level);
    }
  }

  procsFiles(): string[] {
    return [path.join(this.dir, PROCS)];
  }

  addProcess(pid: number): void {
    const f = path.join(this.dir, PROCS);
    try {
      fs.writeFileSync(f, String(pid));
    } catch (e) {
      throw writeError(f, String(pid), e);
    }
  }

  /**
   * Device policy first (compiled before anything is touched; attached before the
   * limits, so a kernel without cgroup BPF refuses the container with nothing
   * half-applied), then the files.
   */
  apply(res: Resources): string[] {
    const mem = parseLimit(readOr(path.join(this.dir, memory.MAX), 'max'));
    const swapText = readOr(path.join(this.dir, memory.SWAP_MAX), '');
    const prog = devices.program(res);
    const writes = planV2(res, { memory: mem ?? undefined, swap: swapText === '' ? undefined : parseLimit(swapText) });
    if (prog !== undefined) this.devices.set(this.dir, prog);
    return applyWrites(writes, () => this.dir);
  }

  /** ids of the device programs attached to this cgroup (none: every device allowed). */
  deviceProgramIds(): number[] {
    return this.devices.attached(this.dir);
  }

  update(res: Resources): string[] {
    return this.apply(res);
  }

  async freeze(): Promise<void> {
    this.write(freezer.FREEZE, '1');
    await waitFor('cgroup.events to report frozen 1', () => this.isFrozen());
  }

  async thaw(): Promise<void> {
    this.write(freezer.FREEZE, '0');
    await waitFor('cgroup.events to report frozen 0', () => !this.isFrozen());
  }

  isFrozen(): boolean {
    return parseKeyValues(readOr(path.join(this.dir, freezer.EVENTS), '')).frozen === 1;
  }

  freezerState(): FreezerState {
    if (this.isFrozen()) return 'frozen';
    return readOr(path.join(this.dir, freezer.FREEZE), '0') === '1' ? 'freezing' : 'thawed';
  }

  pids(): number[] {
    return readPids(this.dir);
  }

  oomKillCount(): number {
    return parseKeyValues(readOr(path.join(this.dir, memory.EVENTS), '')).oom_kill ?? 0;
  }

  stats(): CgroupStats {
    const r = (f: string) => readOr(path.join(this.dir, f), '');
    const cpuStat = parseKeyValues(r(cpu.STAT));
    const pressure: NonNullable<CgroupStats['pressure']> = {};
    for (const [k, f] of [['cpu', cpu.PRESSURE], ['memory', memory.PRESSURE], ['io', io.PRESSURE]] as const) {
      const p = parsePressure(r(f));
      if (p) pressure[k] = p;
    }
    const events = parseKeyValues(r(memory.EVENTS));
    return {
      version: 'v2',
      readAt: Date.now(),
      cpu: {
        usageNs: (cpuStat.usage_usec ?? 0) * 1000,
        userNs: (cpuStat.user_usec ?? 0) * 1000,
        systemNs: (cpuStat.system_usec ?? 0) * 1000,
        periods: cpuStat.nr_periods ?? 0,
        throttledPeriods: cpuStat.nr_throttled ?? 0,
        throttledNs: (cpuStat.throttled_usec ?? 0) * 1000,
      },
      memory: {
        usage: num(r(memory.CURRENT)),
        limit: parseLimit(r(memory.MAX)),
        stats: parseKeyValues(r(memory.STAT)),
      },
      pids: { current: num(r(pids.CURRENT)), limit: parseLimit(r(pids.MAX)) },
      io: parseIoStatV2(r(io.STAT)),
      oomKills: events.oom_kill ?? 0,
      memoryEvents: events,
      ...(Object.keys(pressure).length ? { pressure } : {}),
      host: readHostCpu(this.procRoot),
    };
  }

  support(): CgroupSupport {
    const base = fs.existsSync(this.dir) ? this.dir : this.root;
    const available = readOr(path.join(fs.existsSync(this.dir) ? this.dir : this.root, CONTROLLERS), '').split(/\s+/);
    const ctl = (c: string) => available.includes(c);
    const file = (f: string) => fs.existsSync(path.join(base, f));
    return {
      memoryLimit: ctl('memory'),
      swapLimit: ctl('memory') && (base === this.root || file(memory.SWAP_MAX)),
      memoryReservation: ctl('memory'),
      memorySwappiness: false,
      oomKillDisable: false,
      cpuShares: ctl('cpu'),
      cpuCfs: ctl('cpu'),
      cpuRealtime: false,
      cpuset: ctl('cpuset'),
      pidsLimit: ctl('pids'),
      blkioWeight: ctl('io') && (base === this.root || file(io.BFQ_WEIGHT) || file(io.WEIGHT)),
      blkioWeightDevice: ctl('io') && (base === this.root || file(io.BFQ_WEIGHT) || file(io.WEIGHT)),
      blkioThrottle: ctl('io'),
      devices: true,
      freezer: true,
    };
  }

  async killAll(signal = 9): Promise<void> {
    if (!fs.existsSync(this.dir)) return;
    const killFile = path.join(this.dir, freezer.KILL);
    const deadline = Date.now() + 10000;
    for (;;) {
      const list = this.pids();
      if (list.length === 0) return;
      if (Date.now() > deadline) {
        throw new DaemonError('system', 'TSD_ERR_CGROUP_KILL', `processes still alive in cgroup ${this.path}: ${list.join(' ')}`);
      }
      if (signal === 9 && fs.existsSync(killFile)) {
        this.write(freezer.KILL, '1');
      } else {
        await this.freeze().catch(() => undefined);
        signalAll(this.pids(), signal);
        await this.thaw().catch(() => undefined);
        if (signal !== 9) return;
      }
      await sleep(10);
    }
  }

  async destroy(): Promise<void> {
    await this.killAll(9);
    // The kernel frees a removed cgroup's programs only once the cgroup itself is
    // freed (asynchronously): detach them now, so the program is gone when rm returns.
    if (fs.existsSync(this.dir)) {
      try { this.devices.clear(this.dir); } catch { /* rmdir releases them anyway */ }
    }
    await rmdirCgroup(this.dir);
  }

  private write(file: string, value: string): void {
    const f = path.join(this.dir, file);
    try {
      fs.writeFileSync(f, value);
    } catch (e) {
      throw writeError(f, value, e);
    }
  }
}

/** Enable tsd's controllers for the children of `dir`, as far as `dir` offers them. */
function enableControllers(dir: string): void {
  const available = readOr(path.join(dir, CONTROLLERS), '').split(/\s+/).filter(Boolean);
  const value = subtreeControlValue(available);
  if (value === '') return;
  const f = path.join(dir, SUBTREE_CONTROL);
  const enabled = readOr(f, '').split(/\s+/);
  if (V2_CONTROLLERS.filter((c) => available.includes(c)).every((c) => enabled.includes(c))) return;
  try {
    fs.writeFileSync(f, value);
  } catch {
    // One controller may be refused (e.g. cpu with realtime tasks): enable the rest one by one.
    for (const part of value.split(' ')) {
      try {
        fs.writeFileSync(f, part);
      } catch (e) {
        if (part === '+memory' || part === '+pids') throw writeError(f, part, e);
      }
    }
  }
}
