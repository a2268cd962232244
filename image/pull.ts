// Pull (moby's daemon/images/image_pull.go): resolve a reference on its registry
// (manifest, index → platform manifest, config) before any progress is streamed,
// then download, verify and unpack the missing layers and record the image.
import diagnostics from 'node:diagnostics_channel';
import stream from 'node:stream';
import { DaemonError } from '../errors/index.js';
import { parseReference, withDefaultTag, referenceString, familiarString, familiarName, fullName, type Reference } from './reference.js';
import { DigestMismatchError, HashStream, chainIds, parseDigest, sha256, verifyDigest } from './digest.js';
import type { StagedLayer } from './layer-store.js';
import { type RegistryClient, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, readCapped, readJson, registryErrorOf, RegistryError, type Response } from './registry/client.js';
import { checkDescriptor, selectManifest, isIndex, type Platform, type Descriptor, type IndexJson, type ManifestJson } from './platform.js';
import { compressionOfMediaType, decompressor } from './compression.js';
import { commitLayers, diffIdsOf, dropStaged, register, registryClient, setTag, short, type ImageContext } from './context.js';
import type { ImageConfigJson, InflightPull, PreparedPull, ProgressEvent, ProgressFn, PullResult, RegistryAuth } from './types.js';
export type { InflightPull } from './types.js';

/** Observers (the metrics) learn each pull's downloaded layer bytes here: { name, bytes }. */
const pullChannel = diagnostics.channel('tsd:image:pull');

/** Runs fn over items, n at a time; stops scheduling at the first failure or when `signal` aborts. */
async function limitAll<T>(items: T[], n: number, signal: AbortSignal, fn: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (next < items.length && failed === null && !signal.aborted) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (e) {
        if (failed === null) failed = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== null) throw failed;
}

interface Fetched { body: Buffer; json: ManifestJson & IndexJson; mediaType: string; digest: string }

const isDigest = (reference: string): boolean => reference.includes(':'); // tags cannot hold a colon

/**
 * GETs a manifest or an index: at most MAX_MANIFEST_BYTES (by Content-Length and while
 * reading), verified with its own algorithm when asked for by digest, and of the
 * descriptor's size when one named it.
 */
async function fetchManifest(c: RegistryClient, ref: Reference, reference: string, scope: string, desc?: Descriptor, signal?: AbortSignal): Promise<Fetched> {
  const name = familiarString(ref);
  if (isDigest(reference)) parseDigest(reference, 'manifest');
  const res = await c.send('GET', `/v2/${ref.path}/manifests/${reference}`, scope, { headers: { accept: MANIFEST_ACCEPT }, signal });
  if (res.status !== 200) throw await pullError(res, ref);
  const body = await readCapped(res, MAX_MANIFEST_BYTES, (n) => (n === null
    ? `rejecting manifest for ${name}: more than ${MAX_MANIFEST_BYTES} bytes`
    : `rejecting ${n} byte manifest for ${name}`));
  let digest = sha256(body);
  if (isDigest(reference)) {
    try {
      verifyDigest(body, reference, 'manifest');
    } catch (e) {
      if (e instanceof DigestMismatchError) throw new DaemonError('system', 'TSD_ERR_DIGEST_MISMATCH', `manifest verification failed for digest ${reference}`);
      throw e;
    }
    digest = reference;
  }
  if (desc && body.length !== desc.size) {
    throw new DaemonError('system', 'TSD_ERR_SIZE_MISMATCH', `manifest ${reference} for ${name} is ${body.length} bytes, its descriptor says ${desc.size}`);
  }
  let json: ManifestJson & IndexJson;
  try {
    json = JSON.parse(body.toString('utf8')) as ManifestJson & IndexJson;
    if (!json || typeof json !== 'object') throw new Error('not an object');
  } catch {
    throw new DaemonError('system', 'TSD_ERR_BAD_MANIFEST', `invalid manifest for ${name}`);
  }
  let mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (typeof json.mediaType === 'string' && json.mediaType) mediaType = json.mediaType;
  return { body, json, mediaType, digest };
}

async function pullError(res: Response, ref: Reference): Promise<DaemonError> {
  const e = await registryErrorOf(res);
  if (res.status === 404 && e.code === 'MANIFEST_UNKNOWN') {
    return new RegistryError('not-found', `manifest for ${familiarString(ref)} not found: manifest unknown: ${e.message}`, 404, e.code);
  }
  if (res.status === 401 || res.status === 403 || e.code === 'NAME_UNKNOWN' || e.code === 'DENIED' || e.code === 'UNAUTHORIZED' || res.status === 404) {
    return new RegistryError('not-found', `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.code ? e.code.toLowerCase().replace(/_/g, ' ') + ': ' : ''}${e.message}`, res.status, e.code);
  }
  return new RegistryError('system', `error from registry ${ref.domain}: ${e.message || 'status ' + res.status}`, res.status, e.code);
}

/** GETs a blob named by a checked descriptor (its digest is the only thing that reaches the URL). */
async function fetchBlob(c: RegistryClient, ref: Reference, desc: Descriptor, scope: string, signal?: AbortSignal): Promise<Response> {
  const res = await c.send('GET', `/v2/${ref.path}/blobs/${parseDigest(desc.digest, 'blob').digest}`, scope, { signal });
  if (res.status !== 200) {
    const e = await registryErrorOf(res);
    throw new RegistryError(res.status === 404 ? 'not-found' : 'system', `error pulling blob ${desc.digest}: ${e.code ? e.code.toLowerCase() + ': ' : ''}${e.message}`, res.status, e.code);
  }
  return res;
}

/** An image config blob: at most MAX_MANIFEST_BYTES, exactly its descriptor's size, verified with its algorithm. */
async function fetchConfig(c: RegistryClient, ref: Reference, desc: Descriptor, scope: string, signal?: AbortSignal): Promise<{ bytes: Buffer; config: ImageConfigJson }> {
  const res = await fetchBlob(c, ref, desc, scope, signal);
  const bytes = await readCapped(res, Math.min(desc.size, MAX_MANIFEST_BYTES), (n) => `rejecting ${n ?? 'oversized'} byte config ${desc.digest} for ${familiarString(ref)}: its descriptor says ${desc.size}`);
  if (bytes.length !== desc.size) throw new DaemonError('system', 'TSD_ERR_SIZE_MISMATCH', `config ${desc.digest} for ${familiarString(ref)} is ${bytes.length} bytes, its descriptor says ${desc.size}`);
  verifyDigest(bytes, desc.digest, 'config');
  let config: ImageConfigJson;
  try {
    config = JSON.parse(bytes.toString('utf8')) as ImageConfigJson;
    if (!config || typeof config !== 'object') throw new Error('not an object');
  } catch {
    throw new DaemonError('system', 'TSD_ERR_BAD_MANIFEST', `invalid image config ${desc.digest} for ${familiarString(ref)}`);
  }
  return { bytes, config };
}

/**
 * Resolves what a pull would fetch (manifest, platform, config) so that failures come
 * before any progress is streamed. `tag` may be a tag or a digest.
 */
export async function preparePull(ctx: ImageContext, fromImage: string, tag: string | undefined, auth: RegistryAuth = {}, platform?: Platform): Promise<PreparedPull> {
  let ref = parseReference(fromImage);
  if (tag) {
    if (/^[a-z0-9]+:/.test(tag)) ref = parseReference(`${fullName(ref)}@${tag}`);
    else ref = parseReference(`${fullName(ref)}:${tag}`);
  }
  if (!ref.tag && !ref.digest) return preparePullAll(ctx, ref, auth, platform);
  return preparePullOne(ctx, ref, auth, platform);
}

/** A name without tag or digest pulls every tag of the repository (Docker's `pull -a`). */
async function preparePullAll(ctx: ImageContext, repo: Reference, auth: RegistryAuth, platform?: Platform): Promise<PreparedPull> {
  const c = registryClient(ctx, repo.domain, auth);
  const res = await c.send('GET', `/v2/${repo.path}/tags/list`, `repository:${repo.path}:pull`);
  if (res.status !== 200) throw await pullError(res, repo);
  const tags = ((((await readJson(res)) as { tags?: unknown } | null)?.tags ?? []) as unknown[]).filter((x): x is string => typeof x === 'string').sort();
  if (tags.length === 0) throw new RegistryError('not-found', `no tags found for ${familiarName(repo)}`, 404);
  const name = familiarName(repo);
  return {
    ref: name,
    run: async (progress, signal) => {
      let last = { imageId: '', digest: '' };
      let newer = false;
      for (const t of tags) {
        if (signal?.aborted) throw new PullCancelledError(name);
        const p = await preparePullOne(ctx, { ...repo, tag: t }, auth, platform);
        last = await p.run((e) => {
          if (e.status.startsWith('Status: ')) {
            if (e.status.startsWith('Status: Downloaded')) newer = true;
            return;
          }
          progress(e);
        }, signal);
      }
      progress({ status: newer ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` });
      return last;
    },
  };
}

async function preparePullOne(ctx: ImageContext, ref: Reference, auth: RegistryAuth, platform?: Platform): Promise<PreparedPull> {
  const want = platform ?? ctx.platform;
  const c = registryClient(ctx, ref.domain, auth);
  const scope = `repository:${ref.path}:pull`;
  const name = familiarString(ref);
  const top = await fetchManifest(c, ref, ref.digest ?? ref.tag!, scope);
  let chosen = top;
  if (isIndex(top.mediaType, top.json)) {
    if (!Array.isArray(top.json.manifests)) throw new DaemonError('system', 'TSD_ERR_BAD_MANIFEST', `invalid manifest list for ${name}`);
    const d = checkDescriptor(selectManifest(top.json as IndexJson, want), 'manifest', { maxSize: MAX_MANIFEST_BYTES });
    // the child is fetched by its digest and verified against it (and its size), whatever the index came by
    chosen = await fetchManifest(c, ref, d.digest, scope, d);
  }
  const manifest = chosen.json as ManifestJson;
  if (!manifest.config || !Array.isArray(manifest.layers)) {
    throw new DaemonError('not-implemented', 'TSD_ERR_UNSUPPORTED_MANIFEST', `unsupported manifest format for ${name}: ${top.mediaType || 'unknown media type'}`);
  }
  checkDescriptor(manifest.config, 'config', { maxSize: MAX_MANIFEST_BYTES });
  manifest.layers.forEach((l, i) => checkDescriptor(l, `layer ${i}`));
  const { bytes: configBytes, config } = await fetchConfig(c, ref, manifest.config, scope);
  const diffIds = diffIdsOf(config);
  if (diffIds.length !== manifest.layers.length) {
    throw new DaemonError('system', 'TSD_ERR_BAD_MANIFEST', `layers and diff IDs do not match for ${name} (${manifest.layers.length} vs ${diffIds.length})`);
  }
  return {
    ref: name,
    run: (progress, signal) => {
      const p = want;
      const key = `${fullName(ref)}|${ref.tag ?? ''}|${top.digest}|${p.os}/${p.architecture}/${p.variant ?? ''}`;
      return joinPull(ctx, key, name, progress, signal, (emit, s) => runPull(ctx, c, ref, scope, top.digest, chosen.body, manifest, configBytes, diffIds, emit, s));
    },
  };
}


export class PullCancelledError extends DaemonError {
  constructor(name: string) {
    super('system', 'TSD_ERR_PULL_CANCELLED', `pull of ${name} cancelled: its last client went away`);
  }
}

/**
 * Joins the pull running under `key`, or starts it. A client that leaves (its signal
 * aborts) stops listening; the last one leaving cancels the pull and every download in it.
 */
function joinPull(ctx: ImageContext, key: string, name: string, progress: ProgressFn, signal: AbortSignal | undefined,
  start: (emit: ProgressFn, signal: AbortSignal) => Promise<PullResult>): Promise<PullResult> {
  let pull = ctx.pulls.get(key);
  if (pull) {
    for (const e of pull.replay.values()) progress(e);
    pull.listeners.add(progress);
  } else {
    const fresh: InflightPull = { listeners: new Set([progress]), replay: new Map(), abort: new AbortController(), done: null as never };
    const emit: ProgressFn = (e) => {
      if (!e.aux && !e.status.startsWith('Digest: ') && !e.status.startsWith('Status: ')) fresh.replay.set(e.id ?? e.status, e);
      for (const l of fresh.listeners) l(e);
    };
    ctx.pulls.set(key, fresh);
    fresh.done = start(emit, fresh.abort.signal).finally(() => { if (ctx.pulls.get(key) === fresh) ctx.pulls.delete(key); });
    fresh.done.catch(() => { /* every listener gets it below */ });
    pull = fresh;
  }
  const p = pull;
  return new Promise<PullResult>((resolve, reject) => {
    const leave = (): void => {
      p.listeners.delete(progress);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      leave();
      if (p.listeners.size === 0) p.abort.abort(new PullCancelledError(name));
      reject(new PullCancelledError(name));
    };
    if (signal?.aborted) { onAbort(); return; }
    signal?.addEventListener('abort', onAbort, { once: true });
    p.done.then((r) => { leave(); resolve(r); }, (e) => { leave(); reject(e); });
  });
}

async function runPull(ctx: ImageContext, c: RegistryClient, ref: Reference, scope: string, topDigest: string, manifestBytes: Buffer, manifest: ManifestJson,
  configBytes: Buffer, diffIds: string[], progress: ProgressFn, signal: AbortSignal): Promise<PullResult> {
  const name = familiarString(ref);
  progress({ status: `Pulling from ${familiarName(ref)}`, id: ref.tag ?? ref.digest });
  const chains = chainIds(diffIds);
  // the layers found present ("Already exists") stay until the image's row holds them
  const release = ctx.layers.lease(chains);
  try {
    const staged: Array<StagedLayer | null> = manifest.layers.map(() => null);
    const todo: number[] = [];
    manifest.layers.forEach((l, i) => {
      if (ctx.layers.has(chains[i]!)) progress({ status: 'Already exists', id: short(l.digest) });
      else {
        progress({ status: 'Pulling fs layer', id: short(l.digest) });
        todo.push(i);
      }
    });
    try {
      await limitAll(todo, ctx.concurrency, signal, async (i) => {
        const l = manifest.layers[i]!;
        const id = short(l.digest);
        const res = await fetchBlob(c, ref, l, scope, signal);
        const hs = new HashStream(l.digest, l.size);
        let last = 0;
        hs.on('data', () => {
          if (hs.size - last >= 512 * 1024 || hs.size === l.size) {
            last = hs.size;
            progress({ status: 'Downloading', id, current: hs.size, total: l.size });
          }
        });
        hs.on('end', () => {
          progress({ status: 'Verifying Checksum', id });
          progress({ status: 'Download complete', id });
        });
        const dec = decompressor(compressionOfMediaType(l.mediaType));
        // one failure anywhere (the registry, the digest, the gzip, the unpack, a cancel) destroys the whole chain,
        // so the registry's connection is closed and nothing keeps reading
        stream.pipeline(res.body, hs, dec, () => { /* the stage below reports the error */ });
        let lastX = 0;
        staged[i] = await ctx.layers.stage(dec, diffIds[i], (n, total) => {
          if (n - lastX >= 1024 * 1024 || n === total) {
            lastX = n;
            progress({ status: 'Extracting', id, current: n, total });
          }
        });
      });
      signal.throwIfAborted();
      commitLayers(ctx, diffIds, staged, manifest.layers.map((l) => l.digest));
    } catch (e) {
      dropStaged(staged);
      release();
      ctx.layers.collect();
      throw signal.aborted ? (signal.reason ?? e) : e;
    }
    for (const i of todo) progress({ status: 'Pull complete', id: short(manifest.layers[i]!.digest) });
    const { id, isNew } = register(ctx, configBytes, manifestBytes.toString('utf8'));
    const before = ref.tag ? ctx.images.tagTarget(referenceString(ref)) : null;
    if (ref.tag) setTag(ctx, ref, id);
    ctx.images.setDigest(`${fullName(ref)}@${topDigest}`, id);
    progress({ status: `Digest: ${topDigest}` });
    progress({ status: isNew || before !== id ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` });
    ctx.publish('pull', name, { name });
    if (pullChannel.hasSubscribers) pullChannel.publish({ name, bytes: todo.reduce((n, i) => n + (manifest.layers[i]!.size ?? 0), 0) });
    return { imageId: id, digest: topDigest };
  } finally {
    release();
  }
}

/** GET /distribution/{name}/json: the descriptor a pull would use, and its platforms. */
export async function distribution(ctx: ImageContext, refStr: string, auth: RegistryAuth = {}): Promise<{ descriptor: Descriptor; platforms: Platform[] }> {
  const ref = withDefaultTag(parseReference(refStr));
  const c = registryClient(ctx, ref.domain, auth);
  const scope = `repository:${ref.path}:pull`;
  const top = await fetchManifest(c, ref, ref.digest ?? ref.tag!, scope);
  const body = top.json;
  const descriptor: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.body.length };
  if (isIndex(top.mediaType, body)) {
    if (!Array.isArray(body.manifests)) throw new DaemonError('system', 'TSD_ERR_BAD_MANIFEST', `invalid manifest list for ${familiarString(ref)}`);
    return { descriptor, platforms: body.manifests.filter((m) => m?.platform).map((m) => ({ os: m.platform!.os, architecture: m.platform!.architecture, ...(m.platform!.variant ? { variant: m.platform!.variant } : {}) })) };
  }
  const { config: cfg } = await fetchConfig(c, ref, checkDescriptor(body.config, 'config', { maxSize: MAX_MANIFEST_BYTES }), scope);
  return { descriptor, platforms: [{ os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) }] };
}
