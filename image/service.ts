// The image service: the local image store (records + layers), resolution of
// names and IDs, pull/push, save/load/import, commit, snapshots for containers.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { DB } from '../store/index.js';
import { ImageStore } from '../store/images.js';
import { LayerStore } from '../store/layers.js';
import { DaemonError, NoSuchImageError, conflict, invalidParameter, notFound } from '../errors/index.js';
import { LinuxSyscalls, type Syscalls } from '../sys/index.js';
import { parseReference, withDefaultTag, referenceString, familiarString, familiarName, fullName, familiarize, type Reference } from './reference.js';
import { HashStream, chainIds, hexOf, sha256 } from './digest.js';
import { LayerFiles, type StagedLayer } from './layer-store.js';
import { RegistryClient, MANIFEST_ACCEPT, MEDIA, registryErrorOf, RegistryError, type Response } from './registry/client.js';
import { selectManifest, isIndex, hostPlatform, type Platform, type Descriptor, type IndexJson, type ManifestJson } from './platform.js';
import { compressionOfMediaType, decompressor, sniffDecompress } from './compression.js';
import { applyLayer, cleanEntryName } from './unpack.js';
import { packDir, changes as diffChanges, applyChanges } from './archive.js';
import { planRootfs, mountRootfs, unmountRootfs } from './snapshot.js';
import type {
  Change, CommitOptions, ContainerUsage, DeleteResult, HistoryEntry, Image, ImageConfigJson, ImageRunConfig, LayerInfo,
  ListOptions, PreparedPull, ProgressFn, RegistryAuth, RootfsPlan,
} from './types.js';

export interface EventSink {
  publish(type: 'image', action: string, id: string, attributes?: Record<string, string>): unknown;
}
interface Log { info(o: unknown, m?: string): void; warn(o: unknown, m?: string): void; debug(o: unknown, m?: string): void }

export interface ImageServiceOptions {
  db: DB;
  dataRoot: string;
  events?: EventSink;
  log?: Log;
  insecureRegistries?: string[];
  sys?: Syscalls;
  platform?: Platform;
  /** layers downloaded at once */
  concurrency?: number;
}

const noopLog: Log = { info() {}, warn() {}, debug() {} };
const short = (id: string): string => hexOf(id).slice(0, 12);

export interface PreparedPush {
  ref: string;
  run(progress: ProgressFn): Promise<Array<{ Tag: string; Digest: string; Size: number }>>;
}

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

export class ImageService {
  readonly images: ImageStore;
  readonly layerRows: LayerStore;
  readonly layers: LayerFiles;
  readonly sys: Syscalls;
  private readonly events?: EventSink;
  private readonly log: Log;
  private readonly insecure: string[];
  private readonly platform: Platform;
  private readonly concurrency: number;
  private usage: ContainerUsage = () => null;

  constructor(private readonly opts: ImageServiceOptions) {
    this.images = new ImageStore(opts.db);
    this.layerRows = new LayerStore(opts.db);
    this.sys = opts.sys ?? new LinuxSyscalls();
    this.layers = new LayerFiles(opts.dataRoot, this.layerRows, this.sys);
    this.layers.cleanTemp();
    this.events = opts.events;
    this.log = opts.log ?? noopLog;
    this.insecure = opts.insecureRegistries ?? [];
    this.platform = opts.platform ?? hostPlatform();
    this.concurrency = opts.concurrency ?? 3;
  }

  get dataRoot(): string {
    return this.opts.dataRoot;
  }

  /** The container service tells us which images its containers use. */
  setContainerUsage(fn: ContainerUsage): void {
    this.usage = fn;
  }

  private publish(action: string, id: string, attrs: Record<string, string> = {}): void {
    this.events?.publish('image', action, id, attrs);
  }

  // ---------------------------------------------------------------- resolution

  /** Finds an image by name[:tag], name@digest, full ID or ID prefix; null if none. */
  findImage(refOrId: string): Image | null {
    const id = this.findId(refOrId);
    return id ? this.load(id) : null;
  }

  private findId(refOrId: string): string | null {
    const s = refOrId.trim();
    if (/^sha256:[a-f0-9]{64}$/.test(s)) return this.images.get(s) ? s : null;
    let ref: Reference | null = null;
    try {
      ref = parseReference(s);
    } catch { /* maybe an ID prefix */ }
    if (ref) {
      if (ref.digest) {
        const hit = this.images.digestTarget(`${fullName(ref)}@${ref.digest}`);
        if (hit) return hit;
      } else {
        const hit = this.images.tagTarget(referenceString(withDefaultTag(ref)));
        if (hit) return hit;
      }
    }
    const m = /^(?:sha256:)?([a-f0-9]{1,64})$/.exec(s);
    if (m) {
      const ids = this.images.findByPrefix('sha256:' + m[1]);
      if (ids.length === 1) return ids[0]!;
      if (ids.length > 1) throw invalidParameter(`multiple IDs found with provided prefix: ${s}`);
    }
    return null;
  }

  private notFoundName(refOrId: string): string {
    try {
      if (/^(sha256:)?[a-f0-9]{1,64}$/.test(refOrId)) return refOrId;
      return familiarString(withDefaultTag(parseReference(refOrId)));
    } catch {
      return refOrId;
    }
  }

  /** The name Docker prints for a missing image (busybox -> busybox:latest). */
  resolveName(refOrId: string): string {
    return this.notFoundName(refOrId);
  }

  /** Like findImage but throws Docker's `No such image: x`. */
  resolveImage(refOrId: string): Image {
    const img = this.findImage(refOrId);
    if (!img) throw new NoSuchImageError(this.notFoundName(refOrId));
    return img;
  }

  private load(id: string): Image {
    const row = this.images.get(id);
    if (!row) throw new NoSuchImageError(id);
    const config = JSON.parse(row.config) as ImageConfigJson;
    const layers: LayerInfo[] = this.images.layersOf(id).map((c) => this.layers.info(c));
    return {
      id,
      config,
      runConfig: config.config ?? {},
      layers,
      layerDirs: layers.map((l) => l.dir),
      repoTags: this.images.tagsOf(id).map(familiarize),
      repoDigests: this.images.digestsOf(id).map(familiarize),
      created: row.created,
      size: row.size,
      parent: row.parent,
      addedAt: row.addedAt,
      lastTagTime: null,
    };
  }

  count(): number {
    return this.images.count();
  }

  // ---------------------------------------------------------------- records

  /** Records an image whose layers are all committed. Returns its ID. */
  private register(configBytes: Buffer, manifest: string | null, parent = ''): { id: string; isNew: boolean } {
    const id = sha256(configBytes);
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfigJson;
    const chains = chainIds(config.rootfs?.diff_ids ?? []);
    for (const c of chains) if (!this.layers.has(c)) throw new DaemonError('system', 'TSD_ERR_LAYER_MISSING', `layer ${c} is missing`);
    const size = chains.reduce((n, c) => n + (this.layerRows.get(c)?.size ?? 0), 0);
    const isNew = this.images.insert({ id, config: configBytes.toString('utf8'), manifest, created: config.created ?? new Date(0).toISOString(), size, parent, addedAt: Date.now() }, chains);
    return { id, isNew };
  }

  /** Commits staged layers in order (bottom first). Staged entries may be null (already present). */
  private commitLayers(diffIds: string[], staged: Array<StagedLayer | null>, blobDigests: Array<string | null>): void {
    const chains = chainIds(diffIds);
    chains.forEach((c, i) => {
      const s = staged[i];
      if (s) this.layers.commit(s, c, i === 0 ? null : chains[i - 1]!, blobDigests[i] ?? null);
    });
  }

  private dropStaged(staged: Array<StagedLayer | null>): void {
    for (const s of staged) if (s) fs.rmSync(s.tmp, { recursive: true, force: true });
  }

  /** Points `ref` (a normalized reference string) at `id`. */
  private setTag(ref: Reference, id: string): void {
    const full = referenceString(withDefaultTag({ ...ref, digest: undefined }));
    this.images.setTag(full, id);
  }

  // ---------------------------------------------------------------- pull

  private client(domain: string, auth: RegistryAuth): RegistryClient {
    return new RegistryClient(domain, auth, { insecureRegistries: this.insecure });
  }

  private async fetchManifest(c: RegistryClient, ref: Reference, reference: string, scope: string): Promise<{ body: Buffer; mediaType: string; digest: string }> {
    const res = await c.send('GET', `/v2/${ref.path}/manifests/${reference}`, scope, { headers: { accept: MANIFEST_ACCEPT } });
    if (res.status !== 200) throw await this.pullError(res, ref);
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

  private async pullError(res: Response, ref: Reference): Promise<DaemonError> {
    const e = await registryErrorOf(res);
    if (res.status === 404 && e.code === 'MANIFEST_UNKNOWN') {
      return new RegistryError('not-found', `manifest for ${familiarString(ref)} not found: manifest unknown: ${e.message}`, 404, e.code);
    }
    if (res.status === 401 || res.status === 403 || e.code === 'NAME_UNKNOWN' || e.code === 'DENIED' || e.code === 'UNAUTHORIZED' || res.status === 404) {
      return new RegistryError('not-found', `pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.code ? e.code.toLowerCase().replace(/_/g, ' ') + ': ' : ''}${e.message}`, res.status, e.code);
    }
    return new RegistryError('system', `error from registry ${ref.domain}: ${e.message || 'status ' + res.status}`, res.status, e.code);
  }

  private async fetchBlob(c: RegistryClient, ref: Reference, desc: Descriptor, scope: string): Promise<Response> {
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
  async preparePull(fromImage: string, tag: string | undefined, auth: RegistryAuth = {}, platform?: Platform): Promise<PreparedPull> {
    let ref = parseReference(fromImage);
    if (tag) {
      if (/^[a-z0-9]+:/.test(tag)) ref = parseReference(`${fullName(ref)}@${tag}`);
      else ref = parseReference(`${fullName(ref)}:${tag}`);
    }
    if (!ref.tag && !ref.digest) return this.preparePullAll(ref, auth, platform);
    return this.preparePullOne(ref, auth, platform);
  }

  /** A name without tag or digest pulls every tag of the repository (Docker's `pull -a`). */
  private async preparePullAll(repo: Reference, auth: RegistryAuth, platform?: Platform): Promise<PreparedPull> {
    const c = this.client(repo.domain, auth);
    const res = await c.send('GET', `/v2/${repo.path}/tags/list`, `repository:${repo.path}:pull`);
    if (res.status !== 200) throw await this.pullError(res, repo);
    const tags = (((await res.body.json()) as { tags?: string[] | null }).tags ?? []).sort();
    if (tags.length === 0) throw new RegistryError('not-found', `no tags found for ${familiarName(repo)}`, 404);
    const name = familiarName(repo);
    return {
      ref: name,
      run: async (progress) => {
        let last = { imageId: '', digest: '' };
        let newer = false;
        for (const t of tags) {
          const p = await this.preparePullOne({ ...repo, tag: t }, auth, platform);
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

  private async preparePullOne(ref: Reference, auth: RegistryAuth, platform?: Platform): Promise<PreparedPull> {
    const want = platform ?? this.platform;
    const c = this.client(ref.domain, auth);
    const scope = `repository:${ref.path}:pull`;
    const top = await this.fetchManifest(c, ref, ref.digest ?? ref.tag!, scope);
    let manifestBytes = top.body;
    let parsed = JSON.parse(top.body.toString('utf8')) as ManifestJson & IndexJson;
    if (isIndex(top.mediaType, parsed)) {
      const d = selectManifest(parsed as IndexJson, want);
      const m = await this.fetchManifest(c, ref, d.digest, scope);
      manifestBytes = m.body;
      parsed = JSON.parse(m.body.toString('utf8')) as ManifestJson & IndexJson;
    }
    const manifest = parsed as ManifestJson;
    if (!manifest.config || !Array.isArray(manifest.layers)) {
      throw new DaemonError('not-implemented', 'TSD_ERR_UNSUPPORTED_MANIFEST', `unsupported manifest format for ${familiarString(ref)}: ${top.mediaType || 'unknown media type'}`);
    }
    const cfgRes = await this.fetchBlob(c, ref, manifest.config, scope);
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
      run: (progress) => this.runPull(c, ref, scope, top.digest, manifestBytes, manifest, configBytes, diffIds, progress),
    };
  }

  private async runPull(c: RegistryClient, ref: Reference, scope: string, topDigest: string, manifestBytes: Buffer, manifest: ManifestJson,
    configBytes: Buffer, diffIds: string[], progress: ProgressFn): Promise<{ imageId: string; digest: string }> {
    const name = familiarString(ref);
    progress({ status: `Pulling from ${familiarName(ref)}`, id: ref.tag ?? ref.digest });
    const chains = chainIds(diffIds);
    const staged: Array<StagedLayer | null> = manifest.layers.map(() => null);
    const todo: number[] = [];
    manifest.layers.forEach((l, i) => {
      if (this.layers.has(chains[i]!)) progress({ status: 'Already exists', id: short(l.digest) });
      else {
        progress({ status: 'Pulling fs layer', id: short(l.digest) });
        todo.push(i);
      }
    });
    try {
      await limitAll(todo, this.concurrency, async (i) => {
        const l = manifest.layers[i]!;
        const id = short(l.digest);
        if (l.urls?.length && !l.mediaType.includes('foreign')) { /* ordinary layer with mirrors: we use the registry */ }
        const res = await this.fetchBlob(c, ref, l, scope);
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
        staged[i] = await this.layers.stage(dec, diffIds[i], (n, total) => {
          if (n - lastX >= 1024 * 1024 || n === total) {
            lastX = n;
            progress({ status: 'Extracting', id, current: n, total });
          }
        });
      });
      this.commitLayers(diffIds, staged, manifest.layers.map((l) => l.digest));
    } catch (e) {
      this.dropStaged(staged);
      this.layers.collect();
      throw e;
    }
    for (const i of todo) progress({ status: 'Pull complete', id: short(manifest.layers[i]!.digest) });
    const { id, isNew } = this.register(configBytes, manifestBytes.toString('utf8'));
    const before = ref.tag ? this.images.tagTarget(referenceString(ref)) : null;
    if (ref.tag) this.setTag(ref, id);
    this.images.setDigest(`${fullName(ref)}@${topDigest}`, id);
    progress({ status: `Digest: ${topDigest}` });
    progress({ status: isNew || before !== id ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}` });
    this.publish('pull', name, { name });
    return { imageId: id, digest: topDigest };
  }

  /** GET /distribution/{name}/json: the descriptor a pull would use, and its platforms. */
  async distribution(refStr: string, auth: RegistryAuth = {}): Promise<{ descriptor: Descriptor; platforms: Platform[] }> {
    const ref = withDefaultTag(parseReference(refStr));
    const c = this.client(ref.domain, auth);
    const scope = `repository:${ref.path}:pull`;
    const top = await this.fetchManifest(c, ref, ref.digest ?? ref.tag!, scope);
    const body = JSON.parse(top.body.toString('utf8')) as ManifestJson & IndexJson;
    const descriptor: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.body.length };
    if (isIndex(top.mediaType, body)) {
      return { descriptor, platforms: body.manifests.filter((m) => m.platform).map((m) => ({ os: m.platform!.os, architecture: m.platform!.architecture, ...(m.platform!.variant ? { variant: m.platform!.variant } : {}) })) };
    }
    const cfgRes = await this.fetchBlob(c, ref, body.config, scope);
    const cfg = (await cfgRes.body.json()) as ImageConfigJson;
    return { descriptor, platforms: [{ os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) }] };
  }

  // ---------------------------------------------------------------- push

  /** Resolves what to push; errors here come before streaming. `tag` empty pushes every tag of the repository. */
  preparePush(name: string, tag: string | undefined, auth: RegistryAuth = {}): PreparedPush {
    const base = parseReference(name);
    const repo: Reference = { domain: base.domain, path: base.path };
    const tags: string[] = [];
    if (tag || base.tag) tags.push(tag || base.tag!);
    else {
      const prefix = fullName(repo) + ':';
      for (const img of this.images.list()) for (const t of this.images.tagsOf(img.id)) if (t.startsWith(prefix)) tags.push(t.slice(prefix.length));
      if (tags.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`, 'TSD_ERR_NO_SUCH_IMAGE');
    }
    const targets = tags.map((t) => {
      const r = { ...repo, tag: t };
      const id = this.images.tagTarget(referenceString(r));
      if (!id) throw notFound(`An image does not exist locally with the tag: ${familiarString(r)}`, 'TSD_ERR_NO_SUCH_IMAGE');
      return { ref: r, image: this.load(id) };
    });
    return {
      ref: familiarName(repo),
      run: async (progress) => {
        progress({ status: `The push refers to repository [${familiarName(repo)}]` });
        const out: Array<{ Tag: string; Digest: string; Size: number }> = [];
        const c = this.client(repo.domain, auth);
        for (const t of targets) out.push(await this.pushOne(c, t.ref, t.image, progress));
        return out;
      },
    };
  }

  private async blobExists(c: RegistryClient, repo: Reference, digest: string, scope: string): Promise<number | null> {
    const res = await c.send('HEAD', `/v2/${repo.path}/blobs/${digest}`, scope);
    await res.body.dump();
    if (res.status === 200) return Number(res.headers['content-length'] ?? 0);
    return null;
  }

  private async uploadBlob(c: RegistryClient, repo: Reference, digest: string, size: number, scope: string, body: () => Readable | Buffer): Promise<void> {
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

  private async pushOne(c: RegistryClient, ref: Reference, image: Image, progress: ProgressFn): Promise<{ Tag: string; Digest: string; Size: number }> {
    const scope = `repository:${ref.path}:pull,push`;
    const layers = [...image.layers];
    for (const l of [...layers].reverse()) progress({ status: 'Preparing', id: short(l.diffId) });
    const descs: Descriptor[] = [];
    for (const l of layers) {
      const id = short(l.diffId);
      if (l.blobDigest) {
        const sz = await this.blobExists(c, ref, l.blobDigest, scope);
        if (sz !== null) {
          progress({ status: 'Layer already exists', id });
          descs.push({ mediaType: MEDIA.dockerLayerGzip, digest: l.blobDigest, size: sz });
          continue;
        }
      }
      // compress layer.tar deterministically into a temp file, hashing it
      const tmp = this.layers.makeTemp('push');
      try {
        const gz = path.join(tmp, 'layer.tar.gz');
        const hs = new HashStream();
        await pipeline(fs.createReadStream(this.layers.tarPath(l.chainId)), zlib.createGzip({ level: 6 }), hs, fs.createWriteStream(gz));
        const digest = hs.digest;
        const size = hs.size;
        if (!l.blobDigest) this.layerRows.setBlobDigest(l.chainId, digest);
        if ((await this.blobExists(c, ref, digest, scope)) !== null) {
          progress({ status: 'Layer already exists', id });
        } else {
          let sent = 0;
          await this.uploadBlob(c, ref, digest, size, scope, () => {
            const rs = fs.createReadStream(gz);
            rs.on('data', (b) => {
              sent += b.length;
              progress({ status: 'Pushing', id, current: sent, total: size });
            });
            return rs;
          });
          progress({ status: 'Pushed', id });
        }
        descs.push({ mediaType: MEDIA.dockerLayerGzip, digest, size });
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    }
    const configBytes = Buffer.from(this.images.get(image.id)!.config, 'utf8');
    if ((await this.blobExists(c, ref, image.id, scope)) === null) {
      await this.uploadBlob(c, ref, image.id, configBytes.length, scope, () => configBytes);
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
    this.images.setDigest(`${fullName(ref)}@${digest}`, image.id);
    progress({ status: `${ref.tag}: digest: ${digest} size: ${manifest.length}` });
    progress({ status: '', aux: { Tag: ref.tag, Digest: digest, Size: manifest.length } });
    this.publish('push', familiarString(ref), { name: familiarString(ref) });
    return { Tag: ref.tag!, Digest: digest, Size: manifest.length };
  }

  // ---------------------------------------------------------------- local operations

  list(opts: ListOptions = {}): Image[] {
    const f = opts.filters ?? {};
    let imgs = this.images.list().map((r) => this.load(r.id));
    for (const key of Object.keys(f)) {
      if (!['dangling', 'reference', 'label', 'before', 'since', 'until'].includes(key)) throw invalidParameter(`invalid filter '${key}'`);
    }
    if (f.dangling?.length) {
      const v = f.dangling[0]!;
      if (!['true', 'false', '1', '0'].includes(v)) throw invalidParameter(`invalid filter 'dangling=${v}'`);
      const want = v === 'true' || v === '1';
      imgs = imgs.filter((i) => (i.repoTags.length === 0) === want);
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
        const ref = this.resolveImage(f[k]![0]!);
        const t = Date.parse(ref.created);
        imgs = imgs.filter((i) => (k === 'before' ? Date.parse(i.created) < t : Date.parse(i.created) > t));
      }
    }
    return imgs;
  }

  history(refOrId: string): Array<{ id: string; created: string; createdBy: string; comment: string; size: number; tags: string[] }> {
    const img = this.resolveImage(refOrId);
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
    return out;
  }

  tag(source: string, repo: string, tag?: string): string {
    const img = this.resolveImage(source);
    let ref = parseReference(repo);
    if (ref.digest) throw invalidParameter('refusing to create a tag with a digest reference');
    if (tag) {
      ref = parseReference(`${fullName(ref)}:${tag}`);
    }
    ref = withDefaultTag(ref);
    this.setTag(ref, img.id);
    this.publish('tag', img.id, { name: familiarString(ref) });
    return familiarString(ref);
  }

  private usageOf(id: string): { containerId: string; running: boolean } | null {
    const u = this.usage(id);
    if (!u) return null;
    if (u === true) return { containerId: '', running: false };
    return u;
  }

  /** DELETE /images/{name}: untag, or delete when no reference remains. */
  remove(refOrId: string, opts: { force?: boolean; noprune?: boolean } = {}): DeleteResult[] {
    const img = this.resolveImage(refOrId);
    const out: DeleteResult[] = [];
    const byId = /^(sha256:)?[a-f0-9]{1,64}$/.test(refOrId) && (img.id === refOrId || hexOf(img.id).startsWith(hexOf(refOrId))) && this.images.tagTarget(referenceString(withDefaultTag(safeParse(refOrId) ?? { domain: '', path: '' }))) !== img.id;
    const use = this.usageOf(img.id);
    const tags = this.images.tagsOf(img.id);
    const digests = this.images.digestsOf(img.id);
    if (!byId) {
      const ref = withDefaultTag(parseReference(refOrId));
      const key = ref.digest ? `${fullName(ref)}@${ref.digest}` : referenceString(ref);
      const others = tags.filter((t) => t !== key).length + (ref.digest ? 0 : 0);
      if (others > 0 || (use && opts.force)) {
        if (ref.digest) this.images.removeDigest(key);
        else this.images.removeTag(key);
        out.push({ Untagged: familiarString(ref) });
        this.publish('untag', img.id, { name: familiarString(ref) });
        if (others > 0) return out;
        return out;
      }
      if (use) {
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
    for (const t of tags) {
      this.images.removeTag(t);
      out.push({ Untagged: familiarize(t) });
      this.publish('untag', img.id, { name: familiarize(t) });
    }
    for (const d of digests) {
      this.images.removeDigest(d);
      out.push({ Untagged: familiarize(d) });
    }
    if (use) return out; // forced while a stopped container uses it: keep the image (dangling)
    this.images.remove(img.id);
    out.push({ Deleted: img.id });
    this.publish('delete', img.id, { name: img.id });
    if (!opts.noprune) for (const l of this.layers.collect()) out.push({ Deleted: l });
    return out;
  }

  /** `until`: only images created before this time (ms since the epoch; the API parses Docker's forms). */
  prune(filters: Record<string, string[]> = {}, until: number | null = null): { deleted: DeleteResult[]; spaceReclaimed: number } {
    const danglingOnly = !(filters.dangling?.[0] === 'false' || filters.dangling?.[0] === '0');
    const deleted: DeleteResult[] = [];
    let space = 0;
    for (const row of this.images.list()) {
      const img = this.load(row.id);
      if (danglingOnly && img.repoTags.length > 0) continue;
      if (this.usageOf(img.id)) continue;
      if (until !== null && Date.parse(img.created) >= until) continue;
      if (filters.label?.length && !filters.label.every((l) => { const [k, ...v] = l.split('='); const lb = img.runConfig.Labels ?? {}; return v.length ? lb[k!] === v.join('=') : k! in lb; })) continue;
      const before = this.layerRows.all().reduce((n, l) => n + l.size, 0);
      deleted.push(...this.remove(img.id, { force: true }));
      space += before - this.layerRows.all().reduce((n, l) => n + l.size, 0);
    }
    this.publish('prune', '', { reclaimed: String(space) });
    return { deleted, spaceReclaimed: space };
  }

  // ---------------------------------------------------------------- save / load / import

  /** docker save: a tarball in the docker-save layout (manifest.json, repositories, <config>.json, <layer>/layer.tar). */
  save(refs: string[]): Readable {
    const want = refs.map((r) => ({ arg: r, img: this.resolveImage(r) }));
    const pack = tar.pack();
    const add = (name: string, body: Buffer | string) => new Promise<void>((res, rej) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, typeof body === 'string' ? Buffer.from(body) : body, (e) => (e ? rej(e) : res())));
    const addFile = (name: string, file: string) => new Promise<void>((res, rej) => {
      const st = fs.statSync(file);
      const w = pack.entry({ name, size: st.size, mode: 0o644, mtime: new Date(0) }, (e) => (e ? rej(e) : res()));
      fs.createReadStream(file).on('error', rej).pipe(w as unknown as NodeJS.WritableStream);
    });
    const work = async () => {
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
          await new Promise<void>((res, rej) => pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime: new Date(0) }, (e) => (e ? rej(e) : res())));
          await add(`${dir}/VERSION`, '1.0');
          await add(`${dir}/json`, JSON.stringify({ id: dir }));
          await addFile(`${dir}/layer.tar`, this.layers.tarPath(l.chainId));
        }
        const cfgName = `${hexOf(img.id)}.json`;
        if (!done.has(cfgName)) {
          done.add(cfgName);
          await add(cfgName, this.images.get(img.id)!.config);
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
      pack.finalize();
      for (const { img } of want) this.publish('save', img.id, { name: img.id });
    };
    work().catch((e) => pack.destroy(e as Error));
    return Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
  }

  /** docker load: a docker-save or OCI-layout tarball. Returns the "Loaded image: x" lines. */
  async loadArchive(input: Readable, progress?: ProgressFn): Promise<string[]> {
    const tmp = this.layers.makeTemp('load');
    try {
      const dir = path.join(tmp, 'x');
      fs.mkdirSync(dir);
      await applyLayer(input, dir, this.sys, { whiteouts: 'keep' });
      const within = (p: string): string => {
        const rel = cleanEntryName(p);
        const abs = fs.realpathSync(path.join(dir, rel));
        if (abs !== dir && !abs.startsWith(dir + path.sep)) throw invalidParameter(`invalid path in archive: ${p}`);
        return abs;
      };
      const loaded: string[] = [];
      if (fs.existsSync(path.join(dir, 'manifest.json'))) {
        const man = JSON.parse(fs.readFileSync(within('manifest.json'), 'utf8')) as Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>;
        for (const m of man) {
          const configBytes = fs.readFileSync(within(m.Config));
          const id = await this.loadImage(configBytes, m.Layers.map((l) => () => fs.createReadStream(within(l))), null, progress);
          if (m.RepoTags?.length) {
            for (const t of m.RepoTags) {
              this.setTag(withDefaultTag(parseReference(t)), id);
              loaded.push(`Loaded image: ${t}`);
            }
          } else loaded.push(`Loaded image ID: ${id}`);
        }
      } else if (fs.existsSync(path.join(dir, 'index.json'))) {
        const blob = (d: string) => within(`blobs/${d.replace(':', '/')}`);
        const idx = JSON.parse(fs.readFileSync(within('index.json'), 'utf8')) as IndexJson;
        for (const d of idx.manifests) {
          let desc = d;
          let mj = JSON.parse(fs.readFileSync(blob(desc.digest), 'utf8')) as ManifestJson & IndexJson;
          if (isIndex(desc.mediaType, mj)) {
            desc = selectManifest(mj, this.platform);
            mj = JSON.parse(fs.readFileSync(blob(desc.digest), 'utf8')) as ManifestJson & IndexJson;
          }
          const configBytes = fs.readFileSync(blob(mj.config.digest));
          if (sha256(configBytes) !== mj.config.digest) throw invalidParameter(`config blob ${mj.config.digest} does not match its digest`);
          const id = await this.loadImage(configBytes, mj.layers.map((l) => () => fs.createReadStream(blob(l.digest))), mj.layers.map((l) => l.digest), progress);
          const nm = d.annotations?.['io.containerd.image.name'] ?? d.annotations?.['org.opencontainers.image.ref.name'];
          let named = false;
          if (nm) {
            const r = safeParse(nm);
            if (r && (nm.includes('/') || nm.includes(':') || d.annotations?.['io.containerd.image.name'])) {
              const rr = withDefaultTag(r);
              this.setTag(rr, id);
              loaded.push(`Loaded image: ${familiarString(rr)}`);
              named = true;
            }
          }
          if (!named) loaded.push(`Loaded image ID: ${id}`);
        }
      } else {
        throw invalidParameter('invalid tar: neither manifest.json nor index.json found');
      }
      for (const l of loaded) this.publish('load', l.replace(/^Loaded image( ID)?: /, ''), {});
      return loaded;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  private async loadImage(configBytes: Buffer, layerStreams: Array<() => Readable>, blobDigests: string[] | null, progress?: ProgressFn): Promise<string> {
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfigJson;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== layerStreams.length) throw invalidParameter(`invalid image: ${layerStreams.length} layers for ${diffIds.length} diff IDs`);
    const chains = chainIds(diffIds);
    const staged: Array<StagedLayer | null> = diffIds.map(() => null);
    try {
      for (let i = 0; i < diffIds.length; i++) {
        if (this.layers.has(chains[i]!)) continue;
        let src = layerStreams[i]!();
        if (blobDigests) {
          const h = new HashStream(blobDigests[i]);
          src.on('error', (e) => h.destroy(e));
          src = src.pipe(h);
        }
        const dec = await sniffDecompress(src);
        staged[i] = await this.layers.stage(dec, diffIds[i], (n, total) => progress?.({ status: 'Loading layer', id: short(diffIds[i]!), current: n, total }));
      }
      this.commitLayers(diffIds, staged, diffIds.map(() => null));
    } catch (e) {
      this.dropStaged(staged);
      throw e;
    }
    return this.register(configBytes, null).id;
  }

  /** docker import: a rootfs tarball (plain or gzip) becomes a one-layer image. */
  async importTar(input: Readable, opts: { repo?: string; tag?: string; changes?: string[]; message?: string; platform?: Platform } = {}): Promise<string> {
    let ref: Reference | null = null;
    if (opts.repo) {
      ref = parseReference(opts.repo);
      if (opts.tag) ref = parseReference(`${fullName(ref)}:${opts.tag}`);
      ref = withDefaultTag(ref);
    }
    const runConfig = applyChanges({}, opts.changes ?? []);
    const dec = await sniffDecompress(input);
    const staged = await this.layers.stage(dec);
    this.layers.commit(staged, staged.diffId, null, null);
    const now = new Date().toISOString();
    const p = opts.platform ?? this.platform;
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
    const { id } = this.register(Buffer.from(JSON.stringify(config)), null);
    if (ref) this.setTag(ref, id);
    this.publish('import', id, ref ? { name: familiarString(ref) } : {});
    return id;
  }

  // ---------------------------------------------------------------- containers

  /** The short layer paths (bottom first) used in overlay mounts. */
  shortLayerDirs(image: Image): string[] {
    return image.layers.map((l) => this.layers.shortPath(l.chainId));
  }

  prepareRootfs(containerId: string, image: Image): RootfsPlan {
    return planRootfs(path.join(this.opts.dataRoot, 'containers', containerId), this.shortLayerDirs(image), this.opts.dataRoot);
  }

  mountRootfs(plan: RootfsPlan): void {
    mountRootfs(this.sys, plan);
  }

  unmountRootfs(target: string): void {
    unmountRootfs(this.sys, target);
  }

  changes(upperdir: string, image: Image): Change[] {
    return diffChanges(upperdir, image.layerDirs.slice().reverse());
  }

  exportRootfs(dir: string): Readable {
    return packDir(dir, { sys: this.sys });
  }

  async commit(o: CommitOptions): Promise<string> {
    const base = this.resolveImage(o.baseImageId);
    const staged = await this.layers.stage(packDir(o.upperdir, { overlayWhiteouts: true, sys: this.sys }));
    const diffIds = [...(base.config.rootfs?.diff_ids ?? []), staged.diffId];
    const chains = chainIds(diffIds);
    this.layers.commit(staged, chains[chains.length - 1]!, chains.length > 1 ? chains[chains.length - 2]! : null, null);
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
    const { id } = this.register(Buffer.from(JSON.stringify(cfg)), null, base.id);
    if (o.ref) this.setTag(withDefaultTag(parseReference(o.ref)), id);
    return id;
  }

  /** Collects layers no image references. */
  collectLayers(): string[] {
    return this.layers.collect();
  }
}

function safeParse(s: string): Reference | null {
  try {
    return parseReference(s);
  } catch {
    return null;
  }
}

function globToRegex(p: string): RegExp {
  const esc = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${esc}$`);
}


