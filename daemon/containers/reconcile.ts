// Boot and shutdown. On boot, containers recorded as up whose process is gone are
// marked exited and their leftovers collected; without live restore, ones whose
// process still runs (same pid and start time) cannot be re-attached to (their
// stdio went with the old daemon), so they are killed and recorded as exited too,
// and then follow their restart policy like any other exit. With live restore
// (--live-restore), the holder kept their stdio: they are adopted (adopt.ts), and
// one that exited meanwhile is recorded with its own exit code and finish time.
// Restarts on boot come after the network reconcile has released the endpoints of
// what is gone. An interrupted removal is finished, and --rm containers that do not run are
// removed (dockerd's restore does the same).
// At shutdown every running container is stopped (dockerd without live-restore);
// with live restore they are left running and the holder takes over their output.
import fs from 'node:fs';
import path from 'node:path';
import { removeTree } from '../../rootfs/index.js';
import { containerDir, setState, type ContainerContext } from './context.js';
import { pidStartTime } from './start.js';
import { stopLive } from './stop.js';
import { isRemoving, isUp } from './state.js';
import { adopt, recordExitWhileDown, stillRuns } from './adopt.js';
import { logSinkOf } from './start.js';
import { replaySpool, type HeldExit } from '../restore/index.js';
import { cgroupNameOf, type Container } from './types.js';

type ReconcileContext = Pick<ContainerContext, 'store' | 'config' | 'events' | 'log' | 'images' | 'runtime' | 'network' | 'live' | 'lock' | 'list' | 'get' | 'removeNow' | 'restore' | 'health' | 'taskExited' | 'freezerState' | 'tryGet'>;

/** Live restore: adopts `c` (true), or records the exit the holder saw (false with `exit`), or leaves it to the old path. */
async function restoreOne(ctx: ReconcileContext, c: Container): Promise<{ adopted: boolean; exit: HeldExit | null }> {
  const holder = ctx.restore;
  if (!holder) return { adopted: false, exit: null };
  const held = holder.held.get(c.id);
  if (held && held.pid === c.pid) {
    if (held.exit || stillRuns(c)) {
      try {
        const r = await adopt(ctx, holder, c);
        if (!r.exit) return { adopted: true, exit: null };
        return { adopted: false, exit: r.exit };
      } catch (err) {
        ctx.log.warn({ err, ctr: c.id }, 'cannot re-adopt the container');
      }
    }
  }
  // the holder exited after its last container did: what it wrote down
  const exit = holder.recordedExit(c.id, c.pid, c.pidStart);
  if (exit) {
    const spool = holder.spoolOf(c.id);
    if (spool) {
      const log = logSinkOf(containerDir(ctx, c.id), c);
      await replaySpool(spool, log);
      await log.close();
    }
  }
  return { adopted: false, exit };
}

/** What a task of `c` left: its cgroup (whatever still runs in it is killed) and its rootfs mount. */
async function collectLeftovers(ctx: ReconcileContext, c: Container): Promise<void> {
  await ctx.runtime.removeLeftovers({ parent: c.hostConfig.CgroupParent || ctx.config.cgroupParent, name: cgroupNameOf(c) })
    .catch((err) => ctx.log.warn({ err, ctr: c.id }, 'cannot remove the cgroup a crash left'));
  try { ctx.images.unmountRootfs(path.join(containerDir(ctx, c.id), 'rootfs')); } catch { /* not mounted */ }
}

export async function reconcile(ctx: ReconcileContext, start: (id: string) => Promise<unknown>): Promise<void> {
  const liveIds = new Set<string>();
  const restartIds: string[] = [];
  // A create cut short by a crash: its dir was made, its row never written.
  const known = new Set(ctx.list().map((c) => c.id));
  const root = path.dirname(containerDir(ctx, '0'.repeat(64)));
  for (const e of fs.readdirSync(root)) {
    if (!/^[0-9a-f]{64}$/.test(e) || known.has(e)) continue;
    const kept = removeTree(path.join(root, e));
    if (kept.length) ctx.log.warn({ dir: e, mounts: kept }, 'a container dir without its row is still mounted: left in place');
    else ctx.log.info({ dir: e }, 'removed a container dir without its row (a create cut short)');
  }
  for (const c of ctx.list()) {
    if (isRemoving(c.state)) {
      await ctx.lock.run(c.id, () => ctx.removeNow(c, {})).catch(() => {});
      continue;
    }
    if (!isUp(c.state)) {
      // A start cut short by the crash: the row still says created/exited, but the task's cgroup
      // (with the init, or the entrypoint it exec'd) and the rootfs mount may be there.
      await collectLeftovers(ctx, c);
      continue;
    }
    const restored = await restoreOne(ctx, c);
    if (restored.adopted) continue;
    let code = 255;
    let error = 'tsd was restarted while the container was running';
    if (!restored.exit && c.pid > 0 && pidStartTime(c.pid) === c.pidStart && c.pidStart !== '') {
      try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
      code = 137;
      error = 'killed: tsd was restarted while the container was running';
    }
    await collectLeftovers(ctx, c);
    if (restored.exit) {
      recordExitWhileDown(ctx, c, restored.exit);
      code = restored.exit.code;
      ctx.restore?.clearRecords(c.id);
      void ctx.restore?.forget(c.id).catch(() => {});
    } else setState(ctx, c, 'exited', { pid: 0, exitCode: code, error, finishedAt: new Date().toISOString() });
    const fresh = ctx.get(c.id);
    const p = fresh.hostConfig.RestartPolicy;
    const max = p.MaximumRetryCount ?? 0;
    if (((p.Name === 'always' || p.Name === 'unless-stopped') && !fresh.runtime.manuallyStopped)
      || (restored.exit && p.Name === 'on-failure' && code !== 0 && (max === 0 || fresh.restartCount < max))) {
      restartIds.push(c.id);
    }
  }
  for (const c of ctx.list()) if (ctx.live.has(c.id)) liveIds.add(c.id);
  if (ctx.network) await ctx.network.reconcile(liveIds).catch((err) => ctx.log.warn({ err }, 'network reconcile failed'));
  // As dockerd's restore: a --rm container that does not run now (never started, exited, or
  // killed above) is removed, with its anonymous volumes; one live restore adopted stays.
  for (const c of ctx.list()) {
    if (!c.hostConfig.AutoRemove || ctx.live.has(c.id) || isUp(c.state)) continue;
    await ctx.lock.run(c.id, async () => {
      const cur = ctx.tryGet(c.id);
      if (cur && !ctx.live.has(cur.id) && !isUp(cur.state)) await ctx.removeNow(cur, { volumes: true });
    }).then(() => ctx.log.info({ ctr: c.id }, 'removed an auto-remove container that was not running at boot'),
      (err) => ctx.log.warn({ err, ctr: c.id }, 'auto-remove at boot failed'));
  }
  // After the network reconcile: it released the endpoints of the old tasks, which a start would otherwise meet.
  for (const id of restartIds) await start(id).catch((err) => ctx.log.warn({ err, ctr: id }, 'restart on boot failed'));
}

export async function shutdown(ctx: Pick<ContainerContext, 'events' | 'live' | 'pendingHubs' | 'restarts' | 'health' | 'status' | 'tryGet' | 'restore' | 'log'>): Promise<void> {
  ctx.status.shuttingDown = true;
  for (const t of ctx.restarts.timers.values()) clearTimeout(t);
  ctx.restarts.timers.clear();
  ctx.health.stopAll();
  if (ctx.restore?.alive) {
    // Live restore: the containers keep running. This process stops reading their output (what
    // it read is written to the logs), then lets go of the holder, which drains from here on.
    for (const live of ctx.live.values()) live.task.release?.();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    for (const live of ctx.live.values()) {
      live.log.flush();
      await live.log.close().catch(() => {});
    }
    ctx.log.info({ containers: ctx.live.size }, 'live restore: leaving the containers running');
    ctx.restore.close();
    for (const h of ctx.pendingHubs.values()) await h.finishOutput().catch(() => {});
    return;
  }
  await Promise.all([...ctx.live.entries()].map(async ([id, live]) => {
    const c = ctx.tryGet(id);
    if (!c) return;
    await stopLive(ctx, c, live, { timeout: Math.min(c.config.StopTimeout ?? 10, 10) }).catch(() => {});
  }));
  for (const h of ctx.pendingHubs.values()) await h.finishOutput().catch(() => {});
}
