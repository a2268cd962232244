// docker start: the start path. Under the container's lock, in this order:
// the rootfs, the networks, the mounts, stdio and logs, then one call to the
// runtime, which makes the task's cgroup and starts its init; the row says
// 'running' only once the entrypoint was exec'd. A failure undoes the steps
// already done, last first.
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { invalidParameter, systemError } from '../../errors/index.js';
import { StdioHub } from '../stdio.js';
import { createLogSink, parseLogConfig, type LogSink } from '../logs/index.js';
import { cancelRestart, containerDir, publish, setState, updateRuntime, type ContainerContext, type Live } from './context.js';
import { HealthMonitor } from './health.js';
import { attachNetworks } from './network.js';
import { deviceRequestsError, namespaceChoice, toRuntimeMounts, toRuntimeSpec } from './plan.js';
import type { Task } from './ports.js';
import { canStart } from './state.js';
import type { Container, HostConfig } from './types.js';
import type { RuntimeSpec } from '../../runtime/index.js';

/** Observers (the metrics) learn each start's duration here: { id, seconds }. */
const startChannel = diagnostics.channel('tsd:container:start');

/** Where --init's binary is looked up on the host (Docker's names first). */
const INIT_CANDIDATES = ['/usr/local/bin/docker-init', '/usr/bin/docker-init', '/usr/local/bin/tini-static', '/usr/bin/tini-static'];

type StartContext = Pick<ContainerContext,
  'store' | 'config' | 'events' | 'log' | 'images' | 'runtime' | 'network' | 'volumes' | 'live' | 'pendingHubs' | 'health' | 'restarts' | 'get' | 'removeNow' | 'taskExited' | 'restore' | 'starting'>;

/** docker start (under the lock). Returns false when already running (the API answers 304). */
export async function start(ctx: StartContext, c: Container): Promise<boolean> {
  if (!canStart(c)) return false;
  cancelRestart(ctx, c.id);
  // (a row write only when it changes: a created container's says false already)
  if (c.runtime.manuallyStopped !== false) updateRuntime(ctx, c, { manuallyStopped: false });
  try {
    await startTask(ctx, c);
  } catch (e) {
    if (c.hostConfig.AutoRemove) await ctx.removeNow(ctx.get(c.id), { volumes: true }).catch(() => {});
    throw e;
  }
  return true;
}

/** The start path proper: from a stopped container (created, exited, restarting) to a running task. */
export async function startTask(ctx: StartContext, c: Container): Promise<void> {
  const undo: Array<() => unknown> = [];
  const rollback = async () => {
    for (const f of undo.reverse()) {
      try {
        await f();
      } catch (err) {
        ctx.log.warn({ err, ctr: c.id }, 'rollback step failed');
      }
    }
  };
  const dir = containerDir(ctx, c.id);
  const image = ctx.images.byId(c.imageId, c.layer);
  if (!image) throw systemError(`image ${c.imageId} of container ${c.id} is gone`);
  // moby builds the runtime spec at start, and fails there when no device driver takes a request
  const noDevice = deviceRequestsError(c.hostConfig);
  if (noDevice) {
    ctx.store.update(c.id, { exitCode: 128, error: noDevice });
    throw invalidParameter(noDevice, 'TSD_ERR_DEVICE_REQUEST');
  }
  const t0 = process.hrtime.bigint();
  const marks: Record<string, number> = {};
  const mark = (k: string) => { marks[k] = Number(process.hrtime.bigint() - t0) / 1e6; };
  try {
    // 1. root filesystem
    const rootfs = ctx.images.prepareRootfs(dir, image);
    ctx.images.mountRootfs(rootfs);
    undo.push(() => ctx.images.unmountRootfs(rootfs.target));
    mark('rootfs');

    // 2. the PID namespace to join, if another container's (it must be running)
    const join = (ref: string) => ctx.get(ref);
    const pid = namespaceChoice(c.hostConfig.PidMode, 'pid', 'PID', join);

    // 3. network
    const network = await attachNetworks(ctx, c, undo);
    mark('network');

    // 4. mounts: volumes made on first use, missing -v host directories created (as Docker does)
    const volumes = new Map<string, string>();
    for (const m of c.runtime.mounts) {
      if (m.Type === 'volume') volumes.set(m.Name!, ctx.volumes.ensure(m.Name!).mountpoint);
      else if (m.Type === 'bind' && !fs.existsSync(m.Source)) fs.mkdirSync(m.Source, { recursive: true });
    }
    const mounts = toRuntimeMounts(c.runtime.mounts, (name) => volumes.get(name)!);
    // an empty volume gets the image's content at its mount point (dockerd's copy-up), unless nocopy
    for (const m of c.runtime.mounts) {
      if (m.Type !== 'volume' || !m.Name || m.Mode.split(',').includes('nocopy')) continue;
      if (c.hostConfig.Mounts?.some((x) => x.Target === m.Destination && x.VolumeOptions?.NoCopy)) continue;
      await ctx.volumes.copyUp(m.Name, rootfs.target, m.Destination);
    }

    // 5. stdio and logs
    const log = logSinkOf(dir, c, ctx.config.liveRestore);
    undo.push(() => log.close());
    const hub = ctx.pendingHubs.get(c.id) ?? new StdioHub({ tty: c.config.Tty, openStdin: c.config.OpenStdin, closeStdinOnEof: c.config.StdinOnce, log });
    ctx.pendingHubs.delete(c.id);
    hub.setLog(log);

    // 6. the task: its cgroup and limits, then the process (one call; the runtime undoes its own part on failure)
    const spec = toRuntimeSpec(c, {
      rootfs: rootfs.target, mounts, network, cgroupParent: ctx.config.cgroupParent,
      ipc: namespaceChoice(c.hostConfig.IpcMode, 'ipc', 'IPC', join), pid,
      initBinary: c.hostConfig.Init ? initBinary(ctx) : undefined,
      sysctlExists: (key) => fs.existsSync(`/proc/sys/${key.replace(/\./g, '/')}`),
      devices: hostDevices(c.hostConfig.Devices),
    });
    let task: Task;
    try {
      // rm -f aborts a start in progress (the init is killed) instead of waiting behind the lock
      const abort = new AbortController();
      ctx.starting.set(c.id, abort);
      try {
        task = await ctx.runtime.launch(spec, { signal: abort.signal });
      } finally {
        ctx.starting.delete(c.id);
      }
    } catch (e) {
      // The runtime classified it (127/126 are the caller's, a 400 as dockerd answers; the CLI then exits with them).
      ctx.store.update(c.id, { exitCode: (e as { exitCode?: number }).exitCode ?? 128, error: (e as Error).message });
      throw e;
    }
    mark('launch');
    if (task.pty) hub.setOutput(task.pty.stream, null);
    else hub.setOutput(task.stdout, task.stderr);
    hub.setStdin(task.pty ? task.pty.stream : task.stdin);
    ctx.log.debug({ ctr: c.id, ms: marks }, 'container started');

    const startedAt = new Date();
    const live: Live = { task, hub, log, rootfs, startedAt: startedAt.getTime(), done: Promise.resolve(), stopping: false, autoRemove: !!c.hostConfig.AutoRemove };
    ctx.live.set(c.id, live);
    live.done = task.exited.then((r) => ctx.taskExited(c.id, live, r)).catch((err) => ctx.log.error({ err, ctr: c.id }, 'exit handling failed'));
    c.pid = task.pid;
    // A container with its own fresh netns (--network none) has no netns file: its namespace is reachable
    // through its PID 1 (CNI plugins and Nomad read SandboxKey for the pause container of a pod).
    if (c.hostConfig.NetworkMode === 'none') c.runtime = { ...c.runtime, sandboxKey: `/proc/${task.pid}/ns/net` };
    if (c.runtime.health) c.runtime = { ...c.runtime, health: { ...HealthMonitor.initial } };
    c.runtime = { ...c.runtime, cgroupName: task.cgroupName ?? undefined };
    setState(ctx, c, 'running', {
      pid: task.pid, pidStart: pidStartTime(task.pid), startedAt: startedAt.toISOString(), exitCode: 0, error: '', oomKilled: false,
      runtime: c.runtime,
    });
    // Live restore: the holder takes copies of the stdio fds before the start is reported, so a
    // container the client was told is running outlives this daemon. (Not awaited, a SIGKILL right
    // after the answer could come before the holder had copied the fds from this process: then
    // it held nothing, and the next boot killed the container as one it cannot re-attach to.)
    if (ctx.restore?.alive && task.fds) {
      await ctx.restore.watch(c.id, task.pid, pidStartTime(task.pid), task.fds).catch((err) => ctx.log.warn({ err, ctr: c.id }, 'live-restore holder did not take the container'));
    }
    publish(ctx, c, 'start');
    if (startChannel.hasSubscribers) startChannel.publish({ id: c.id, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
    if (c.runtime.health) ctx.health.start(c.id);
  } catch (e) {
    await rollback();
    throw e;
  }
}

/**
 * The container's log sink (json-file at <dir>/<id>-json.log, or its driver's). `liveRestore`:
 * records are on disk when write() returns, so a SIGKILL of the daemon loses none it read.
 */
export function logSinkOf(dir: string, c: Container, liveRestore = false): LogSink {
  return createLogSink(parseLogConfig(c.hostConfig.LogConfig), path.join(dir, `${c.id}-json.log`), {
    id: c.id, name: c.name, imageId: c.imageId, imageName: c.config.Image, env: c.config.Env, labels: c.config.Labels ?? {},
    entrypoint: c.config.Entrypoint, cmd: c.config.Cmd,
  }, { syncWrites: liveRestore });
}

/** The static init bound into containers run with --init. */
export function initBinary(ctx: Pick<ContainerContext, 'config'>): string {
  const candidates = ctx.config.initPath ? [ctx.config.initPath] : INIT_CANDIDATES;
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw invalidParameter(`exec: "docker-init": executable file not found in $PATH (looked for ${candidates.join(', ')}; install tini or set --init-path)`);
  return found;
}

/** Field 22 of /proc/<pid>/stat: the start time, to tell a pid from a reused one. */
export function pidStartTime(pid: number): string {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

const devMajor = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const devMinor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

/** --device nodes as the host has them now (moby DevicesFromPath); their cgroup rules were made at create. */
function hostDevices(devices: HostConfig['Devices']): RuntimeSpec['devices'] {
  return (devices ?? []).map((d) => {
    const fail = (why: string) => invalidParameter(`error gathering device information while adding custom device "${d.PathOnHost}": ${why}`);
    let st: fs.Stats;
    try {
      st = fs.statSync(d.PathOnHost);
    } catch (e) {
      throw fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message);
    }
    if (!st.isBlockDevice() && !st.isCharacterDevice()) throw fail('not a device node');
    return {
      path: d.PathInContainer || d.PathOnHost, type: st.isBlockDevice() ? 'b' as const : 'c' as const,
      major: devMajor(st.rdev), minor: devMinor(st.rdev), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid,
    };
  });
}
