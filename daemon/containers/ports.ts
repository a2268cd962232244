// What the container service needs from the other subsystems, as narrow
// interfaces. daemon/daemon.ts adapts the real implementations to them; tests
// may pass fakes for the parts that cannot run in a unit test.
import type { Readable } from 'node:stream';
import type { Process, Runtime, Task } from '../../runtime/index.js';
import type { FreezerState, Resources } from '../../cgroupfs/index.js';
import type { NetworkController } from '../../netctl/index.js';
import type { Container, ContainerView } from './types.js';

/** The parts of an image a container is made of. */
export interface ImageForContainer {
  id: string;
  /** The image's runtime config (OCI `config`): Env, Cmd, Entrypoint, WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal, Healthcheck. */
  runConfig: {
    User?: string; Env?: string[]; Cmd?: string[] | null; Entrypoint?: string[] | null; WorkingDir?: string;
    Labels?: Record<string, string> | null; ExposedPorts?: Record<string, object> | null; Volumes?: Record<string, object> | null;
    StopSignal?: string; Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  };
  /** Layer directories, bottom first. */
  layerDirs: string[];
  /** The top layer's chain ID (null: no layers): the container's row holds it, so the layer store keeps the chain while the container exists. */
  topLayer?: string | null;
}

export interface RootfsMount {
  /** The overlay mount point. */
  target: string;
  upperdir: string;
  workdir: string;
  lowerdirs: string[];
}

export interface ImagePort {
  /** By name, digest reference or (short) id; throws NoSuchImageError. */
  resolve(ref: string): ImageForContainer;
  /**
   * The image a container was made from, by its full id; once that image is removed (rmi -f while the
   * container was stopped), the layer chain the container holds (`layer`, its row's) with an empty config.
   * null when neither is there.
   */
  byId(id: string, layer?: string | null): ImageForContainer | null;
  /** A container holding `layer` went: collect its image's layers if nothing else uses them (the image is gone). */
  released?(imageId: string, layer: string | null | undefined): void;
  /** Plans the container's overlay dirs under containerDir and creates upper/work (nothing mounted). */
  prepareRootfs(containerDir: string, image: ImageForContainer): RootfsMount;
  mountRootfs(m: RootfsMount): void;
  unmountRootfs(target: string): void;
  /** docker diff: changes in the upper dir. */
  changes?(m: RootfsMount, image: ImageForContainer): Change[];
  /** docker export: a tar of the mounted rootfs. */
  exportRootfs?(target: string): Readable;
  /** docker commit: a new image from the upper dir. */
  commit?(m: RootfsMount, base: ImageForContainer, opts: { config: Record<string, unknown>; author: string; comment: string; repo?: string; tag?: string; changes: string[]; containerId: string; containerConfig: Record<string, unknown> }): Promise<string>;
}

/** One entry of docker diff: Kind 0 modified, 1 added, 2 deleted. */
export interface Change { Path: string; Kind: number }

/** The runtime: one launch per start (it makes the task's cgroup), and the leftovers of a crash. */
export type RuntimePort = Pick<Runtime, 'launch' | 'removeLeftovers'> & Partial<Pick<Runtime, 'adopt'>>;

export type NetworkPort = NetworkController;
export type { FreezerState, Process, Resources, Task };

/**
 * What exec sessions and health checks need of the containers: a lookup, and the
 * task of a running one. Narrower than the service, so neither imports it.
 */
export interface ContainerLookup {
  get(ref: string): Container;
  tryGet(ref: string): Container | null;
  /** by full id, to read only (the store's shared parse, ContainerView); null when gone */
  view(id: string): ContainerView | null;
  /** the running task of a container, for an exec to join; null without one */
  task(id: string): Task | null;
}
