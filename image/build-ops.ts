// The image side of docker build (moby's builder backend: CreateImage,
// CommitBuildStep and image.NewChildImage): an image config recorded as is
// (steps that change only the config, cache restores), and an upper dir
// committed as a child image whose layer is dropped when it holds no change,
// with the history entry Docker writes. Plus what the build cache asks of
// images: are they still needed by anything else, and what do they weigh.
import fs from 'node:fs';
import path from 'node:path';
import { chainIds, sha256 } from './digest.js';
import { packDir } from './archive.js';
import { register, short, type ImageContext } from './context.js';
import type { DeleteResult, ImageConfigJson, ImageRunConfig } from './types.js';
import { hostPlatform } from './platform.js';

/** The diff ID of an empty tar (1024 zero bytes): a step that changed nothing (Docker's layer.EmptyLayer). */
export const EMPTY_LAYER_DIFF_ID = sha256(Buffer.alloc(1024));

export interface ChildImage {
  config: ImageRunConfig;
  containerConfig: ImageRunConfig;
  containerId: string;
  author: string;
  dockerVersion: string;
}

/** Records an image config whose layers are all present. */
export function createImage(ctx: ImageContext, config: ImageConfigJson, parentId: string): string {
  return register(ctx, Buffer.from(JSON.stringify(config)), null, parentId).id;
}

/**
 * A child of `parentId` ('' = scratch) with the changes in `upperdir` (an overlay
 * upper dir, or a plain directory for scratch) as its top layer.
 */
export async function commitChild(ctx: ImageContext, upperdir: string, parentId: string, child: ChildImage): Promise<string> {
  const base: ImageConfigJson = parentId
    ? ctx.load(parentId).config
    : { architecture: ctx.platform.architecture || hostPlatform().architecture, os: ctx.platform.os || 'linux', rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  const staged = await ctx.layers.stage(packDir(upperdir, { overlayWhiteouts: true, xattrs: true }));
  let diffIds = [...(base.rootfs?.diff_ids ?? [])];
  const empty = staged.diffId === EMPTY_LAYER_DIFF_ID;
  if (empty) {
    fs.rmSync(staged.tmp, { recursive: true, force: true });
  } else {
    diffIds = [...diffIds, staged.diffId];
    const chains = chainIds(diffIds);
    ctx.layers.commit(staged, chains[chains.length - 1]!, chains.length > 1 ? chains[chains.length - 2]! : null, null);
  }
  const created = new Date().toISOString();
  const createdBy = (child.containerConfig.Cmd ?? []).join(' ');
  const cfg: ImageConfigJson = {
    architecture: base.architecture,
    ...(base.variant ? { variant: base.variant } : {}),
    config: child.config,
    container: child.containerId,
    container_config: child.containerConfig,
    created,
    docker_version: child.dockerVersion,
    ...(child.author ? { author: child.author } : {}),
    history: [...(base.history ?? []), { created, ...(child.author ? { author: child.author } : {}), created_by: createdBy, ...(empty ? { empty_layer: true } : {}) }],
    os: base.os,
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...(base['os.version'] ? { 'os.version': base['os.version'] } : {}),
    ...(base['os.features'] ? { 'os.features': base['os.features'] } : {}),
  };
  return createImage(ctx, cfg, parentId);
}

/** Images built on `id` (their recorded parent). */
export function childrenOf(ctx: ImageContext, id: string): string[] {
  return ctx.images.childrenOf(id);
}

/**
 * Is the image needed by something other than the build cache: tagged, used by
 * a container, or an ancestor of such an image? (Then pruning the cache frees
 * nothing of it.)
 */
export function isShared(ctx: ImageContext, id: string, memo = new Map<string, boolean>()): boolean {
  const known = memo.get(id);
  if (known !== undefined) return known;
  memo.set(id, false);
  const r = ctx.images.tagsOf(id).length > 0 || ctx.images.digestsOf(id).length > 0 || !!ctx.usage(id)
    || ctx.images.childrenOf(id).some((c) => isShared(ctx, c, memo));
  memo.set(id, r);
  return r;
}

/** The size of the layer the image's last step added (0 for a config-only step). */
export function ownLayerSize(ctx: ImageContext, id: string): number {
  const img = ctx.load(id);
  const hist = img.config.history ?? [];
  if (!hist.length || hist[hist.length - 1]!.empty_layer) return 0;
  return img.layers[img.layers.length - 1]?.size ?? 0;
}

/**
 * Deletes an image nothing else needs (untagged, no container, no child image),
 * then its parent if that became unneeded too, and collects the layers left
 * without an image. `keep` says which images must stay (still cached).
 */
export function removeUnreferenced(ctx: ImageContext, id: string, keep: (id: string) => boolean): DeleteResult[] {
  const out: DeleteResult[] = [];
  let cur: string | null = id;
  while (cur) {
    const row = ctx.images.get(cur);
    if (!row || keep(cur) || ctx.images.tagsOf(cur).length || ctx.images.digestsOf(cur).length || ctx.usage(cur) || ctx.images.childrenOf(cur).length) break;
    ctx.images.remove(cur);
    out.push({ Deleted: cur });
    ctx.publish('delete', cur, { name: cur });
    ctx.log.debug({ image: short(cur) }, 'build cache image removed');
    cur = row.parent || null;
  }
  for (const l of ctx.layers.collect()) out.push({ Deleted: l });
  return out;
}

/** A writable layer's directories for the builder: <dataRoot>/builder/layers/<random>. */
export function layerDirs(ctx: ImageContext): string {
  const dir = path.join(ctx.dataRoot, 'builder', 'layers');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return fs.mkdtempSync(path.join(dir, 'rw-'));
}
