// docker create: validate, resolve the image, reserve name and id, prepare the
// overlay dirs, insert the row ('created'). Nothing is mounted or spawned.
import fs from 'node:fs';
import path from 'node:path';
import { DaemonError, NameConflictError, invalidParameter, notFound } from '../../errors/index.js';
import { checkSlice } from '../../cgroupfs/index.js';
import { parseLogConfig } from '../logs/index.js';
import { defaultMaskedPaths, parseSecurityOpt, READONLY_PATHS } from '../../runtime/index.js';
import { containerDir, publish, type ContainerContext } from './context.js';
import { HealthMonitor } from './health.js';
import { resolveLinks } from './links.js';
import { newId, randomName } from './names.js';
import { mergeImageConfig, planMounts } from './plan.js';
import type { Resources } from './ports.js';
import type { Container, ContainerConfig, HostConfig, RuntimeState } from './types.js';
import { ZERO_TIME } from './types.js';

export interface CreateInput {
  name?: string;
  config: Partial<ContainerConfig> & { Image: string };
  hostConfig: HostConfig;
  endpointsConfig: RuntimeState['endpointsConfig'];
  resources: Resources;
}

type CreateContext = Pick<ContainerContext, 'store' | 'config' | 'events' | 'images' | 'network' | 'volumes' | 'get'>;

export async function createContainer(ctx: CreateContext, input: CreateInput): Promise<{ id: string; warnings: string[] }> {
  const name = input.name || uniqueRandomName(ctx);
  const clash = ctx.store.idByName(name);
  if (clash) throw new NameConflictError(name, clash);
  const image = ctx.images.resolve(input.config.Image);
  const config = mergeImageConfig(input.config, image);
  const id = newId();
  checkNamespaceModes(input.hostConfig, input.config.Hostname);
  if (!config.Hostname) config.Hostname = id.slice(0, 12);
  if (!config.Cmd?.length && !config.Entrypoint?.length) throw invalidParameter('no command specified', 'TSD_ERR_NO_COMMAND');
  const logCfg = parseLogConfig(input.hostConfig.LogConfig);
  input.hostConfig.LogConfig = { Type: logCfg.type, Config: logCfg.options };
  parseSecurityOpt(input.hostConfig.SecurityOpt ?? []);
  checkStorageOpt(input.hostConfig.StorageOpt);
  // moby's verifyPlatformContainerSettings: under the systemd driver a parent is a slice
  if (ctx.config.cgroupDriver === 'systemd' && input.hostConfig.CgroupParent) checkSlice(input.hostConfig.CgroupParent);
  // moby's createContainerOSSpecificSettings: the default lists are stored (and shown) unless given or privileged
  if (!input.hostConfig.Privileged) {
    input.hostConfig.MaskedPaths ??= defaultMaskedPaths();
    input.hostConfig.ReadonlyPaths ??= [...READONLY_PATHS];
  }
  checkNetworkMode(ctx, input.hostConfig.NetworkMode);
  if (input.hostConfig.Links?.length) input.hostConfig.Links = resolveLinks(input.hostConfig.Links, name, input.hostConfig.NetworkMode, (ref) => ctx.get(ref));
  for (const [mode, what, allowed] of [[input.hostConfig.IpcMode, 'IPC', ['', 'private', 'shareable', 'none', 'host']], [input.hostConfig.PidMode, 'PID', ['', 'host']]] as const) {
    if ((allowed as readonly string[]).includes(mode ?? '')) continue;
    if (mode?.startsWith('container:')) { referenced(ctx, mode.slice('container:'.length)); continue; }
    throw invalidParameter(`invalid ${what} mode: ${mode}`);
  }
  const dir = containerDir(ctx, id);
  fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
  try {
    ctx.images.prepareRootfs(dir, image);
    const mounts = planMounts(config, input.hostConfig, {
      volumeMountpoint: (n) => ctx.volumes.mountpoint(n),
      mountsOf: (ref) => ctx.get(ref).runtime.mounts ?? [],
      exists: (p) => fs.existsSync(p),
      newVolumeName: newId,
    });
    const runtime: RuntimeState & { resources: Resources } = {
      endpointsConfig: input.endpointsConfig,
      networks: {},
      ports: {},
      sandboxKey: '',
      hostsPath: '',
      hostnamePath: '',
      resolvConfPath: '',
      logPath: logCfg.type === 'json-file' ? path.join(dir, `${id}-json.log`) : '',
      mounts,
      manuallyStopped: false,
      platform: 'linux',
      ...(config.Healthcheck && config.Healthcheck.Test && config.Healthcheck.Test[0] !== 'NONE' ? { health: { ...HealthMonitor.initial } } : {}),
      resources: input.resources,
    };
    const now = new Date().toISOString();
    try {
      ctx.store.insert({
        id, name, imageId: image.id, imageRef: input.config.Image, createdAt: now, state: 'created', pid: 0, pidStart: '', exitCode: 0,
        oomKilled: false, error: '', startedAt: ZERO_TIME, finishedAt: ZERO_TIME, restartCount: 0, config, hostConfig: input.hostConfig, runtime,
        layer: image.topLayer ?? null,
      });
    } catch (e) {
      // Another create took the name between the check above and the insert (better-sqlite3's code, not its message).
      const holder = (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' ? ctx.store.byName(name) : null;
      if (holder) throw new NameConflictError(name, holder.id);
      throw e;
    }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const c: Container = ctx.get(id);
  publish(ctx, c, 'create');
  return { id, warnings: [] };
}

/**
 * HostConfig.StorageOpt as moby's overlay2 without project quotas (tsd's data root is
 * not xfs mounted with pquota): `size` refused with its message, other keys unknown.
 */
function checkStorageOpt(opts: Record<string, string> | null | undefined): void {
  if (!opts || !Object.keys(opts).length) return;
  if ('size' in opts || Object.keys(opts).some((k) => k.toLowerCase() === 'size')) {
    throw invalidParameter("--storage-opt is supported only for overlay over xfs with 'pquota' mount option", 'TSD_ERR_STORAGE_OPT');
  }
  throw invalidParameter(`Unknown option ${Object.keys(opts)[0]!.toLowerCase()}`, 'TSD_ERR_STORAGE_OPT');
}

function uniqueRandomName(ctx: Pick<ContainerContext, 'store'>): string {
  for (let i = 0; i < 20; i++) {
    const n = randomName(i > 5 ? 1 : 0);
    if (!ctx.store.idByName(n)) return n;
  }
  return `tsd_${newId().slice(0, 12)}`;
}

/**
 * A container named by a create option (--network/--ipc/--pid container:x). Missing, it is a bad
 * parameter (400), as in dockerd: a 404 on create would make the docker CLI try to pull an image.
 */
function referenced(ctx: Pick<ContainerContext, 'get'>, ref: string): Container {
  try {
    return ctx.get(ref);
  } catch (e) {
    if (e instanceof DaemonError && e.kind === 'not-found') throw new DaemonError('invalid-parameter', e.code, e.message);
    throw e;
  }
}

/**
 * UTSMode and CgroupnsMode as moby's verifyPlatformContainerSettings and validateNetMode check
 * them; --cgroupns host is refused rather than ignored (no container shares the host's here).
 */
function checkNamespaceModes(hc: Pick<HostConfig, 'UTSMode' | 'CgroupnsMode'>, hostname: string | undefined): void {
  if (hc.UTSMode && hc.UTSMode !== 'host') throw invalidParameter(`invalid UTS mode: ${hc.UTSMode}`);
  if (hc.UTSMode === 'host' && hostname) throw invalidParameter('conflicting options: hostname and the UTS mode');
  const cg = hc.CgroupnsMode || 'private';
  if (cg === 'host') throw invalidParameter('cgroup namespace mode "host" is not supported by tsd: every container gets a private cgroup namespace', 'TSD_ERR_CGROUPNS_HOST');
  if (cg !== 'private') throw invalidParameter(`invalid cgroup namespace mode: ${cg}`);
}

function checkNetworkMode(ctx: Pick<ContainerContext, 'get' | 'network'>, mode: string): void {
  if (mode.startsWith('container:')) {
    referenced(ctx, mode.slice('container:'.length));
    return;
  }
  if (['default', 'bridge', 'none', 'host'].includes(mode)) return;
  if (!ctx.network) throw notFound(`network ${mode} not found`);
  ctx.network.inspect(mode);
}
