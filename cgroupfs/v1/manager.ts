// cgroup v1 (and hybrid): one directory per controller hierarchy,
// <root>/<controller>/<parent>/<name>. Co-mounted controllers (cpu,cpuacct)
// share one directory and are created once.
import fs from 'node:fs';
import path from 'node:path';
import { DaemonError } from '../../errors/index.js';
import {
  PROCS, checkCgroupPath, mkdirOne, prefixes, readPids, rmdirCgroup, signalAll, sleep, waitFor,
} from '../common.js';
import { parseLimit } from '../convert.js';
import { readHostCpu, CLK_TCK } from '../host.js';
import { parseBlkioV1, parseKeyValues, parseNumberList } from '../parse.js';
import type { CgroupManager, CgroupManagerOptions, CgroupStats, CgroupSupport, CgroupWrite, FreezerState, Resources } from '../types.js';
import { applyWrites, readOr, readTrim, writeError } from '../write.js';
import * as blkio from './blkio.js';
import * as cpu from './cpu.js';
import * as cpuset from './cpuset.js';
import * as devices from './devices.js';
import * as freezer from './freezer.js';
import * as memory from './memory.js';
import * as pids from './pids.js';

import { V1_CONTROLLERS, v1Layout, type V1Controller, type V1Layout } from './layout.js';

export { V1_CONTROLLERS, type V1Controller } from './layout.js';

/** Every write for `res`, in the order they must happen (cpuset first: tasks need cpus/mems). */
export function planV1(res: Resources): CgroupWrite[] {
  return [
    ...cpuset.plan(res),
    ...memory.plan(res),
    ...cpu.plan(res),
    ...pids.plan(res),
    ...blkio.plan(res),
    ...devices.plan(res),
  ];
}

const num = (s: string): number => Number(s) || 0;
const BFQ_STATS = 'blkio.bfq.io_service_bytes';

export class CgroupV1Manager implements CgroupManager {
  readonly version = 'v1' as const;
  readonly path: string;
  private readonly root: string;
  private readonly procRoot: string;
  /** controller → mount point (absolute) */
  private readonly mounts: V1Layout['mounts'];
  private readonly layout: V1Layout;

  private readonly realtimeParent: CgroupManagerOptions['realtimeParent'];

  constructor(opts: CgroupManagerOptions) {
    this.realtimeParent = opts.realtimeParent && (opts.realtimeParent.period || opts.realtimeParent.runtime) ? opts.realtimeParent : undefined;
    this.root = opts.root ?? '/sys/fs/cgroup';
    this.procRoot = opts.procRoot ?? '/proc';
    this.path = checkCgroupPath(opts.parent, opts.name);
    // read once per root while it stays as it was (layout.ts), not by every manager
    this.layout = v1Layout(this.root);
    this.mounts = this.layout.mounts;
  }

  /** controller → this cgroup's directory in that hierarchy */
  dir(c: V1Controller): string | undefined {
    const m = this.mounts.get(c);
    return m === undefined ? undefined : path.join(m, this.path);
  }

  /** one entry per distinct hierarchy (co-mounted controllers resolve to the same real path). */
  private hierarchies(): { controllers: V1Controller[]; mount: string }[] {
    return this.layout.hierarchies.map((h) => ({ controllers: [...h.controllers], mount: h.mount }));
  }

  private dirs(): string[] {
    return this.hierarchies().map((h) => path.join(h.mount, this.path));
  }

  /** set by a successful adopt(): every directory of the chain exists (the staging cgroup was renamed into it) */
  private adopted = false;

  create(): void {
    const rt = this.realtimeParent;
    for (const h of this.hierarchies()) {
      let parentDir = h.mount;
      const chain = prefixes(this.path);
      for (const [i, rel] of chain.entries()) {
        const dir = path.join(h.mount, rel);
        // after an adoption each mkdir would fail EEXIST (16 refused mkdirs per start on a v1 host)
        if (!this.adopted) mkdirOne(dir);
        if (h.controllers.includes('cpuset')) inheritCpuset(parentDir, dir);
        // ancestors only, top down (moby initCPURtController): the container's own values come with apply()
        if (rt && h.controllers.includes('cpu') && i < chain.length - 1) writeRealtime(dir, rt);
        parentDir = dir;
      }
    }
  }

  procsFiles(): string[] {
    return this.dirs().map((d) => path.join(d, PROCS));
  }

  adopt(sibling: string): boolean {
    if (!/^[A-Za-z0-9_.-]+$/.test(sibling)) return false;
    const moved: Array<[string, string]> = [];
    for (const to of this.dirs()) {
      const from = path.join(path.dirname(to), sibling);
      try {
        fs.renameSync(from, to);
        moved.push([from, to]);
      } catch {
        for (const [f, t] of moved.reverse()) {
          try { fs.renameSync(t, f); } catch { /* best effort */ }
        }
        return false;
      }
    }
    this.adopted = true;
    return true;
  }

  addProcess(pid: number): void {
    for (const f of this.procsFiles()) {
      try {
        fs.writeFileSync(f, String(pid));
      } catch (e) {
        throw writeError(f, String(pid), e);
      }
    }
  }

  apply(res: Resources): string[] {
    return applyWrites(planV1(res), (w) => (w.controller ? this.dir(w.controller as V1Controller) : undefined));
  }

  update(res: Resources): string[] {
    return this.apply(res);
  }

  async freeze(): Promise<void> {
    const dir = this.need('freezer');
    const f = path.join(dir, freezer.STATE);
    // The kernel may stay in FREEZING while tasks are busy; writing again retries (runc does the same).
    await waitFor('the freezer to reach FROZEN', () => {
      try {
        fs.writeFileSync(f, freezer.FROZEN);
      } catch (e) {
        throw writeError(f, freezer.FROZEN, e);
      }
      return readTrim(f) === freezer.FROZEN;
    });
  }

  async thaw(): Promise<void> {
    const f = path.join(this.need('freezer'), freezer.STATE);
    await waitFor('the freezer to reach THAWED', () => {
      try {
        fs.writeFileSync(f, freezer.THAWED);
      } catch (e) {
        throw writeError(f, freezer.THAWED, e);
      }
      return readTrim(f) === freezer.THAWED;
    });
  }

  isFrozen(): boolean {
    const d = this.dir('freezer');
    return d !== undefined && readOr(path.join(d, freezer.STATE), '') === freezer.FROZEN;
  }

  freezerState(): FreezerState {
    const d = this.dir('freezer');
    const s = d === undefined ? '' : readOr(path.join(d, freezer.STATE), '');
    return s === freezer.FROZEN ? 'frozen' : s === freezer.FREEZING ? 'freezing' : 'thawed';
  }

  pids(): number[] {
    const d = this.dir('pids') ?? this.dir('memory') ?? this.dir('freezer') ?? this.dirs()[0];
    return d === undefined ? [] : readPids(d);
  }

  oomKillCount(): number {
    const d = this.dir('memory');
    if (d === undefined) return 0;
    return parseKeyValues(readOr(path.join(d, memory.OOM_CONTROL), '')).oom_kill ?? 0;
  }

  stats(): CgroupStats {
    const mem = this.dir('memory');
    const acct = this.dir('cpuacct');
    const cpuDir = this.dir('cpu');
    const pidsDir = this.dir('pids');
    const blk = this.dir('blkio');
    const r = (d: string | undefined, f: string) => (d === undefined ? '' : readOr(path.join(d, f), ''));
    const acctStat = parseKeyValues(r(acct, cpu.ACCT_STAT));
    const cpuStat = parseKeyValues(r(cpuDir, cpu.STAT));
    const failcnt = r(mem, memory.FAILCNT);
    const maxUsage = r(mem, memory.MAX_USAGE);
    return {
      version: 'v1',
      readAt: Date.now(),
      cpu: {
        usageNs: num(r(acct, cpu.ACCT_USAGE)),
        userNs: ((acctStat.user ?? 0) * 1e9) / CLK_TCK,
        systemNs: ((acctStat.system ?? 0) * 1e9) / CLK_TCK,
        perCpuNs: parseNumberList(r(acct, cpu.ACCT_PERCPU)),
        periods: cpuStat.nr_periods ?? 0,
        throttledPeriods: cpuStat.nr_throttled ?? 0,
        throttledNs: cpuStat.throttled_time ?? 0,
      },
      memory: {
        usage: num(r(mem, memory.USAGE)),
        ...(maxUsage !== '' ? { maxUsage: num(maxUsage) } : {}),
        ...(failcnt !== '' ? { failcnt: num(failcnt) } : {}),
        limit: parseLimit(r(mem, memory.LIMIT)),
        stats: parseKeyValues(r(mem, memory.STAT)),
      },
      pids: { current: num(r(pidsDir, pids.CURRENT)), limit: parseLimit(r(pidsDir, pids.MAX)) },
      io: {
        serviceBytes: parseBlkioV1(r(blk, blkio.IO_SERVICE_BYTES)),
        serviced: parseBlkioV1(r(blk, blkio.IO_SERVICED)),
      },
      oomKills: this.oomKillCount(),
      host: readHostCpu(this.procRoot),
    };
  }

  support(): CgroupSupport {
    const has = (c: V1Controller, ...files: string[]) => {
      const m = this.mounts.get(c);
      if (m === undefined) return false;
      if (files.length === 0) return true;
      // Look in our own dir if it exists (root dirs lack some files), else in the mount root.
      const d = this.dir(c)!;
      const base = fs.existsSync(d) ? d : m;
      return files.some((f) => fs.existsSync(path.join(base, f)));
    };
    return {
      memoryLimit: has('memory', memory.LIMIT),
      swapLimit: has('memory', memory.MEMSW_LIMIT),
      memoryReservation: has('memory', memory.SOFT_LIMIT),
      memorySwappiness: has('memory', memory.SWAPPINESS),
      oomKillDisable: has('memory', memory.OOM_CONTROL),
      cpuShares: has('cpu', cpu.SHARES),
      cpuCfs: has('cpu', cpu.CFS_QUOTA),
      cpuRealtime: has('cpu', cpu.RT_RUNTIME),
      cpuset: has('cpuset'),
      pidsLimit: has('pids'),
      // The hierarchy root has no weight files even when children do; its bfq stat files betray BFQ.
      blkioWeight: has('blkio', blkio.WEIGHT, blkio.BFQ_WEIGHT, BFQ_STATS),
      blkioWeightDevice: has('blkio', blkio.WEIGHT_DEVICE, blkio.BFQ_WEIGHT_DEVICE, BFQ_STATS),
      blkioThrottle: has('blkio', blkio.READ_BPS),
      devices: has('devices'),
      freezer: has('freezer'),
    };
  }

  async killAll(signal = 9): Promise<void> {
    if (!this.dirs().some((d) => fs.existsSync(d))) return;
    const fz = this.dir('freezer');
    const canFreeze = fz !== undefined && fs.existsSync(path.join(fz, freezer.STATE));
    const deadline = Date.now() + 10000;
    for (;;) {
      const list = this.pids();
      if (list.length === 0) return;
      if (Date.now() > deadline) {
        throw new DaemonError('system', 'TSD_ERR_CGROUP_KILL', `processes still alive in cgroup ${this.path}: ${list.join(' ')}`);
      }
      // Freeze so a fork bomb cannot add tasks between reading the list and signalling it.
      if (canFreeze) await this.freeze().catch(() => undefined);
      signalAll(this.pids(), signal);
      if (canFreeze) await this.thaw().catch(() => undefined);
      if (signal !== 9) return;
      await sleep(10);
    }
  }

  async destroy(): Promise<void> {
    await this.killAll(9);
    for (const d of this.dirs()) await rmdirCgroup(d);
  }

  private need(c: V1Controller): string {
    const d = this.dir(c);
    if (d === undefined) {
      throw new DaemonError('not-implemented', 'TSD_ERR_CGROUP_UNSUPPORTED', `the ${c} cgroup controller is not mounted under ${this.root}`);
    }
    return d;
  }
}

/** The daemon's real-time budget on an ancestor cgroup: the period first, then the runtime within it. */
function writeRealtime(dir: string, rt: { period?: number; runtime?: number }): void {
  for (const [file, v] of [[cpu.RT_PERIOD, rt.period], [cpu.RT_RUNTIME, rt.runtime]] as const) {
    if (!v) continue;
    try {
      fs.writeFileSync(path.join(dir, file), String(v));
    } catch (e) {
      throw new DaemonError('system', 'TSD_ERR_CGROUP_WRITE', `unable to init CPU RT controller: write ${path.join(dir, file)}: ${(e as NodeJS.ErrnoException).code}`, { cause: e });
    }
  }
}

/** A new cpuset cgroup starts with empty cpus/mems and refuses tasks until they are set: copy the parent's. */
function inheritCpuset(parentDir: string, dir: string): void {
  for (const f of [cpuset.CPUS, cpuset.MEMS]) {
    const mine = path.join(dir, f);
    if (!fs.existsSync(mine)) continue;
    if (readOr(mine, '') !== '') continue;
    const value = readOr(path.join(parentDir, f), '');
    if (value === '') continue;
    try {
      fs.writeFileSync(mine, value);
    } catch (e) {
      throw writeError(mine, value, e);
    }
  }
}
