// What every image operation (pull, push, store ops, archive I/O, rootfs) works
// over: the stores, the layer files, resolution, and the record-keeping steps they
// share (register an image, commit staged layers, tag). The service builds one.
import fs from 'node:fs';
import type { ImageStore } from '../store/images.js';
import type { LayerStore } from '../store/layers.js';
import { DaemonError } from '../errors/index.js';
import type { Syscalls } from '../sys/index.js';
import { chainIds, hexOf, sha256 } from './digest.js';
import type { LayerFiles, StagedLayer } from './layer-store.js';
import type { Platform } from './platform.js';
import { parseReference, referenceString, withDefaultTag, type Reference } from './reference.js';
import { RegistryClient } from './registry/client.js';
import type { ContainerUsage, Image, ImageConfigJson, RegistryAuth } from './types.js';

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
  publish(action: string, id: string, attrs?: Record<string, string>): void;
  /** the image with this full ID (throws when absent) */
  load(id: string): Image;
  /** by name[:tag], name@digest, ID or ID prefix; Docker's `No such image` otherwise */
  resolveImage(refOrId: string): Image;
}

export const short = (id: string): string => hexOf(id).slice(0, 12);

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
