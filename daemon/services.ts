// The contract between the API and the daemon: one backend per resource, as
// moby's router/*/backend.go, and Services, what the daemon hands the API.
// ContainerService, ImageService, VolumeService, SystemService and the network
// controller implement them; daemon/daemon.ts checks that where it builds them.
import type { Readable } from 'node:stream';
import type { CgroupMode } from '../cgroupfs/index.js';
import type { BuildCache, Builder } from '../builder/index.js';
import type { ImageService } from '../image/index.js';
import type { InterfaceStats, NetworkController } from '../netctl/index.js';
import type { DaemonConfig } from './config.js';
import type { EventBus } from './events.js';
import type { SystemService } from './system.js';
import type { VolumeService } from './volumes.js';
import type { StdioHub } from './stdio.js';
import type { LogEntry } from './logs/index.js';
import type { CgroupStats } from '../cgroupfs/index.js';
import type { CreateInput } from './containers/create.js';
import type { ExecConfig, ExecSession } from './containers/exec.js';
import type { LogsOptions } from './containers/inspect.js';
import type { RemoveOptions } from './containers/remove.js';
import type { StopOptions } from './containers/stop.js';
import type { WaitResult } from './containers/state.js';
import type { Change, ImageForContainer, Resources, RootfsMount } from './containers/ports.js';
import type { CommitRequest } from './containers/service.js';
import type { Container, HostConfig } from './containers/types.js';
import type { ContainerFs } from './containers/archive.js';

/** The container routes' backend: lifecycle, inspection, attach, copy, commit (moby's container router backends). */
export interface ContainerBackend {
  /** Name (with or without '/'), full id, or unique id prefix; NoSuchContainer otherwise. */
  get(ref: string): Container;
  list(): Container[];
  /** SizeRw and SizeRootFs */
  sizes(c: Container): { rw: number; rootFs: number };
  containerDir(id: string): string;
  imageOf(c: Container): ImageForContainer | null;
  eventAttrs(c: Container, extra?: Record<string, string>): Record<string, string>;

  create(input: CreateInput): Promise<{ id: string; warnings: string[] }>;
  /** false: already running (304) */
  start(ref: string): Promise<boolean>;
  /** false: not running (304) */
  stop(ref: string, opts?: StopOptions): Promise<boolean>;
  restart(ref: string, opts?: StopOptions): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  remove(ref: string, opts?: RemoveOptions): Promise<void>;
  prune(filters?: Record<string, string[]>, until?: number): Promise<{ deleted: string[]; reclaimed: number }>;
  rename(ref: string, newName: string): Promise<void>;
  /** docker rm --link: a parent's link by its alias ("/parent/alias") */
  removeLink(name: string): Promise<void>;
  /** live resources and restart policy; returns warnings */
  update(ref: string, resources: Resources, restartPolicy?: HostConfig['RestartPolicy'], hostFields?: Partial<HostConfig>): Promise<string[]>;
  /** validated and registered synchronously, so the route can flush its headers before the result */
  wait(ref: string, condition?: string): { result: Promise<WaitResult>; cancel(): void };

  top(ref: string, psArgs?: string): Promise<{ Titles: string[]; Processes: string[][] }>;
  stats(ref: string): { c: Container; stats: CgroupStats | null; networks?: Record<string, InterfaceStats> };
  logs(ref: string, opts: LogsOptions): { c: Container; entries: AsyncGenerator<LogEntry> };
  attachHub(ref: string): { c: Container; hub: StdioHub };
  resize(ref: string, rows: number, cols: number): void;

  /** the container's overlay as planned (not mounted) */
  rootfsOf(c: Container): RootfsMount;
  /** runs fn with the rootfs mounted (for the duration, when stopped) */
  withRootfs<T>(ref: string, fn: (root: string, c: Container, m: RootfsMount) => Promise<T> | T): Promise<T>;
  /** docker cp: the container's filesystem as dockerd shows it (fd-relative, rootfs/), for the duration of fn */
  withContainerFs<T>(ref: string, fn: (cfs: ContainerFs, c: Container) => Promise<T> | T): Promise<T>;
  /** docker diff: the changes of the writable layer */
  changes(c: Container): Change[];
  /** docker export: a tar of a mounted rootfs */
  exportRootfs(root: string): Readable;
  /** docker commit: a new image from the writable layer; returns its id */
  commit(c: Container, req: CommitRequest): Promise<string>;

  execCreate(ref: string, cfg: ExecConfig): string;
  readonly execs: ExecBackend;
  /** for POST /networks/{id}/connect and /disconnect */
  networkOps(): NetworkContainerOps;
}

export interface ExecBackend {
  get(id: string): ExecSession;
  /** starts the process; the caller attaches to the returned hub */
  start(id: string, opts: { tty?: boolean; detach?: boolean }): Promise<{ session: ExecSession; hub: StdioHub }>;
  resize(id: string, rows: number, cols: number): void;
  idsOf(containerId: string): string[];
}

export interface NetworkContainerOps {
  /** Connect a container (name, id or prefix) to a network (its id). */
  connect(containerRef: string, networkId: string, cfg: { aliases: string[]; ipv4?: string; mac?: string; driverOpts?: Record<string, string> }): Promise<void>;
  disconnect(containerRef: string, networkId: string, force: boolean): Promise<void>;
}

export type ImageBackend = Pick<ImageService,
  'findImage' | 'resolveImage' | 'list' | 'history' | 'tag' | 'remove' | 'prune' | 'save' | 'loadArchive' | 'importTar' | 'preparePull' | 'preparePush' | 'distribution'>;

export type VolumeBackend = Pick<VolumeService, 'create' | 'inspect' | 'list' | 'remove' | 'prune' | 'usage'>;

export type NetworkBackend = NetworkController;

export type SystemBackend = Pick<SystemService, 'facts' | 'df' | 'containerCounts' | 'imageCount'>;

/** GET /metrics: Prometheus text exposition. */
export interface MetricsBackend {
  contentType: string;
  render(): Promise<string>;
}

/** GET /containers/{id}/primitives: the container as the kernel objects it is made of. */
export interface PrimitivesBackend {
  read(ref: string, opts: { windowSeconds: number }): Promise<unknown>;
}

/** What the daemon hands the API. Services other than system are optional, so a test can serve only the part it exercises. */
export interface Services {
  config: DaemonConfig;
  events: EventBus;
  system: SystemBackend;
  /** Long-lived responses register a function that ends them at daemon shutdown; returns the unregister function. */
  onShutdown(fn: () => void | Promise<void>): () => void;
  containers?: ContainerBackend;
  images?: ImageBackend;
  volumes?: VolumeBackend;
  networks?: NetworkBackend;
  /** the host's cgroup mode, for translating resource limits */
  cgroupMode?: CgroupMode;
  metrics?: MetricsBackend;
  primitives?: PrimitivesBackend;
  /** docker build (the classic builder) and its cache (build prune, system df) */
  builder?: Builder;
  buildCache?: BuildCache;
  /** live restore in effect now: configured, and its holder connected (docker info's LiveRestoreEnabled) */
  liveRestore?: () => boolean;
}
