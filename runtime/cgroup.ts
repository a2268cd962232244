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
import fs from 'node:fs';
import path from 'node:path';
import { createCgroupManager, removeCgroupParent, type CgroupManager, type CgroupManagerOptions, type CgroupMode } from '../cgroupfs/index.js';
import type { TaskCgroup } from './types.js';

const STAGE_RE = /^warm-\d+$/;

export class Cgroups {
  constructor(
    readonly mode: CgroupMode,
    /** the daemon's parent (--cgroup-parent): where staging cgroups live */
    readonly parent: string,
    private readonly root = '/sys/fs/cgroup',
    /** the real-time budget a task cgroup's ancestors get (--cpu-rt-period/--cpu-rt-runtime); not for staging cgroups */
    private readonly realtimeParent?: CgroupManagerOptions['realtimeParent'],
  ) {}

  manager(parent: string, name: string, realtimeParent?: CgroupManagerOptions['realtimeParent']): CgroupManager {
    return createCgroupManager({ mode: this.mode, root: this.root, parent, name, realtimeParent });
  }

  /** Puts a fresh warm init into its staging cgroup; returns the staging cgroup's name. */
  async stage(pid: number): Promise<string> {
    const name = `warm-${pid}`;
    const m = this.manager(this.parent, name);
    m.create();
    for (const f of m.procsFiles()) await fs.promises.writeFile(f, String(pid));
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
    const adopted = !!stage && spec.parent === this.parent && manager.adopt(stage);
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
   * Staging cgroups of warm inits left by a daemon that did not shut down cleanly, but
   * for `keep`: on v2 a live-restored task may live in the staging cgroup it adopted.
   */
  async removeStaleStaging(keep: string[] = []): Promise<void> {
    const base = this.mode === 'unified' ? path.join(this.root, this.parent) : path.join(this.root, 'pids', this.parent);
    let names: string[] = [];
    try { names = fs.readdirSync(base).filter((n) => STAGE_RE.test(n) && !keep.includes(n)); } catch { return; }
    for (const name of names) await this.manager(this.parent, name).destroy();
  }

  /** The daemon's parent, once empty (shutdown). */
  removeParent(): void {
    try { removeCgroupParent({ mode: this.mode, root: this.root, parent: this.parent }); } catch { /* still in use */ }
  }
}
