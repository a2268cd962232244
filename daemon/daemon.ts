// The composition root: opens the store, builds every subsystem, and returns the
// services the API serves (daemon/index.ts Services). Used by main.ts (the
// process) and nothing else.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ContainerStore, openDatabase, type DB } from '../store/index.js';
import { defaults, type DaemonConfig } from './config.js';
import { invalidParameter, systemError } from '../errors/index.js';
import { EventBus } from './events.js';
import { SystemService } from './system.js';
import { createImageService, type ContainerUsage, type Image, type ImageRunConfig, type ImageService } from '../image/index.js';
import { createNetworkController } from '../netctl/index.js';
import { closeSystemdBus, createCgroupManager, createSystemdCgroupManager, detectCgroupMode, enterDelegatedSubtree, scopePath, systemdVersion, type CgroupMode } from '../cgroupfs/index.js';
import { createRuntime, sealInitBinary, unsealInitBinary, nsexecPath } from '../runtime/index.js';
import { LinuxSyscalls, MNT_DETACH } from '../sys/index.js';
import { VolumeService } from './volumes.js';
import { ContainerService } from './containers/service.js';
import { HolderClient, HolderProtocolError } from './restore/index.js';
import { isUp, type ContainerState } from './containers/state.js';
import { hostView, readCgroup, readPrimitives } from './explain/index.js';
import { cgroupNameOf, type Container } from './containers/types.js';
import { createMetrics } from './metrics/index.js';
import { MASKED_PATHS, READONLY_PATHS } from '../runtime/index.js';
import type { ImagePort, ImageForContainer, RootfsMount } from './containers/ports.js';
import { createBuilder, BuildCache } from '../builder/index.js';
import { BuildCacheStore } from '../store/index.js';
import { createBuildBackend } from './build-backend.js';
import { hostPlatform } from '../image/index.js';
import type { RuntimeState } from './containers/types.js';
import type { PrimitivesBackend, Services } from './services.js';

export interface Daemon {
  config: DaemonConfig;
  db: DB;
  log: Logger;
  events: EventBus;
  system: SystemService;
  /** what main.ts hands to the API */
  services: Services;
  /** Stream responses and sessions register here to be ended at shutdown. */
  onShutdown(fn: () => void | Promise<void>): () => void;
  /** Ends streams and stops subsystems (registered hooks, last registered first). */
  shutdown(): Promise<void>;
  /** Closes the store; after shutdown() and after the API stopped. */
  close(): void;
}

function engineId(dataRoot: string): string {
  const p = path.join(dataRoot, 'engine-id');
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    const id = crypto.randomUUID();
    fs.writeFileSync(p, id + '\n', { mode: 0o600 });
    return id;
  }
}

export async function createDaemon(config: DaemonConfig, log: Logger): Promise<Daemon> {
  for (const d of [config.dataRoot, path.join(config.dataRoot, 'containers'), path.join(config.dataRoot, 'volumes')]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o711 });
  }
  fs.mkdirSync(config.execRoot, { recursive: true, mode: 0o700 });
  // Live restore: the holder (one process per exec root) that keeps containers' stdio and exit
  // statuses while this daemon is away. Without it containers die with the daemon, as before.
  // First of all: a holder of another protocol (another tsd version's) refuses this daemon
  // before anything is changed for it (the schema migrated, the network set up).
  let restore: HolderClient | null = null;
  if (config.liveRestore) {
    restore = await HolderClient.open(path.join(config.execRoot, 'restore'), log.child({ subsystem: 'restore' }))
      .catch((err) => {
        // another version's holder: refuse to boot rather than kill or orphan what it holds
        if (err instanceof HolderProtocolError) throw err;
        log.error({ err }, 'live restore unavailable: the holder did not start');
        return null;
      });
  }
  const db = openDatabase(path.join(config.dataRoot, 'tsd.db'));
  const events = new EventBus();
  const system = new SystemService(db, config, engineId(config.dataRoot));
  const hooks = new Set<() => void | Promise<void>>();
  const onShutdown = (fn: () => void | Promise<void>) => { hooks.add(fn); return () => { hooks.delete(fn); }; };
  // Which container holds an image, asked of the container rows (as moby hands its ContainerStore to the image service).
  const containerRows = new ContainerStore(db);
  const containerUsage: ContainerUsage = (imageId) => {
    const users = containerRows.usesImage(imageId);
    if (!users.length) return null;
    const running = users.find((c) => isUp(c.state as ContainerState));
    return { containerId: (running ?? users[0]!).id, running: !!running };
  };
  const images = createImageService({ db, dataRoot: config.dataRoot, events, log, insecureRegistries: config.insecureRegistries, containerUsage });
  // what a daemon killed in a pull, load, commit or rmi left: before anything else reads the layer store
  const swept = images.sweep();
  if (swept.rows.length || swept.dirs.length || swept.temp || swept.links) {
    log.info({ rows: swept.rows.length, dirs: swept.dirs.length, temp: swept.temp, links: swept.links }, 'layer store: removed what an interrupted operation left');
  }
  if (swept.missing.length) log.warn({ layers: swept.missing }, 'layer store: layers in use whose files are gone (pull the image again)');

  const cgroupMode = detectCgroupMode();
  const systemd = config.cgroupDriver === 'systemd';
  if (systemd) {
    // native.cgroupdriver=systemd: containers are transient scopes made over D-Bus; refuse to boot where no systemd answers
    const version = await systemdVersion().catch((err: Error) => {
      throw systemError(`native.cgroupdriver=systemd: systemd's D-Bus API does not answer here (${err.message})`, err, 'TSD_ERR_SYSTEMD_BUS');
    });
    log.info({ systemd: version, slice: config.cgroupParent }, 'cgroup driver systemd: containers are transient scopes docker-<id>.scope');
    onShutdown(() => closeSystemdBus());
  } else if (cgroupMode === 'unified' && config.cgroupParent === defaults.cgroupParent) {
    // Under systemd (Delegate=yes) only the unit's cgroup is ours: the daemon moves into its `tsd`
    // child and containers become that child's siblings (cgroupfs/delegation.ts).
    const layout = enterDelegatedSubtree();
    if (layout) {
      config.cgroupParent = layout.parent;
      log.info({ cgroupParent: layout.parent, daemonCgroup: layout.daemon }, 'running in a delegated cgroup: containers go beside the daemon');
    }
  }
  const realtimeParent = realtimeBudget(config, cgroupMode);
  // The runtime makes each task's cgroup and keeps the warm inits (and their staging cgroups).
  const runtime = createRuntime({ cgroupParent: config.cgroupParent, cgroupMode, cgroupDriver: config.cgroupDriver, initPool: config.initPool, realtimeParent, log: log.child({ subsystem: 'runtime' }) });
  const network = createNetworkController({ db, execRoot: config.execRoot, bridge: config.bridge, bip: config.bip, log: log.child({ subsystem: 'netctl' }) });
  await network.init();
  // Which containers mount a volume, asked of the container rows likewise.
  const volumeUsers = (name: string) => containerRows.list()
    .filter((c) => (c.runtime as RuntimeState | null)?.mounts?.some((m) => m.Type === 'volume' && m.Name === name)).map((c) => c.id);
  const volumes = new VolumeService(db, config.dataRoot, events, volumeUsers);
  volumes.reconcile();
  const sys = new LinuxSyscalls();
  const cgroupVersion = cgroupMode === 'unified' ? 'v2' as const : 'v1' as const;
  const cgroupPath = (c: Container) => systemd
    ? scopePath(c.hostConfig.CgroupParent || config.cgroupParent, cgroupNameOf(c))
    : createCgroupManager({ mode: cgroupMode, parent: c.hostConfig.CgroupParent || config.cgroupParent, name: cgroupNameOf(c) }).path;
  const cgroupOf = (c: Container) => {
    const o = { mode: cgroupMode, parent: c.hostConfig.CgroupParent || config.cgroupParent, name: cgroupNameOf(c) };
    return systemd ? createSystemdCgroupManager(o) : createCgroupManager(o);
  };
  const containers = new ContainerService({
    restore,
    db, config, events, log: log.child({ subsystem: 'containers' }), images: imagePortOf(images),
    runtime, network, volumes,
    // what tsctl explain shows of a stopped container: its cgroup's files as they read at the exit
    exitCounters: (c) => { const v = readCgroup(hostView(), cgroupVersion, cgroupPath(c)); return v.present ? v : null; },
    // live restore: whether an adopted task is paused is the freezer's answer, not the row's
    freezerState: (c) => cgroupOf(c).freezerState(),
  });
  const primitives: PrimitivesBackend = {
    read: (ref: string, o: { windowSeconds: number }) => readPrimitives({
      get: (r) => containers.get(r),
      list: () => containers.list(),
      cgroupVersion,
      cgroupDriver: config.cgroupDriver,
      cgroupPath,
      endpoints: (id) => network.endpoints(id).map((e) => {
        let bridge = '';
        try { bridge = network.inspect(e.networkId).bridge; } catch { /* removed meanwhile */ }
        return { ...e, bridge };
      }),
      layerDirs: (imageId) => images.findImage(imageId)?.layerDirs ?? [],
      containerDir: (id) => containers.containerDir(id),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    }, ref, o),
  };
  const metrics = createMetrics({
    events,
    containers: () => containers.list().map((c) => ({ id: c.id, name: c.name, image: c.config.Image, state: c.state, pid: c.pid })),
    cgroupStats: (id) => containers.stats(id).stats,
  });
  hooks.add(() => metrics.close());
  // docker build: the classic builder over the image and container services, its cache in the store
  const builderDir = path.join(config.dataRoot, 'builder');
  cleanBuilderDir(builderDir, sys, log);
  const buildCache = new BuildCache(new BuildCacheStore(db), {
    exists: (id) => !!images.images.get(id),
    isShared: (id, memo) => images.isShared(id, memo),
    ownLayerSize: (id) => images.ownLayerSize(id),
    removeUnreferenced: (id, keep) => { images.removeUnreferenced(id, keep); },
    layerBytes: () => images.layerRows.all().reduce((n, l) => n + l.size, 0),
  });
  const platform = hostPlatform();
  const builder = createBuilder(
    createBuildBackend({ images, containers, sys, dataRoot: config.dataRoot, dockerVersion: `tsd ${process.env.npm_package_version ?? '0.1.0'}`, log: log.child({ subsystem: 'builder' }) }),
    buildCache,
    { workDir: builderDir, platform: { os: platform.os, architecture: platform.architecture, ...(platform.variant ? { variant: platform.variant } : {}) }, dockerVersion: `tsd ${process.env.npm_package_version ?? '0.1.0'}`, log: log.child({ subsystem: 'builder' }) },
  );
  const services: Services = {
    config, events, system, onShutdown, containers, images, volumes, networks: network, cgroupMode, metrics, primitives, builder, buildCache,
    liveRestore: () => restore?.alive ?? false,
  };
  await containers.reconcile();
  // Inits run from a read-only bind of node: no container ever holds a writable path to the host's binary.
  try {
    sealInitBinary(path.join(config.execRoot, 'init'));
  } catch (err) {
    log.warn({ err }, 'could not make the init binary read-only; inits run from the host node');
  }
  // a live-restored container on v2 may live in the staging cgroup it adopted (warm-<pid>): not stale
  await runtime.start({ keep: containers.list().filter((c) => isUp(c.state)).map((c) => cgroupNameOf(c)) });
  const helper = nsexecPath();
  if (helper) log.info({ helper }, 'exec and healthcheck probes run through tsd-nsexec (a sealed memfd copy)');
  else log.warn('tsd-nsexec is not built (scripts/build-static.sh needs gcc and libc6-dev) or TSD_NSEXEC=0: exec and healthcheck probes start a Node init each (slower)');
  hooks.add(async () => {
    await runtime.shutdown();
    await containers.shutdown();
    unsealInitBinary();
    await network.shutdown();
    // The netns dir is a private bind mount of itself (so netns files can be bind-mounted into it); drop it once empty.
    const netnsDir = path.join(config.execRoot, 'netns');
    try {
      if (fs.readdirSync(netnsDir).length === 0) sys.umount2(netnsDir, MNT_DETACH);
    } catch { /* not there or not mounted */ }
    runtime.cleanup();
  });

  const daemon: Daemon = {
    config, db, log, events, system, services,
    onShutdown,
    async shutdown() {
      for (const fn of [...hooks].reverse()) {
        try {
          await fn();
        } catch (err) {
          log.warn({ err }, 'shutdown hook failed');
        }
      }
    },
    close() {
      db.close();
    },
  };
  return daemon;
}

/** The image service as the container service sees it. */
function imagePortOf(images: ImageService): ImagePort {
  // The record each port image was made from: a start asks byId, then prepareRootfs with its answer, which
  // needs the image's layers again. An id names content (its layers never change under it), so they are the
  // record's; only the names pointing at it may change, and the rootfs plan does not read them.
  const records = new WeakMap<ImageForContainer, Image>();
  const toContainerImage = (img: Image): ImageForContainer => {
    const out = { id: img.id, runConfig: img.runConfig as ImageForContainer['runConfig'], layerDirs: img.layerDirs, topLayer: img.layers.at(-1)?.chainId ?? null };
    records.set(out, img);
    return out;
  };
  const loaded = (image: ImageForContainer) => {
    const img = records.get(image);
    return img && img.id === image.id ? img : images.findImage(image.id);
  };
  // the image's layers, or (the image removed under a container) the chain the container holds
  const layersOf = (image: ImageForContainer) => loaded(image)?.layers ?? (image.topLayer ? images.layerChain(image.topLayer) : null) ?? [];
  const plan = (containerDir: string, image: ImageForContainer): RootfsMount => images.prepareRootfs(path.basename(containerDir), { layers: layersOf(image) });
  return {
    resolve: (ref) => toContainerImage(images.resolveImage(ref)),
    byId: (id, layer) => {
      const img = images.findImage(id);
      if (img) return toContainerImage(img);
      const chain = layer ? images.layerChain(layer) : null;
      return chain ? { id, runConfig: {}, layerDirs: chain.map((l) => l.dir), topLayer: layer } : null;
    },
    released: (imageId, layer) => {
      if (layer && !images.images.get(imageId)) images.collectLayers();
    },
    prepareRootfs: (containerDir, image) => {
      const p = plan(containerDir, image);
      for (const d of [p.upperdir, p.workdir, p.target]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
      return p;
    },
    mountRootfs: (m) => images.mountRootfs(m as Parameters<ImageService['mountRootfs']>[0]),
    unmountRootfs: (target) => images.unmountRootfs(target),
    changes: (m, image) => images.changes(m.upperdir, image),
    exportRootfs: (target) => images.exportRootfs(target),
    commit: (m, base, o) => images.commit({
      upperdir: m.upperdir, baseImageId: base.id, config: o.config as Partial<ImageRunConfig>, changes: o.changes, author: o.author, comment: o.comment,
      ref: o.repo ? `${o.repo}${o.tag ? `:${o.tag}` : ''}` : undefined, containerId: o.containerId, containerConfig: o.containerConfig as ImageRunConfig,
    }),
  };
}

/**
 * What a build cut short by a crash left in the builder's directory: writable
 * layers still mounted (unmounted first, never removed while mounted) and
 * received contexts, clones and downloads.
 */
function cleanBuilderDir(dir: string, sys: LinuxSyscalls, log: Logger): void {
  const layers = path.join(dir, 'layers');
  let names: string[] = [];
  try { names = fs.readdirSync(layers); } catch { /* none yet */ }
  const mounts = new Set(fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' ')));
  for (const n of names) {
    const target = path.join(layers, n, 'rootfs');
    if (mounts.has(target)) {
      try { sys.umount2(target, MNT_DETACH); } catch (err) { log.warn({ err, target }, 'stale build layer not unmounted'); continue; }
    }
    fs.rmSync(path.join(layers, n), { recursive: true, force: true });
  }
  let ctxs: string[] = [];
  try { ctxs = fs.readdirSync(dir).filter((n) => /^(context|git|download)-/.test(n)); } catch { /* none */ }
  for (const n of ctxs) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
}

/**
 * --cpu-rt-period/--cpu-rt-runtime: the real-time budget written into the parent
 * chain of every container cgroup (moby initCPURtController). Refused at boot where
 * it can't work, with moby's messages (validateCPURealtimeOptions).
 */
function realtimeBudget(config: DaemonConfig, mode: CgroupMode): { period?: number; runtime?: number } | undefined {
  if (!config.cpuRtPeriod && !config.cpuRtRuntime) return undefined;
  if (mode === 'unified') throw invalidParameter('daemon-scoped cpu-rt-period and cpu-rt-runtime are not implemented for cgroup v2');
  if (!['cpu', 'cpu,cpuacct'].some((d) => fs.existsSync(`/sys/fs/cgroup/${d}/cpu.rt_runtime_us`))) {
    throw invalidParameter('daemon-scoped cpu-rt-period and cpu-rt-runtime are not supported by the kernel');
  }
  return { period: config.cpuRtPeriod || undefined, runtime: config.cpuRtRuntime || undefined };
}
