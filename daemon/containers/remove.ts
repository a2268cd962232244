// docker rm (with -f: SIGKILL and wait for the exit first), the removal itself,
// and docker container prune.
import path from 'node:path';
import { dirSize } from '../volumes.js';
import { removeTree } from '../../rootfs/index.js';
import { cancelRestart, containerDir, notify, publish, setState, updateRuntime, type ContainerContext } from './context.js';
import { canPrune, canRemove } from './state.js';
import type { Container } from './types.js';

type RemoveContext = Pick<ContainerContext, 'store' | 'config' | 'events' | 'log' | 'images' | 'volumes' | 'live' | 'pendingHubs' | 'waiters' | 'restarts' | 'get' | 'network'>;

export interface RemoveOptions { force?: boolean; volumes?: boolean }

/** docker rm, under the lock. */
export async function remove(ctx: RemoveContext, c: Container, opts: RemoveOptions): Promise<void> {
  const live = ctx.live.get(c.id);
  canRemove(c, !!live, !!opts.force);
  cancelRestart(ctx, c.id);
  if (live) {
    live.stopping = true;
    updateRuntime(ctx, c, { manuallyStopped: true });
    publish(ctx, c, 'kill', { signal: '9' });
    try { live.task.kill('SIGKILL'); } catch { /* gone */ }
    // Thawed whatever its recorded state: a daemon killed between a pause's freeze and its
    // row's update leaves a frozen task recorded running, and a SIGKILL waits for the thaw.
    await live.task.resume().catch(() => {});
    await live.done;
  }
  await removeNow(ctx, ctx.get(c.id), opts);
  // as dockerd's rm: answered once the container's veths are gone (its exit deletes them in the background)
  await ctx.network?.settle().catch(() => {});
}

/** Under the container's lock, with no live task: the row goes 'removing', then the files, then the row. */
export async function removeNow(ctx: Omit<RemoveContext, 'live' | 'restarts' | 'get'>, c: Container, opts: { volumes?: boolean }): Promise<void> {
  setState(ctx, c, 'removing');
  ctx.pendingHubs.get(c.id)?.finishOutput().catch(() => {});
  ctx.pendingHubs.delete(c.id);
  const dir = containerDir(ctx, c.id);
  try { ctx.images.unmountRootfs(path.join(dir, 'rootfs')); } catch { /* not mounted */ }
  // through fds and never into a mount still there (a bind of a host directory left by a failed unmount)
  const kept = removeTree(dir);
  if (kept.length) ctx.log.error({ ctr: c.id, mounts: kept }, 'still mounted: left in place, not removed');
  ctx.store.delete(c.id);
  // the layers it held, if its image was removed under it (a crash before this: the boot's sweep)
  ctx.images.released?.(c.imageId, c.layer);
  if (opts.volumes) {
    for (const m of c.runtime.mounts) {
      // Only anonymous volumes go with the container (docker rm -v).
      if (m.Type === 'volume' && m.Name && /^[0-9a-f]{64}$/.test(m.Name)) {
        try { ctx.volumes.remove(m.Name); } catch { /* in use elsewhere or gone */ }
      }
    }
  }
  publish(ctx, c, 'destroy');
  notify(ctx, c.id, ['removed', 'not-running', 'next-exit'], c.exitCode);
}

/** docker container prune. `until`: only containers created before this time (ms since the epoch). */
export async function prune(
  ctx: Pick<ContainerContext, 'config' | 'events' | 'list'>, removeOne: (id: string) => Promise<void>,
  filters: Record<string, string[]>, until?: number,
): Promise<{ deleted: string[]; reclaimed: number }> {
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const c of ctx.list()) {
    if (!canPrune(c.state)) continue;
    if (until !== undefined && Date.parse(c.createdAt) > until) continue;
    if (filters.label && !filters.label.every((l) => matchLabel(c.config.Labels ?? {}, l))) continue;
    if (filters['label!'] && filters['label!'].some((l) => matchLabel(c.config.Labels ?? {}, l))) continue;
    reclaimed += dirSize(path.join(containerDir(ctx, c.id), 'upper'));
    try {
      await removeOne(c.id);
      deleted.push(c.id);
    } catch { /* changed state meanwhile */ }
  }
  ctx.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
  return { deleted, reclaimed };
}

function matchLabel(labels: Record<string, string>, l: string): boolean {
  const i = l.indexOf('=');
  return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
}
