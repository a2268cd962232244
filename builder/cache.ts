// The build cache. A step is a cache hit when a previous build ran the same
// step on the same parent image: same run config (whose Cmd carries the
// instruction, the build args in scope as `|N K=v`, and for COPY/ADD the
// content checksum of the sources), same platform. The key is a digest of
// exactly that; the index maps it to the image the step produced.
//
// With `cachefrom` images, Docker's rules apply instead: a local hit counts only
// when it is one of those images or an ancestor of one, and otherwise a step
// matches a cache-from image whose history so far equals the current image's
// and whose next history entry was created by the same Cmd; that history entry
// (and its layer) then becomes a new local image, and the last one is the
// cache-from image itself (dockerd's image/cache).
import crypto from 'node:crypto';
import type { BuildBackend, BuildCacheIndex, BuildImage, HistoryEntry, ImageConfig, RunConfig } from './types.js';

export interface Platform { os: string; architecture: string; variant?: string }

/** JSON with object keys sorted, so equal configs give equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

const keysOf = (m: Record<string, unknown> | null | undefined): string[] => Object.keys(m ?? {}).sort();

/** The cache key of a step: its parent image, the config it runs with, the platform. */
export function cacheKey(parentId: string, c: RunConfig, p: Platform): string {
  const material = {
    v: 1,
    parent: parentId,
    platform: `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`,
    cmd: c.Cmd ?? null,
    entrypoint: c.Entrypoint ?? null,
    env: c.Env ?? [],
    user: c.User ?? '',
    workdir: c.WorkingDir ?? '',
    labels: c.Labels ?? {},
    exposed: keysOf(c.ExposedPorts),
    volumes: keysOf(c.Volumes),
    shell: c.Shell ?? null,
    onbuild: c.OnBuild ?? null,
    stopsignal: c.StopSignal ?? '',
    healthcheck: c.Healthcheck ?? null,
    tty: !!c.Tty,
    openStdin: !!c.OpenStdin,
    argsEscaped: !!c.ArgsEscaped,
  };
  return 'sha256:' + crypto.createHash('sha256').update(canonicalJson(material)).digest('hex');
}

const historyEqual = (a: HistoryEntry, b: HistoryEntry): boolean => canonicalJson(a) === canonicalJson(b);

/** Is `parent` (null: scratch) a prefix of `img` in history and layers? (dockerd's isValidParent) */
export function isValidParent(img: ImageConfig, parent: ImageConfig | null): boolean {
  const ih = img.history ?? [];
  if (ih.length === 0) return false;
  const ph = parent?.history ?? [];
  const pd = parent?.rootfs?.diff_ids ?? [];
  if (!parent || (ph.length === 0 && pd.length === 0)) return true;
  if (ph.length >= ih.length) return false;
  const id = img.rootfs?.diff_ids ?? [];
  if (pd.length > id.length) return false;
  return ph.every((h, i) => historyEqual(h, ih[i]!)) && pd.every((d, i) => d === id[i]);
}

/** The diff ID of the layer history entry `index` created, or '' for an empty layer. */
export function layerForHistoryIndex(img: ImageConfig, index: number): string {
  let layer = 0;
  const hist = img.history ?? [];
  for (let i = 0; i < hist.length; i++) {
    if (i === index) {
      if (hist[i]!.empty_layer) return '';
      break;
    }
    if (!hist[i]!.empty_layer) layer++;
  }
  return img.rootfs.diff_ids[layer] ?? '';
}

export interface ProbeResult { imageId: string }

/**
 * Answers "was this step built before?" for one build. `noCache` turns every
 * answer into no; `cacheFrom` switches to Docker's cache-from rules.
 */
export class CacheProber {
  private sources: BuildImage[];
  constructor(
    private readonly backend: Pick<BuildBackend, 'findImage' | 'createImage'>,
    private readonly index: BuildCacheIndex,
    private readonly o: { noCache: boolean; cacheFrom: BuildImage[]; dockerVersion: string },
  ) {
    this.sources = [...o.cacheFrom];
  }

  /** Each stage starts over with every cache-from image (dockerd's Reset). */
  reset(): void {
    this.sources = [...this.o.cacheFrom];
  }

  probe(parent: BuildImage, cfg: RunConfig, platform: Platform, runConfig: RunConfig): string | null {
    if (this.o.noCache) return null;
    const key = cacheKey(parent.id, cfg, platform);
    const local = this.localHit(key);
    if (!this.o.cacheFrom.length) return local;
    if (local && this.sources.some((s) => this.isAncestor(local, s))) return local;
    return this.fromSources(parent, cfg, runConfig, key);
  }

  /** Remembers what a step produced. */
  record(parent: BuildImage, cfg: RunConfig, platform: Platform, imageId: string, description: string): void {
    if (this.o.noCache && !imageId) return;
    this.index.record({ key: cacheKey(parent.id, cfg, platform), parentId: parent.id, imageId, description });
  }

  private localHit(key: string): string | null {
    const id = this.index.lookup(key);
    if (!id) return null;
    if (!this.backend.findImage(id)) {
      this.index.forget(key);
      return null;
    }
    return id;
  }

  /** Is `id` the image `top` or one of the images it was built on? */
  private isAncestor(id: string, top: BuildImage): boolean {
    let cur: BuildImage | null = top;
    for (let hops = 0; cur && hops < 1000; hops++) {
      if (cur.id === id) return true;
      cur = cur.parent ? this.backend.findImage(cur.parent) : null;
    }
    return false;
  }

  private fromSources(parent: BuildImage, cfg: RunConfig, runConfig: RunConfig, key: string): string | null {
    const pc = parent.id ? parent.config : null;
    const n = pc?.history?.length ?? 0;
    const createdBy = (cfg.Cmd ?? []).join(' ');
    for (const target of this.sources) {
      const th = target.config.history ?? [];
      if (!isValidParent(target.config, pc) || th[n]?.created_by !== createdBy) continue;
      if (th.length - 1 === n) {
        this.index.record({ key, parentId: parent.id, imageId: target.id, description: createdBy });
        return target.id;
      }
      const layer = layerForHistoryIndex(target.config, n);
      const history = [...(pc?.history ?? []), th[n]!];
      const config: ImageConfig = {
        architecture: target.config.architecture,
        os: target.config.os,
        ...(target.config.variant ? { variant: target.config.variant } : {}),
        author: target.config.author ?? '',
        config: runConfig,
        created: th[n]!.created,
        docker_version: this.o.dockerVersion,
        history,
        rootfs: { type: 'layers', diff_ids: [...(pc?.rootfs?.diff_ids ?? []), ...(layer ? [layer] : [])] },
      };
      const id = this.backend.createImage(config, parent.id);
      this.sources = [target]; // stay on this cache-from image for the rest of the stage
      this.index.record({ key, parentId: parent.id, imageId: id, description: createdBy });
      return id;
    }
    return null;
  }
}
