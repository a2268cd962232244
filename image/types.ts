// Contracts of the image subsystem: the image model, the rootfs plan for a
// container, progress events and the service the daemon and API use.
import type { Readable } from 'node:stream';

/** The runtime part of an image config (OCI `config` object). */
export interface ImageRunConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  OnBuild?: string[] | null;
  Shell?: string[];
  ArgsEscaped?: boolean;
  [k: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The OCI/Docker image config JSON (what the image ID is the digest of). */
export interface ImageConfigJson {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  comment?: string;
  docker_version?: string;
  config?: ImageRunConfig;
  container_config?: ImageRunConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [k: string]: unknown;
}

export interface LayerInfo {
  chainId: string;
  diffId: string;
  /** uncompressed size in bytes */
  size: number;
  /** the compressed blob digest it came from, when known */
  blobDigest: string | null;
  /** <dataRoot>/layers/<chain hex>/diff */
  dir: string;
}

export interface Image {
  id: string;
  config: ImageConfigJson;
  /** runtime config (never undefined; fields may be) */
  runConfig: ImageRunConfig;
  /** bottom first */
  layers: LayerInfo[];
  /** layer dirs, bottom first */
  layerDirs: string[];
  repoTags: string[];
  repoDigests: string[];
  created: string;
  size: number;
  parent: string;
  addedAt: number;
  lastTagTime: string | null;
}

/** Everything needed to mount a container's rootfs; pure data. */
export interface RootfsPlan {
  /** topmost first, as overlayfs wants them (short symlinked paths) */
  lowerdirs: string[];
  upperdir: string;
  workdir: string;
  target: string;
  /** the overlay mount data string */
  mountOptions: string;
  /** set when mountOptions holds paths relative to this dir (too many layers for absolute paths) */
  cwd?: string;
}

export interface ProgressEvent {
  /** short layer id, or a tag */
  id?: string;
  status: string;
  current?: number;
  total?: number;
  aux?: Record<string, unknown>;
}
export type ProgressFn = (e: ProgressEvent) => void;

export interface RegistryAuth {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface Change {
  Path: string;
  /** 0 modified, 1 added, 2 deleted */
  Kind: 0 | 1 | 2;
}

/** A container that holds an image; given by the container service. */
export type ContainerUsage = (imageId: string) => { containerId: string; running: boolean } | boolean | null;

export interface DeleteResult {
  Untagged?: string;
  Deleted?: string;
}

export interface ListOptions {
  all?: boolean;
  filters?: Record<string, string[]>;
}

export interface CommitOptions {
  /** the container's overlay upper dir */
  upperdir: string;
  /** the image the container was created from */
  baseImageId: string;
  config?: Partial<ImageRunConfig>;
  /** Dockerfile-like changes: ["ENV A=b", "CMD [\"sh\"]"] */
  changes?: string[];
  author?: string;
  comment?: string;
  /** optional repo[:tag] to tag the result as */
  ref?: string;
  containerId?: string;
  containerConfig?: ImageRunConfig;
}

export interface PreparedPull {
  /** the normalized reference being pulled */
  ref: string;
  /**
   * Runs the pull, or joins the same pull already running for another client (it then
   * sees that pull's progress from where it is). Aborting `signal` leaves the pull; the
   * pull itself (every blob download) is cancelled when its last client has left.
   */
  run(progress: ProgressFn, signal?: AbortSignal): Promise<{ imageId: string; digest: string }>;
}

export type ReadableTar = Readable;

/** One pull in progress, shared by every client that asked for the same image (dockerd joins them the same way). */
export interface InflightPull {
  readonly listeners: Set<ProgressFn>;
  /** the latest event per layer (and the opening line), replayed to a client that joins */
  readonly replay: Map<string, ProgressEvent>;
  readonly abort: AbortController;
  done: Promise<PullResult>;
}
export type PullResult = { imageId: string; digest: string };
