// The image service: wiring and resolution. It owns the local image store
// (records + layer files), resolves names and IDs, and hands each operation group
// its context, as moby's daemon/images splits ImageService by file:
// pull.ts, push.ts, store-ops.ts (list/tag/rm/prune/history), archive-io.ts
// (save/load/import) and rootfs.ts (container rootfs, diff, export, commit).
import type { Readable } from 'node:stream';
import type { DB } from '../store/index.js';
import { ImageStore } from '../store/index.js';
import { LayerStore } from '../store/index.js';
import { NoSuchImageError, invalidParameter } from '../errors/index.js';
import { AMBIGUOUS_PREFIX, resolveRef } from '../lib/index.js';
import { LinuxSyscalls, type Syscalls } from '../sys/index.js';
import { parseReference, withDefaultTag, referenceString, familiarString, fullName, familiarize, type Reference } from './reference.js';
import { LayerFiles, type SweepResult } from './layer-store.js';
import { hostPlatform, type Platform, type Descriptor } from './platform.js';
import type { EventSink, ImageContext, Log } from './context.js';
import * as pull from './pull.js';
import * as push from './push.js';
import * as ops from './store-ops.js';
import * as archive from './archive-io.js';
import * as rootfs from './rootfs.js';
import * as build from './build-ops.js';
import type {
  Change, CommitOptions, ContainerUsage, DeleteResult, Image, ImageConfigJson, LayerInfo, ListOptions, PreparedPull, ProgressFn,
  RegistryAuth, RootfsPlan,
} from './types.js';

export type { EventSink } from './context.js';
export type { PreparedPush } from './push.js';

export interface ImageServiceOptions {
  db: DB;
  dataRoot: string;
  events?: EventSink;
  log?: Log;
  insecureRegistries?: string[];
  sys?: Syscalls;
  platform?: Platform;
  /** layers downloaded at once */
  concurrency?: number;
  /** which container (if any) uses an image: asked before removing or pruning one */
  containerUsage?: ContainerUsage;
}

const noopLog: Log = { info() {}, warn() {}, debug() {} };

export class ImageService {
  readonly images: ImageStore;
  readonly layerRows: LayerStore;
  readonly layers: LayerFiles;
  readonly sys: Syscalls;
  private readonly ctx: ImageContext;

  constructor(private readonly opts: ImageServiceOptions) {
    this.images = new ImageStore(opts.db);
    this.layerRows = new LayerStore(opts.db);
    this.sys = opts.sys ?? new LinuxSyscalls();
    this.layers = new LayerFiles(opts.dataRoot, this.layerRows, this.sys);
    const events = opts.events;
    this.ctx = {
      images: this.images,
      layerRows: this.layerRows,
      layers: this.layers,
      sys: this.sys,
      dataRoot: opts.dataRoot,
      log: opts.log ?? noopLog,
      insecure: opts.insecureRegistries ?? [],
      platform: opts.platform ?? hostPlatform(),
      concurrency: opts.concurrency ?? 3,
      usage: opts.containerUsage ?? (() => null),
      pulls: new Map(),
      publish: (action, id, attrs = {}) => { events?.publish('image', action, id, attrs); },
      load: (id) => this.load(id),
      resolveImage: (ref) => this.resolveImage(ref),
    };
  }

  get dataRoot(): string {
    return this.opts.dataRoot;
  }

  // ---------------------------------------------------------------- resolution

  /** Finds an image by name[:tag], name@digest, full ID or ID prefix; null if none. */
  findImage(refOrId: string): Image | null {
    const id = this.findId(refOrId);
    return id ? this.load(id) : null;
  }

  /** Full id, name[:tag] or name@digest, then a unique id prefix (with or without sha256:), as moby's GetImage. */
  private findId(refOrId: string): string | null {
    return resolveRef(refOrId.trim(), {
      byId: (r) => (/^sha256:[a-f0-9]{64}$/.test(r) && this.images.get(r) ? r : null),
      byName: (r) => this.byReference(r),
      idsByPrefix: (p) => this.images.findByPrefix(p),
    }, {
      prefixOf: (r) => { const m = /^(?:sha256:)?([a-f0-9]{1,64})$/.exec(r); return m ? `sha256:${m[1]}` : null; },
      ambiguous: AMBIGUOUS_PREFIX,
    });
  }

  /** The image a tag or digest reference points at. */
  private byReference(s: string): string | null {
    let ref: Reference | null = null;
    try {
      ref = parseReference(s);
    } catch {
      return null; // maybe an ID prefix
    }
    return ref.digest
      ? this.images.digestTarget(`${fullName(ref)}@${ref.digest}`) ?? null
      : this.images.tagTarget(referenceString(withDefaultTag(ref))) ?? null;
  }

  private notFoundName(refOrId: string): string {
    try {
      if (/^(sha256:)?[a-f0-9]{1,64}$/.test(refOrId)) return refOrId;
      return familiarString(withDefaultTag(parseReference(refOrId)));
    } catch {
      return refOrId;
    }
  }

  /** The name Docker prints for a missing image (busybox -> busybox:latest). */
  resolveName(refOrId: string): string {
    return this.notFoundName(refOrId);
  }

  /** Like findImage but throws Docker's `No such image: x`. */
  resolveImage(refOrId: string): Image {
    const img = this.findImage(refOrId);
    if (!img) throw new NoSuchImageError(this.notFoundName(refOrId));
    return img;
  }

  /** The image with this full ID. */
  private load(id: string): Image {
    const row = this.images.get(id);
    if (!row) throw new NoSuchImageError(id);
    const config = JSON.parse(row.config) as ImageConfigJson;
    const layers: LayerInfo[] = this.images.layersOf(id).map((c) => this.layers.info(c));
    return {
      id,
      config,
      runConfig: config.config ?? {},
      layers,
      layerDirs: layers.map((l) => l.dir),
      repoTags: this.images.tagsOf(id).map(familiarize),
      repoDigests: this.images.digestsOf(id).map(familiarize),
      created: row.created,
      size: row.size,
      parent: row.parent,
      addedAt: row.addedAt,
      lastTagTime: null,
    };
  }

  count(): number {
    return this.images.count();
  }

  // ---------------------------------------------------------------- operations (one file per group)

  /** Resolves what a pull would fetch, so that failures come before any progress is streamed. `tag` may be a digest. */
  preparePull(fromImage: string, tag: string | undefined, auth: RegistryAuth = {}, platform?: Platform): Promise<PreparedPull> {
    return pull.preparePull(this.ctx, fromImage, tag, auth, platform);
  }

  /** GET /distribution/{name}/json: the descriptor a pull would use, and its platforms. */
  distribution(refStr: string, auth: RegistryAuth = {}): Promise<{ descriptor: Descriptor; platforms: Platform[] }> {
    return pull.distribution(this.ctx, refStr, auth);
  }

  /** Resolves what to push; errors here come before streaming. `tag` empty pushes every tag of the repository. */
  preparePush(name: string, tag: string | undefined, auth: RegistryAuth = {}): push.PreparedPush {
    return push.preparePush(this.ctx, name, tag, auth);
  }

  list(opts: ListOptions = {}): Image[] {
    return ops.list(this.ctx, opts);
  }

  history(refOrId: string): ReturnType<typeof ops.history> {
    return ops.history(this.ctx, refOrId);
  }

  tag(source: string, repo: string, tag?: string): string {
    return ops.tag(this.ctx, source, repo, tag);
  }

  /** DELETE /images/{name}: untag, or delete when no reference remains. */
  remove(refOrId: string, opts: { force?: boolean; noprune?: boolean } = {}): DeleteResult[] {
    return ops.remove(this.ctx, refOrId, opts);
  }

  /** `until`: only images created before this time (ms since the epoch; the API parses Docker's forms). */
  prune(filters: Record<string, string[]> = {}, until: number | null = null): { deleted: DeleteResult[]; spaceReclaimed: number } {
    return ops.prune(this.ctx, filters, until);
  }

  /** docker save: a tarball in the docker-save layout. */
  save(refs: string[]): Readable {
    return archive.save(this.ctx, refs);
  }

  /** docker load: a docker-save or OCI-layout tarball. Returns the "Loaded image: x" lines. */
  loadArchive(input: Readable, progress?: ProgressFn): Promise<string[]> {
    return archive.loadArchive(this.ctx, input, progress);
  }

  /** docker import: a rootfs tarball (plain or gzip) becomes a one-layer image. */
  importTar(input: Readable, opts: archive.ImportOptions = {}): Promise<string> {
    return archive.importTar(this.ctx, input, opts);
  }

  /** The short layer paths (bottom first) used in overlay mounts. */
  shortLayerDirs(image: Pick<Image, 'layers'>): string[] {
    return rootfs.shortLayerDirs(this.ctx, image);
  }

  /** `image`: an image, or a layer chain (layerChain()) a container holds. */
  prepareRootfs(containerId: string, image: Pick<Image, 'layers'>): RootfsPlan {
    return rootfs.prepareRootfs(this.ctx, containerId, image);
  }

  mountRootfs(plan: RootfsPlan): void {
    rootfs.mountRootfs(this.ctx, plan);
  }

  unmountRootfs(target: string): void {
    rootfs.unmountRootfs(this.ctx, target);
  }

  changes(upperdir: string, image: Pick<Image, 'layerDirs'>): Change[] {
    return rootfs.changes(upperdir, image);
  }

  exportRootfs(dir: string): Readable {
    return rootfs.exportRootfs(this.ctx, dir);
  }

  commit(o: CommitOptions): Promise<string> {
    return rootfs.commit(this.ctx, o);
  }

  // ---------------------------------------------------------------- docker build (build-ops.ts)

  /** Records an image config whose layers all exist (a build step that changed only the config). */
  createImage(config: ImageConfigJson, parentId: string): string {
    return build.createImage(this.ctx, config, parentId);
  }

  /** A build step's result: `upperdir`'s changes as a child of `parentId` ('' = scratch), no layer when empty. */
  commitChild(upperdir: string, parentId: string, child: build.ChildImage): Promise<string> {
    return build.commitChild(this.ctx, upperdir, parentId, child);
  }

  /** Tagged, used by a container, or an ancestor of such an image. */
  isShared(id: string, memo?: Map<string, boolean>): boolean {
    return build.isShared(this.ctx, id, memo);
  }

  ownLayerSize(id: string): number {
    return build.ownLayerSize(this.ctx, id);
  }

  /** Deletes `id` and then its parents while nothing needs them (`keep`: still wanted). */
  removeUnreferenced(id: string, keep: (id: string) => boolean = () => false): DeleteResult[] {
    return build.removeUnreferenced(this.ctx, id, keep);
  }

  /** Directories for a writable layer of the builder's (under the data root). */
  builderLayerDir(): string {
    return build.layerDirs(this.ctx);
  }

  /**
   * The chain of layers below and including `top` (bottom first), as a container holds it once its
   * image is removed; null if a layer of it is missing from the store.
   */
  layerChain(top: string): LayerInfo[] | null {
    const out: LayerInfo[] = [];
    let c: string | null = top;
    while (c) {
      const row = this.layerRows.get(c);
      if (!row || out.length > 4096) return null; // missing, or a parent loop (no store this daemon wrote)
      out.unshift({ chainId: c, diffId: row.diffId, size: row.size, blobDigest: row.blobDigest, dir: this.layers.diffDir(c) });
      c = row.parent;
    }
    return out;
  }

  /** Collects layers no image and no container uses. */
  collectLayers(): string[] {
    return this.layers.collect();
  }

  /**
   * At boot, before any other use of the store: removes what a crash left half done (temp
   * extractions, layer rows nothing uses, layer dirs without a row, dangling short links).
   */
  sweep(): SweepResult {
    return this.layers.sweep();
  }
}
