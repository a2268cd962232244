// Boot and shutdown. On boot, containers recorded as up whose process is gone are
// marked exited and their leftovers collected; ones whose process still runs
// (same pid and start time) cannot be re-attached to (their stdio went with the
// old daemon), so they are killed and recorded as exited too, and then follow
// their restart policy like any other exit. An interrupted removal is finished.
// At shutdown every running container is stopped (dockerd without live-restore).
import path from 'node:path';
import { containerDir, setState, type ContainerContext } from './context.js';
import { pidStartTime } from './start.js';
import { stopLive } from './stop.js';
import { isRemoving, isUp } from './state.js';

type ReconcileContext = Pick<ContainerContext, 'store' | 'config' | 'log' | 'images' | 'runtime' | 'network' | 'live' | 'lock' | 'list' | 'get' | 'removeNow'>;

export async function reconcile(ctx: ReconcileContext, start: (id: string) => Promise<unknown>): Promise<void> {
  const liveIds = new Set<string>();
  for (const c of ctx.list()) {
    if (isRemoving(c.state)) {
      await ctx.lock.run(c.id, () => ctx.removeNow(c, {})).catch(() => {});
      continue;
    }
    if (!isUp(c.state)) continue;
    let code = 255;
    let error = 'tsd was restarted while the container was running';
    if (c.pid > 0 && pidStartTime(c.pid) === c.pidStart && c.pidStart !== '') {
      try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
      code = 137;
      error = 'killed: tsd was restarted while the container was running';
    }
    await ctx.runtime.removeLeftovers({ parent: c.hostConfig.CgroupParent || ctx.config.cgroupParent, name: c.id }).catch(() => {});
    try { ctx.images.unmountRootfs(path.join(containerDir(ctx, c.id), 'rootfs')); } catch { /* not mounted */ }
    setState(ctx, c, 'exited', { pid: 0, exitCode: code, error, finishedAt: new Date().toISOString() });
    const fresh = ctx.get(c.id);
    const p = fresh.hostConfig.RestartPolicy.Name;
    if ((p === 'always' || p === 'unless-stopped') && !fresh.runtime.manuallyStopped) {
      await start(c.id).catch((err) => ctx.log.warn({ err, ctr: c.id }, 'restart on boot failed'));
    }
  }
  for (const c of ctx.list()) if (ctx.live.has(c.id)) liveIds.add(c.id);
  if (ctx.network) await ctx.network.reconcile(liveIds).catch((err) => ctx.log.warn({ err }, 'network reconcile failed'));
}

export async function shutdown(ctx: Pick<ContainerContext, 'events' | 'live' | 'pendingHubs' | 'restarts' | 'health' | 'status' | 'tryGet'>): Promise<void> {
  ctx.status.shuttingDown = true;
  for (const t of ctx.restarts.timers.values()) clearTimeout(t);
  ctx.restarts.timers.clear();
  ctx.health.stopAll();
  await Promise.all([...ctx.live.entries()].map(async ([id, live]) => {
    const c = ctx.tryGet(id);
    if (!c) return;
    await stopLive(ctx, c, live, { timeout: Math.min(c.config.StopTimeout ?? 10, 10) }).catch(() => {});
  }));
  for (const h of ctx.pendingHubs.values()) await h.finishOutput().catch(() => {});
}
