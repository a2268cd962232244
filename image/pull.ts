// Pull (moby's daemon/images/image_pull.go): resolve a reference on its registry
// (manifest, index → platform manifest, config) before any progress is streamed,
// then download, verify and unpack the missing layers and record the image.
import { pipeline } from 'node:stream/promises';
import { DaemonError } from '../errors/index.js';
import { parseReference, withDefaultTag, referenceString, familiarString, familiarName, fullName, type Reference } from './reference.js';
import { HashStream, chainIds, sha256 } from './digest.js';
import type { StagedLayer } from './layer-store.js';
import { type RegistryClient, MANIFEST_ACCEPT, registryErrorOf, RegistryError, type Response } from './registry/client.js';
import { selectManifest, isIndex, type Platform, type Descriptor, type IndexJson, type ManifestJson } from './platform.js';
import { compressionOfMediaType, decompressor } from './compression.js';
import { commitLayers, dropStaged, register, registryClient, setTag, short, type ImageContext } from './context.js';
import type { ImageConfigJson, PreparedPull, ProgressFn, RegistryAuth } from './types.js';

async function limitAll<T>(items: T[], n: number, fn: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (next < items.length && failed === null) {
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

async function fetchManifest(c: RegistryClient, ref: Reference, reference: string, scope: string): Promise<{ body: Buffer; mediaType: string; digest: string }> {
  const res = await c.send('GET', `/v2/${ref.path}/manifests/${reference}`, scope, { headers: { accept: MANIFEST_ACCEPT } });
  if (res.status !== 200) throw await pullError(res, ref);
  const body = Buffer.from(await (res.body as unknown as { arrayBuffer(): Promise<ArrayBuffer> }).arrayBuffer());
  const digest = sha256(body);
  if (reference.startsWith('sha256:') && reference !== digest) {
    throw new DaemonError('system', 'TSD_ERR_DIGEST_MISMATCH', `manifest verification failed for digest ${reference}`);
  }
  let mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
  try {
    const j = JSON.parse(body.toString('utf8')) as { mediaType?: string };
    if (j.mediaType) mediaType = j.mediaType;
  } catch {
    throw new DaemonError('system', 'TSD_ERR_BAD_MANIFEST', `invalid manifest for ${familiarString(ref)}`);
  }
  return { body, mediaType, digest };
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

async function fetchBlob(c: RegistryClient, ref: Reference, desc: Descriptor, scope: string): Promise<Response> {
  const res = await c.send('GET', `/v2/${ref.path}/blobs/${desc.digest}`, scope);
  if (res.status !== 200) {
    const e = await registryErrorOf(res);
    throw new RegistryError(res.status === 404 ? 'not-found' : 'system', `error pulling blob ${desc.digest}: ${e.code ? e.code.toLowerCase() + ': ' : ''}${e.message}`, res.status, e.code);
  }
  return res;
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
  const tags = (((await res.body.json()) as { tags?: string[] | null }).tags ?? []).sort();
  if (tags.length === 0) throw new RegistryError('not-found', `no tags found for ${familiarName(repo)}`, 404);
  const name = familiarName(repo);
  return {
    ref: name,
    run: async (progress) => {
      let last = { imageId: '', digest: '' };
      let newer = false;
      for (const t of tags) {
        const p = await preparePullOne(ctx, { ...repo, tag: t }, auth, platform);
        last = await p.run((e) => {
          if (e.status.startsWith('Status: ')) {
            if (e.status.startsWith('Status: Downloaded')) newer = true;
            return;
          }
          progress(e);
        });
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
  const top = await fetchManifest(c, ref, ref.digest ?? ref.tag!, scope);
  let manifestBytes = top.body;
  let parsed = JSON.parse(top.body.toString('utf8')) as ManifestJson & IndexJson;
  if (isIndex(top.mediaType, parsed)) {
    const d = selectManifest(parsed as IndexJson, want);
    const m = await fetchManifest(c, ref, d.digest, scope);
    manifestBytes = m.body;
    parsed = JSON.parse(m.body.toString('utf8')) as ManifestJson & IndexJson;
  }
  const manifest = parsed as ManifestJson;
  if (!manifest.config || !Array.isArray(manifest.layers)) {
    throw new DaemonError('not-implemented', 'TSD_ERR_UNSUPPORTED_MANIFEST', `unsupported manifest format for ${familiarString(ref)}: ${top.mediaType || 'unknown media type'}`);
  }
  const cfgRes = await fetchBlob(c, ref, manifest.config, scope);
  const hs = new HashStream(manifest.config.digest, manifest.config.size);
  const chunks: Buffer[] = [];
  hs.on('data', (b: Buffer) => chunks.push(b));
  await pipeline(cfgRes.body, hs);
  const configBytes = Buffer.concat(chunks);
  const config = JSON.parse(configBytes.toString('utf8')) as ImageConfigJson;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new DaemonError('system', 'TSD_ERR_BAD_MANIFEST', `layers and diff IDs do not match for ${familiarString(ref)} (${manifest.layers.length} vs ${diffIds.length})`);
  }
  const name = familiarString(ref);
  return {
    ref: name,
    run: (progress) => runPull(ctx, c, ref, scope, top.digest, manifestBytes, manifest, configBytes, diffIds, progress),
  };
}

async function runPull(ctx: ImageContext, c: RegistryClient, ref: Reference, scope: string, topDigest: string, manifestBytes: Buffer, manifest: ManifestJson,
  configBytes: Buffer, diffIds: string[], progress: ProgressFn): Promise<{ imageId: string; digest: string }> {
  const name = familiarString(ref);
  progress({ status: `Pulling from ${familiarName(ref)}`, id: ref.tag ?? ref.digest });
  const chains = chainIds(diffIds);
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
    await limitAll(todo, ctx.concurrency, async (i) => {
      const l = manifest.layers[i]!;
      const id = short(l.digest);
      if (l.urls?.length && !l.mediaType.includes('foreign')) { /* ordinary layer with mirrors: we use the registry */ }
      const res = await fetchBlob(c, ref, l, scope);
      const hs = new HashStream(l.digest, l.size);
      let last = 0;
      hs.on('data', () => {
        if (hs.size - last >= 512 * 1024 || hs.size === l.size) {
          last = hs.size;
          progress({ status: 'Downloading', id, current: hs.size, total: l.size });
        }
      });
      const dec = decompressor(compressionOfMediaType(l.mediaType));
      res.body.on('error', (e) => hs.destroy(e));
      res.body.pipe(hs);
      hs.on('error', (e) => dec.destroy(e));
      hs.pipe(dec);
      hs.on('end', () => {
        progress({ status: 'Verifying Checksum', id });
        progress({ status: 'Download complete', id });
      });
      let lastX = 0;
      staged[i] = await ctx.layers.stage(dec, diffIds[i], (n, total) => {
        if (n - lastX >= 1024 * 1024 || n === total) {
          lastX = n;
          progress({ status: 'Extracting', id, current: n, total });
        }
      });
    });
    commitLayers(ctx, diffIds, staged, manifest.layers.map((l) => l.digest));
  } catch (e) {
    dropStaged(staged);
    ctx.layers.collect();
    throw e;
  }
  for (const i of todo) progress({ status: 'Pull complete', id: short(manifest.layers[i]!.digest) });
  const { id, isNew } = register(ctx, configBytes, manifestBytes.toString('utf8'));
  const before = ref.tag ? ctx.images.tagTarget(referenceString(ref)) : null;
  if (ref.tag) setTag(ctx, ref, id);
  ctx.images.setDigest(`${fullName(ref)}@${topDigest}`, id);
  progress({ status: `Digest: ${topDigest}` });
  progress({ status: isNew || before !== id ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` });
  ctx.publish('pull', name, { name });
  return { imageId: id, digest: topDigest };
}

/** GET /distribution/{name}/json: the descriptor a pull would use, and its platforms. */
export async function distribution(ctx: ImageContext, refStr: string, auth: RegistryAuth = {}): Promise<{ descriptor: Descriptor; platforms: Platform[] }> {
  const ref = withDefaultTag(parseReference(refStr));
  const c = registryClient(ctx, ref.domain, auth);
  const scope = `repository:${ref.path}:pull`;
  const top = await fetchManifest(c, ref, ref.digest ?? ref.tag!, scope);
  const body = JSON.parse(top.body.toString('utf8')) as ManifestJson & IndexJson;
  const descriptor: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.body.length };
  if (isIndex(top.mediaType, body)) {
    return { descriptor, platforms: body.manifests.filter((m) => m.platform).map((m) => ({ os: m.platform!.os, architecture: m.platform!.architecture, ...(m.platform!.variant ? { variant: m.platform!.variant } : {}) })) };
  }
  const cfgRes = await fetchBlob(c, ref, body.config, scope);
  const cfg = (await cfgRes.body.json()) as ImageConfigJson;
  return { descriptor, platforms: [{ os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) }] };
}
