// Contracts of the builder: what a build is asked to do, what it says while it
// runs, and the narrow interface through which it reaches the rest of the
// daemon (images, layers, containers). The daemon's composition root
// implements BuildBackend over its image and container services; the builder
// never imports them.
import type { Readable } from 'node:stream';
import { DaemonError, type ErrorKind } from '../errors/index.js';

/**
 * A container's run config in Docker's field names: the `config` of an image
 * config, and what a step's container is created with. The builder derives one
 * per step from the base image's.
 */
export interface RunConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[] | null;
}

/** Nanoseconds, as Docker's API carries them. */
export interface HealthConfig { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number }

export interface HistoryEntry { created?: string; created_by?: string; author?: string; comment?: string; empty_layer?: boolean }

/** An image config (what the image ID is the digest of). */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  config?: RunConfig;
  container?: string;
  container_config?: RunConfig;
  created?: string;
  docker_version?: string;
  author?: string;
  comment?: string;
  history?: HistoryEntry[];
  rootfs: { type: 'layers'; diff_ids: string[] };
  [k: string]: unknown;
}

/** An image as the builder sees it. The scratch image has id ''. */
export interface BuildImage {
  id: string;
  config: ImageConfig;
  /** the image it was built on, '' if none is recorded */
  parent: string;
}

/** What a step's commit adds to the parent's config (Docker's image.ChildConfig). */
export interface ChildConfig {
  /** the config of the new image */
  config: RunConfig;
  /** the config the step ran with (its Cmd is the history's created_by) */
  containerConfig: RunConfig;
  containerId: string;
  author: string;
}

/** One line of Docker's JSON progress (pulls, downloads). */
export interface ProgressMessage {
  id?: string;
  status: string;
  current?: number;
  total?: number;
}

/** Where a build reports. The API turns these into Docker's JSON message stream. */
export interface BuildOutput {
  /** the build's own log: steps, the output of RUN on stdout */
  stdout(text: string | Buffer): void;
  /** warnings and the output of RUN on stderr */
  stderr(text: string | Buffer): void;
  /** the ID of an image a stage produced */
  aux(imageId: string): void;
  progress(m: ProgressMessage): void;
}

/** A writable layer over an image, mounted at `root` (a path of the daemon's). */
export interface RwLayer {
  root: string;
  /** the overlay upper dir (for scratch, `root` itself) */
  upperdir: string;
  /** Unmounts and removes the layer's directories; idempotent. */
  release(): Promise<void>;
}

/** An image's filesystem mounted read-only at `root` (COPY --from). */
export interface ImageFs {
  root: string;
  release(): Promise<void>;
}

/** Registry credentials by server (X-Registry-Config). */
export type AuthConfigs = Record<string, { username?: string; password?: string; auth?: string; serveraddress?: string; identitytoken?: string; registrytoken?: string }>;

export interface BuildBackend {
  /** A local image by reference or ID; null when there is none. */
  findImage(refOrId: string): BuildImage | null;
  /** Pulls `ref` from its registry, reporting Docker's pull progress. */
  pullImage(ref: string, o: { auth: AuthConfigs; platform?: string; progress: (m: ProgressMessage) => void; signal: AbortSignal }): Promise<BuildImage>;
  /** Records an image config whose layers all exist already. Returns its ID. */
  createImage(config: ImageConfig, parentId: string): string;
  /**
   * A new image on `parent` (the scratch image: id '') with the changes in
   * `upperdir` as its top layer, or no new layer when there are none, and a
   * history entry whose created_by is the step's Cmd (Docker's NewChildImage).
   */
  commitLayer(upperdir: string, parent: BuildImage, child: ChildConfig): Promise<string>;
  /** Normalizes a tag ("x" -> "x:latest"); throws Docker's "invalid reference format". */
  normalizeTag(ref: string): string;
  tag(imageId: string, ref: string): void;
  /** A writable layer over `parent` (scratch: an empty directory). */
  openLayer(parent: BuildImage): Promise<RwLayer>;
  openImageFs(image: BuildImage): Promise<ImageFs>;
  /** Creates a step container on `image` with `config` and the build's limits and network (`template`). */
  createContainer(image: string, config: RunConfig, template: unknown): Promise<{ id: string; warnings: string[] }>;
  /** Starts the container with its output attached and waits for it; `signal` kills it. */
  runContainer(id: string, io: { stdout(b: Buffer): void; stderr(b: Buffer): void }, signal: AbortSignal): Promise<{ exitCode: number; error: string }>;
  /** Commits the container's changes (as commitLayer does with its upper dir). */
  commitContainer(id: string, parent: BuildImage, child: ChildConfig): Promise<string>;
  /** Removes the container (force, with its anonymous volumes). */
  removeContainer(id: string): Promise<void>;
  /** Extracts a context tar into an empty directory of the daemon's, refusing hostile entries. */
  extractContext(tar: Readable, dir: string): Promise<void>;
}

/** The build cache's records: which image a step produced, keyed by what the step depended on. */
export interface BuildCacheIndex {
  lookup(key: string): string | null;
  record(entry: { key: string; parentId: string; imageId: string; description: string }): void;
  /** forget a record whose image is gone */
  forget(key: string): void;
  /** a running build uses this image (prune keeps it) until release() */
  hold?(imageId: string): void;
  release?(imageId: string): void;
}

/** A build request, already translated from Docker's query parameters. */
export interface BuildRequest {
  /** the build context: a tar stream, plain or compressed */
  context: Readable;
  /** path of the Dockerfile inside the context */
  dockerfile: string;
  /** a context the daemon fetches (git or http(s) URL) instead of the body; '' for none */
  remote: string;
  tags: string[];
  noCache: boolean;
  pull: boolean;
  /** remove intermediate containers after each successful step */
  remove: boolean;
  /** remove them always */
  forceRemove: boolean;
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target: string;
  cacheFrom: string[];
  platform: string;
  auth: AuthConfigs;
  /** step containers' HostConfig and resources, opaque to the builder (the backend reads it) */
  runTemplate: unknown;
}

export interface BuildResult {
  imageId: string;
  tags: string[];
}

/**
 * A build failure. Before the first output line it is an HTTP error of its kind;
 * after, an error line in the stream, with `exitCode` (a RUN's exit status) as
 * its code, which the docker CLI exits with.
 */
export class BuildError extends DaemonError {
  constructor(kind: ErrorKind, message: string, readonly exitCode = 0) {
    super(kind, exitCode ? 'TSD_ERR_BUILD_STEP_FAILED' : 'TSD_ERR_BUILD_FAILED', message);
    this.name = 'BuildError';
  }
}
