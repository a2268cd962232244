// The builder's BuildBackend over the daemon's image and container services
// (moby's builder.Backend over its daemon): image lookup and pull, image
// configs and commits, writable layers for COPY/ADD/WORKDIR, and step
// containers created, run with their output attached, committed and removed
// like any other container.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { BuildBackend, BuildImage, ChildConfig, ImageConfig, RunConfig, RwLayer, AuthConfigs, ProgressMessage } from '../builder/index.js';
import {
  applyLayer, parseReference, withDefaultTag, referenceString, planRootfs, parsePlatform, type Image, type ImageService, type ImageConfigJson,
  type RegistryAuth, type RootfsPlan,
} from '../image/index.js';
import type { Syscalls } from '../sys/index.js';
import type { ContainerService, CreateInput } from './containers/service.js';
import type { StdioClient } from './stdio.js';

/** What the API hands the builder for step containers: their HostConfig and resources, translated once per build. */
export interface RunTemplate {
  hostConfig: CreateInput['hostConfig'];
  resources: CreateInput['resources'];
  warnings: string[];
}

const toBuildImage = (img: Image): BuildImage => ({ id: img.id, config: img.config as unknown as ImageConfig, parent: img.parent });

/** The credentials X-Registry-Config has for `ref`'s registry (keys may be URLs; Docker Hub has its legacy key). */
export function authFor(configs: AuthConfigs, ref: string): RegistryAuth {
  let domain = 'docker.io';
  try {
    domain = parseReference(ref).domain;
  } catch { /* the pull reports the bad reference */ }
  const norm = (k: string) => k.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const want = domain === 'docker.io' ? ['docker.io', 'index.docker.io', 'registry-1.docker.io'] : [domain];
  for (const [k, v] of Object.entries(configs)) {
    if (!want.includes(norm(k))) continue;
    let { username, password } = v;
    if (!username && v.auth) {
      const s = Buffer.from(v.auth, 'base64').toString('utf8');
      const i = s.indexOf(':');
      if (i > 0) [username, password] = [s.slice(0, i), s.slice(i + 1)];
    }
    return { username, password, serveraddress: v.serveraddress ?? k, identitytoken: v.identitytoken, registrytoken: v.registrytoken };
  }
  return {};
}

export function createBuildBackend(o: { images: ImageService; containers: ContainerService; sys: Syscalls; dataRoot: string; dockerVersion: string; log: Logger }): BuildBackend {
  const { images, containers } = o;

  const mountLayer = async (parent: BuildImage): Promise<RwLayer & { plan: RootfsPlan }> => {
    const dir = images.builderLayerDir();
    const img = parent.id ? images.resolveImage(parent.id) : null;
    const plan = planRootfs(dir, img ? images.shortLayerDirs(img) : [], o.dataRoot);
    for (const d of [plan.upperdir, plan.workdir, plan.target, ...(img ? [] : plan.lowerdirs)]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
    let mounted = false;
    let released = false;
    try {
      images.mountRootfs(plan);
      mounted = true;
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      plan,
      root: plan.target,
      upperdir: plan.upperdir,
      release: async () => {
        if (released) return;
        released = true;
        if (mounted) {
          try {
            images.unmountRootfs(plan.target);
          } catch (err) {
            o.log.warn({ err, target: plan.target }, 'build layer not unmounted');
            return; // never remove a directory that may still be mounted
          }
        }
        await fs.promises.rm(dir, { recursive: true, force: true });
      },
    };
  };

  return {
    findImage(ref) {
      try {
        const img = images.findImage(ref);
        return img ? toBuildImage(img) : null;
      } catch {
        return null;
      }
    },

    async pullImage(ref, po) {
      const platform = po.platform ? parsePlatform(po.platform) : undefined;
      const prepared = await images.preparePull(ref, undefined, authFor(po.auth, ref), platform);
      const r = await prepared.run((e) => {
        if (e.aux) return;
        const m: ProgressMessage = { status: e.status, ...(e.id !== undefined ? { id: e.id } : {}), ...(e.current !== undefined ? { current: e.current } : {}), ...(e.total !== undefined ? { total: e.total } : {}) };
        po.progress(m);
      });
      return toBuildImage(images.resolveImage(r.imageId));
    },

    createImage(config, parentId) {
      return images.createImage(config as unknown as ImageConfigJson, parentId);
    },

    commitLayer(upperdir, parent, child) {
      return images.commitChild(upperdir, parent.id, { ...child, config: child.config as never, containerConfig: child.containerConfig as never, dockerVersion: o.dockerVersion });
    },

    normalizeTag(ref) {
      const r = parseReference(ref);
      if (r.digest) throw new Error('refusing to create a tag with a digest reference');
      return referenceString(withDefaultTag(r));
    },

    tag(imageId, ref) {
      images.tag(imageId, ref);
    },

    openLayer: mountLayer,

    async openImageFs(image) {
      const l = await mountLayer(image);
      return { root: l.root, release: l.release };
    },

    async createContainer(image, config: RunConfig, template) {
      const t = template as RunTemplate;
      const cfg = { ...config, Image: image } as CreateInput['config'];
      const r = await containers.create({ config: cfg, hostConfig: structuredClone(t.hostConfig), endpointsConfig: {}, resources: structuredClone(t.resources) });
      return { id: r.id, warnings: [...t.warnings, ...r.warnings] };
    },

    async runContainer(id, io, signal) {
      const client: StdioClient = {
        write(stream, buf) {
          io[stream](buf);
          return true;
        },
        writableLength: 0,
        closed: false,
        close() { /* nothing to flush */ },
        onClose() { /* never closes on its own */ },
      };
      const { hub } = containers.attachHub(id);
      const att = hub.attach(client, { stdout: true, stderr: true });
      const w = containers.wait(id, 'next-exit');
      const kill = () => { containers.kill(id, 'SIGKILL').catch(() => { /* already gone */ }); };
      if (signal.aborted) {
        w.cancel();
        att.detach();
        return { exitCode: 137, error: 'build cancelled' };
      }
      signal.addEventListener('abort', kill, { once: true });
      try {
        try {
          await containers.start(id);
        } catch (e) {
          w.cancel();
          att.detach();
          throw e;
        }
        const r = await w.result;
        await att.done;
        return { exitCode: r.StatusCode, error: r.Error?.Message ?? '' };
      } finally {
        signal.removeEventListener('abort', kill);
      }
    },

    async commitContainer(id, parent, child: ChildConfig) {
      const c = containers.get(id);
      const upper = containers.rootfsOf(c).upperdir;
      return images.commitChild(upper, parent.id, { ...child, config: child.config as never, containerConfig: child.containerConfig as never, dockerVersion: o.dockerVersion });
    },

    async removeContainer(id) {
      await containers.remove(id, { force: true, volumes: true });
    },

    async extractContext(tar: Readable, dir: string) {
      await applyLayer(tar, dir, o.sys, { whiteouts: 'keep' });
    },
  };
}
