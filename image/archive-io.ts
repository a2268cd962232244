// Archive I/O (moby's image_exporter.go / image_import.go): docker save, docker
// load (docker-save and OCI-layout tarballs) and docker import (a rootfs tarball
// as a one-layer image).
import fs from 'node:fs';
import path from 'node:path';
import stream, { type Readable } from 'node:stream';
import { invalidParameter } from '../errors/index.js';
import { parseReference, withDefaultTag, familiarString, familiarName, fullName, type Reference } from './reference.js';
import { HashStream, chainIds, hexOf, parseDigest, verifyDigest } from './digest.js';
import type { StagedLayer } from './layer-store.js';
import { checkDescriptor, selectManifest, isIndex, type Descriptor, type Platform, type IndexJson, type ManifestJson } from './platform.js';
import { MAX_MANIFEST_BYTES } from './registry/client.js';
import { sniffDecompress } from './compression.js';
import { applyLayer, cleanEntryName } from './unpack.js';
import { Root, errnoOf, readAll } from '../rootfs/index.js';
import { fsat as F } from '../sys/index.js';
import { applyChanges } from './archive.js';
import { packStream } from './tar-pack.js';
import { commitLayers, diffIdsOf, dropStaged, register, safeParse, setTag, short, type ImageContext } from './context.js';
import type { ImageConfigJson, ProgressFn } from './types.js';

/** docker save: a tarball in the docker-save layout (manifest.json, repositories, <config>.json, <layer>/layer.tar). */
export function save(ctx: ImageContext, refs: string[]): Readable {
  const want = refs.map((r) => ({ arg: r, img: ctx.resolveImage(r) }));
  const meta = { mode: 0o644, mtime: new Date(0) };
  return packStream(async (w) => {
    const add = (name: string, body: string) => w.add({ name, ...meta }, Buffer.from(body));
    const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    const done = new Set<string>();
    for (const { arg, img } of want) {
      if (done.has(img.id + arg)) continue;
      done.add(img.id + arg);
      const layerPaths: string[] = [];
      for (const l of img.layers) {
        const dir = hexOf(l.chainId);
        layerPaths.push(`${dir}/layer.tar`);
        if (done.has(dir)) continue;
        done.add(dir);
        await w.add({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime: meta.mtime });
        await add(`${dir}/VERSION`, '1.0');
        await add(`${dir}/json`, JSON.stringify({ id: dir }));
        // exactly the size the store recorded, whatever the file does meanwhile (padded or cut)
        await w.addFile({ name: `${dir}/layer.tar`, size: l.size, ...meta }, ctx.layers.tarPath(l.chainId));
      }
      const cfgName = `${hexOf(img.id)}.json`;
      if (!done.has(cfgName)) {
        done.add(cfgName);
        await add(cfgName, ctx.images.get(img.id)!.config);
      }
      // name the image as asked when it was asked by name; all its tags when asked by ID
      let repoTags = img.repoTags;
      const r = safeParse(arg);
      if (r && !/^(sha256:)?[a-f0-9]{6,64}$/.test(arg)) repoTags = [familiarString(withDefaultTag(r))];
      const existing = manifest.find((m) => m.Config === cfgName);
      if (existing) existing.RepoTags = [...new Set([...(existing.RepoTags ?? []), ...repoTags])];
      else manifest.push({ Config: cfgName, RepoTags: repoTags.length ? repoTags : null, Layers: layerPaths });
      for (const t of repoTags) {
        const p = withDefaultTag(parseReference(t));
        (repositories[familiarName(p)] ??= {})[p.tag!] = hexOf(img.layers[img.layers.length - 1]?.chainId ?? img.id);
      }
    }
    await add('manifest.json', JSON.stringify(manifest));
    await add('repositories', JSON.stringify(repositories));
    for (const { img } of want) ctx.publish('save', img.id, { name: img.id });
  });
}

/** docker load: a docker-save or OCI-layout tarball. Returns the "Loaded image: x" lines. */
export async function loadArchive(ctx: ImageContext, input: Readable, progress?: ProgressFn): Promise<string[]> {
  const tmp = ctx.layers.makeTemp('load');
  let root: Root | undefined;
  try {
    const dir = path.join(tmp, 'x');
    fs.mkdirSync(dir);
    await applyLayer(input, dir, ctx.sys, { whiteouts: 'keep' });
    // The extracted archive is read only through fds of it (rootfs/): a name that
    // is a symlink resolves inside it, and a FIFO or device named as a manifest,
    // config or layer is refused on its fd, never opened to block a thread.
    root = Root.open(dir);
    const ar = root;
    const openRegular = (p: string, what: string): { fd: number; size: number } => {
      let fd: number;
      try {
        fd = ar.openFd(cleanEntryName(p), F.O_RDONLY | F.O_NONBLOCK | F.O_NOCTTY);
      } catch (e) {
        const c = errnoOf(e);
        if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP' || c === 'EXDEV') throw invalidParameter(`invalid archive: ${what}: no such file in the archive`);
        throw e;
      }
      const st = F.fstat(fd);
      if (st.type !== 'file') {
        F.close(fd);
        throw invalidParameter(`invalid archive: ${what} is not a file`);
      }
      return { fd, size: st.size };
    };
    const exists = (p: string): boolean => ar.statOrNull(p, true) !== null;
    // manifests, indexes and configs are small: read at most MAX_MANIFEST_BYTES of each, as from a registry
    const readSmall = (p: string, what: string): Buffer => {
      const { fd, size } = openRegular(p, what);
      try {
        if (size > MAX_MANIFEST_BYTES) throw invalidParameter(`invalid archive: ${what} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
        return readAll(fd, MAX_MANIFEST_BYTES); // it may have grown since fstat: refused past the cap too
      } finally {
        F.close(fd);
      }
    };
    const layerStream = (p: string, what: string) => (): Readable => fs.createReadStream('', { fd: openRegular(p, what).fd, autoClose: true });
    const readJson = <T>(p: string, what: string): T => {
      try {
        return JSON.parse(readSmall(p, what).toString('utf8')) as T;
      } catch (e) {
        if (e instanceof SyntaxError) throw invalidParameter(`invalid archive: ${what}: ${e.message}`);
        throw e;
      }
    };
    const loaded: string[] = [];
    if (exists('manifest.json')) {
      const man = readJson<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>('manifest.json', 'manifest.json');
      if (!Array.isArray(man)) throw invalidParameter('invalid archive: manifest.json is not a list');
      for (const m of man) {
        if (typeof m?.Config !== 'string' || !Array.isArray(m.Layers) || !m.Layers.every((l) => typeof l === 'string')) throw invalidParameter('invalid archive: bad entry in manifest.json');
        const configBytes = readSmall(m.Config, m.Config);
        const id = await loadImage(ctx, configBytes, m.Layers.map((l) => layerStream(l, l)), null, progress);
        if (m.RepoTags?.length) {
          for (const t of m.RepoTags) {
            setTag(ctx, withDefaultTag(parseReference(t)), id);
            loaded.push(`Loaded image: ${t}`);
          }
        } else loaded.push(`Loaded image ID: ${id}`);
      }
    } else if (exists('index.json')) {
      // every digest parsed with its own algorithm before it names a file under blobs/
      const blob = (d: Descriptor, what: string): string => {
        const p = checkDescriptor(d, what, { kind: 'invalid-parameter' });
        const { algorithm, hex } = parseDigest(p.digest, what, 'invalid-parameter');
        return `blobs/${algorithm}/${hex}`;
      };
      const small = (d: Descriptor, what: string): Buffer => {
        const b = readSmall(blob(d, what), `${what} ${d.digest}`);
        verifyDigest(b, d.digest, what, 'invalid-parameter');
        return b;
      };
      const json = <T>(d: Descriptor, what: string): T => {
        try {
          return JSON.parse(small(d, what).toString('utf8')) as T;
        } catch (e) {
          if (e instanceof SyntaxError) throw invalidParameter(`invalid archive: ${what} ${d.digest}: ${e.message}`);
          throw e;
        }
      };
      const idx = readJson<IndexJson>('index.json', 'index.json');
      if (!Array.isArray(idx?.manifests)) throw invalidParameter('invalid archive: index.json has no manifests');
      for (const d of idx.manifests) {
        let desc = d;
        let mj = json<ManifestJson & IndexJson>(desc, 'manifest');
        if (isIndex(desc.mediaType, mj)) {
          if (!Array.isArray(mj.manifests)) throw invalidParameter(`invalid archive: index ${desc.digest} has no manifests`);
          desc = selectManifest(mj, ctx.platform);
          mj = json<ManifestJson & IndexJson>(desc, 'manifest');
        }
        if (!mj.config || !Array.isArray(mj.layers)) throw invalidParameter(`invalid archive: manifest ${desc.digest} has no config or layers`);
        const configBytes = small(mj.config, 'config');
        const layers = mj.layers.map((l, i) => ({ file: blob(l, `layer ${i}`), what: `layer ${i} ${l.digest}`, digest: l.digest }));
        const id = await loadImage(ctx, configBytes, layers.map((l) => layerStream(l.file, l.what)), layers.map((l) => l.digest), progress);
        const nm = d.annotations?.['io.containerd.image.name'] ?? d.annotations?.['org.opencontainers.image.ref.name'];
        let named = false;
        if (nm) {
          const r = safeParse(nm);
          if (r && (nm.includes('/') || nm.includes(':') || d.annotations?.['io.containerd.image.name'])) {
            const rr = withDefaultTag(r);
            setTag(ctx, rr, id);
            loaded.push(`Loaded image: ${familiarString(rr)}`);
            named = true;
          }
        }
        if (!named) loaded.push(`Loaded image ID: ${id}`);
      }
    } else {
      throw invalidParameter('invalid tar: neither manifest.json nor index.json found');
    }
    for (const l of loaded) ctx.publish('load', l.replace(/^Loaded image( ID)?: /, ''), {});
    return loaded;
  } finally {
    root?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function loadImage(ctx: ImageContext, configBytes: Buffer, layerStreams: Array<() => Readable>, blobDigests: string[] | null, progress?: ProgressFn): Promise<string> {
  let config: ImageConfigJson;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as ImageConfigJson;
  } catch (e) {
    throw invalidParameter(`invalid archive: image config: ${(e as Error).message}`);
  }
  const diffIds = diffIdsOf(config, 'invalid-parameter');
  if (diffIds.length !== layerStreams.length) throw invalidParameter(`invalid image: ${layerStreams.length} layers for ${diffIds.length} diff IDs`);
  const chains = chainIds(diffIds);
  const staged: Array<StagedLayer | null> = diffIds.map(() => null);
  // the layers found present stay until the image's row holds them
  const release = ctx.layers.lease(chains);
  try {
    for (let i = 0; i < diffIds.length; i++) {
      if (ctx.layers.has(chains[i]!)) continue;
      const file = layerStreams[i]!();
      let src: Readable = file;
      if (blobDigests) {
        const h = new HashStream(blobDigests[i]);
        stream.pipeline(file, h, () => { /* a failure reaches the stage through h */ });
        src = h;
      }
      try {
        const dec = await sniffDecompress(src);
        staged[i] = await ctx.layers.stage(dec, diffIds[i], (n, total) => progress?.({ status: 'Loading layer', id: short(diffIds[i]!), current: n, total }));
      } finally {
        file.destroy(); // closes the fd whatever failed
      }
    }
    commitLayers(ctx, diffIds, staged, diffIds.map(() => null));
    return register(ctx, configBytes, null).id;
  } catch (e) {
    dropStaged(staged);
    throw e;
  } finally {
    release();
  }
}

/** docker import: a rootfs tarball (plain or gzip) becomes a one-layer image. */
export interface ImportOptions { repo?: string; tag?: string; changes?: string[]; message?: string; platform?: Platform }

export async function importTar(ctx: ImageContext, input: Readable, opts: ImportOptions = {}): Promise<string> {
  let ref: Reference | null = null;
  if (opts.repo) {
    ref = parseReference(opts.repo);
    if (opts.tag) ref = parseReference(`${fullName(ref)}:${opts.tag}`);
    ref = withDefaultTag(ref);
  }
  const runConfig = applyChanges({}, opts.changes ?? []);
  const dec = await sniffDecompress(input);
  const staged = await ctx.layers.stage(dec);
  ctx.layers.commit(staged, staged.diffId, null, null);
  const now = new Date().toISOString();
  const p = opts.platform ?? ctx.platform;
  const config: ImageConfigJson = {
    architecture: p.architecture,
    ...(p.variant ? { variant: p.variant } : {}),
    comment: opts.message || 'Imported from -',
    config: runConfig,
    created: now,
    history: [{ created: now, comment: opts.message || 'Imported from -' }],
    os: p.os,
    rootfs: { type: 'layers', diff_ids: [staged.diffId] },
  };
  const { id } = register(ctx, Buffer.from(JSON.stringify(config)), null);
  if (ref) setTag(ctx, ref, id);
  ctx.publish('import', id, ref ? { name: familiarString(ref) } : {});
  return id;
}
