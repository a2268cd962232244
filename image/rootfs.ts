// Containers' side of images (moby's image_commit.go plus the snapshotter
// calls): the overlay rootfs plan and mount, docker diff, export, and commit of
// an upper dir as a new layer on the container's image.
import path from 'node:path';
import type { Readable } from 'node:stream';
import { parseReference, withDefaultTag } from './reference.js';
import { chainIds } from './digest.js';
import { packDir, changes as diffChanges, applyChanges } from './archive.js';
import { planRootfs, mountRootfs as mountOverlay, unmountRootfs as unmountOverlay } from './snapshot.js';
import { register, setTag, type ImageContext } from './context.js';
import type { Change, CommitOptions, Image, ImageConfigJson, ImageRunConfig, RootfsPlan } from './types.js';

/** The short layer paths (bottom first) used in overlay mounts. */
export function shortLayerDirs(ctx: ImageContext, image: Pick<Image, 'layers'>): string[] {
  return image.layers.map((l) => ctx.layers.shortPath(l.chainId));
}

/** `image`: an image, or the layer chain a container holds (its image removed). */
export function prepareRootfs(ctx: ImageContext, containerId: string, image: Pick<Image, 'layers'>): RootfsPlan {
  return planRootfs(path.join(ctx.dataRoot, 'containers', containerId), shortLayerDirs(ctx, image), ctx.dataRoot);
}

export function mountRootfs(ctx: ImageContext, plan: RootfsPlan): void {
  mountOverlay(ctx.sys, plan);
}

export function unmountRootfs(ctx: ImageContext, target: string): void {
  unmountOverlay(ctx.sys, target);
}

/** docker diff: the upper dir against the image's layers (topmost first). */
export function changes(upperdir: string, image: Pick<Image, 'layerDirs'>): Change[] {
  return diffChanges(upperdir, image.layerDirs.slice().reverse());
}

export function exportRootfs(ctx: ImageContext, dir: string): Readable {
  return packDir(dir, { xattrs: true });
}

export async function commit(ctx: ImageContext, o: CommitOptions): Promise<string> {
  const base = ctx.resolveImage(o.baseImageId);
  const staged = await ctx.layers.stage(packDir(o.upperdir, { overlayWhiteouts: true, xattrs: true }));
  const diffIds = [...(base.config.rootfs?.diff_ids ?? []), staged.diffId];
  const chains = chainIds(diffIds);
  ctx.layers.commit(staged, chains[chains.length - 1]!, chains.length > 1 ? chains[chains.length - 2]! : null, null);
  const now = new Date().toISOString();
  const merged: ImageRunConfig = { ...(base.runConfig ?? {}), ...(o.config ?? {}) };
  const cfg: ImageConfigJson = {
    ...base.config,
    architecture: base.config.architecture,
    os: base.config.os,
    author: o.author ?? '',
    comment: o.comment ?? '',
    created: now,
    config: applyChanges(merged, o.changes ?? []),
    ...(o.containerId ? { container: o.containerId } : {}),
    ...(o.containerConfig ? { container_config: o.containerConfig } : {}),
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [...(base.config.history ?? []), { created: now, author: o.author ?? '', comment: o.comment ?? '' }],
  };
  const { id } = register(ctx, Buffer.from(JSON.stringify(cfg)), null, base.id);
  if (o.ref) setTag(ctx, withDefaultTag(parseReference(o.ref)), id);
  return id;
}
