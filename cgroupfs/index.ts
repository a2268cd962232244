// Public face of cgroupfs: the contracts (types.ts), mode detection, the manager
// factory and the device-rule syntax.
//
// Used by the runtime (runtime/cgroup.ts: one manager per task, parent = --cgroup-parent
// or HostConfig.CgroupParent), which exposes it through the Task:
//   const mode = detectCgroupMode();                       // once at boot
//   const cg = createCgroupManager({ mode, parent: 'tsd', name: id });
//   cg.create();
//   warnings.push(...cg.apply(resources));                 // before the init joins
//   plan.cgroupProcs = cg.procsFiles();                    // the init writes its pid there, then execve
//   ... cg.update(res) (task.update), cg.freeze()/thaw() (task.pause/resume), cg.stats() (task.stats)
//   on exit: oomKilled = cg.oomKillCount() > 0; then await cg.destroy() (task.delete);
// Errors are DaemonErrors: TSD_ERR_CGROUP_WRITE (kind invalid-parameter when the
// kernel refuses a value, e.g. a memory limit below usage; system otherwise),
// TSD_ERR_CGROUP_UNSUPPORTED (not-implemented), TSD_ERR_CGROUP_CREATE/REMOVE/
// TIMEOUT/KILL/MODE (system).
import { DaemonError } from '../errors/index.js';
import { detectCgroupMode, versionOf } from './mode.js';
import type { CgroupManager, CgroupManagerOptions, CgroupMode } from './types.js';
import { removeEmptyChain } from './common.js';
import { CgroupV1Manager, V1_CONTROLLERS } from './v1/manager.js';
import { CgroupV2Manager } from './v2/manager.js';
import { SystemdCgroupManager as SystemdCgroupManagerImpl, type SystemdCgroupManager } from './systemd/manager.js';
import { systemdBus, type SystemdApi } from './systemd/bus.js';
import fs from 'node:fs';
import path from 'node:path';

// The contract and the factories; the implementations (v1/, v2/), the planners and
// the parsers stay inside (tests import them by path).
export type {
  CgroupManager, CgroupManagerOptions, CgroupMode, CgroupStats, CgroupSupport, CgroupVersion, CgroupWrite, FreezerState,
  DeviceFilter, DeviceRule, HostCpu, Pressure, PressureLine, IoEntry, Resources, ThrottleDevice, WeightDevice,
} from './types.js';
export { detectCgroupMode, versionOf } from './mode.js';
// Device rules are part of the Resources contract: the API validates HostConfig.DeviceCgroupRules with them.
export { DEFAULT_ALLOWED_DEVICES, formatDeviceRule, parseDeviceRule } from './devices.js';

/** The manager for one container's cgroup; `mode` defaults to what the host mounts at `root`. */
export function createCgroupManager(opts: CgroupManagerOptions): CgroupManager {
  const root = opts.root ?? '/sys/fs/cgroup';
  const mode: CgroupMode = opts.mode ?? detectCgroupMode(root);
  switch (versionOf(mode)) {
    case 'v1':
      return new CgroupV1Manager({ ...opts, root });
    case 'v2':
      return new CgroupV2Manager({ ...opts, root });
    default:
      throw new DaemonError('system', 'TSD_ERR_CGROUP_MODE', `unknown cgroup mode ${String(mode)}`);
  }
}

/**
 * Remove the (now empty) parent chain, e.g. the daemon's --cgroup-parent on
 * shutdown or a test's own parent. Directories still holding cgroups are kept.
 */
export function removeCgroupParent(opts: { root?: string; mode?: CgroupMode; parent: string }): void {
  const root = opts.root ?? '/sys/fs/cgroup';
  const mode = opts.mode ?? detectCgroupMode(root);
  const parent = opts.parent.replace(/^\/+/, '');
  if (parent === '' || parent.split('/').includes('..')) return;
  if (versionOf(mode) === 'v2') {
    removeEmptyChain(root, parent);
    return;
  }
  const seen = new Set<string>();
  for (const c of V1_CONTROLLERS) {
    const m = path.join(root, c);
    if (!fs.existsSync(m)) continue;
    const real = fs.realpathSync(m);
    if (seen.has(real)) continue;
    seen.add(real);
    removeEmptyChain(m, parent);
  }
}
export { DAEMON_CHILD, delegatedLayout, enterDelegatedSubtree, isDelegated, ownCgroupV2 } from './delegation.js';
export type { DelegatedLayout } from './delegation.js';

// The systemd driver (--exec-opt native.cgroupdriver=systemd): a container's cgroup is a transient
// scope, docker-<id>.scope in a slice, made over systemd's D-Bus API (systemd/bus.ts, the only D-Bus user).
export { checkSlice, scopeName, scopePath, slicePath } from './systemd/manager.js';
export type { SystemdCgroupManager };
export type { SystemdApi, UnitProperty } from './systemd/bus.js';

/** The scope manager of container `name` in slice `parent`; `api` defaults to the process's system bus connection. */
export function createSystemdCgroupManager(opts: CgroupManagerOptions & { api?: SystemdApi }): SystemdCgroupManager {
  return new SystemdCgroupManagerImpl({ ...opts, api: opts.api ?? systemdBus(), files: createCgroupManager });
}

/** systemd's version, asked over D-Bus: the daemon's check at boot that the driver can work here. */
export function systemdVersion(): Promise<string> {
  return systemdBus().version();
}
export { closeSystemdBus } from './systemd/bus.js';
