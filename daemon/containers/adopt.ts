// Live restore on boot: a container that kept running while the daemon was away
// becomes a live task again (same pid, StartedAt, cgroup, rootfs mount, network
// endpoints), its output read again from copies of the fds the holder kept, after
// the output the holder spooled meanwhile is written to its log with the times it
// was read. One that exited meanwhile is recorded with the exit code the holder
// saw and its finish time. Neither is the daemon's child: its exit comes from the
// holder (process events), with a /proc poll as the fallback if the holder is lost.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tty from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { StdioHub } from '../stdio.js';
import type { HeldExit, HolderClient } from '../restore/index.js';
import { replaySpool } from '../restore/index.js';
import { LinuxSyscalls } from '../../sys/index.js';
import { containerDir, publish, setState, type ContainerContext, type Live } from './context.js';
import { logSinkOf, pidStartTime } from './start.js';
import type { Process, RootfsMount } from './ports.js';
import { cgroupNameOf, type Container } from './types.js';

type AdoptContext = Pick<ContainerContext, 'store' | 'config' | 'events' | 'log' | 'images' | 'runtime' | 'live' | 'health' | 'taskExited' | 'freezerState'>;

/** Is `pid` still the container's process (same start time, in the container's cgroup)? */
export function stillRuns(c: Container): boolean {
  if (!(c.pid > 0) || !c.pidStart || pidStartTime(c.pid) !== c.pidStart) return false;
  try {
    return new RegExp(`/${cgroupNameOf(c)}$`, 'm').test(fs.readFileSync(`/proc/${c.pid}/cgroup`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Paused is what the task's freezer says, not what the row says: a daemon killed between a pause's
 * freeze and its row's update left a frozen task recorded running (unpause was then refused: "not
 * paused"), one killed between an unpause's thaw and its update a running task recorded paused. A
 * freeze still under way (v1 FREEZING, v2 cgroup.freeze 1) counts as paused: unpause thaws it.
 * The change gets the event the killed daemon did not send.
 */
export function syncPaused(ctx: Pick<ContainerContext, 'store' | 'events' | 'log' | 'freezerState'>, c: Container): void {
  if (!ctx.freezerState) return;
  let frozen: boolean;
  try {
    frozen = ctx.freezerState(c) !== 'thawed';
  } catch (err) {
    ctx.log.warn({ err, ctr: c.id }, 'cannot read the freezer of an adopted container: its recorded state is kept');
    return;
  }
  if (frozen === (c.state === 'paused')) return;
  const to = frozen ? 'paused' : 'running';
  ctx.log.warn({ ctr: c.id, recorded: c.state, state: to }, `the adopted container's cgroup is ${frozen ? 'frozen' : 'thawed'}: recorded ${to}`);
  setState(ctx, c, to);
  publish(ctx, c, frozen ? 'pause' : 'unpause');
}

/** Exited but not reaped yet (state Z or X in /proc/<pid>/stat), or gone. */
function isZombie(pid: number): boolean {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[ZX]/.test(s.slice(s.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

/** Reads what is left in a pipe (non-blocking) into `write`, then closes it. */
function drainFd(fd: number | null, write: (d: Buffer) => void): void {
  if (fd === null) return;
  const buf = Buffer.alloc(256 * 1024);
  try {
    for (;;) {
      let n: number;
      try { n = fs.readSync(fd, buf, 0, buf.length, null); } catch { break; } // EAGAIN: empty; EIO: pty closed
      if (n === 0) break;
      write(Buffer.from(buf.subarray(0, n)));
    }
  } finally {
    try { fs.closeSync(fd); } catch { /* closed */ }
  }
}

/**
 * Takes a running container back from the holder. Returns the exit instead when
 * the holder saw it exit (the caller records it).
 */
export async function adopt(ctx: AdoptContext, holder: HolderClient, c: Container): Promise<{ exit: HeldExit | null }> {
  const dir = containerDir(ctx, c.id);
  // Listening before asking: an exit event that comes while the spool is replayed is kept, not lost
  // (the /proc poll below would then have given 255 instead of the code the holder saw).
  let heldExit: HeldExit | null = null;
  let onHeldExit: ((e: HeldExit) => void) | null = null;
  const offExit = holder.onExit((id, e) => {
    if (id !== c.id || heldExit) return;
    heldExit = e;
    onHeldExit?.(e);
  });
  let a: Awaited<ReturnType<HolderClient['adopt']>>;
  try {
    a = await holder.adopt(c.id);
  } catch (e) {
    offExit();
    throw e;
  }
  const log = logSinkOf(dir, c, true);
  const replayed = a.spool ? await replaySpool(a.spool, log) : 0;
  if (a.spool) try { fs.unlinkSync(a.spool); } catch { /* gone */ }
  if (a.exit) {
    // what the pipes still hold, then the record
    drainFd(a.fds.stdout, (d) => log.write('stdout', d));
    drainFd(a.fds.stderr, (d) => log.write('stderr', d));
    drainFd(a.fds.pty, (d) => log.write('stdout', d));
    if (a.fds.stdin !== null) fs.closeSync(a.fds.stdin);
    await log.close();
    offExit();
    return { exit: a.exit };
  }

  let stdout: Readable | null = null;
  let stderr: Readable | null = null;
  let stdin: Writable | null = null;
  let pty: Process['pty'] = null;
  const sockets: Array<{ destroy(): void }> = [];
  if (a.fds.pty !== null) {
    const m = a.fds.pty;
    const stream = new tty.ReadStream(m);
    stream.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EIO') stream.push(null); });
    const sys = new LinuxSyscalls();
    pty = { stream, resize: (rows, cols) => { try { sys.setWinsize(m, rows, cols); } catch { /* exited */ } } };
    sockets.push(stream);
  } else {
    if (a.fds.stdout !== null) sockets.push(stdout = new net.Socket({ fd: a.fds.stdout, readable: true, writable: false }));
    if (a.fds.stderr !== null) sockets.push(stderr = new net.Socket({ fd: a.fds.stderr, readable: true, writable: false }));
  }
  if (a.fds.stdin !== null) {
    const s = new net.Socket({ fd: a.fds.stdin, readable: false, writable: true });
    s.on('error', () => { /* EPIPE: the container closed its stdin */ });
    sockets.push(stdin = s);
  }

  // The exit: from the holder's process events; if the holder goes away, from /proc (code unknown).
  let resolveExit!: (r: { exitCode: number; signal: string | null }) => void;
  const exited = new Promise<{ exitCode: number; signal: string | null }>((r) => (resolveExit = r));
  let finishedAt: string | null = null;
  onHeldExit = (e) => {
    finishedAt = e.at;
    resolveExit({ exitCode: e.code, signal: null });
  };
  if (heldExit) onHeldExit(heldExit);
  const poll = setInterval(() => {
    // a zombie keeps its start time until its new parent reaps it: exited all the same
    if (pidStartTime(c.pid) === c.pidStart && !isZombie(c.pid)) return;
    // gone: give the holder's event (which has the code) a moment to arrive
    clearInterval(poll);
    setTimeout(() => resolveExit({ exitCode: 255, signal: null }), 2000).unref();
  }, 1000);
  poll.unref();
  void exited.then(() => { clearInterval(poll); offExit(); });

  if (!ctx.runtime.adopt) throw new Error('this runtime cannot adopt a task');
  const proc: Process = {
    pid: c.pid, stdin, stdout, stderr, pty, exited, wait: () => exited,
    kill: (signal) => {
      if (pidStartTime(c.pid) === c.pidStart) try { process.kill(c.pid, signal); } catch { /* gone */ }
    },
    release: () => { for (const s of sockets) s.destroy(); },
  };
  const task = ctx.runtime.adopt(proc, { parent: c.hostConfig.CgroupParent || ctx.config.cgroupParent, name: cgroupNameOf(c) });
  syncPaused(ctx, c);
  const hub = new StdioHub({ tty: c.config.Tty, openStdin: c.config.OpenStdin, closeStdinOnEof: c.config.StdinOnce, log });
  if (pty) hub.setOutput(pty.stream, null);
  else hub.setOutput(stdout, stderr);
  hub.setStdin(pty ? pty.stream : stdin);

  const image = ctx.images.byId(c.imageId, c.layer);
  const rootfs: RootfsMount = image
    ? ctx.images.prepareRootfs(dir, image)
    : { lowerdirs: [], upperdir: path.join(dir, 'upper'), workdir: path.join(dir, 'work'), target: path.join(dir, 'rootfs') };
  const live: Live = { task, hub, log, rootfs, startedAt: Date.parse(c.startedAt) || Date.now(), done: Promise.resolve(), stopping: false };
  ctx.live.set(c.id, live);
  live.done = exited
    .then(async (r) => {
      await ctx.taskExited(c.id, live, r);
      // the time the holder saw the exit, not the time this daemon handled it
      if (finishedAt) ctx.store.update(c.id, { finishedAt });
    })
    .catch((err) => ctx.log.error({ err, ctr: c.id }, 'exit handling failed'));
  if (c.runtime.health) ctx.health.start(c.id);
  ctx.log.info({ ctr: c.id, pid: c.pid, replayedBytes: replayed }, 'container re-adopted');
  return { exit: null };
}

/** Records a container that exited while the daemon was away (its leftovers are collected by the caller). */
export function recordExitWhileDown(ctx: Pick<ContainerContext, 'store' | 'events'>, c: Container, exit: HeldExit): void {
  setState(ctx, c, 'exited', { pid: 0, exitCode: exit.code, error: '', finishedAt: exit.at });
  c.exitCode = exit.code;
  publish(ctx, c, 'die', { exitCode: String(exit.code) });
}
