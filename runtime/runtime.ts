// The runtime as the daemon uses it: one call starts a container's task, with
// its cgroup made from the spec, as containerd's task service hands one
// CreateOpts to the shim and runc applies the cgroup. It owns the warm pool and
// the pool's staging cgroups (cgroup.ts), and hands back a Task of containerd's
// shape (pause, resume, update, stats, pids, oomKilled, kill, wait, exec, delete).
import path from 'node:path';
import { detectCgroupMode, type CgroupManager, type CgroupManagerOptions, type CgroupMode } from '../cgroupfs/index.js';
import { notImplemented } from '../errors/index.js';
import { Cgroups } from './cgroup.js';
import { execInContainer, launch, warmPool, type LaunchOptions } from './launcher.js';
import type { Process, RuntimeSpec, Task } from './types.js';

export interface RuntimeOptions {
  /** the daemon's parent cgroup (--cgroup-parent): containers' default parent, and where warm inits are staged */
  cgroupParent: string;
  /** default: what the host mounts */
  cgroupMode?: CgroupMode;
  /** default /sys/fs/cgroup */
  cgroupRoot?: string;
  /** --cpu-rt-period/--cpu-rt-runtime: the real-time budget written into the parent chain of every task cgroup (v1) */
  realtimeParent?: CgroupManagerOptions['realtimeParent'];
  /** dockerd's native.cgroupdriver: cgroupfs (tsd makes the cgroups; default) or systemd (transient scopes; cgroupParent is a slice) */
  cgroupDriver?: 'cgroupfs' | 'systemd';
  /** warm inits kept ready (0: every start spawns cold) */
  initPool: number;
  log?: { debug(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface Runtime {
  readonly cgroupMode: CgroupMode;
  /**
   * boot: staging cgroups a crashed daemon left are removed, but for `keep` (the cgroups of
   * live-restored tasks that adopted one: Task.cgroupName), then the warm pool is filled
   */
  start(opts?: { keep?: string[] }): Promise<void>;
  /** Starts a container: its cgroup (spec.cgroup) made and limited, its init on a warm process when one is ready. */
  launch(spec: RuntimeSpec, opts?: LaunchOptions): Promise<Task>;
  /**
   * A task whose process an earlier daemon launched (live restore): `p` is what the caller rebuilt
   * of it (pid, stdio, exit), the cgroup is the one launch() made for it under the same names.
   */
  adopt(p: Process, cgroup: { parent: string; name: string }): Task;
  /** After a daemon crash: what a task left on the host (its cgroup). */
  removeLeftovers(cgroup: { parent: string; name: string }): Promise<void>;
  /** the warm inits killed and their staging cgroups removed; before the tasks are stopped */
  shutdown(): Promise<void>;
  /** the daemon's cgroup parent removed once empty; after every task was deleted */
  cleanup(): void;
}

export function createRuntime(opts: RuntimeOptions): Runtime {
  const cgroups = new Cgroups(opts.cgroupMode ?? detectCgroupMode(opts.cgroupRoot), opts.cgroupParent, opts.cgroupRoot, opts.realtimeParent, opts.cgroupDriver);
  const systemd = cgroups.driver === 'systemd';
  const log = opts.log;
  const discard = (stage: string) => cgroups.discard(stage).catch((err) => log?.debug({ err, stage }, 'staging cgroup not removed'));
  return {
    cgroupMode: cgroups.mode,
    async start(o) {
      await cgroups.removeStaleStaging(o?.keep ?? []).catch((err) => log?.warn({ err }, 'stale staging cgroups not removed'));
      // systemd driver: no staging cgroup, the init waits in the daemon's cgroup until its scope is started with it
      if (opts.initPool > 0) warmPool.enable(opts.initPool, systemd ? {} : { stage: (pid) => cgroups.stage(pid), discard });
    },
    async launch(spec, launchOpts = {}) {
      // A warm init is PID 1 of a fresh PID namespace: only for containers that want one.
      const warm = !spec.pid || spec.pid.mode === 'private' ? warmPool.take() : null;
      if (systemd && spec.cgroup) {
        // The scope is started with the init's pid: a warm init's now, a cold one's once spawned (launchOpts.spawned).
        const scope = cgroups.scope(spec.cgroup.parent, spec.cgroup.name);
        const res = spec.cgroup.resources;
        if (warm) {
          try {
            await cgroups.join(scope, warm.pid, res);
          } catch (e) {
            warm.kill();
            throw e;
          }
        }
        try {
          const proc = await launch(spec, warm, warm ? launchOpts : { ...launchOpts, spawned: (pid) => cgroups.join(scope, pid, res) });
          return taskOf(proc, scope);
        } catch (e) {
          await scope.destroy().catch(() => {});
          throw e;
        }
      }
      let placed: ReturnType<Cgroups['place']> | null = null;
      try {
        placed = spec.cgroup ? cgroups.place(spec.cgroup, warm?.stage ?? null) : null;
        if (placed?.adopted) warm?.adoptStage();
      } catch (e) {
        warm?.kill();
        throw e;
      }
      // The launcher discards the warm init's staging cgroup once it started, unless adopted (then it is the task's).
      try {
        const proc = await launch({ ...spec, cgroupProcs: [...(spec.cgroupProcs ?? []), ...(placed?.procs ?? [])] }, warm, launchOpts);
        return taskOf(proc, placed?.manager ?? null);
      } catch (e) {
        await placed?.manager.destroy().catch(() => {});
        throw e;
      }
    },
    adopt: (p, cg) => taskOf(p, cgroups.manager(cg.parent, cg.name)),
    removeLeftovers: (cg) => cgroups.manager(cg.parent, cg.name).destroy(),
    shutdown: () => warmPool.disable(),
    cleanup: () => cgroups.removeParent(),
  };
}

/** A launched process and its cgroup, as one Task. */
function taskOf(p: Process, cg: CgroupManager | null): Task {
  const cgroup = (): CgroupManager => {
    if (!cg) throw notImplemented('the task was launched without a cgroup', 'TSD_ERR_NO_CGROUP');
    return cg;
  };
  return {
    ...p,
    pause: async () => cgroup().freeze(),
    resume: async () => cgroup().thaw(),
    update: (resources) => cgroup().update(resources),
    stats: () => cgroup().stats(),
    pids: () => cgroup().pids(),
    oomKilled: () => cgroup().oomKillCount() > 0,
    killAll: async (signal = 9) => cgroup().killAll(signal),
    exec: (spec) => execInContainer(p.pid, { ...spec, cgroupProcs: cg ? cg.procsFiles() : [] }),
    delete: async () => { await cg?.destroy(); },
    cgroupName: cg ? path.posix.basename(cg.path) : null,
  };
}
