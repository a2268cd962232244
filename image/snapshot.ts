// Overlay snapshots for containers: the plan is pure data; mountRootfs and
// unmountRootfs are the thin executors.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DaemonError } from '../errors/index.js';
import { MNT_DETACH, type Syscalls } from '../sys/index.js';
import type { RootfsPlan } from './types.js';

/** The kernel copies mount data into one page. */
export const MOUNT_DATA_MAX = 4095;

/**
 * Computes a container's overlay mount. `layerPaths` are the (short) lower layer
 * paths bottom first, as resolveImage returns them in `shortLayerDirs`. When the
 * absolute form does not fit in one page and `baseDir` is given, the options use
 * paths relative to `baseDir` and the plan carries `cwd` (mount(8) is then run there).
 */
export function planRootfs(containerDir: string, layerPaths: string[], baseDir?: string): RootfsPlan {
  const upperdir = path.join(containerDir, 'upper');
  const workdir = path.join(containerDir, 'work');
  const target = path.join(containerDir, 'rootfs');
  const lowerdirs = [...layerPaths].reverse();
  if (lowerdirs.length === 0) {
    // an image without layers (FROM scratch + nothing): overlay needs one lower dir
    lowerdirs.push(path.join(containerDir, 'empty'));
  }
  let mountOptions = `lowerdir=${lowerdirs.join(':')},upperdir=${upperdir},workdir=${workdir}`;
  if (mountOptions.length > MOUNT_DATA_MAX && baseDir) {
    const rel = (p: string) => path.relative(baseDir, p);
    mountOptions = `lowerdir=${lowerdirs.map(rel).join(':')},upperdir=${rel(upperdir)},workdir=${rel(workdir)}`;
    if (mountOptions.length <= MOUNT_DATA_MAX) return { lowerdirs, upperdir, workdir, target, mountOptions, cwd: baseDir };
  }
  if (mountOptions.length > MOUNT_DATA_MAX) {
    throw new DaemonError('system', 'TSD_ERR_MOUNT_DATA_TOO_LONG', `overlay mount data for ${lowerdirs.length} layers is ${mountOptions.length} bytes, more than one page`);
  }
  return { lowerdirs, upperdir, workdir, target, mountOptions };
}

/** Creates the dirs of the plan (idempotent). */
export function createRootfsDirs(plan: RootfsPlan): void {
  for (const d of [plan.upperdir, plan.workdir, plan.target]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  for (const l of plan.lowerdirs) if (!fs.existsSync(l)) fs.mkdirSync(l, { recursive: true, mode: 0o755 });
}

export function mountRootfs(sys: Syscalls, plan: RootfsPlan): void {
  createRootfsDirs(plan);
  if (plan.cwd) {
    // relative lowerdirs: the kernel resolves them against the caller's cwd, which the daemon never changes
    const r = spawnSync('mount', ['-t', 'overlay', '-o', plan.mountOptions, 'overlay', plan.target], { cwd: plan.cwd, encoding: 'utf8' });
    if (r.status !== 0) throw new DaemonError('system', 'TSD_ERR_MOUNT', `mount overlay ${plan.target}: ${(r.stderr || r.error?.message || '').trim()}`);
    return;
  }
  sys.mount('overlay', plan.target, 'overlay', 0, plan.mountOptions);
}

export function unmountRootfs(sys: Syscalls, target: string): void {
  try {
    sys.umount2(target, MNT_DETACH);
  } catch (e) {
    const code = (e as { errnoCode?: string }).errnoCode;
    if (code !== 'EINVAL' && code !== 'ENOENT') throw e;
  }
}
