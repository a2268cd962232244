// The cgroups the runtime makes: one per task, from RuntimeSpec.cgroup (as runc
// applies the cgroup of an OCI spec), and the staging cgroups warm inits wait in.
//
// Why staging: moving a process between cgroups takes cgroup_threadgroup_rwsem for
// writing, an RCU grace period (bench/cgroup-move.ts: ~15 ms on this v1 host, ~60 ms
// in the emulated v2 guest). A warm init is put into <parent>/warm-<pid> off the
// critical path; a container started on it adopts that cgroup instead of moving the
// process: v1 renames it to the container's name, v2 (cgroup2 cannot rename) keeps
// it as <parent>/warm-<pid>, so on v2 the task's cgroup path is the manager's `path`
// (or /proc/<pid>/cgroup), not <parent>/<id>. Where the container asks for another
// parent, the init joins the container's cgroup itself and the emptied staging
// cgroup is discarded.
//
// Under the systemd driver (driver 'systemd') there is no staging: a task's cgroup is a
// transient scope that systemd creates with the init's pid in it (scope(): start(pid)),
// the warm init waiting in the daemon's own cgroup until then, as runc's init waits in
// runc's cgroup until the scope is started with its pid.
import fs from 'node:fs';
import path from 'node:path';
import {
  createCgroupManager, createSystemdCgroupManager, removeCgroupParent,
  type CgroupManager, type CgroupManagerOptions, type CgroupMode, type SystemdCgroupManager,
} from '../cgroupfs/index.js';
import type { TaskCgroup } from './types.js';

const STAGE_RE = /^warm-\d+$/;
/** room a warm init needs above its staging cgroup's usage to run its steps under an adopted memory limit */
const HEADROOM = 32 << 20;

export class Cgroups {
  constructor(
    readonly mode: CgroupMode,
    /** the daemon's parent (--cgroup-parent): where staging cgroups live */
    readonly parent: string,
    private readonly root = '/sys/fs/cgroup',
    /** the real-time budget a task cgroup's ancestors get (--cpu-rt-period/--cpu-rt-runtime); not for staging cgroups */
    private readonly realtimeParent?: CgroupManagerOptions['realtimeParent'],
    /** who makes task cgroups: tsd in cgroupfs, or systemd (transient scopes; `parent` is a slice) */
    readonly driver: 'cgroupfs' | 'systemd' = 'cgroupfs',
  ) {}

  manager(parent: string, name: string, realtimeParent?: CgroupManagerOptions['realtimeParent']): CgroupManager {
    if (this.driver === 'systemd') return this.scope(parent, name);
    return createCgroupManager({ mode: this.mode, root: this.root, parent, name, realtimeParent });
  }

  /** systemd driver: the scope of task `name` in slice `parent` (made by its start(pid)). */
  scope(parent: string, name: string): SystemdCgroupManager {
    return createSystemdCgroupManager({ mode: this.mode, root: this.root, parent, name });
  }

  /**
   * systemd driver: the scope started with `pid` (a warm or just-spawned init) and every limit
   * written; undone when either fails.
   */
  async join(manager: SystemdCgroupManager, pid: number, res: TaskCgroup['resources']): Promise<void> {
    try {
      await manager.start(pid, res);
      manager.apply(res);
    } catch (e) {
      await manager.destroy().catch(() => {});
      throw e;
    }
  }

  /** Puts a fresh warm init into its staging cgroup; returns the staging cgroup's name. */
  async stage(pid: number): Promise<string> {
    const name = `warm-${pid}`;
    const m = this.manager(this.parent, name);
    m.create();
    try {
      for (const f of m.procsFiles()) await fs.promises.writeFile(f, String(pid));
    } catch (e) {
      // the init died first (e.g. killed by a shutdown meanwhile): the pool never learns this name, so remove it here
      await m.destroy().catch(() => {});
      throw e;
    }
    return name;
  }

  discard(stage: string): Promise<void> {
    return this.manager(this.parent, stage).destroy();
  }

  /**
   * The cgroup of a task: the warm init's staging cgroup adopted when under the same
   * parent (v1 renamed, v2 as it is), else a new one; limits applied either way. `procs` are the
   * files the init writes its pid into ([] when adopted: it is already inside).
   */
  place(spec: TaskCgroup, stage: string | null): { manager: CgroupManager; procs: string[]; adopted: boolean } {
    const manager = this.manager(spec.parent, spec.name, this.realtimeParent);
    const adopted = !!stage && spec.parent === this.parent && this.fits(stage, spec.resources) && manager.adopt(stage);
    manager.create();
    try {
      manager.apply(spec.resources);
    } catch (e) {
      void manager.destroy().catch(() => {});
      throw e;
    }
    return { manager, procs: adopted ? [] : manager.procsFiles(), adopted };
  }

  /**
   * Whether a memory limit leaves room for what the warm init in `stage` is charged already.
   * A warm init is a Node process (~25 MiB charged to its staging cgroup: memory stays charged
   * where it was first touched), far above a small -m (moby's minimum is 6 MiB): adopting that
   * cgroup and then writing the limit fails on v1 (EBUSY: below usage, nothing to reclaim
   * without swap) and OOM-kills the init on v2. Such a task gets a fresh cgroup, limited while
   * empty, and the init joins it (the not-adopted path): its earlier charges stay with the
   * discarded staging cgroup and are released when it execve's. HEADROOM covers what the init
   * still allocates before execve (the plan, the steps: a few MiB; -m 6m on a joined cgroup works).
   */
  private fits(stage: string, res: TaskCgroup['resources']): boolean {
    const limits = [res.memory, res.memorySwap].filter((x): x is number => x !== undefined && x > 0);
    if (limits.length === 0) return true;
    let usage: number;
    try {
      usage = this.manager(this.parent, stage).stats().memory.usage;
    } catch {
      return false;
    }
    return Math.min(...limits) >= usage + HEADROOM;
  }

  /**
   * Staging cgroups of warm inits left by a daemon that did not shut down cleanly, but
   * for `keep`: on v2 a live-restored task may live in the staging cgroup it adopted.
   */
  async removeStaleStaging(keep: string[] = []): Promise<void> {
    if (this.driver === 'systemd') return; // no staging cgroups: warm inits wait in the daemon's own
    const base = this.mode === 'unified' ? path.join(this.root, this.parent) : path.join(this.root, 'pids', this.parent);
    let names: string[] = [];
    try { names = fs.readdirSync(base).filter((n) => STAGE_RE.test(n) && !keep.includes(n)); } catch { return; }
    for (const name of names) await this.manager(this.parent, name).destroy();
  }

  /** The daemon's parent, once empty (shutdown). */
  removeParent(): void {
    if (this.driver === 'systemd') return; // slices are systemd's
    try { removeCgroupParent({ mode: this.mode, root: this.root, parent: this.parent }); } catch { /* still in use */ }
  }
}
