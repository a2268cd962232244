// What every image operation (pull, push, store ops, archive I/O, rootfs) works
// over: the stores, the layer files, resolution, and the record-keeping steps they
// share (register an image, commit staged layers, tag). The service builds one.
import fs from 'node:fs';
import type { ImageStore, LayerStore } from '../store/index.js';
import { DaemonError, type ErrorKind } from '../errors/index.js';
import type { Syscalls } from '../sys/index.js';
import { InvalidDigestError, chainIds, parseDigest, sha256 } from './digest.js';
import type { LayerFiles, StagedLayer } from './layer-store.js';
import type { Platform } from './platform.js';
import { parseReference, referenceString, withDefaultTag, type Reference } from './reference.js';
import { RegistryClient } from './registry/client.js';
import type { ContainerUsage, Image, ImageConfigJson, InflightPull, RegistryAuth } from './types.js';

export interface EventSink {
  publish(type: 'image', action: string, id: string, attributes?: Record<string, string>): unknown;
}
export interface Log { info(o: unknown, m?: string): void; warn(o: unknown, m?: string): void; debug(o: unknown, m?: string): void }

export interface ImageContext {
  readonly images: ImageStore;
  readonly layerRows: LayerStore;
  readonly layers: LayerFiles;
  readonly sys: Syscalls;
  readonly dataRoot: string;
  readonly log: Log;
  readonly insecure: string[];
  readonly platform: Platform;
  /** layers downloaded at once */
  readonly concurrency: number;
  readonly usage: ContainerUsage;
  /** pulls in progress, by image and platform: a second client joins instead of pulling again */
  readonly pulls: Map<string, InflightPull>;
  publish(action: string, id: string, attrs?: Record<string, string>): void;
  /** the image with this full ID (throws when absent) */
  load(id: string): Image;
  /** by name[:tag], name@digest, ID or ID prefix; Docker's `No such image` otherwise */
  resolveImage(refOrId: string): Image;
}

/** The 12 hex characters Docker shows for a digest or an ID, whatever its algorithm. */
export const short = (id: string): string => id.replace(/^[a-z0-9]+:/, '').slice(0, 12);

/** Records an image whose layers are all committed. Returns its ID. */
export function register(ctx: ImageContext, configBytes: Buffer, manifest: string | null, parent = ''): { id: string; isNew: boolean } {
  const id = sha256(configBytes);
  const config = JSON.parse(configBytes.toString('utf8')) as ImageConfigJson;
  const chains = chainIds(config.rootfs?.diff_ids ?? []);
  for (const c of chains) if (!ctx.layers.has(c)) throw new DaemonError('system', 'TSD_ERR_LAYER_MISSING', `layer ${c} is missing`);
  const size = chains.reduce((n, c) => n + (ctx.layerRows.get(c)?.size ?? 0), 0);
  const isNew = ctx.images.insert({ id, config: configBytes.toString('utf8'), manifest, created: config.created ?? new Date(0).toISOString(), size, parent, addedAt: Date.now() }, chains);
  return { id, isNew };
}

/** Commits staged layers in order (bottom first). Staged entries may be null (already present). */
export function commitLayers(ctx: ImageContext, diffIds: string[], staged: Array<StagedLayer | null>, blobDigests: Array<string | null>): void {
  const chains = chainIds(diffIds);
  chains.forEach((c, i) => {
    const s = staged[i];
    if (s) ctx.layers.commit(s, c, i === 0 ? null : chains[i - 1]!, blobDigests[i] ?? null);
  });
}

export function dropStaged(staged: Array<StagedLayer | null>): void {
  for (const s of staged) if (s) fs.rmSync(s.tmp, { recursive: true, force: true });
}

/** Points `ref` (a normalized reference string) at `id`. */
export function setTag(ctx: ImageContext, ref: Reference, id: string): void {
  const full = referenceString(withDefaultTag({ ...ref, digest: undefined }));
  ctx.images.setTag(full, id);
}

/**
 * An image config's diff IDs, each checked to be a sha256 digest before it names anything:
 * chain IDs (the first one is the first diff ID) become layer directory names.
 */
export function diffIdsOf(config: ImageConfigJson, kind: ErrorKind = 'system'): string[] {
  const ids = (config as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids ?? [];
  if (!Array.isArray(ids)) throw new DaemonError(kind, 'TSD_ERR_BAD_MANIFEST', 'invalid image config: rootfs.diff_ids is not a list');
  for (const d of ids) {
    if (parseDigest(d, 'diff ID', kind).algorithm !== 'sha256') throw new InvalidDigestError(`diff ID ${JSON.stringify(d)}: unsupported digest algorithm`, d, kind);
  }
  return ids as string[];
}

export function registryClient(ctx: ImageContext, domain: string, auth: RegistryAuth): RegistryClient {
  return new RegistryClient(domain, auth, { insecureRegistries: ctx.insecure });
}

export function safeParse(s: string): Reference | null {
  try {
    return parseReference(s);
  } catch {
    return null;
  }
}
