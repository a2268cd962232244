// What the verb files of the container lifecycle share: the subsystems they call
// (through ports.ts), the in-memory tables of running tasks, and the few
// operations one verb needs from another. ContainerService builds one context;
// each verb function takes only the part of it that it uses (a Pick), so a verb's
// signature says what it touches, and no verb file imports another.
import path from 'node:path';
import type { Logger } from 'pino';
import type { ContainerStore } from '../../store/index.js';
import type { DaemonConfig } from '../config.js';
import { containerEventAttrs, type EventBus } from '../events.js';
import type { KeyedLock } from '../../lib/index.js';
import type { StdioHub } from '../stdio.js';
import type { LogSink } from '../logs/index.js';
import type { VolumeService } from '../volumes.js';
import type { FreezerState, ImagePort, NetworkPort, RootfsMount, RuntimePort, Task } from './ports.js';
import type { Container, RuntimeState } from './types.js';
import { transition, type ContainerState, type WaitCondition, type Waiters } from './state.js';
import type { ExecManager } from './exec.js';
import type { HealthMonitor } from './health.js';
import type { HolderClient } from '../restore/index.js';

/** A running task (the runtime's, with its cgroup) and what the daemon must undo when it ends. */
export interface Live {
  task: Task;
  hub: StdioHub;
  log: LogSink;
  rootfs: RootfsMount;
  /** when the task started (for the restart backoff) */
  startedAt: number;
  /** resolves after the exit was recorded and everything torn down */
  done: Promise<void>;
  stopping: boolean;
  /** --rm (HostConfig.AutoRemove, which no update changes): the exit removes the container unless the daemon is going down */
  autoRemove?: boolean;
}

/** Restart timers and the backoff memory of each container (in memory, as dockerd's restart manager). */
export interface Restarts {
  timers: Map<string, NodeJS.Timeout>;
  lastDelayMs: Map<string, number>;
}

export interface ContainerContext {
  readonly store: ContainerStore;
  readonly config: DaemonConfig;
  readonly events: EventBus;
  readonly log: Logger;
  readonly images: ImagePort;
  readonly runtime: RuntimePort;
  readonly network: NetworkPort | null;
  readonly volumes: VolumeService;
  /** serializes the operations on one container */
  readonly lock: KeyedLock;
  readonly live: Map<string, Live>;
  /** hubs of created-but-not-started containers: `docker run -i` attaches (and writes stdin) before start */
  readonly pendingHubs: Map<string, StdioHub>;
  readonly waiters: Waiters;
  readonly restarts: Restarts;
  readonly execs: ExecManager;
  readonly health: HealthMonitor;
  readonly status: { shuttingDown: boolean };
  /** the container's cgroup as its files read (tsctl explain's view), kept at the exit; null: no cgroup */
  readonly exitCounters?: (c: Container) => NonNullable<RuntimeState['lastRun']>['cgroup'] | null;
  /** the freezer of the container's cgroup as the kernel has it (adoption: paused is what the cgroup says) */
  readonly freezerState?: (c: Container) => FreezerState;
  /** --live-restore: the holder that keeps containers' stdio and exit statuses while the daemon is away (null: off) */
  readonly restore: HolderClient | null;
  /** starts in progress, by container id: `rm -f` aborts one (its init is killed) instead of waiting behind the lock */
  readonly starting: Map<string, AbortController>;

  /** Name (with or without '/'), full id, or unique id prefix; Docker's errors otherwise. */
  get(ref: string): Container;
  tryGet(ref: string): Container | null;
  list(): Container[];

  // One verb's work that others start; wired by the service (so no verb file imports another).
  /** start the task of a container (the start path), under its lock */
  startTask(c: Container): Promise<void>;
  /** remove a container that has no task, under its lock */
  removeNow(c: Container, opts: { volumes?: boolean }): Promise<void>;
  /** the exit of a task: record it, tear down, apply the restart policy */
  taskExited(id: string, live: Live, r: { exitCode: number; signal: string | null }): Promise<void>;
}

export function containerDir(ctx: Pick<ContainerContext, 'config'>, id: string): string {
  return path.join(ctx.config.dataRoot, 'containers', id);
}

/** Publishes a container event with Docker's attributes (labels, image, name, and `extra`). */
export function publish(ctx: Pick<ContainerContext, 'events'>, c: Container, action: string, extra: Record<string, string> = {}): void {
  ctx.events.publish('container', action, c.id, containerEventAttrs(c, extra), c.config.Image);
}

/** The one writer of `state`: the edge is checked against the transition table, then written with `fields`. */
export function setState(
  ctx: Pick<ContainerContext, 'store'>, c: { id: string; state: ContainerState }, to: ContainerState,
  fields: Parameters<ContainerStore['update']>[1] = {},
): void {
  c.state = transition(c.id, c.state, to);
  ctx.store.update(c.id, { ...fields, state: to });
}

/** Patches the runtime column (and `c`). */
export function updateRuntime(ctx: Pick<ContainerContext, 'store'>, c: Container, patch: Partial<RuntimeState>): void {
  c.runtime = { ...c.runtime, ...patch };
  ctx.store.update(c.id, { runtime: c.runtime });
}

/** Resolves the waiters of a container whose task ended (or that went away). */
export function notify(ctx: Pick<ContainerContext, 'waiters'>, id: string, conditions: WaitCondition[], exitCode: number, error: string | null = null): void {
  ctx.waiters.notify(id, conditions, exitCode, error);
}

export function cancelRestart(ctx: Pick<ContainerContext, 'restarts'>, id: string): boolean {
  const t = ctx.restarts.timers.get(id);
  if (!t) return false;
  clearTimeout(t);
  ctx.restarts.timers.delete(id);
  return true;
}

