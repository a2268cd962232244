// The exit of a container's task: the one writer of running → exited. It reads
// the OOM counter, tears down (output, execs, cgroup, networks, rootfs), records
// the exit, wakes the waiters, then applies the restart policy (restartDecision,
// with dockerd's backoff) or AutoRemove. It runs outside the container's lock:
// stop, kill -9 and rm -f hold the lock while they wait for it (`live.done`).
import { withDeadline } from '../deadline.js';
import { notify, publish, setState, type ContainerContext, type Live } from './context.js';
import { publishDisconnects } from './network.js';
import { restartDecision } from './plan.js';
import { hasProcess, isBetweenRestarts } from './state.js';
import type { Container } from './types.js';

/** Deadline of each teardown step when a container exits. */
const EXIT_STEP_MS = 10_000;
/** How long the exit waits for output still in the pipes (the rest of the PID namespace dies with PID 1, closing them). */
const OUTPUT_DRAIN_MS = 2_000;

type ExitContext = Pick<ContainerContext,
  'store' | 'events' | 'log' | 'images' | 'network' | 'live' | 'waiters' | 'restarts' | 'execs' | 'health' | 'lock' | 'status' | 'tryGet' | 'startTask' | 'removeNow' | 'exitCounters' | 'restore'>;

export async function taskExited(ctx: ExitContext, id: string, live: Live, r: { exitCode: number; signal: string | null }): Promise<void> {
  const t0 = process.hrtime.bigint();
  const marks: Record<string, number> = {};
  const mark = (k: string) => { marks[k] = Number(process.hrtime.bigint() - t0) / 1e6; };
  ctx.health.stop(id);
  let oom = false;
  try {
    oom = live.task.oomKilled();
  } catch { /* cgroup already gone */ }
  // Everything else in the container dies with its PID 1; make sure, then tear down.
  // Each step has a deadline: a peer, a child or the kernel that never answers must not keep
  // the container (and `rm -f`, which waits for this handler) from finishing.
  await withDeadline(live.hub.drainOutput(OUTPUT_DRAIN_MS), EXIT_STEP_MS, 'output flush').catch(() => {});
  await withDeadline(live.log.close(), EXIT_STEP_MS, 'log close').catch(() => {});
  mark('output');
  await withDeadline(ctx.execs.containerStopped(id), EXIT_STEP_MS, 'exec teardown').catch((err) => ctx.log.warn({ err, ctr: id }, 'exec teardown failed'));
  mark('execs');
  // the counters go with the cgroup: keep them for `tsctl explain` of the stopped container
  // (not for one --rm removes below: its row goes with them, and reading them cost ~30 file reads per exit)
  let lastRun: Container['runtime']['lastRun'];
  const before = ctx.exitCounters && !(live.autoRemove && !ctx.status.shuttingDown) ? ctx.tryGet(id) : null;
  if (before && !autoRemoved(ctx, before)) {
    try {
      const cgroup = ctx.exitCounters!(before);
      if (cgroup) lastRun = { exitedAt: new Date().toISOString(), pid: live.task.pid, cgroup };
    } catch (err) { ctx.log.debug({ err, ctr: id }, 'cgroup counters not kept'); }
  }
  try { await withDeadline(live.task.delete(), EXIT_STEP_MS, 'cgroup destroy'); } catch (err) { ctx.log.warn({ err, ctr: id }, 'cgroup destroy failed'); }
  mark('cgroup');
  // the veths are deleted in the background (~20 ms of the kernel's); rm waits for them, an auto-remove does not
  if (ctx.network) await withDeadline(ctx.network.detach(id, undefined, { deferUnlink: true }), EXIT_STEP_MS, 'network detach').catch((err) => ctx.log.warn({ err, ctr: id }, 'network detach failed'));
  mark('network');
  try { ctx.images.unmountRootfs(live.rootfs.target); } catch (err) { ctx.log.warn({ err, ctr: id }, 'unmount failed'); }
  mark('rootfs');
  ctx.log.debug({ ctr: id, ms: marks }, 'container exited');
  ctx.live.delete(id);
  if (ctx.restore?.alive) {
    ctx.restore.clearRecords(id);
    void ctx.restore.forget(id).catch((err) => ctx.log.debug({ err, ctr: id }, 'live-restore holder did not forget the container'));
  }
  const c = ctx.tryGet(id);
  if (!c) return;
  const exitCode = oom && r.exitCode === 0 ? 137 : r.exitCode;
  c.exitCode = exitCode;
  if (lastRun) c.runtime = { ...c.runtime, lastRun };
  setState(ctx, c, 'exited', { pid: 0, exitCode, oomKilled: oom, finishedAt: new Date().toISOString(), ...(lastRun ? { runtime: c.runtime } : {}) });
  if (oom) publish(ctx, c, 'oom');
  publish(ctx, c, 'die', { exitCode: String(exitCode), execDuration: String(Math.round((Date.now() - Date.parse(c.startedAt)) / 1000)) });
  publishDisconnects(ctx, c);
  notify(ctx, id, ['not-running', 'next-exit'], exitCode);

  // Restart policy, unless stopped by hand or the daemon is going down.
  const decision = restartDecision(
    c.hostConfig.RestartPolicy,
    { exitCode, upMs: Date.now() - live.startedAt, manual: ctx.status.shuttingDown || c.runtime.manuallyStopped || live.stopping },
    { restartCount: c.restartCount, lastDelayMs: ctx.restarts.lastDelayMs.get(id) ?? 0 },
  );
  if (decision.restart) {
    scheduleRestart(ctx, c, decision.delayMs);
    return;
  }
  if (c.hostConfig.AutoRemove && !ctx.status.shuttingDown) {
    // Not awaited: stop, kill -9 and rm -f hold the container's lock while they
    // wait for `live.done` (this handler), so taking the lock here would deadlock.
    void ctx.lock.run(id, async () => {
      const cur = ctx.tryGet(id);
      if (cur && !hasProcess(cur.state) && !ctx.live.has(id)) {
        await ctx.removeNow(cur, { volumes: true });
        ctx.waiters.autoRemoved(id, cur.name.replace(/^\//, ''), cur.exitCode);
      }
    }).catch((err) => ctx.log.warn({ err, ctr: id }, 'auto-remove failed'));
  }
}

/** Whether the exit will end with the container's removal (--rm, no restart policy to apply, the daemon not going down). */
function autoRemoved(ctx: Pick<ExitContext, 'status'>, c: Container): boolean {
  const policy = c.hostConfig.RestartPolicy?.Name ?? '';
  return !!c.hostConfig.AutoRemove && !ctx.status.shuttingDown && (policy === '' || policy === 'no');
}

function scheduleRestart(ctx: ExitContext, c: Container, delayMs: number): void {
  ctx.restarts.lastDelayMs.set(c.id, delayMs);
  setState(ctx, c, 'restarting', { restartCount: c.restartCount + 1 });
  const timer = setTimeout(() => {
    ctx.restarts.timers.delete(c.id);
    void ctx.lock.run(c.id, async () => {
      const cur = ctx.tryGet(c.id);
      if (!cur || !isBetweenRestarts(cur)) return;
      try {
        await ctx.startTask(cur);
        publish(ctx, cur, 'restart');
      } catch (err) {
        ctx.log.warn({ err, ctr: c.id }, 'restart failed');
        setState(ctx, cur, 'exited', { error: (err as Error).message });
        notify(ctx, c.id, ['not-running', 'next-exit'], (err as { exitCode?: number }).exitCode ?? 128);
      }
    });
  }, delayMs);
  ctx.restarts.timers.set(c.id, timer);
}
