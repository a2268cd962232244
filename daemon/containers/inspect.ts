// What a container shows while it exists: top, stats, logs, the stdio hub an
// attach joins, tty resize, its root filesystem (mounted for the duration when
// stopped) and its sizes. None of these change the row.
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { invalidParameter, systemError } from '../../errors/index.js';
import type { CgroupStats } from '../../cgroupfs/index.js';
import { StdioHub } from '../stdio.js';
import { JsonFileLogWriter, parseLogConfig, readContainerLogs, type LogEntry } from '../logs/index.js';
import { dirSize } from '../volumes.js';
import { containerDir, publish, type ContainerContext, type Live } from './context.js';
import { openLiveFs, openStoppedFs, type ContainerFs, type CopyMount } from './archive.js';
import type { RootfsMount } from './ports.js';
import { canAttach, canResize, canTop } from './state.js';
import type { Container } from './types.js';

const run = promisify(execFile);

type InspectContext = Pick<ContainerContext, 'config' | 'events' | 'log' | 'images' | 'live' | 'pendingHubs' | 'lock'>;

/** docker top: `ps` output for the container's processes. */
export async function top(ctx: InspectContext, c: Container, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
  const live = ctx.live.get(c.id);
  canTop(c, !!live);
  const pids = new Set(live!.task.pids());
  const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : ['-ef'];
  let out: string;
  try {
    out = (await run('ps', args, { maxBuffer: 16 << 20 })).stdout;
  } catch (e) {
    throw invalidParameter(`ps: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
  }
  const lines = out.split('\n').filter((l) => l.trim());
  const titles = lines[0]!.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw invalidParameter(`Couldn't find PID field in ps output`);
  const procs: string[][] = [];
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    if (!pids.has(Number(f[pidCol]))) continue;
    procs.push([...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]);
  }
  publish(ctx, c, 'top');
  return { Titles: titles, Processes: procs };
}

/** The cgroup's counters of a running container; null when it has no task. */
export function stats(ctx: InspectContext, c: Container): CgroupStats | null {
  const live = ctx.live.get(c.id);
  if (!live) return null;
  try {
    return live.task.stats();
  } catch {
    return null;
  }
}

export function resize(ctx: InspectContext, c: Container, rows: number, cols: number): void {
  const live = ctx.live.get(c.id);
  canResize(c, !!live);
  if (live!.task.pty) live!.task.pty.resize(rows, cols);
}

/** The stdio hub an attach connects to; created early for a container that has not started yet. */
export function attachHub(ctx: InspectContext, c: Container): StdioHub {
  const live = ctx.live.get(c.id);
  if (live) return live.hub;
  canAttach(c);
  let hub = ctx.pendingHubs.get(c.id);
  if (!hub) {
    hub = new StdioHub({ tty: c.config.Tty, openStdin: c.config.OpenStdin, closeStdinOnEof: c.config.StdinOnce, log: null });
    ctx.pendingHubs.set(c.id, hub);
  }
  publish(ctx, c, 'attach');
  return hub;
}

export interface LogsOptions { stdout: boolean; stderr: boolean; since?: bigint; until?: bigint; tail?: number | 'all'; follow: boolean; signal: AbortSignal }

export function logs(ctx: InspectContext, c: Container, opts: LogsOptions): AsyncGenerator<LogEntry> {
  const live = ctx.live.get(c.id);
  const writer = live && live.log instanceof JsonFileLogWriter ? live.log : null;
  const cfg = parseLogConfig(c.hostConfig.LogConfig);
  const file = path.join(containerDir(ctx, c.id), `${c.id}-json.log`);
  if (!fs.existsSync(file) && cfg.type === 'json-file') fs.writeFileSync(file, '', { mode: 0o640 });
  return readContainerLogs(cfg, file, { ...opts, follow: opts.follow && !!writer, writer });
}

/** The container's overlay as planned (not mounted). */
export function rootfsOf(ctx: Pick<ContainerContext, 'config' | 'images'>, c: Container): RootfsMount {
  const image = ctx.images.byId(c.imageId, c.layer);
  if (!image) throw systemError(`image ${c.imageId} of container ${c.id} is gone`);
  return ctx.images.prepareRootfs(containerDir(ctx, c.id), image);
}

/** Runs fn with the container's rootfs mounted (mounting it for the duration when stopped, under the lock). */
export async function withRootfs<T>(ctx: InspectContext, c: Container, fn: (root: string, c: Container, m: RootfsMount) => Promise<T> | T): Promise<T> {
  const live = ctx.live.get(c.id);
  if (live) return fn(live.rootfs.target, c, live.rootfs);
  return ctx.lock.run(c.id, async () => {
    const now = ctx.live.get(c.id);
    if (now) return fn(now.rootfs.target, c, now.rootfs);
    const m = rootfsOf(ctx, c);
    ctx.images.mountRootfs(m);
    try {
      return await fn(m.target, c, m);
    } finally {
      try { ctx.images.unmountRootfs(m.target); } catch (err) { ctx.log.warn({ err }, 'unmount after archive failed'); }
    }
  });
}

/** The mounts docker cp sees: volumes, binds, tmpfs and the /etc files (dockerd's openContainerFS). */
function copyMounts(ctx: Pick<ContainerContext, 'volumes'>, c: Container): CopyMount[] {
  const out: CopyMount[] = [];
  for (const m of c.runtime.mounts) {
    if (m.Type === 'tmpfs') out.push({ type: 'tmpfs', source: '', destination: m.Destination, rw: m.RW });
    else if (m.Type === 'volume') out.push({ type: 'volume', source: ctx.volumes.ensure(m.Name!).mountpoint, destination: m.Destination, rw: m.RW });
    else out.push({ type: 'bind', source: m.Source, destination: m.Destination, rw: m.RW });
  }
  for (const [src, dest] of [[c.runtime.hostsPath, '/etc/hosts'], [c.runtime.hostnamePath, '/etc/hostname'], [c.runtime.resolvConfPath, '/etc/resolv.conf']] as const) {
    if (src && !out.some((m) => m.destination === dest)) out.push({ type: 'etc', source: src, destination: dest, rw: true });
  }
  return out;
}

/**
 * docker cp: runs fn with the container's filesystem as dockerd shows it (see
 * archive.ts): a running container's own mount view, or a stopped one's rootfs
 * with its volumes and binds mounted for the duration (under the container's lock).
 */
export async function withContainerFs<T>(ctx: InspectContext & Pick<ContainerContext, 'volumes' | 'store'>, c: Container, fn: (cfs: ContainerFs, c: Container) => Promise<T> | T): Promise<T> {
  const mounts = copyMounts(ctx, c);
  const viaLive = async (live: Live): Promise<T> => {
    const cfs = openLiveFs(live.task.pid, ctx.store.get(c.id)?.pidStart ?? '', () => ctx.live.get(c.id) === live, mounts);
    try {
      return await fn(cfs, c);
    } finally {
      cfs.close();
    }
  };
  const live = ctx.live.get(c.id);
  if (live) return viaLive(live);
  return ctx.lock.run(c.id, async () => {
    const now = ctx.live.get(c.id);
    if (now) return viaLive(now);
    const m = rootfsOf(ctx, c);
    ctx.images.mountRootfs(m);
    try {
      const cfs = openStoppedFs(m.target, mounts);
      try {
        return await fn(cfs, c);
      } finally {
        cfs.close();
      }
    } finally {
      try { ctx.images.unmountRootfs(m.target); } catch (err) { ctx.log.warn({ err }, 'unmount after archive failed'); }
    }
  });
}

/** SizeRw (the writable layer) and SizeRootFs (it plus the image's layers), as `ps -s` and inspect -s show them. */
export function sizes(ctx: Pick<ContainerContext, 'config' | 'images'>, c: Container): { rw: number; rootFs: number } {
  const rw = dirSize(path.join(containerDir(ctx, c.id), 'upper'));
  const img = ctx.images.byId(c.imageId, c.layer);
  return { rw, rootFs: rw + (img ? img.layerDirs.reduce((n, d) => n + dirSize(d), 0) : 0) };
}
