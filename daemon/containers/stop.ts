// docker stop, kill, restart, pause, unpause: signals and the freezer on a
// running task. All run under the container's lock; the exit itself is recorded
// by the exit handler (exit.ts), which stop and kill -9 wait for (`live.done`).
import { cancelRestart, notify, publish, setState, updateRuntime, type ContainerContext, type Live } from './context.js';
import { within } from '../deadline.js';
import { signalNumber } from './signals.js';
import { canKill, canPause, canStop, canUnpause, isBetweenRestarts, isPaused } from './state.js';
import type { Container } from './types.js';

type StopContext = Pick<ContainerContext, 'store' | 'events' | 'live' | 'restarts' | 'waiters'>;

export interface StopOptions { signal?: string; timeout?: number }

/**
 * Between restarts there is no task to signal: stop and kill cancel the pending restart
 * (as dockerd does) and the container stays exited. True when that was the case.
 */
function cancelPendingRestart(ctx: StopContext, c: Container, onCancel?: () => void): boolean {
  if (!isBetweenRestarts(c) || !cancelRestart(ctx, c.id)) return false;
  updateRuntime(ctx, c, { manuallyStopped: true });
  setState(ctx, c, 'exited');
  onCancel?.();
  notify(ctx, c.id, ['not-running'], c.exitCode);
  return true;
}

/** docker stop. Returns false when not running (304). */
export async function stop(ctx: StopContext, c: Container, opts: StopOptions): Promise<boolean> {
  if (cancelPendingRestart(ctx, c)) return true;
  const live = ctx.live.get(c.id);
  if (!canStop(c, !!live)) return false;
  updateRuntime(ctx, c, { manuallyStopped: true });
  await stopLive(ctx, c, live!, opts);
  publish(ctx, c, 'stop');
  return true;
}

/** The stop signal, then SIGKILL (and the cgroup's kill-all) after the timeout; resolves once the exit is recorded. */
export async function stopLive(ctx: Pick<ContainerContext, 'events'>, c: Container, live: Live, opts: StopOptions): Promise<void> {
  live.stopping = true;
  const sig = signalNumber(opts.signal || c.config.StopSignal || 'SIGTERM');
  const timeout = opts.timeout ?? c.config.StopTimeout ?? 10;
  const paused = isPaused(c.state);
  if (paused) live.task.resume().catch(() => {});
  publish(ctx, c, 'kill', { signal: String(sig) });
  try { live.task.kill(sig); } catch { /* already gone */ }
  if (paused) await live.task.resume().catch(() => {});
  const done = live.done.then(() => true);
  const exited = timeout < 0 ? await done : await within(done, timeout * 1000, false);
  if (!exited) {
    publish(ctx, c, 'kill', { signal: '9' });
    try { live.task.kill('SIGKILL'); } catch { /* gone */ }
    await live.task.killAll(9).catch(() => {});
    await live.task.resume().catch(() => {}); // frozen though recorded running (see remove)
    await live.done;
  }
}

/** docker kill: a signal to PID 1; SIGKILL waits for the exit to be recorded. */
export async function kill(ctx: StopContext, c: Container, ref: string, signal: string): Promise<void> {
  const sig = signalNumber(signal);
  if (cancelPendingRestart(ctx, c, () => publish(ctx, c, 'kill', { signal: String(sig) }))) return;
  const live = ctx.live.get(c.id);
  canKill(c, !!live, ref);
  // As dockerd: a container killed by hand is not brought back by its restart policy.
  updateRuntime(ctx, c, { manuallyStopped: true });
  publish(ctx, c, 'kill', { signal: String(sig) });
  live!.task.kill(sig);
  if (sig === 9) await live!.task.resume().catch(() => {}); // thawed whatever its recorded state (see remove)
  if (sig === 9) await live!.done;
}

/** docker restart: stop (if running), then start, as one locked operation. */
export async function restart(ctx: StopContext & Pick<ContainerContext, 'get' | 'startTask'>, c: Container, opts: StopOptions): Promise<void> {
  cancelRestart(ctx, c.id);
  const live = ctx.live.get(c.id);
  if (live) {
    updateRuntime(ctx, c, { manuallyStopped: true });
    await stopLive(ctx, c, live, opts);
  }
  const fresh = ctx.get(c.id);
  updateRuntime(ctx, fresh, { manuallyStopped: false });
  await ctx.startTask(fresh);
  publish(ctx, c, 'restart');
}

export async function pause(ctx: StopContext, c: Container): Promise<void> {
  const live = ctx.live.get(c.id);
  canPause(c, !!live);
  await live!.task.pause();
  setState(ctx, c, 'paused');
  publish(ctx, c, 'pause');
}

export async function unpause(ctx: StopContext, c: Container): Promise<void> {
  const live = ctx.live.get(c.id);
  canUnpause(c, !!live);
  await live!.task.resume();
  setState(ctx, c, 'running');
  publish(ctx, c, 'unpause');
}
