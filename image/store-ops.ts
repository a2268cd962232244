// Local store operations (moby's image_list, image_history, image_tag,
// image_delete, image_prune): records only, nothing fetched.
import { conflict, invalidParameter } from '../errors/index.js';
import { parseReference, withDefaultTag, referenceString, familiarString, fullName, familiarize } from './reference.js';
import { hexOf } from './digest.js';
import { safeParse, setTag, short, type ImageContext } from './context.js';
import type { DeleteResult, HistoryEntry, Image, ListOptions } from './types.js';

export function list(ctx: ImageContext, opts: ListOptions = {}): Image[] {
  const f = opts.filters ?? {};
  let imgs = ctx.images.list().map((r) => ctx.load(r.id));
  for (const key of Object.keys(f)) {
    if (!['dangling', 'reference', 'label', 'before', 'since', 'until'].includes(key)) throw invalidParameter(`invalid filter '${key}'`);
  }
  // Untagged images that others were built on (a build's intermediate steps) show only with `all`, as dockerd's.
  const hasChildren = (i: Image) => ctx.images.childrenOf(i.id).length > 0;
  if (!opts.all) imgs = imgs.filter((i) => i.repoTags.length > 0 || i.repoDigests.length > 0 || !hasChildren(i));
  if (f.dangling?.length) {
    const v = f.dangling[0]!;
    if (!['true', 'false', '1', '0'].includes(v)) throw invalidParameter(`invalid filter 'dangling=${v}'`);
    const want = v === 'true' || v === '1';
    imgs = imgs.filter((i) => (i.repoTags.length === 0 && (!want || !hasChildren(i))) === want);
  }
  if (f.reference?.length) {
    const pats = f.reference.map(globToRegex);
    imgs = imgs.filter((i) => i.repoTags.some((t) => pats.some((p) => p.test(t) || p.test(t.replace(/:[^:/]+$/, '')))));
  }
  if (f.label?.length) {
    imgs = imgs.filter((i) => f.label!.every((l) => {
      const [k, ...v] = l.split('=');
      const labels = i.runConfig.Labels ?? {};
      return v.length ? labels[k!] === v.join('=') : k! in labels;
    }));
  }
  for (const k of ['before', 'since'] as const) {
    if (f[k]?.length) {
      const ref = ctx.resolveImage(f[k]![0]!);
      const t = Date.parse(ref.created);
      imgs = imgs.filter((i) => (k === 'before' ? Date.parse(i.created) < t : Date.parse(i.created) > t));
    }
  }
  return imgs;
}

export function history(ctx: ImageContext, refOrId: string): Array<{ id: string; created: string; createdBy: string; comment: string; size: number; tags: string[] }> {
  const img = ctx.resolveImage(refOrId);
  const hist: HistoryEntry[] = img.config.history?.length ? img.config.history : [{ created: img.created, comment: img.config.comment ?? '' }];
  const out = [];
  let li = img.layers.length - 1;
  const entries = [...hist].reverse();
  for (let i = 0; i < entries.length; i++) {
    const h = entries[i]!;
    let size = 0;
    if (!h.empty_layer && li >= 0) {
      size = img.layers[li]!.size;
      li--;
    }
    out.push({ id: i === 0 ? img.id : '<missing>', created: h.created ?? img.created, createdBy: h.created_by ?? '', comment: h.comment ?? '', size, tags: i === 0 ? img.repoTags : [] });
  }
  // entries below the top get the IDs of the images it was built on, one parent per entry (as dockerd fills them in)
  let cur = img;
  for (let i = 1; i < out.length && cur.parent; i++) {
    if (!ctx.images.get(cur.parent)) break;
    cur = ctx.load(cur.parent);
    out[i]!.id = cur.id;
    out[i]!.tags = cur.repoTags;
  }
  return out;
}

export function tag(ctx: ImageContext, source: string, repo: string, tag?: string): string {
  const img = ctx.resolveImage(source);
  let ref = parseReference(repo);
  if (ref.digest) throw invalidParameter('refusing to create a tag with a digest reference');
  if (tag) {
    ref = parseReference(`${fullName(ref)}:${tag}`);
  }
  ref = withDefaultTag(ref);
  setTag(ctx, ref, img.id);
  ctx.publish('tag', img.id, { name: familiarString(ref) });
  return familiarString(ref);
}

/** The container using an image, if any (`true` from the usage query: some container, unknown which). */
function usageOf(ctx: ImageContext, id: string): { containerId: string; running: boolean } | null {
  const u = ctx.usage(id);
  if (!u) return null;
  if (u === true) return { containerId: '', running: false };
  return u;
}

/** DELETE /images/{name}: untag, or delete when no reference remains. */
export function remove(ctx: ImageContext, refOrId: string, opts: { force?: boolean; noprune?: boolean } = {}): DeleteResult[] {
  const img = ctx.resolveImage(refOrId);
  const out: DeleteResult[] = [];
  const byId = /^(sha256:)?[a-f0-9]{1,64}$/.test(refOrId) && (img.id === refOrId || hexOf(img.id).startsWith(hexOf(refOrId))) && ctx.images.tagTarget(referenceString(withDefaultTag(safeParse(refOrId) ?? { domain: '', path: '' }))) !== img.id;
  const use = usageOf(ctx, img.id);
  const tags = ctx.images.tagsOf(img.id);
  if (!byId) {
    const ref = withDefaultTag(parseReference(refOrId));
    const key = ref.digest ? `${fullName(ref)}@${ref.digest}` : referenceString(ref);
    const others = tags.filter((t) => t !== key).length + (ref.digest ? 0 : 0);
    if (others > 0 || (use && opts.force)) {
      if (ref.digest) ctx.images.removeDigest(key);
      else ctx.images.removeTag(key);
      out.push({ Untagged: familiarString(ref) });
      ctx.publish('untag', img.id, { name: familiarString(ref) });
      // other tags left: the untag was the removal. A running container's image stays (dangling), as
      // dockerd's (a hard conflict, ignored after an untag); a stopped one's image goes on below.
      if (others > 0 || use?.running) return out;
    } else if (use) {
      if (use.running) throw conflict(`conflict: unable to delete ${short(img.id)} (cannot be forced) - image is being used by running container ${short(use.containerId)}`);
      throw conflict(`conflict: unable to remove repository reference "${familiarString(ref)}" (must force) - container ${short(use.containerId)} is using its referenced image ${short(img.id)}`);
    }
  } else {
    if (use) {
      if (use.running) throw conflict(`conflict: unable to delete ${short(img.id)} (cannot be forced) - image is being used by running container ${short(use.containerId)}`);
      if (!opts.force) throw conflict(`conflict: unable to delete ${short(img.id)} (must be forced) - image is being used by stopped container ${short(use.containerId)}`);
    }
    if (tags.length > 1 && !opts.force) throw conflict(`conflict: unable to delete ${short(img.id)} (must be forced) - image is referenced in multiple repositories`);
  }
  // what references are left (a forced untag above went already)
  for (const t of ctx.images.tagsOf(img.id)) {
    ctx.images.removeTag(t);
    out.push({ Untagged: familiarize(t) });
    ctx.publish('untag', img.id, { name: familiarize(t) });
  }
  for (const d of ctx.images.digestsOf(img.id)) {
    ctx.images.removeDigest(d);
    out.push({ Untagged: familiarize(d) });
  }
  // Forced while a stopped container uses it: the image goes, as dockerd's, and its layers stay
  // while the container holds them (its row names its image's top layer; collect() keeps that chain).
  ctx.images.remove(img.id);
  out.push({ Deleted: img.id });
  ctx.publish('delete', img.id, { name: img.id });
  if (!opts.noprune) {
    // then the untagged images it was built on that nothing else needs (dockerd's parent pruning)
    let parent = img.parent;
    while (parent) {
      const row = ctx.images.get(parent);
      if (!row || ctx.images.tagsOf(parent).length || ctx.images.digestsOf(parent).length || ctx.images.childrenOf(parent).length || usageOf(ctx, parent)) break;
      ctx.images.remove(parent);
      out.push({ Deleted: parent });
      ctx.publish('delete', parent, { name: parent });
      parent = row.parent;
    }
    for (const l of ctx.layers.collect()) out.push({ Deleted: l });
  }
  return out;
}

/** `until`: only images created before this time (ms since the epoch; the API parses Docker's forms). */
export function prune(ctx: ImageContext, filters: Record<string, string[]> = {}, until: number | null = null): { deleted: DeleteResult[]; spaceReclaimed: number } {
  const danglingOnly = !(filters.dangling?.[0] === 'false' || filters.dangling?.[0] === '0');
  const deleted: DeleteResult[] = [];
  let space = 0;
  for (const row of ctx.images.list()) {
    if (!ctx.images.get(row.id)) continue; // removed with a child already
    const img = ctx.load(row.id);
    if (danglingOnly && (img.repoTags.length > 0 || ctx.images.childrenOf(img.id).length > 0)) continue;
    if (usageOf(ctx, img.id)) continue;
    if (until !== null && Date.parse(img.created) >= until) continue;
    if (filters.label?.length && !filters.label.every((l) => { const [k, ...v] = l.split('='); const lb = img.runConfig.Labels ?? {}; return v.length ? lb[k!] === v.join('=') : k! in lb; })) continue;
    const before = ctx.layerRows.all().reduce((n, l) => n + l.size, 0);
    deleted.push(...remove(ctx, img.id, { force: true }));
    space += before - ctx.layerRows.all().reduce((n, l) => n + l.size, 0);
  }
  ctx.publish('prune', '', { reclaimed: String(space) });
  return { deleted, spaceReclaimed: space };
}

function globToRegex(p: string): RegExp {
  const esc = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${esc}$`);
}
