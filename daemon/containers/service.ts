// The container service: the lifecycle of containers behind the Docker API.
//
// State machine (transitions in state.ts): created → running ⇄ paused;
// running → exited (process ended) → running (start) ...; restarting between an
// exit and an automatic restart; removing while `rm` tears down. Every
// externally visible step writes the row first, so a daemon killed at any
// instant can reconcile on boot.
//
// Concurrency: user operations on one container are serialized by a keyed lock.
// The exit of a task is handled outside that lock by the one exit handler,
// which is the only writer of the running → exited transition; operations that
// must see the exit (stop, kill -9, rm -f) wait on `task.done`.
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { DB } from '../../store/index.js';
import { ContainerStore, type ContainerRow } from '../../store/containers.js';
import {
  DaemonError, NameConflictError, NoSuchContainerError, conflict, invalidParameter, notFound, systemError,
} from '../../errors/index.js';
import type { EventBus } from '../events.js';
import type { DaemonConfig } from '../config.js';
import { KeyedLock } from '../lock.js';
import { withDeadline } from '../deadline.js';
import { StdioHub } from '../stdio.js';
import { createLogSink, parseLogConfig, readContainerLogs, type LogSink, type LogEntry, JsonFileLogWriter } from '../logs/index.js';
import { dirSize, type VolumeService } from '../volumes.js';
import type { Container, ContainerConfig, ContainerState, EndpointState, HostConfig, RuntimeState } from './types.js';
import { ZERO_TIME } from './types.js';
import { randomName, newId } from './names.js';
import { parseBind } from './binds.js';
import type { CgroupPort, ImageForContainer, ImagePort, NetworkPort, Resources, RootfsMount, RuntimePort, Task } from './ports.js';
import type { RuntimeSpec, RuntimeMount, ExecSpec, NamespaceChoice } from '../../runtime/index.js';
import type { CgroupManager, CgroupStats } from '../../cgroupfs/index.js';
import { writeEtcFilesTo } from '../../netctl/index.js';
import { signalNumber } from './signals.js';
import { ExecManager, type ExecSession } from './exec.js';
import { HealthMonitor } from './health.js';

const run = promisify(execFile);

export interface CreateInput {
  name?: string;
  config: Partial<ContainerConfig> & { Image: string };
  hostConfig: HostConfig;
  endpointsConfig: RuntimeState['endpointsConfig'];
  resources: Resources;
}

export interface ContainerServiceDeps {
  db: DB;
  config: DaemonConfig;
  events: EventBus;
  log: Logger;
  images: ImagePort;
  runtime: RuntimePort;
  cgroups: CgroupPort;
  network: NetworkPort | null;
  volumes: VolumeService;
}

/** A running task and everything that must be undone when it ends. */
interface Live {
  task: Task;
  hub: StdioHub;
  log: LogSink;
  cgroup: CgroupManager;
  rootfs: RootfsMount;
  /** resolves after the exit was recorded and everything torn down */
  done: Promise<void>;
  stopping: boolean;
}

interface Waiter { condition: 'not-running' | 'next-exit' | 'removed'; resolve: (r: { StatusCode: number; Error: { Message: string } | null }) => void }

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Where --init's binary appears in the container (Docker's path), and where it is looked up on the host. */
const INIT_IN_CONTAINER = '/sbin/docker-init';
const INIT_CANDIDATES = ['/usr/local/bin/docker-init', '/usr/bin/docker-init', '/usr/local/bin/tini-static', '/usr/bin/tini-static'];

export class ContainerService {
  readonly store: ContainerStore;
  private readonly lock = new KeyedLock();
  private readonly live = new Map<string, Live>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Hubs of created-but-not-started containers: `docker run -i` attaches (and writes stdin) before start. */
  private readonly pendingHubs = new Map<string, StdioHub>();
  readonly execs: ExecManager;
  private readonly health: HealthMonitor;
  private shuttingDown = false;

  constructor(private readonly d: ContainerServiceDeps) {
    this.store = new ContainerStore(d.db);
    this.execs = new ExecManager(this, d.runtime, d.events, d.log);
    this.health = new HealthMonitor(this, d.events, d.log);
    d.volumes.usedBy = (name) => this.store.list().filter((c) => c.runtime && (c.runtime as RuntimeState).mounts?.some((m) => m.Type === 'volume' && m.Name === name)).map((c) => c.id);
  }

  // ------------------------------------------------------------ lookup

  private toContainer(r: ContainerRow): Container {
    return { ...r, state: r.state as ContainerState, config: r.config as ContainerConfig, hostConfig: r.hostConfig as HostConfig, runtime: r.runtime as RuntimeState };
  }

  /** Name (with or without '/'), full id, or unique id prefix; Docker's errors otherwise. */
  get(ref: string): Container {
    const name = ref.replace(/^\//, '');
    const byId = this.store.get(ref);
    if (byId) return this.toContainer(byId);
    const byName = this.store.byName(name);
    if (byName) return this.toContainer(byName);
    if (/^[0-9a-f]+$/.test(ref) && ref.length > 0) {
      const ids = this.store.idsByPrefix(ref);
      if (ids.length > 1) throw invalidParameter(`multiple IDs found with provided prefix: ${ref}`, 'TSD_ERR_AMBIGUOUS_PREFIX');
      if (ids.length === 1) return this.toContainer(this.store.get(ids[0]!)!);
    }
    throw new NoSuchContainerError(ref);
  }

  tryGet(ref: string): Container | null {
    try {
      return this.get(ref);
    } catch (e) {
      if (e instanceof DaemonError && e.kind === 'not-found') return null;
      throw e;
    }
  }

  list(): Container[] {
    return this.store.list().map((r) => this.toContainer(r));
  }

  containerDir(id: string): string {
    return path.join(this.d.config.dataRoot, 'containers', id);
  }

  liveTask(id: string): Live | undefined {
    return this.live.get(id);
  }

  hubFor(id: string): StdioHub | undefined {
    return this.live.get(id)?.hub ?? this.pendingHubs.get(id);
  }

  // ------------------------------------------------------------ create

  async create(input: CreateInput): Promise<{ id: string; warnings: string[] }> {
    const name = input.name || this.uniqueRandomName();
    const clash = this.store.byName(name);
    if (clash) throw new NameConflictError(name, clash.id);
    const image = this.d.images.resolve(input.config.Image);
    const config = mergeImageConfig(input.config, image);
    const id = newId();
    if (!config.Hostname) config.Hostname = id.slice(0, 12);
    if (!config.Cmd?.length && !config.Entrypoint?.length) throw invalidParameter('no command specified', 'TSD_ERR_NO_COMMAND');
    const logCfg = parseLogConfig(input.hostConfig.LogConfig);
    input.hostConfig.LogConfig = { Type: logCfg.type, Config: logCfg.options };
    this.checkNetworkMode(input.hostConfig.NetworkMode);
    for (const [mode, what, allowed] of [[input.hostConfig.IpcMode, 'IPC', ['', 'private', 'shareable', 'none', 'host']], [input.hostConfig.PidMode, 'PID', ['', 'host']]] as const) {
      if ((allowed as readonly string[]).includes(mode ?? '')) continue;
      if (mode?.startsWith('container:')) { this.referenced(mode.slice('container:'.length)); continue; }
      throw invalidParameter(`invalid ${what} mode: ${mode}`);
    }
    const dir = this.containerDir(id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
    try {
      this.d.images.prepareRootfs(dir, image);
      const mounts = this.planMounts(id, config, input.hostConfig);
      const runtime: RuntimeState = {
        endpointsConfig: input.endpointsConfig,
        networks: {},
        ports: {},
        sandboxKey: '',
        hostsPath: '',
        hostnamePath: '',
        resolvConfPath: '',
        logPath: logCfg.type === 'json-file' ? path.join(dir, `${id}-json.log`) : '',
        mounts: mounts.inspect,
        manuallyStopped: false,
        platform: 'linux',
        ...(config.Healthcheck && config.Healthcheck.Test && config.Healthcheck.Test[0] !== 'NONE' ? { health: { Status: 'starting' as const, FailingStreak: 0, Log: [] } } : {}),
      };
      (runtime as RuntimeState & { resources: Resources }).resources = input.resources;
      const now = new Date().toISOString();
      try {
        this.store.insert({
          id, name, imageId: image.id, imageRef: input.config.Image, createdAt: now, state: 'created', pid: 0, pidStart: '', exitCode: 0,
          oomKilled: false, error: '', startedAt: ZERO_TIME, finishedAt: ZERO_TIME, restartCount: 0, config, hostConfig: input.hostConfig, runtime,
        });
      } catch (e) {
        if (/UNIQUE constraint failed: containers.name/.test(String(e))) throw new NameConflictError(name, this.store.byName(name)?.id ?? '');
        throw e;
      }
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    this.d.events.publish('container', 'create', id, this.eventAttrs(this.get(id)), input.config.Image);
    return { id, warnings: [] };
  }

  private uniqueRandomName(): string {
    for (let i = 0; i < 20; i++) {
      const n = randomName(i > 5 ? 1 : 0);
      if (!this.store.byName(n)) return n;
    }
    return `tsd_${newId().slice(0, 12)}`;
  }

  /**
   * A container named by a create option (--network/--ipc/--pid container:x). Missing, it is a bad
   * parameter (400), as in dockerd: a 404 on create would make the docker CLI try to pull an image.
   */
  private referenced(ref: string): Container {
    try {
      return this.get(ref);
    } catch (e) {
      if (e instanceof DaemonError && e.kind === 'not-found') throw new DaemonError('invalid-parameter', e.code, e.message);
      throw e;
    }
  }

  private checkNetworkMode(mode: string): void {
    if (mode.startsWith('container:')) {
      this.referenced(mode.slice('container:'.length));
      return;
    }
    if (['default', 'bridge', 'none', 'host'].includes(mode)) return;
    if (!this.d.network) throw notFound(`network ${mode} not found`);
    this.d.network.inspect(mode);
  }

  eventAttrs(c: Container, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(c.config.Labels ?? {}), image: c.config.Image, name: c.name, ...extra };
  }

  /** Binds, volumes (named and anonymous, image-declared too) and tmpfs, as runtime mounts and as inspect shows them. */
  private planMounts(id: string, config: ContainerConfig, hc: HostConfig): { inspect: RuntimeState['mounts'] } {
    const out: RuntimeState['mounts'] = [];
    const seen = new Set<string>();
    const add = (m: RuntimeState['mounts'][number]) => {
      if (seen.has(m.Destination)) throw invalidParameter(`Duplicate mount point: ${m.Destination}`);
      seen.add(m.Destination);
      out.push(m);
    };
    for (const b of hc.Binds ?? []) {
      const spec = parseBind(b);
      if (spec.kind === 'bind') add({ Type: 'bind', Source: spec.source, Destination: spec.destination, Mode: spec.mode, RW: !spec.readonly, Propagation: spec.propagation });
      else {
        const name = spec.source || newId();
        add({ Type: 'volume', Name: name, Source: this.d.volumes.mountpoint(name), Destination: spec.destination, Driver: 'local', Mode: spec.mode || 'z', RW: !spec.readonly, Propagation: '' });
      }
    }
    for (const m of hc.Mounts ?? []) {
      if (m.Type === 'bind') add({ Type: 'bind', Source: m.Source, Destination: m.Target, Mode: '', RW: !m.ReadOnly, Propagation: m.BindOptions?.Propagation ?? 'rprivate' });
      else if (m.Type === 'volume') {
        const name = m.Source || newId();
        add({ Type: 'volume', Name: name, Source: this.d.volumes.mountpoint(name), Destination: m.Target, Driver: 'local', Mode: 'z', RW: !m.ReadOnly, Propagation: '' });
      } else add({ Type: 'tmpfs', Source: '', Destination: m.Target, Mode: tmpfsMode(m.TmpfsOptions), RW: !m.ReadOnly, Propagation: '' });
    }
    for (const [dest, opts] of Object.entries(hc.Tmpfs ?? {})) add({ Type: 'tmpfs', Source: '', Destination: dest, Mode: opts, RW: !opts.split(',').includes('ro'), Propagation: '' });
    // --volumes-from <container>[:ro|rw]: its volumes and binds, unless a path is already taken.
    for (const vf of hc.VolumesFrom ?? []) {
      const i = vf.lastIndexOf(':');
      const [ref, mode] = i > 0 ? [vf.slice(0, i), vf.slice(i + 1)] : [vf, ''];
      if (mode && mode !== 'ro' && mode !== 'rw') throw invalidParameter(`invalid mode: ${mode}`);
      const from = this.get(ref);
      for (const m of from.runtime.mounts ?? []) {
        if (m.Type === 'tmpfs' || seen.has(m.Destination)) continue;
        add({ ...m, RW: m.RW && mode !== 'ro' });
      }
    }
    for (const dest of Object.keys(config.Volumes ?? {})) {
      if (seen.has(dest)) continue;
      const name = newId();
      add({ Type: 'volume', Name: name, Source: this.d.volumes.mountpoint(name), Destination: dest, Driver: 'local', Mode: '', RW: true, Propagation: '' });
    }
    for (const m of out) {
      if (m.Type === 'bind' && !fs.existsSync(m.Source)) {
        // -v creates a missing host directory (as Docker does); --mount type=bind refuses.
        const fromBinds = (hc.Binds ?? []).some((b) => b.startsWith(`${m.Source}:`));
        if (!fromBinds) throw invalidParameter(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
      }
    }
    void id;
    return { inspect: out };
  }

  // ------------------------------------------------------------ start

  /** Returns false when already running (the API answers 304). */
  async start(ref: string): Promise<boolean> {
    const c0 = this.get(ref);
    return this.lock.run(c0.id, async () => {
      const c = this.get(c0.id);
      if (c.state === 'running' || c.state === 'restarting') return false;
      if (c.state === 'paused') throw conflict('cannot start a paused container, try unpause instead');
      if (c.state === 'removing' || c.state === 'dead') throw conflict(`container ${c.id} is marked for removal and cannot be started`);
      this.cancelRestart(c.id);
      this.updateRuntime(c, { manuallyStopped: false });
      try {
        await this.doStart(c);
      } catch (e) {
        if (c.hostConfig.AutoRemove) {
          await this.removeNow(this.get(c.id), { volumes: true }).catch(() => {});
        }
        throw e;
      }
      return true;
    });
  }

  private updateRuntime(c: Container, patch: Partial<RuntimeState>): void {
    c.runtime = { ...c.runtime, ...patch };
    this.store.update(c.id, { runtime: c.runtime });
  }

  private resourcesOf(c: Container): Resources {
    return (c.runtime as RuntimeState & { resources?: Resources }).resources ?? {};
  }

  private async doStart(c: Container): Promise<void> {
    const undo: Array<() => unknown> = [];
    const rollback = async () => {
      for (const f of undo.reverse()) {
        try {
          await f();
        } catch (err) {
          this.d.log.warn({ err, ctr: c.id }, 'rollback step failed');
        }
      }
    };
    const dir = this.containerDir(c.id);
    const image = this.d.images.byId(c.imageId);
    if (!image) throw systemError(`image ${c.imageId} of container ${c.id} is gone`);
    const t0 = process.hrtime.bigint();
    const marks: Record<string, number> = {};
    const mark = (k: string) => { marks[k] = Number(process.hrtime.bigint() - t0) / 1e6; };
    try {
      // 1. root filesystem
      const rootfs = this.d.images.prepareRootfs(dir, image);
      this.d.images.mountRootfs(rootfs);
      undo.push(() => this.d.images.unmountRootfs(rootfs.target));
      mark('rootfs');

      // 2. cgroup and limits. A warm init waits in a staging cgroup under the daemon's parent:
      // renaming that cgroup into the container's is much cheaper than moving the process.
      const pidMode = this.namespaceChoice(c.hostConfig.PidMode, 'pid', 'PID');
      const warm = pidMode.mode === 'private' && !c.hostConfig.CgroupParent ? this.d.runtime.takeWarm?.() ?? null : null;
      if (warm) undo.push(() => warm.kill());
      const cgroup = this.d.cgroups.manager(c.id, c.hostConfig.CgroupParent || undefined);
      const adopted = !!warm?.stage && cgroup.adopt(warm.stage);
      cgroup.create();
      undo.push(() => cgroup.destroy());
      cgroup.apply(this.resourcesOf(c));
      mark('cgroup');

      // 3. network
      const network = await this.setupNetwork(c, dir, undo);
      mark('network');

      // 4. mounts
      const mounts = this.runtimeMounts(c);

      // 5. stdio and logs
      const logCfg = parseLogConfig(c.hostConfig.LogConfig);
      const log = createLogSink(logCfg, path.join(dir, `${c.id}-json.log`));
      undo.push(() => log.close());
      const hub = this.pendingHubs.get(c.id) ?? new StdioHub({ tty: c.config.Tty, openStdin: c.config.OpenStdin, closeStdinOnEof: c.config.StdinOnce, log });
      this.pendingHubs.delete(c.id);
      hub.setLog(log);

      // 6. the process
      const spec: RuntimeSpec = {
        id: c.id,
        rootfs: rootfs.target,
        args: [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])],
        env: withPath(c.config.Env, c.config.Hostname, c.config.Tty),
        cwd: c.config.WorkingDir || '/',
        user: c.config.User,
        groupAdd: c.hostConfig.GroupAdd ?? [],
        hostname: c.config.Hostname,
        domainname: c.config.Domainname,
        tty: c.config.Tty,
        openStdin: c.config.OpenStdin,
        readonlyRootfs: c.hostConfig.ReadonlyRootfs,
        privileged: c.hostConfig.Privileged,
        capAdd: c.hostConfig.CapAdd ?? [],
        capDrop: c.hostConfig.CapDrop ?? [],
        securityOpt: c.hostConfig.SecurityOpt ?? [],
        ulimits: (c.hostConfig.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
        shmSize: c.hostConfig.ShmSize,
        mounts,
        network: network.spec,
        cgroupProcs: adopted ? [] : cgroup.procsFiles(),
        etc: network.etc,
        consoleSize: c.hostConfig.ConsoleSize[0] ? [c.hostConfig.ConsoleSize[0], c.hostConfig.ConsoleSize[1]] : undefined,
        ipc: this.namespaceChoice(c.hostConfig.IpcMode, 'ipc', 'IPC'),
        pid: pidMode,
      };
      if (c.hostConfig.Init) {
        // --init: a tiny init (tini) as PID 1 reaps zombies and forwards signals to the command, as Docker does.
        const init = this.initBinary();
        spec.mounts = [{ type: 'bind', source: init, destination: INIT_IN_CONTAINER, readonly: true }, ...spec.mounts];
        spec.args = [INIT_IN_CONTAINER, '--', ...spec.args];
      }
      let task: Task;
      try {
        task = await this.d.runtime.launch(spec, warm);
      } catch (e) {
        const exitCode = (e as { exitCode?: number }).exitCode ?? 128;
        this.store.update(c.id, { exitCode, error: (e as Error).message });
        // dockerd answers 400 for a command that cannot be found or run (the CLI then exits 127/126).
        if (exitCode === 126 || exitCode === 127) throw new DaemonError('invalid-parameter', (e as DaemonError).code ?? 'TSD_ERR_RUNTIME_START', (e as Error).message);
        throw e;
      }
      mark('launch');
      if (task.pty) hub.setOutput(task.pty.stream, null);
      else hub.setOutput(task.stdout, task.stderr);
      hub.setStdin(task.pty ? task.pty.stream : task.stdin);
      this.d.log.debug({ ctr: c.id, ms: marks }, 'container started');

      const startedAt = new Date().toISOString();
      const live: Live = { task, hub, log, cgroup, rootfs, done: Promise.resolve(), stopping: false };
      this.live.set(c.id, live);
      live.done = task.exited.then((r) => this.onExit(c.id, live, r)).catch((err) => this.d.log.error({ err, ctr: c.id }, 'exit handling failed'));
      c.state = 'running';
      c.pid = task.pid;
      // A container with its own fresh netns (--network none) has no netns file: its namespace is reachable
      // through its PID 1 (CNI plugins and Nomad read SandboxKey for the pause container of a pod).
      if (c.hostConfig.NetworkMode === 'none') c.runtime = { ...c.runtime, sandboxKey: `/proc/${task.pid}/ns/net` };
      this.store.update(c.id, {
        state: 'running', pid: task.pid, pidStart: pidStartTime(task.pid), startedAt, exitCode: 0, error: '', oomKilled: false,
        runtime: c.runtime,
      });
      this.d.events.publish('container', 'start', c.id, this.eventAttrs(c), c.config.Image);
      if (c.runtime.health) this.health.start(c.id);
    } catch (e) {
      await rollback();
      throw e;
    }
  }

  /** The static init bound into containers run with --init. */
  initBinary(): string {
    const candidates = this.d.config.initPath ? [this.d.config.initPath] : INIT_CANDIDATES;
    const found = candidates.find((p) => fs.existsSync(p));
    if (!found) throw invalidParameter(`exec: "docker-init": executable file not found in $PATH (looked for ${candidates.join(', ')}; install tini or set --init-path)`);
    return found;
  }

  /** IpcMode / PidMode: '' | private | shareable | none (a new namespace), host, container:<ref> (its namespace). */
  private namespaceChoice(mode: string | undefined, ns: 'ipc' | 'pid', what: string): NamespaceChoice {
    if (!mode || mode === 'private' || mode === 'shareable' || mode === 'none') return { mode: 'private' };
    if (mode === 'host') return { mode: 'host' };
    if (mode.startsWith('container:')) {
      const other = this.get(mode.slice('container:'.length));
      if (other.state !== 'running' && other.state !== 'paused') throw conflict(`cannot join ${what} of a non running container: ${other.id}`);
      return { mode: 'join', path: `/proc/${other.pid}/ns/${ns}` };
    }
    throw invalidParameter(`invalid ${what} mode: ${mode}`);
  }

  private async setupNetwork(c: Container, dir: string, undo: Array<() => unknown>): Promise<{ spec: RuntimeSpec['network']; etc?: RuntimeSpec['etc'] }> {
    const mode = c.hostConfig.NetworkMode;
    const hostsExtra = c.hostConfig.ExtraHosts ?? [];
    if (mode === 'host') {
      return { spec: { mode: 'host' } };
    }
    if (mode.startsWith('container:')) {
      const other = this.get(mode.slice('container:'.length));
      if (other.state !== 'running' && other.state !== 'paused') throw conflict(`cannot join network of a non running container: ${other.id}`);
      // As dockerd: a container sharing another's network takes its hostname too.
      c.config.Hostname = other.config.Hostname;
      c.config.Domainname = other.config.Domainname;
      this.store.update(c.id, { config: c.config });
      this.updateRuntime(c, { sandboxKey: `/proc/${other.pid}/ns/net`, hostsPath: other.runtime.hostsPath, resolvConfPath: other.runtime.resolvConfPath, hostnamePath: other.runtime.hostnamePath });
      return {
        spec: { mode: 'netns', path: `/proc/${other.pid}/ns/net` },
        etc: { hosts: other.runtime.hostsPath || undefined, resolvConf: other.runtime.resolvConfPath || undefined },
      };
    }
    const net = this.d.network;
    if (mode === 'none' || !net || c.config.NetworkDisabled) {
      const files = writeEtcFilesTo(dir, {
        hostname: c.config.Hostname, domainname: c.config.Domainname, endpoints: [], extraHosts: hostsExtra,
        dns: c.hostConfig.Dns, dnsSearch: c.hostConfig.DnsSearch, dnsOptions: c.hostConfig.DnsOptions,
      });
      this.updateRuntime(c, { hostsPath: files.hosts, hostnamePath: files.hostname, resolvConfPath: files.resolvConf, networks: mode === 'none' ? { none: emptyEndpoint('none') } : {} });
      return { spec: { mode: 'none' }, etc: { hosts: files.hosts, hostname: files.hostname, resolvConf: files.resolvConf } };
    }
    const names = mode === 'default' || mode === 'bridge' ? ['bridge'] : [mode];
    for (const extra of Object.keys(c.runtime.endpointsConfig ?? {})) if (!names.includes(extra) && extra !== mode && !(mode === 'default' && extra === 'bridge')) names.push(extra);
    undo.push(() => net.detach(c.id));
    const endpoints = [];
    const ports = portBindings(c);
    const published: RuntimeState['ports'] = {};
    for (const [i, name] of names.entries()) {
      const ec = c.runtime.endpointsConfig?.[name] ?? (mode === name ? c.runtime.endpointsConfig?.[mode] : undefined);
      const isUser = name !== 'bridge';
      const ep = await net.attach(c.id, {
        network: name,
        hostname: c.config.Hostname,
        domainname: c.config.Domainname,
        aliases: isUser ? [...(ec?.Aliases ?? []), c.name, c.id.slice(0, 12)] : [...(ec?.Aliases ?? [])],
        ipv4: ec?.IPAMConfig?.IPv4Address || undefined,
        ports: i === 0 ? ports : [],
      });
      endpoints.push(ep);
      this.d.events.publish('network', 'connect', ep.networkId, { container: c.id, name: ep.networkName, type: 'bridge' });
      for (const p of ep.ports) {
        const key = `${p.containerPort}/${p.protocol}`;
        (published[key] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
      }
    }
    const etc = net.writeEtcFiles(dir, {
      containerId: c.id, hostname: c.config.Hostname, domainname: c.config.Domainname, endpoints, extraHosts: hostsExtra,
      dns: c.hostConfig.Dns, dnsSearch: c.hostConfig.DnsSearch, dnsOptions: c.hostConfig.DnsOptions,
    });
    const networks: Record<string, EndpointState> = {};
    for (const ep of endpoints) {
      networks[ep.networkName] = {
        NetworkID: ep.networkId, EndpointID: ep.endpointId, Gateway: ep.gateway, IPAddress: ep.ip, IPPrefixLen: ep.prefixLen, MacAddress: ep.mac,
        Aliases: ep.networkName === 'bridge' ? null : ep.aliases, IPAMConfig: c.runtime.endpointsConfig?.[ep.networkName]?.IPAMConfig ?? null,
        DNSNames: ep.networkName === 'bridge' ? null : [c.name, c.id.slice(0, 12), ...ep.aliases.filter((a) => a !== c.name && a !== c.id.slice(0, 12))],
      };
    }
    const sandboxKey = net.netnsPath(c.id);
    this.updateRuntime(c, { networks, ports: published, sandboxKey, hostsPath: etc.hosts, hostnamePath: etc.hostname, resolvConfPath: etc.resolvConf });
    return { spec: { mode: 'netns', path: sandboxKey }, etc: { hosts: etc.hosts, hostname: etc.hostname, resolvConf: etc.resolvConf } };
  }

  private runtimeMounts(c: Container): RuntimeMount[] {
    const out: RuntimeMount[] = [];
    for (const m of c.runtime.mounts) {
      if (m.Type === 'tmpfs') out.push({ type: 'tmpfs', destination: m.Destination, options: m.Mode || undefined });
      else if (m.Type === 'volume') {
        const v = this.d.volumes.ensure(m.Name!);
        out.push({ type: 'bind', source: v.mountpoint, destination: m.Destination, readonly: !m.RW });
      } else {
        if (!fs.existsSync(m.Source)) fs.mkdirSync(m.Source, { recursive: true });
        out.push({ type: 'bind', source: m.Source, destination: m.Destination, readonly: !m.RW, propagation: m.Propagation || undefined });
      }
    }
    return out;
  }

  // ------------------------------------------------------------ exit

  private async onExit(id: string, live: Live, r: { exitCode: number; signal: string | null }): Promise<void> {
    const t0 = process.hrtime.bigint();
    const marks: Record<string, number> = {};
    const mark = (k: string) => { marks[k] = Number(process.hrtime.bigint() - t0) / 1e6; };
    this.health.stop(id);
    let oom = false;
    try {
      oom = live.cgroup.oomKillCount() > 0;
    } catch { /* cgroup already gone */ }
    // Everything else in the container dies with its PID 1; make sure, then tear down.
    // Each step has a deadline: a peer, a child or the kernel that never answers must not keep
    // the container (and `rm -f`, which waits for this handler) from finishing.
    await withDeadline(live.hub.finishOutput(), EXIT_STEP_MS, 'output flush').catch(() => {});
    await withDeadline(live.log.close(), EXIT_STEP_MS, 'log close').catch(() => {});
    mark('output');
    await withDeadline(this.execs.containerStopped(id), EXIT_STEP_MS, 'exec teardown').catch((err) => this.d.log.warn({ err, ctr: id }, 'exec teardown failed'));
    mark('execs');
    try { await withDeadline(live.cgroup.destroy(), EXIT_STEP_MS, 'cgroup destroy'); } catch (err) { this.d.log.warn({ err, ctr: id }, 'cgroup destroy failed'); }
    mark('cgroup');
    if (this.d.network) await withDeadline(this.d.network.detach(id), EXIT_STEP_MS, 'network detach').catch((err) => this.d.log.warn({ err, ctr: id }, 'network detach failed'));
    mark('network');
    try { this.d.images.unmountRootfs(live.rootfs.target); } catch (err) { this.d.log.warn({ err, ctr: id }, 'unmount failed'); }
    mark('rootfs');
    this.d.log.debug({ ctr: id, ms: marks }, 'container exited');
    this.live.delete(id);
    const row = this.store.get(id);
    if (!row) return;
    const c = this.toContainer(row);
    const exitCode = oom && r.exitCode === 0 ? 137 : r.exitCode;
    const finishedAt = new Date().toISOString();
    c.state = 'exited';
    c.exitCode = exitCode;
    this.store.update(id, { state: 'exited', pid: 0, exitCode, oomKilled: oom, finishedAt });
    if (oom) this.d.events.publish('container', 'oom', id, this.eventAttrs(c), c.config.Image);
    this.d.events.publish('container', 'die', id, this.eventAttrs(c, { exitCode: String(exitCode), execDuration: String(Math.round((Date.now() - Date.parse(c.startedAt)) / 1000)) }), c.config.Image);
    if (this.d.network && Object.keys(c.runtime.networks).length) {
      for (const [name, ep] of Object.entries(c.runtime.networks)) {
        if (name !== 'none') this.d.events.publish('network', 'disconnect', ep.NetworkID, { container: id, name, type: 'bridge' });
      }
    }
    this.notify(id, ['not-running', 'next-exit'], exitCode);

    // Restart policy, unless stopped by hand or the daemon is going down.
    const policy = c.hostConfig.RestartPolicy;
    const manual = c.runtime.manuallyStopped || live.stopping;
    const again = !this.shuttingDown && !manual && (
      policy.Name === 'always' || policy.Name === 'unless-stopped' ||
      (policy.Name === 'on-failure' && exitCode !== 0 && (policy.MaximumRetryCount === 0 || c.restartCount < policy.MaximumRetryCount)));
    if (again) {
      this.scheduleRestart(c);
      return;
    }
    if (c.hostConfig.AutoRemove && !this.shuttingDown) {
      // Not awaited: stop, kill -9 and rm -f hold the container's lock while they
      // wait for `live.done` (this handler), so taking the lock here would deadlock.
      void this.lock.run(id, async () => {
        const cur = this.tryGet(id);
        if (cur && cur.state !== 'running' && !this.live.has(id)) await this.removeNow(cur, { volumes: true });
      }).catch((err) => this.d.log.warn({ err, ctr: id }, 'auto-remove failed'));
    }
  }

  private scheduleRestart(c: Container): void {
    const delay = Math.min(100 * 2 ** c.restartCount, 60_000);
    this.store.update(c.id, { state: 'restarting', restartCount: c.restartCount + 1 });
    const timer = setTimeout(() => {
      this.restartTimers.delete(c.id);
      void this.lock.run(c.id, async () => {
        const cur = this.tryGet(c.id);
        if (!cur || cur.state !== 'restarting') return;
        try {
          await this.doStart(cur);
          this.d.events.publish('container', 'restart', c.id, this.eventAttrs(cur), cur.config.Image);
        } catch (err) {
          this.d.log.warn({ err, ctr: c.id }, 'restart failed');
          this.store.update(c.id, { state: 'exited', error: (err as Error).message });
          this.notify(c.id, ['not-running', 'next-exit'], (err as { exitCode?: number }).exitCode ?? 128);
        }
      });
    }, delay);
    this.restartTimers.set(c.id, timer);
  }

  private cancelRestart(id: string): boolean {
    const t = this.restartTimers.get(id);
    if (!t) return false;
    clearTimeout(t);
    this.restartTimers.delete(id);
    return true;
  }

  private notify(id: string, conditions: Waiter['condition'][], exitCode: number, error: string | null = null): void {
    const list = this.waiters.get(id);
    if (!list) return;
    const keep: Waiter[] = [];
    for (const w of list) {
      if (conditions.includes(w.condition)) w.resolve({ StatusCode: exitCode, Error: error ? { Message: error } : null });
      else keep.push(w);
    }
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  // ------------------------------------------------------------ wait

  /**
   * Returns a promise for the wait body. The promise itself is returned
   * synchronously after validation so the route can flush headers first.
   */
  wait(ref: string, condition: string = 'not-running'): { result: Promise<{ StatusCode: number; Error: { Message: string } | null }>; cancel(): void } {
    if (!['not-running', 'next-exit', 'removed', ''].includes(condition)) {
      throw invalidParameter(`invalid condition: "${condition}"`);
    }
    const cond = (condition || 'not-running') as Waiter['condition'];
    const c = this.get(ref);
    const running = c.state === 'running' || c.state === 'paused' || c.state === 'restarting';
    if (cond === 'not-running' && !running) return { result: Promise.resolve({ StatusCode: c.exitCode, Error: null }), cancel: () => {} };
    let waiter!: Waiter;
    const result = new Promise<{ StatusCode: number; Error: { Message: string } | null }>((resolve) => {
      waiter = { condition: cond, resolve };
      const list = this.waiters.get(c.id) ?? [];
      list.push(waiter);
      this.waiters.set(c.id, list);
    });
    const cancel = () => {
      const list = this.waiters.get(c.id);
      if (!list) return;
      const rest = list.filter((w) => w !== waiter);
      if (rest.length) this.waiters.set(c.id, rest);
      else this.waiters.delete(c.id);
    };
    return { result, cancel };
  }

  // ------------------------------------------------------------ stop / kill

  /** Returns false when not running (304). */
  async stop(ref: string, opts: { signal?: string; timeout?: number } = {}): Promise<boolean> {
    const c0 = this.get(ref);
    return this.lock.run(c0.id, async () => {
      const c = this.get(c0.id);
      if (c.state === 'restarting' && this.cancelRestart(c.id)) {
        this.updateRuntime(c, { manuallyStopped: true });
        this.store.update(c.id, { state: 'exited' });
        this.notify(c.id, ['not-running'], c.exitCode);
        return true;
      }
      const live = this.live.get(c.id);
      if (!live) return false;
      this.updateRuntime(c, { manuallyStopped: true });
      await this.stopLive(c, live, opts);
      this.d.events.publish('container', 'stop', c.id, this.eventAttrs(c), c.config.Image);
      return true;
    });
  }

  private async stopLive(c: Container, live: Live, opts: { signal?: string; timeout?: number }): Promise<void> {
    live.stopping = true;
    const sig = signalNumber(opts.signal || c.config.StopSignal || 'SIGTERM');
    const timeout = opts.timeout ?? c.config.StopTimeout ?? 10;
    if (c.state === 'paused') {
      live.cgroup.thaw().catch(() => {});
    }
    this.d.events.publish('container', 'kill', c.id, this.eventAttrs(c, { signal: String(sig) }), c.config.Image);
    try { live.task.kill(sig); } catch { /* already gone */ }
    if (c.state === 'paused') await live.cgroup.thaw().catch(() => {});
    const exited = await Promise.race([live.done.then(() => true), timeout < 0 ? new Promise<boolean>(() => {}) : sleep(timeout * 1000).then(() => false)]);
    if (!exited) {
      this.d.events.publish('container', 'kill', c.id, this.eventAttrs(c, { signal: '9' }), c.config.Image);
      try { live.task.kill('SIGKILL'); } catch { /* gone */ }
      await live.cgroup.killAll(9).catch(() => {});
      await live.done;
    }
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const sig = signalNumber(signal);
    const c0 = this.get(ref);
    await this.lock.run(c0.id, async () => {
      const c = this.get(c0.id);
      const live = this.live.get(c.id);
      if (c.state === 'restarting' && this.cancelRestart(c.id)) {
        // As dockerd: killing a container between restarts cancels the restart.
        this.updateRuntime(c, { manuallyStopped: true });
        this.store.update(c.id, { state: 'exited' });
        this.d.events.publish('container', 'kill', c.id, this.eventAttrs(c, { signal: String(sig) }), c.config.Image);
        this.notify(c.id, ['not-running'], c.exitCode);
        return;
      }
      if (!live || (c.state !== 'running' && c.state !== 'paused')) throw conflict(`Cannot kill container: ${ref}: Container ${c.id} is not running`, 'TSD_ERR_NOT_RUNNING');
      // As dockerd: a container killed by hand is not brought back by its restart policy.
      this.updateRuntime(c, { manuallyStopped: true });
      this.d.events.publish('container', 'kill', c.id, this.eventAttrs(c, { signal: String(sig) }), c.config.Image);
      live.task.kill(sig);
      if (c.state === 'paused' && sig === 9) await live.cgroup.thaw().catch(() => {});
      if (sig === 9) await live.done;
    });
  }

  async restart(ref: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    const c0 = this.get(ref);
    await this.lock.run(c0.id, async () => {
      const c = this.get(c0.id);
      this.cancelRestart(c.id);
      const live = this.live.get(c.id);
      if (live) {
        this.updateRuntime(c, { manuallyStopped: true });
        await this.stopLive(c, live, opts);
      }
      const fresh = this.get(c.id);
      this.updateRuntime(fresh, { manuallyStopped: false });
      await this.doStart(fresh);
      this.d.events.publish('container', 'restart', c.id, this.eventAttrs(c), c.config.Image);
    });
  }

  async pause(ref: string): Promise<void> {
    const c0 = this.get(ref);
    await this.lock.run(c0.id, async () => {
      const c = this.get(c0.id);
      const live = this.live.get(c.id);
      if (c.state === 'paused') throw conflict(`Container ${c.id} is already paused`);
      if (!live || c.state !== 'running') throw conflict(`Container ${c.id} is not running`, 'TSD_ERR_NOT_RUNNING');
      await live.cgroup.freeze();
      this.store.update(c.id, { state: 'paused' });
      this.d.events.publish('container', 'pause', c.id, this.eventAttrs(c), c.config.Image);
    });
  }

  async unpause(ref: string): Promise<void> {
    const c0 = this.get(ref);
    await this.lock.run(c0.id, async () => {
      const c = this.get(c0.id);
      const live = this.live.get(c.id);
      if (c.state !== 'paused' || !live) throw conflict(`Container ${c.id} is not paused`);
      await live.cgroup.thaw();
      this.store.update(c.id, { state: 'running' });
      this.d.events.publish('container', 'unpause', c.id, this.eventAttrs(c), c.config.Image);
    });
  }

  // ------------------------------------------------------------ remove

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c0 = this.get(ref);
    await this.lock.run(c0.id, async () => {
      const c = this.tryGet(c0.id);
      if (!c) throw new NoSuchContainerError(ref);
      const live = this.live.get(c.id);
      if (c.state === 'removing') throw conflict(`removal of container ${c.id} is already in progress`);
      if ((live || c.state === 'restarting') && !opts.force) {
        const what = c.state === 'paused' ? 'paused' : c.state === 'restarting' ? 'restarting' : 'running';
        throw conflict(`cannot remove container "/${c.name}": container is ${what}: stop the container before removing or force remove`);
      }
      this.cancelRestart(c.id);
      if (live) {
        live.stopping = true;
        this.updateRuntime(c, { manuallyStopped: true });
        if (c.state === 'paused') await live.cgroup.thaw().catch(() => {});
        this.d.events.publish('container', 'kill', c.id, this.eventAttrs(c, { signal: '9' }), c.config.Image);
        try { live.task.kill('SIGKILL'); } catch { /* gone */ }
        await live.done;
      }
      await this.removeNow(this.get(c.id), opts);
    });
  }

  /** Under the container's lock, with no live task. */
  private async removeNow(c: Container, opts: { volumes?: boolean }): Promise<void> {
    this.store.update(c.id, { state: 'removing' });
    this.pendingHubs.get(c.id)?.finishOutput().catch(() => {});
    this.pendingHubs.delete(c.id);
    const dir = this.containerDir(c.id);
    try { this.d.images.unmountRootfs(path.join(dir, 'rootfs')); } catch { /* not mounted */ }
    fs.rmSync(dir, { recursive: true, force: true });
    this.store.delete(c.id);
    if (opts.volumes) {
      for (const m of c.runtime.mounts) {
        // Only anonymous volumes go with the container (docker rm -v).
        if (m.Type === 'volume' && m.Name && /^[0-9a-f]{64}$/.test(m.Name)) {
          try { this.d.volumes.remove(m.Name); } catch { /* in use elsewhere or gone */ }
        }
      }
    }
    this.d.events.publish('container', 'destroy', c.id, this.eventAttrs(c), c.config.Image);
    this.notify(c.id, ['removed', 'not-running', 'next-exit'], c.exitCode);
  }

  /** `until`: only containers created before this time (ms since the epoch). */
  async prune(filters: Record<string, string[]> = {}, until?: number): Promise<{ deleted: string[]; reclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.list()) {
      if (c.state !== 'exited' && c.state !== 'created' && c.state !== 'dead') continue;
      if (until !== undefined && Date.parse(c.createdAt) > until) continue;
      if (filters.label && !filters.label.every((l) => matchLabel(c.config.Labels ?? {}, l))) continue;
      if (filters['label!'] && filters['label!'].some((l) => matchLabel(c.config.Labels ?? {}, l))) continue;
      reclaimed += dirSize(path.join(this.containerDir(c.id), 'upper'));
      try {
        await this.remove(c.id, {});
        deleted.push(c.id);
      } catch { /* changed state meanwhile */ }
    }
    this.d.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { deleted, reclaimed };
  }

  // ------------------------------------------------------------ misc

  async rename(ref: string, newName: string): Promise<void> {
    const c0 = this.get(ref);
    await this.lock.run(c0.id, async () => {
      const c = this.get(c0.id);
      const name = newName.replace(/^\//, '');
      if (!name) throw invalidParameter('Neither old nor new names may be empty');
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw invalidParameter(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      if (name === c.name) throw invalidParameter(`Renaming a container with the same name as its current name`);
      const clash = this.store.byName(name);
      if (clash) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`);
      this.store.update(c.id, { name });
      this.d.events.publish('container', 'rename', c.id, this.eventAttrs({ ...c, name }, { oldName: `/${c.name}` }), c.config.Image);
    });
  }

  /** Live resource update; returns warnings. */
  async update(ref: string, resources: Resources, restartPolicy?: HostConfig['RestartPolicy'], hostFields: Partial<HostConfig> = {}): Promise<string[]> {
    const c0 = this.get(ref);
    return this.lock.run(c0.id, async () => {
      const c = this.get(c0.id);
      if (restartPolicy && restartPolicy.Name && c.hostConfig.AutoRemove && restartPolicy.Name !== 'no') {
        throw invalidParameter('Restart policy cannot be updated because AutoRemove is enabled for the container');
      }
      const live = this.live.get(c.id);
      if (live) live.cgroup.update(resources);
      const merged = { ...this.resourcesOf(c), ...resources };
      const hostConfig = { ...c.hostConfig, ...hostFields, ...(restartPolicy && restartPolicy.Name !== undefined ? { RestartPolicy: restartPolicy } : {}) };
      this.store.update(c.id, { hostConfig, runtime: { ...c.runtime, resources: merged } as RuntimeState });
      this.d.events.publish('container', 'update', c.id, this.eventAttrs(c), c.config.Image);
      return [];
    });
  }

  /** docker top: `ps` output for the container's processes. */
  async top(ref: string, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.get(ref);
    const live = this.live.get(c.id);
    if (!live || (c.state !== 'running' && c.state !== 'paused')) throw conflict(`Container ${c.id} is not running`, 'TSD_ERR_NOT_RUNNING');
    const pids = new Set(live.cgroup.pids());
    const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : ['-ef'];
    let out: string;
    try {
      out = (await run('ps', args, { maxBuffer: 16 << 20 })).stdout;
    } catch (e) {
      throw invalidParameter(`ps: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
    }
    const lines = out.split('\n').filter((l) => l.trim());
    const titles = lines[0]!.trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol < 0) throw invalidParameter(`Couldn't find PID field in ps output`);
    const procs: string[][] = [];
    for (const l of lines.slice(1)) {
      const f = l.trim().split(/\s+/);
      if (!pids.has(Number(f[pidCol]))) continue;
      procs.push([...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]);
    }
    this.d.events.publish('container', 'top', c.id, this.eventAttrs(c), c.config.Image);
    return { Titles: titles, Processes: procs };
  }

  stats(ref: string): { c: Container; stats: CgroupStats | null } {
    const c = this.get(ref);
    const live = this.live.get(c.id);
    if (!live) return { c, stats: null };
    try {
      return { c, stats: live.cgroup.stats() };
    } catch {
      return { c, stats: null };
    }
  }

  resize(ref: string, rows: number, cols: number): void {
    const c = this.get(ref);
    const live = this.live.get(c.id);
    if (!live) throw conflict(`Container ${c.id} is not running`, 'TSD_ERR_NOT_RUNNING');
    if (live.task.pty) live.task.pty.resize(rows, cols);
  }

  /** The stdio hub an attach connects to; created early for a container that has not started yet. */
  attachHub(ref: string): { c: Container; hub: StdioHub } {
    const c = this.get(ref);
    const live = this.live.get(c.id);
    if (live) return { c, hub: live.hub };
    if (c.state === 'paused') throw conflict(`You cannot attach to a paused container, unpause it first`);
    let hub = this.pendingHubs.get(c.id);
    if (!hub) {
      hub = new StdioHub({ tty: c.config.Tty, openStdin: c.config.OpenStdin, closeStdinOnEof: c.config.StdinOnce, log: null });
      this.pendingHubs.set(c.id, hub);
    }
    this.d.events.publish('container', 'attach', c.id, this.eventAttrs(c), c.config.Image);
    return { c, hub };
  }

  logs(ref: string, opts: { stdout: boolean; stderr: boolean; since?: bigint; until?: bigint; tail?: number | 'all'; follow: boolean; signal: AbortSignal }): { c: Container; entries: AsyncGenerator<LogEntry> } {
    const c = this.get(ref);
    const live = this.live.get(c.id);
    const writer = live && live.log instanceof JsonFileLogWriter ? live.log : null;
    const cfg = parseLogConfig(c.hostConfig.LogConfig);
    const file = path.join(this.containerDir(c.id), `${c.id}-json.log`);
    if (!fs.existsSync(file) && cfg.type === 'json-file') fs.writeFileSync(file, '', { mode: 0o640 });
    const entries = readContainerLogs(cfg, file, { ...opts, follow: opts.follow && !!writer, writer });
    return { c, entries };
  }

  rootfsOf(c: Container): RootfsMount {
    const image = this.d.images.byId(c.imageId);
    if (!image) throw systemError(`image ${c.imageId} of container ${c.id} is gone`);
    return this.d.images.prepareRootfs(this.containerDir(c.id), image);
  }

  /** Runs fn with the container's rootfs mounted (mounting it for the duration when stopped). */
  async withRootfs<T>(ref: string, fn: (root: string, c: Container, m: RootfsMount) => Promise<T> | T): Promise<T> {
    const c = this.get(ref);
    const live = this.live.get(c.id);
    if (live) return fn(live.rootfs.target, c, live.rootfs);
    return this.lock.run(c.id, async () => {
      if (this.live.get(c.id)) return fn(this.live.get(c.id)!.rootfs.target, c, this.live.get(c.id)!.rootfs);
      const m = this.rootfsOf(c);
      this.d.images.mountRootfs(m);
      try {
        return await fn(m.target, c, m);
      } finally {
        try { this.d.images.unmountRootfs(m.target); } catch (err) { this.d.log.warn({ err }, 'unmount after archive failed'); }
      }
    });
  }

  /** SizeRw (the writable layer) and SizeRootFs (it plus the image's layers), as `ps -s` and inspect -s show them. */
  sizes(c: Container): { rw: number; rootFs: number } {
    const rw = dirSize(path.join(this.containerDir(c.id), 'upper'));
    const img = this.d.images.byId(c.imageId);
    return { rw, rootFs: rw + (img ? img.layerDirs.reduce((n, d) => n + dirSize(d), 0) : 0) };
  }

  imageOf(c: Container): ImageForContainer | null {
    return this.d.images.byId(c.imageId);
  }

  usesImage(imageId: string): Container[] {
    return this.store.usesImage(imageId).map((r) => this.toContainer(r));
  }

  // ------------------------------------------------------------ exec

  execCreate(ref: string, cfg: { Cmd: string[]; Env?: string[]; WorkingDir?: string; User?: string; Tty?: boolean; AttachStdin?: boolean; AttachStdout?: boolean; AttachStderr?: boolean; Privileged?: boolean; DetachKeys?: string; ConsoleSize?: [number, number] | null }): string {
    const c = this.get(ref);
    if (c.state === 'paused') throw conflict(`Container ${c.id} is paused, unpause the container before exec`);
    if (!this.live.get(c.id) || c.state !== 'running') throw conflict(`Container ${c.id} is not running`, 'TSD_ERR_NOT_RUNNING');
    return this.execs.create(c, cfg);
  }

  /** The spec an exec runs with: the container's profile, the exec's own process settings. */
  execSpec(c: Container, s: ExecSession): { pid: number; spec: ExecSpec } {
    const live = this.live.get(c.id);
    if (!live || (c.state !== 'running')) throw conflict(`Container ${c.id} is not running`, 'TSD_ERR_NOT_RUNNING');
    const env = [...c.config.Env];
    for (const e of s.config.Env ?? []) {
      const k = e.split('=')[0];
      const i = env.findIndex((x) => x.split('=')[0] === k);
      if (i >= 0) env[i] = e; else env.push(e);
    }
    return {
      pid: live.task.pid,
      spec: {
        args: s.config.Cmd,
        env: withPath(env, c.config.Hostname, !!s.config.Tty),
        cwd: s.config.WorkingDir || c.config.WorkingDir || '/',
        user: s.config.User || c.config.User,
        groupAdd: c.hostConfig.GroupAdd ?? [],
        tty: !!s.config.Tty,
        openStdin: !!s.config.AttachStdin,
        privileged: c.hostConfig.Privileged || !!s.config.Privileged,
        capAdd: c.hostConfig.CapAdd ?? [],
        capDrop: c.hostConfig.CapDrop ?? [],
        securityOpt: c.hostConfig.SecurityOpt ?? [],
        cgroupProcs: live.cgroup.procsFiles(),
        consoleSize: s.config.ConsoleSize && s.config.ConsoleSize[0] ? [s.config.ConsoleSize[0], s.config.ConsoleSize[1]] : undefined,
      },
    };
  }

  // ------------------------------------------------------------ network connect/disconnect

  /** For POST /networks/{id}/connect and /disconnect. */
  networkOps(): { connect(ref: string, networkId: string, cfg: { aliases: string[]; ipv4?: string }): Promise<void>; disconnect(ref: string, networkId: string, force: boolean): Promise<void> } {
    const net = this.d.network;
    return {
      connect: async (ref, networkId, cfg) => {
        if (!net) throw notFound('networking is not available');
        const c0 = this.get(ref);
        await this.lock.run(c0.id, async () => {
          const c = this.get(c0.id);
          const n = net.inspect(networkId);
          if (c.hostConfig.NetworkMode === 'host' || c.hostConfig.NetworkMode === 'none' || c.hostConfig.NetworkMode.startsWith('container:')) {
            throw invalidParameter(`container cannot be disconnected from host network or connected to host network`);
          }
          if (c.runtime.networks[n.name] || c.runtime.endpointsConfig[n.name]) throw conflict(`endpoint with name ${c.name} already exists in network ${n.name}`);
          const endpointsConfig = { ...c.runtime.endpointsConfig, [n.name]: { Aliases: cfg.aliases, IPAMConfig: cfg.ipv4 ? { IPv4Address: cfg.ipv4 } : null } };
          this.updateRuntime(c, { endpointsConfig });
          if (this.live.has(c.id)) {
            const ep = await net.attach(c.id, { network: n.name, hostname: c.config.Hostname, domainname: c.config.Domainname, aliases: [...cfg.aliases, c.name, c.id.slice(0, 12)], ipv4: cfg.ipv4 });
            const networks = { ...c.runtime.networks, [n.name]: { NetworkID: ep.networkId, EndpointID: ep.endpointId, Gateway: ep.gateway, IPAddress: ep.ip, IPPrefixLen: ep.prefixLen, MacAddress: ep.mac, Aliases: ep.aliases, IPAMConfig: cfg.ipv4 ? { IPv4Address: cfg.ipv4 } : null, DNSNames: [c.name, c.id.slice(0, 12), ...cfg.aliases] } };
            this.updateRuntime(c, { networks });
            net.writeEtcFiles(this.containerDir(c.id), { containerId: c.id, hostname: c.config.Hostname, domainname: c.config.Domainname, endpoints: net.endpoints(c.id), extraHosts: c.hostConfig.ExtraHosts ?? [], dns: c.hostConfig.Dns, dnsSearch: c.hostConfig.DnsSearch, dnsOptions: c.hostConfig.DnsOptions });
          }
          this.d.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
        });
      },
      disconnect: async (ref, networkId, _force) => {
        if (!net) throw notFound('networking is not available');
        const c0 = this.get(ref);
        await this.lock.run(c0.id, async () => {
          const c = this.get(c0.id);
          const n = net.inspect(networkId);
          const was = c.runtime.networks[n.name] || c.runtime.endpointsConfig[n.name] || (n.name === 'bridge' && ['default', 'bridge'].includes(c.hostConfig.NetworkMode));
          if (!was) throw invalidParameter(`container ${c.id} is not connected to network ${n.name}`);
          const endpointsConfig = { ...c.runtime.endpointsConfig };
          delete endpointsConfig[n.name];
          const networks = { ...c.runtime.networks };
          delete networks[n.name];
          this.updateRuntime(c, { endpointsConfig, networks });
          if (this.live.has(c.id)) await net.detach(c.id, n.name);
          this.d.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
        });
      },
    };
  }

  // ------------------------------------------------------------ boot and shutdown

  /**
   * On boot: containers recorded as running whose process is gone are marked
   * exited and their leftovers collected; ones whose process still runs (same pid
   * and start time) cannot be re-attached to (their stdio went with the old
   * daemon), so they are killed and recorded as exited too, and then follow their
   * restart policy like any other exit.
   */
  async reconcile(): Promise<void> {
    const liveIds = new Set<string>();
    for (const c of this.list()) {
      if (c.state === 'removing') {
        await this.lock.run(c.id, () => this.removeNow(c, {})).catch(() => {});
        continue;
      }
      if (!['running', 'paused', 'restarting'].includes(c.state)) continue;
      let code = 255;
      let error = 'tsd was restarted while the container was running';
      if (c.pid > 0 && pidStartTime(c.pid) === c.pidStart && c.pidStart !== '') {
        try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
        code = 137;
        error = 'killed: tsd was restarted while the container was running';
      }
      const cg = this.d.cgroups.manager(c.id, c.hostConfig.CgroupParent || undefined);
      await cg.destroy().catch(() => {});
      try { this.d.images.unmountRootfs(path.join(this.containerDir(c.id), 'rootfs')); } catch { /* not mounted */ }
      this.store.update(c.id, { state: 'exited', pid: 0, exitCode: code, error, finishedAt: new Date().toISOString() });
      const fresh = this.get(c.id);
      const p = fresh.hostConfig.RestartPolicy.Name;
      if ((p === 'always' || p === 'unless-stopped') && !fresh.runtime.manuallyStopped) {
        await this.start(c.id).catch((err) => this.d.log.warn({ err, ctr: c.id }, 'restart on boot failed'));
      }
    }
    for (const c of this.list()) if (this.live.has(c.id)) liveIds.add(c.id);
    if (this.d.network) await this.d.network.reconcile(liveIds).catch((err) => this.d.log.warn({ err }, 'network reconcile failed'));
  }

  /** Daemon shutdown: stop every running container (as dockerd does without live-restore). */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.restartTimers.clear();
    this.health.stopAll();
    await Promise.all([...this.live.entries()].map(async ([id, live]) => {
      const c = this.tryGet(id);
      if (!c) return;
      await this.stopLive(c, live, { timeout: Math.min(c.config.StopTimeout ?? 10, 10) }).catch(() => {});
    }));
    for (const h of this.pendingHubs.values()) await h.finishOutput().catch(() => {});
  }
}

// ------------------------------------------------------------ helpers

/** Deadline of each teardown step when a container exits. */
const EXIT_STEP_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}

function tmpfsMode(o?: { SizeBytes?: number; Mode?: number }): string {
  const parts: string[] = [];
  if (o?.SizeBytes) parts.push(`size=${o.SizeBytes}`);
  if (o?.Mode) parts.push(`mode=${o.Mode.toString(8)}`);
  return parts.join(',');
}

/** Env with PATH, HOSTNAME (and TERM for a tty) defaults, as Docker sets them. */
function withPath(env: string[], hostname: string, tty = false): string[] {
  const out = [...env];
  if (tty && !out.some((e) => e.startsWith('TERM='))) out.push('TERM=xterm');
  if (!out.some((e) => e.startsWith('PATH='))) out.unshift(`PATH=${DEFAULT_PATH}`);
  if (!out.some((e) => e.startsWith('HOSTNAME='))) out.splice(1, 0, `HOSTNAME=${hostname}`);
  return out;
}

/** Docker's merge of a create request with its image's config. */
export function mergeImageConfig(req: Partial<ContainerConfig> & { Image: string }, image: ImageForContainer): ContainerConfig {
  const ic = image.runConfig ?? {};
  const env = [...(ic.Env ?? [])];
  for (const e of req.Env ?? []) {
    const k = e.split('=')[0];
    const i = env.findIndex((x) => x.split('=')[0] === k);
    if (i >= 0) env[i] = e; else env.push(e);
  }
  let entrypoint = req.Entrypoint ?? null;
  let cmd = req.Cmd ?? null;
  if (entrypoint && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = [];
  if (!entrypoint) {
    entrypoint = ic.Entrypoint ?? null;
    if (!cmd || cmd.length === 0) cmd = ic.Cmd ?? null;
  } else if (!cmd) cmd = null; // an explicit entrypoint drops the image's Cmd
  const exposed = { ...(ic.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) };
  const volumes = { ...(ic.Volumes ?? {}), ...(req.Volumes ?? {}) };
  return {
    Hostname: req.Hostname ?? '',
    Domainname: req.Domainname ?? '',
    User: req.User || ic.User || '',
    AttachStdin: req.AttachStdin ?? false,
    AttachStdout: req.AttachStdout ?? false,
    AttachStderr: req.AttachStderr ?? false,
    ExposedPorts: Object.keys(exposed).length ? exposed : null,
    Tty: req.Tty ?? false,
    OpenStdin: req.OpenStdin ?? false,
    StdinOnce: req.StdinOnce ?? false,
    Env: env,
    Cmd: cmd && cmd.length ? cmd : null,
    Image: req.Image,
    Volumes: Object.keys(volumes).length ? volumes : null,
    WorkingDir: req.WorkingDir || ic.WorkingDir || '',
    Entrypoint: entrypoint && entrypoint.length ? entrypoint : null,
    OnBuild: null,
    Labels: { ...(ic.Labels ?? {}), ...(req.Labels ?? {}) },
    ...(req.StopSignal || ic.StopSignal ? { StopSignal: req.StopSignal || ic.StopSignal } : {}),
    ...(req.StopTimeout !== undefined ? { StopTimeout: req.StopTimeout } : {}),
    ...(req.Healthcheck || ic.Healthcheck ? { Healthcheck: { ...(ic.Healthcheck ?? {}), ...(req.Healthcheck ?? {}) } } : {}),
  };
}

function portBindings(c: Container): Array<{ containerPort: number; protocol: 'tcp' | 'udp' | 'sctp'; hostIp: string; hostPort: number; hostPortEnd?: number }> {
  const out: Array<{ containerPort: number; protocol: 'tcp' | 'udp' | 'sctp'; hostIp: string; hostPort: number; hostPortEnd?: number }> = [];
  const bindings = { ...c.hostConfig.PortBindings };
  if (c.hostConfig.PublishAllPorts) {
    for (const k of Object.keys(c.config.ExposedPorts ?? {})) if (!bindings[k]) bindings[k] = [{ HostIp: '', HostPort: '' }];
  }
  for (const [key, list] of Object.entries(bindings)) {
    const [port, proto] = key.split('/') as [string, 'tcp' | 'udp' | 'sctp'];
    for (const b of list ?? []) {
      const [lo, hi] = (b.HostPort || '0').split('-');
      out.push({ containerPort: Number(port.split('-')[0]), protocol: proto ?? 'tcp', hostIp: b.HostIp ?? '', hostPort: Number(lo), ...(hi ? { hostPortEnd: Number(hi) } : {}) });
    }
  }
  return out;
}

function emptyEndpoint(_name: string): EndpointState {
  return { NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '', Aliases: null };
}

/** Field 22 of /proc/<pid>/stat: the start time, to tell a pid from a reused one. */
export function pidStartTime(pid: number): string {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function matchLabel(labels: Record<string, string>, l: string): boolean {
  const i = l.indexOf('=');
  return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
}

