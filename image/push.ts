// Push (moby's daemon/images/image_push.go): each layer compressed
// deterministically and uploaded unless the registry has it, then the config and
// a schema 2 manifest under the tag.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import stream, { Transform, type Readable } from 'node:stream';
import { notFound } from '../errors/index.js';
import { parseReference, referenceString, familiarString, familiarName, fullName, type Reference } from './reference.js';
import { HashStream, sha256 } from './digest.js';
import { MEDIA, registryErrorOf, RegistryError, type RegistryClient } from './registry/client.js';
import type { Descriptor } from './platform.js';
import { registryClient, short, type ImageContext } from './context.js';
import type { Image, ProgressFn, RegistryAuth } from './types.js';

export interface PreparedPush {
  ref: string;
  run(progress: ProgressFn): Promise<Array<{ Tag: string; Digest: string; Size: number }>>;
}

export function preparePush(ctx: ImageContext, name: string, tag: string | undefined, auth: RegistryAuth = {}): PreparedPush {
  const base = parseReference(name);
  const repo: Reference = { domain: base.domain, path: base.path };
  const tags: string[] = [];
  if (tag || base.tag) tags.push(tag || base.tag!);
  else {
    const prefix = fullName(repo) + ':';
    for (const img of ctx.images.list()) for (const t of ctx.images.tagsOf(img.id)) if (t.startsWith(prefix)) tags.push(t.slice(prefix.length));
    if (tags.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`, 'TSD_ERR_NO_SUCH_IMAGE');
  }
  const targets = tags.map((t) => {
    const r = { ...repo, tag: t };
    const id = ctx.images.tagTarget(referenceString(r));
    if (!id) throw notFound(`An image does not exist locally with the tag: ${familiarString(r)}`, 'TSD_ERR_NO_SUCH_IMAGE');
    return { ref: r, image: ctx.load(id) };
  });
  return {
    ref: familiarName(repo),
    run: async (progress) => {
      progress({ status: `The push refers to repository [${familiarName(repo)}]` });
      const out: Array<{ Tag: string; Digest: string; Size: number }> = [];
      const c = registryClient(ctx, repo.domain, auth);
      for (const t of targets) out.push(await pushOne(ctx, c, t.ref, t.image, progress));
      return out;
    },
  };
}

async function blobExists(c: RegistryClient, repo: Reference, digest: string, scope: string): Promise<number | null> {
  const res = await c.send('HEAD', `/v2/${repo.path}/blobs/${digest}`, scope);
  await res.body.dump();
  if (res.status === 200) return Number(res.headers['content-length'] ?? 0);
  return null;
}

async function uploadBlob(c: RegistryClient, repo: Reference, digest: string, size: number, scope: string, body: () => Readable | Buffer): Promise<void> {
  const start = await c.send('POST', `/v2/${repo.path}/blobs/uploads/`, scope, { headers: { 'content-length': '0' } });
  if (start.status !== 202) {
    const e = await registryErrorOf(start);
    throw new RegistryError(start.status === 401 || start.status === 403 ? 'unauthorized' : 'system', `failed to start upload to ${repo.domain}: ${e.message}`, start.status, e.code);
  }
  await start.body.dump();
  const loc = start.headers.location;
  if (!loc) throw new RegistryError('system', `registry ${repo.domain} gave no upload location`, start.status);
  const u = new URL(loc, c.url('/'));
  u.searchParams.set('digest', digest);
  const put = await c.send('PUT', u.toString(), scope, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body });
  if (put.status !== 201) {
    const e = await registryErrorOf(put);
    throw new RegistryError('system', `failed to upload blob ${digest}: ${e.code ? e.code.toLowerCase() + ': ' : ''}${e.message}`, put.status, e.code);
  }
  await put.body.dump();
}

async function pushOne(ctx: ImageContext, c: RegistryClient, ref: Reference, image: Image, progress: ProgressFn): Promise<{ Tag: string; Digest: string; Size: number }> {
  const scope = `repository:${ref.path}:pull,push`;
  const layers = [...image.layers];
  for (const l of [...layers].reverse()) progress({ status: 'Preparing', id: short(l.diffId) });
  const descs: Descriptor[] = [];
  for (const l of layers) {
    const id = short(l.diffId);
    if (l.blobDigest) {
      const sz = await blobExists(c, ref, l.blobDigest, scope);
      if (sz !== null) {
        progress({ status: 'Layer already exists', id });
        descs.push({ mediaType: MEDIA.dockerLayerGzip, digest: l.blobDigest, size: sz });
        continue;
      }
    }
    // compress layer.tar deterministically into a temp file, hashing it
    const tmp = ctx.layers.makeTemp('push');
    try {
      const gz = path.join(tmp, 'layer.tar.gz');
      const hs = new HashStream();
      // the layer as recorded: exactly its size and diff ID, or the push fails (never a changed file under the old digest)
      await pipeline(fs.createReadStream(ctx.layers.tarPath(l.chainId)), new HashStream(l.diffId, l.size), zlib.createGzip({ level: 6 }), hs, fs.createWriteStream(gz));
      const digest = hs.digest;
      const size = hs.size;
      if (!l.blobDigest) ctx.layerRows.setBlobDigest(l.chainId, digest);
      if ((await blobExists(c, ref, digest, scope)) !== null) {
        progress({ status: 'Layer already exists', id });
      } else {
        let sent = 0;
        // progress counted as undici reads (a 'data' listener on the file would start it flowing before undici listens)
        await uploadBlob(c, ref, digest, size, scope, () => {
          const counted = new Transform({
            transform(b: Buffer, _enc, cb) {
              sent += b.length;
              progress({ status: 'Pushing', id, current: sent, total: size });
              cb(null, b);
            },
          });
          stream.pipeline(fs.createReadStream(gz), counted, () => { /* a failure reaches undici through `counted` */ });
          return counted;
        });
        progress({ status: 'Pushed', id });
      }
      descs.push({ mediaType: MEDIA.dockerLayerGzip, digest, size });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const configBytes = Buffer.from(ctx.images.get(image.id)!.config, 'utf8');
  if ((await blobExists(c, ref, image.id, scope)) === null) {
    await uploadBlob(c, ref, image.id, configBytes.length, scope, () => configBytes);
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.dockerManifest,
    config: { mediaType: MEDIA.dockerConfig, size: configBytes.length, digest: image.id },
    layers: descs,
  }, null, 3));
  const res = await c.send('PUT', `/v2/${ref.path}/manifests/${ref.tag}`, scope, { headers: { 'content-type': MEDIA.dockerManifest }, body: () => manifest });
  if (res.status !== 201 && res.status !== 200) {
    const e = await registryErrorOf(res);
    throw new RegistryError('system', `failed to push manifest: ${e.code ? e.code.toLowerCase() + ': ' : ''}${e.message}`, res.status, e.code);
  }
  await res.body.dump();
  const digest = sha256(manifest);
  ctx.images.setDigest(`${fullName(ref)}@${digest}`, image.id);
  progress({ status: `${ref.tag}: digest: ${digest} size: ${manifest.length}` });
  progress({ status: '', aux: { Tag: ref.tag, Digest: digest, Size: manifest.length } });
  ctx.publish('push', familiarString(ref), { name: familiarString(ref) });
  return { Tag: ref.tag!, Digest: digest, Size: manifest.length };
}
