// The container service: the façade of the container lifecycle behind the Docker
// API. It resolves a reference and takes the container's lock (withContainer),
// then hands the container to one verb function:
//
//   create.ts     create                   stop.ts    stop, kill, restart, pause, unpause
//   start.ts      start (the start path)   exit.ts    the exit, restart policy, --rm
//   remove.ts     rm, prune                network.ts attach at start, connect, disconnect
//   update.ts     rename, update           inspect.ts top, stats, logs, attach, resize, rootfs
//   reconcile.ts  boot and shutdown        exec.ts, health.ts  exec sessions, healthchecks
//
// States and transitions are in state.ts, the pure planners in plan.ts, the shared
// tables in context.ts. Every externally visible step writes the row first, so a
// daemon killed at any instant can reconcile on boot.
//
// Concurrency: user operations on one container are serialized by a keyed lock.
// The exit of a task is handled outside that lock by the one exit handler,
// which is the only writer of the running → exited transition; operations that
// must see the exit (stop, kill -9, rm -f) wait on `live.done`.
import type { Logger } from 'pino';
import type { DB } from '../../store/index.js';
import { ContainerStore, type ContainerRow } from '../../store/index.js';
import { DaemonError, NoSuchContainerError, conflict, invalidParameter, notFound } from '../../errors/index.js';
import type { CgroupStats } from '../../cgroupfs/index.js';
import { interfaceStats, type InterfaceStats } from '../../netctl/index.js';
import { containerEventAttrs, type EventBus } from '../events.js';
import type { DaemonConfig } from '../config.js';
import { AMBIGUOUS_PREFIX, KeyedLock, resolveRef } from '../../lib/index.js';
import type { StdioHub } from '../stdio.js';
import type { LogEntry } from '../logs/index.js';
import type { VolumeService } from '../volumes.js';
import type { Readable } from 'node:stream';
import type { Change, ContainerLookup, ImageForContainer, ImagePort, NetworkPort, Resources, RootfsMount, RuntimePort } from './ports.js';
import type { Container, ContainerView, HealthState, HostConfig, RuntimeState } from './types.js';
import { containerDir, type ContainerContext } from './context.js';
import { Waiters, canExec, parseWaitCondition, type ContainerState, type WaitResult } from './state.js';
import { ExecManager, type ExecConfig } from './exec.js';
import { HealthMonitor } from './health.js';
import { createContainer, type CreateInput } from './create.js';
import { start, startTask } from './start.js';
import { stop, kill, restart, pause, unpause, type StopOptions } from './stop.js';
import { taskExited } from './exit.js';
import { remove, removeNow, prune, type RemoveOptions } from './remove.js';
import { connect, disconnect, type ConnectConfig } from './network.js';
import { withoutLink } from './links.js';
import { rename, update } from './update.js';
import { attachHub, logs, resize, rootfsOf, sizes, stats, top, withRootfs, withContainerFs, type LogsOptions } from './inspect.js';
import type { ContainerFs } from './archive.js';
import { reconcile, shutdown } from './reconcile.js';
import type { HolderClient } from '../restore/index.js';

export type { CreateInput };
export { mergeImageConfig } from './plan.js';
export { pidStartTime } from './start.js';

/** docker commit's options: the config to commit (the container's when empty), author, message, the new name, Dockerfile changes. */
export interface CommitRequest { config: Record<string, unknown>; author: string; comment: string; repo?: string; tag?: string; changes: string[] }

export interface ContainerServiceDeps {
  db: DB;
  config: DaemonConfig;
  events: EventBus;
  log: Logger;
  images: ImagePort;
  runtime: RuntimePort;
  network: NetworkPort | null;
  volumes: VolumeService;
  /** reads a container's cgroup just before the exit removes it (kept for tsctl explain) */
  exitCounters?: ContainerContext['exitCounters'];
  /** --live-restore's holder (null without live restore) */
  restore?: HolderClient | null;
  /** the freezer state of a container's cgroup (adoption records a frozen task paused, a thawed one running) */
  freezerState?: ContainerContext['freezerState'];
}

export class ContainerService {
  readonly store: ContainerStore;
  readonly execs: ExecManager;
  private readonly ctx: ContainerContext;

  constructor(d: ContainerServiceDeps) {
    const store = new ContainerStore(d.db);
    this.store = store;
    const lock = new KeyedLock();
    const live: ContainerContext['live'] = new Map();
    const lookup: ContainerLookup = {
      get: (ref) => this.get(ref),
      tryGet: (ref) => this.tryGet(ref),
      view: (id) => (store.view(id) as ContainerView | undefined) ?? null,
      task: (id) => live.get(id)?.task ?? null,
    };
    this.execs = new ExecManager(lookup, d.events, d.log);
    // Health results are written under the container's lock: one writer of the row at a time.
    // It reads the state and the health only, and writes the health alone (one statement, store.setHealth).
    const health = new HealthMonitor(lookup, this.execs, d.events, d.log, (id, next) => lock.run(id, () => {
      const cur = store.health(id);
      if (!cur) return null;
      const state = cur.state as ContainerState;
      store.setHealth(id, next({ state, health: cur.health as HealthState | undefined }));
      return state;
    }));
    const ctx: ContainerContext = {
      store, config: d.config, events: d.events, log: d.log, images: d.images, runtime: d.runtime, network: d.network, volumes: d.volumes,
      lock, live, pendingHubs: new Map(), waiters: new Waiters(), restarts: { timers: new Map(), lastDelayMs: new Map() },
      execs: this.execs, health, status: { shuttingDown: false }, exitCounters: d.exitCounters, freezerState: d.freezerState, restore: d.restore ?? null, starting: new Map(),
      get: (ref) => this.get(ref),
      tryGet: (ref) => this.tryGet(ref),
      list: () => this.list(),
      startTask: (c) => startTask(ctx, c),
      removeNow: (c, opts) => removeNow(ctx, c, opts),
      taskExited: (id, l, r) => taskExited(ctx, id, l, r),
    };
    this.ctx = ctx;
  }

  // ------------------------------------------------------------ lookup

  private toContainer(r: ContainerRow): Container {
    return { ...r } as Container;
  }

  /** Name (with or without '/'), full id, or unique id prefix; Docker's errors otherwise. */
  get(ref: string): Container {
    // the row found by id or name is the one returned (one read, not a second for the id)
    let found: ContainerRow | undefined;
    const id = resolveRef(ref, {
      byId: (r) => (found = this.store.get(r))?.id ?? null,
      byName: (r) => (found = this.store.byName(r.replace(/^\//, '')))?.id ?? null,
      idsByPrefix: (p) => this.store.idsByPrefix(p),
    }, { ambiguous: AMBIGUOUS_PREFIX });
    const row = id && found?.id === id ? found : id ? this.store.get(id) : undefined;
    if (!row) throw new NoSuchContainerError(ref);
    return this.toContainer(row);
  }

  tryGet(ref: string): Container | null {
    try {
      return this.get(ref);
    } catch (e) {
      if (e instanceof DaemonError && e.kind === 'not-found') return null;
      throw e;
    }
  }

  list(): Container[] {
    return this.store.list().map((r) => this.toContainer(r));
  }

  usesImage(imageId: string): Container[] {
    return this.store.usesImage(imageId).map((r) => this.toContainer(r));
  }

  /** DELETE /containers/{parent}/{alias}?link=true (docker rm --link): the parent keeps its other links. */
  removeLink(name: string): Promise<void> {
    const m = /^\/?([^/]+)\/[^/]+$/.exec(name);
    if (!m) throw conflict('Conflict, cannot remove the default link name of the container');
    return this.withContainer(m[1]!, (c) => {
      this.ctx.store.update(c.id, { hostConfig: { ...c.hostConfig, Links: withoutLink(name, c) } });
    });
  }

  /** The full id `ref` names, resolved as get() does, reading only ids (get()'s errors otherwise). */
  private resolveId(ref: string): string {
    const id = resolveRef(ref, {
      byId: (r) => this.store.idOf(r) ?? null,
      byName: (r) => this.store.idByName(r.replace(/^\//, '')) ?? null,
      idsByPrefix: (p) => this.store.idsByPrefix(p),
    }, { ambiguous: AMBIGUOUS_PREFIX });
    if (!id) throw new NoSuchContainerError(ref);
    return id;
  }

  /** Resolves `ref`, takes the container's lock, and runs `fn` on its current row (read once, under the lock). */
  private withContainer<T>(ref: string, fn: (c: Container) => Promise<T> | T): Promise<T> {
    const id = this.resolveId(ref);
    return this.ctx.lock.run(id, () => {
      const c = this.tryGet(id);
      if (!c) throw new NoSuchContainerError(ref);
      return fn(c);
    });
  }

  containerDir(id: string): string {
    return containerDir(this.ctx, id);
  }

  eventAttrs(c: Container, extra: Record<string, string> = {}): Record<string, string> {
    return containerEventAttrs(c, extra);
  }

  // ------------------------------------------------------------ lifecycle

  create(input: CreateInput): Promise<{ id: string; warnings: string[] }> {
    return createContainer(this.ctx, input);
  }

  /** Returns false when already running (the API answers 304). */
  start(ref: string): Promise<boolean> {
    return this.withContainer(ref, (c) => start(this.ctx, c));
  }

  /** Returns false when not running (304). */
  stop(ref: string, opts: StopOptions = {}): Promise<boolean> {
    return this.withContainer(ref, (c) => stop(this.ctx, c, opts));
  }

  kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    return this.withContainer(ref, (c) => kill(this.ctx, c, ref, signal));
  }

  restart(ref: string, opts: StopOptions = {}): Promise<void> {
    return this.withContainer(ref, (c) => restart(this.ctx, c, opts));
  }

  pause(ref: string): Promise<void> {
    return this.withContainer(ref, (c) => pause(this.ctx, c));
  }

  unpause(ref: string): Promise<void> {
    return this.withContainer(ref, (c) => unpause(this.ctx, c));
  }

  remove(ref: string, opts: RemoveOptions = {}): Promise<void> {
    // rm -f of a container whose init is still setting up: kill it, so the start fails and lets go of the lock
    if (opts.force) this.ctx.starting.get(this.get(ref).id)?.abort();
    return this.withContainer(ref, (c) => remove(this.ctx, c, opts));
  }

  /** `until`: only containers created before this time (ms since the epoch). */
  prune(filters: Record<string, string[]> = {}, until?: number): Promise<{ deleted: string[]; reclaimed: number }> {
    return prune(this.ctx, (id) => this.remove(id, {}), filters, until);
  }

  rename(ref: string, newName: string): Promise<void> {
    return this.withContainer(ref, (c) => rename(this.ctx, c, newName));
  }

  /** Live resource update; returns warnings. */
  update(ref: string, resources: Resources, restartPolicy?: HostConfig['RestartPolicy'], hostFields: Partial<HostConfig> = {}): Promise<string[]> {
    return this.withContainer(ref, (c) => update(this.ctx, c, resources, restartPolicy, hostFields));
  }

  /**
   * Returns a promise for the wait body. The promise itself is returned
   * synchronously after validation so the route can flush headers first.
   */
  wait(ref: string, condition = 'not-running'): { result: Promise<WaitResult>; cancel(): void } {
    const cond = parseWaitCondition(condition);
    if (!cond) throw invalidParameter(`invalid condition: "${condition}"`);
    const c = this.tryGet(ref);
    if (!c) {
      const gone = this.ctx.waiters.waitRemoved(ref);
      if (gone) return gone;
    }
    return this.ctx.waiters.wait(c ?? this.get(ref), cond);
  }

  // ------------------------------------------------------------ what a container shows

  top(ref: string, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
    return top(this.ctx, this.get(ref), psArgs);
  }

  /** The cgroup's counters, and per-interface network counters for a container with its own network namespace. */
  stats(ref: string): { c: Container; stats: CgroupStats | null; networks?: Record<string, InterfaceStats> } {
    const c = this.get(ref);
    const s = stats(this.ctx, c);
    const ownNetns = !['host', 'none'].includes(c.hostConfig.NetworkMode) && !c.hostConfig.NetworkMode.startsWith('container:');
    return { c, stats: s, networks: s && ownNetns && c.pid ? interfaceStats(c.pid) : undefined };
  }

  resize(ref: string, rows: number, cols: number): void {
    resize(this.ctx, this.get(ref), rows, cols);
  }

  /** The stdio hub an attach connects to; created early for a container that has not started yet. */
  attachHub(ref: string): { c: Container; hub: StdioHub } {
    const c = this.get(ref);
    return { c, hub: attachHub(this.ctx, c) };
  }

  logs(ref: string, opts: LogsOptions): { c: Container; entries: AsyncGenerator<LogEntry> } {
    const c = this.get(ref);
    return { c, entries: logs(this.ctx, c, opts) };
  }

  rootfsOf(c: Container): RootfsMount {
    return rootfsOf(this.ctx, c);
  }

  /** Runs fn with the container's rootfs mounted (mounting it for the duration when stopped). */
  withRootfs<T>(ref: string, fn: (root: string, c: Container, m: RootfsMount) => Promise<T> | T): Promise<T> {
    return withRootfs(this.ctx, this.get(ref), fn);
  }

  /** docker cp: the container's filesystem as dockerd shows it, for the duration of fn (inspect.ts withContainerFs). */
  withContainerFs<T>(ref: string, fn: (cfs: ContainerFs, c: Container) => Promise<T> | T): Promise<T> {
    return withContainerFs(this.ctx, this.get(ref), fn);
  }

  /** SizeRw (the writable layer) and SizeRootFs (it plus the image's layers), as `ps -s` and inspect -s show them. */
  sizes(c: Container): { rw: number; rootFs: number } {
    return sizes(this.ctx, c);
  }

  imageOf(c: Container): ImageForContainer | null {
    return this.ctx.images.byId(c.imageId, c.layer);
  }

  /** docker diff: the changes of the writable layer against the image. */
  changes(c: Container): Change[] {
    const img = this.imageOf(c);
    return img ? this.ctx.images.changes?.(this.rootfsOf(c), img) ?? [] : [];
  }

  exportRootfs(root: string): Readable {
    if (!this.ctx.images.exportRootfs) throw invalidParameter('export is not available');
    return this.ctx.images.exportRootfs(root);
  }

  /** docker commit: a new image from the writable layer (the caller pauses the container if asked). */
  commit(c: Container, req: CommitRequest): Promise<string> {
    if (!this.ctx.images.commit) throw invalidParameter('commit is not available');
    const m = this.rootfsOf(c); // throws when the image is gone
    return this.ctx.images.commit(m, this.imageOf(c)!, { ...req, containerId: c.id, containerConfig: c.config as unknown as Record<string, unknown> });
  }

  // ------------------------------------------------------------ exec, networks

  execCreate(ref: string, cfg: ExecConfig): string {
    const c = this.get(ref);
    canExec(c, this.ctx.live.has(c.id));
    return this.execs.create(c, cfg);
  }

  /** For POST /networks/{id}/connect and /disconnect. */
  networkOps(): { connect(ref: string, networkId: string, cfg: ConnectConfig): Promise<void>; disconnect(ref: string, networkId: string, force: boolean): Promise<void> } {
    const networked = async (ref: string, fn: (c: Container) => Promise<void>): Promise<void> => {
      if (!this.ctx.network) throw notFound('networking is not available');
      return this.withContainer(ref, fn);
    };
    return {
      connect: (ref, networkId, cfg) => networked(ref, (c) => connect(this.ctx, c, networkId, cfg)),
      disconnect: (ref, networkId) => networked(ref, (c) => disconnect(this.ctx, c, networkId)),
    };
  }

  // ------------------------------------------------------------ boot and shutdown

  reconcile(): Promise<void> {
    return reconcile(this.ctx, (id) => this.start(id));
  }

  /** Daemon shutdown: stop every running container (as dockerd does without live-restore). */
  shutdown(): Promise<void> {
    return shutdown(this.ctx);
  }
}
