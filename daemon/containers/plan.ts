// Pure planners of the container lifecycle: no fs, no clock, no kernel. What a
// container is made of (the image merge, its mounts), what the runtime is asked
// to run (toRuntimeSpec, and where every HostConfig field goes), and whether an
// exit is followed by a restart (restartDecision, with dockerd's backoff).
import { invalidParameter } from '../../errors/index.js';
import type { NamespaceChoice, RuntimeMount, RuntimeSpec } from '../../runtime/index.js';
import type { ImageForContainer, Resources } from './ports.js';
import type { Container, ContainerConfig, HostConfig, RuntimeState } from './types.js';
import { canJoin, type ContainerState } from './state.js';
import { parseBind } from './binds.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Where --init's binary appears in the container (Docker's path). */
export const INIT_IN_CONTAINER = '/sbin/docker-init';

// ------------------------------------------------------------ create

/** KEY=value lists: a later entry replaces an earlier one with the same key, others are appended. */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const env = [...base];
  for (const e of overrides) {
    const k = e.split('=')[0];
    const i = env.findIndex((x) => x.split('=')[0] === k);
    if (i >= 0) env[i] = e; else env.push(e);
  }
  return env;
}

/** Docker's merge of a create request with its image's config. */
export function mergeImageConfig(req: Partial<ContainerConfig> & { Image: string }, image: ImageForContainer): ContainerConfig {
  const ic = image.runConfig ?? {};
  const env = mergeEnv(ic.Env ?? [], req.Env ?? []);
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

export type InspectMount = RuntimeState['mounts'][number];

/** What planMounts asks of the world (the volume service, the other containers, the host's fs). */
export interface MountWorld {
  volumeMountpoint(name: string): string;
  /** --volumes-from: the mounts of another container (throws as lookup does) */
  mountsOf(ref: string): InspectMount[];
  exists(hostPath: string): boolean;
  /** a name for an anonymous volume */
  newVolumeName(): string;
}

function tmpfsMode(o?: { SizeBytes?: number; Mode?: number }): string {
  const parts: string[] = [];
  if (o?.SizeBytes) parts.push(`size=${o.SizeBytes}`);
  if (o?.Mode) parts.push(`mode=${o.Mode.toString(8)}`);
  return parts.join(',');
}

const mountDriver = (m: { VolumeOptions?: unknown }): string => {
  const vo = m.VolumeOptions as { DriverConfig?: { Name?: unknown } } | undefined;
  return typeof vo?.DriverConfig?.Name === 'string' ? vo.DriverConfig.Name : '';
};

/** Binds, volumes (named and anonymous, image-declared too) and tmpfs, as inspect shows them. */
export function planMounts(config: ContainerConfig, hc: HostConfig, world: MountWorld): InspectMount[] {
  const out: InspectMount[] = [];
  const seen = new Set<string>();
  const add = (m: InspectMount) => {
    if (seen.has(m.Destination)) throw invalidParameter(`Duplicate mount point: ${m.Destination}`);
    seen.add(m.Destination);
    out.push(m);
  };
  const volume = (name: string, destination: string, mode: string, rw: boolean, driver = hc.VolumeDriver): InspectMount => {
    // only the local driver exists: moby's volume service fails the lookup of any other
    if (driver && driver !== 'local') throw invalidParameter(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    return { Type: 'volume', Name: name, Source: world.volumeMountpoint(name), Destination: destination, Driver: 'local', Mode: mode, RW: rw, Propagation: '' };
  };
  for (const b of hc.Binds ?? []) {
    const spec = parseBind(b);
    if (spec.kind === 'bind') add({ Type: 'bind', Source: spec.source, Destination: spec.destination, Mode: spec.mode, RW: !spec.readonly, Propagation: spec.propagation });
    else add(volume(spec.source || world.newVolumeName(), spec.destination, spec.mode || 'z', !spec.readonly));
  }
  for (const m of hc.Mounts ?? []) {
    if (m.Type === 'bind') add({ Type: 'bind', Source: m.Source, Destination: m.Target, Mode: '', RW: !m.ReadOnly, Propagation: m.BindOptions?.Propagation ?? 'rprivate' });
    // --mount names its own driver (VolumeOptions.DriverConfig); HostConfig.VolumeDriver does not apply (moby)
    else if (m.Type === 'volume') add(volume(m.Source || world.newVolumeName(), m.Target, 'z', !m.ReadOnly, mountDriver(m)));
    else add({ Type: 'tmpfs', Source: '', Destination: m.Target, Mode: tmpfsMode(m.TmpfsOptions), RW: !m.ReadOnly, Propagation: '' });
  }
  for (const [dest, opts] of Object.entries(hc.Tmpfs ?? {})) add({ Type: 'tmpfs', Source: '', Destination: dest, Mode: opts, RW: !opts.split(',').includes('ro'), Propagation: '' });
  // --volumes-from <container>[:ro|rw]: its volumes and binds, unless a path is already taken.
  for (const vf of hc.VolumesFrom ?? []) {
    const i = vf.lastIndexOf(':');
    const [ref, mode] = i > 0 ? [vf.slice(0, i), vf.slice(i + 1)] : [vf, ''];
    if (mode && mode !== 'ro' && mode !== 'rw') throw invalidParameter(`invalid mode: ${mode}`);
    for (const m of world.mountsOf(ref)) {
      if (m.Type === 'tmpfs' || seen.has(m.Destination)) continue;
      add({ ...m, RW: m.RW && mode !== 'ro' });
    }
  }
  for (const dest of Object.keys(config.Volumes ?? {})) {
    if (seen.has(dest)) continue;
    add(volume(world.newVolumeName(), dest, '', true));
  }
  for (const m of out) {
    if (m.Type === 'bind' && !world.exists(m.Source)) {
      // -v creates a missing host directory (as Docker does); --mount type=bind refuses.
      const fromBinds = (hc.Binds ?? []).some((b) => b.startsWith(`${m.Source}:`));
      if (!fromBinds) throw invalidParameter(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
    }
  }
  return out;
}

// ------------------------------------------------------------ start

/** Env with PATH, HOSTNAME (and TERM for a tty) defaults, as Docker sets them. */
export function withPath(env: readonly string[], hostname: string, tty = false): string[] {
  const out = [...env];
  if (tty && !out.some((e) => e.startsWith('TERM='))) out.push('TERM=xterm');
  if (!out.some((e) => e.startsWith('PATH='))) out.unshift(`PATH=${DEFAULT_PATH}`);
  if (!out.some((e) => e.startsWith('HOSTNAME='))) out.splice(1, 0, `HOSTNAME=${hostname}`);
  return out;
}

/** The cgroup resources of a container, as create translated them (and update merged them). */
export function resourcesOf(c: Pick<Container, 'runtime'>): Resources {
  return (c.runtime as RuntimeState & { resources?: Resources }).resources ?? {};
}

/**
 * A container always starts with a device policy (v1 devices.allow/deny, v2 an eBPF program):
 * resources stored without device rules get Docker's defaults (allow all when privileged).
 */
export function withDevicePolicy(res: Resources, privileged: boolean): Resources {
  if (res.devices !== undefined) return res;
  return { ...res, devices: privileged ? [{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }] : [] };
}

/** The mounts as the runtime takes them: binds, volumes (as binds of their mountpoint) and tmpfs. */
export function toRuntimeMounts(mounts: readonly InspectMount[], volumeMountpoint: (name: string) => string): RuntimeMount[] {
  return mounts.map((m): RuntimeMount => {
    if (m.Type === 'tmpfs') return { type: 'tmpfs', destination: m.Destination, options: m.Mode || undefined };
    if (m.Type === 'volume') return { type: 'bind', source: volumeMountpoint(m.Name!), destination: m.Destination, readonly: !m.RW };
    return { type: 'bind', source: m.Source, destination: m.Destination, readonly: !m.RW, propagation: m.Propagation || undefined };
  });
}

/** The other container a `container:<ref>` mode names, as far as joining it needs. */
export interface JoinTarget { id: string; state: ContainerState; pid: number }

/** IpcMode / PidMode: '' | private | shareable | none (a new namespace), host, container:<ref> (its namespace). */
export function namespaceChoice(mode: string | undefined, ns: 'ipc' | 'pid', what: string, lookup: (ref: string) => JoinTarget): NamespaceChoice {
  if (!mode || mode === 'private' || mode === 'shareable' || mode === 'none') return { mode: 'private' };
  if (mode === 'host') return { mode: 'host' };
  if (mode.startsWith('container:')) {
    const other = lookup(mode.slice('container:'.length));
    canJoin(other, what);
    return { mode: 'join', path: `/proc/${other.pid}/ns/${ns}` };
  }
  throw invalidParameter(`invalid ${what} mode: ${mode}`);
}

/** What the start path prepared before the spec can be written: the places made on the host. */
export interface Prepared {
  /** the mounted overlay */
  rootfs: string;
  mounts: RuntimeMount[];
  network: { spec: RuntimeSpec['network']; etc?: RuntimeSpec['etc']; /** legacy links' variables, before Config.Env */ linkEnv?: string[] };
  /** the daemon's --cgroup-parent: the parent of containers without HostConfig.CgroupParent */
  cgroupParent: string;
  ipc: NamespaceChoice;
  pid: NamespaceChoice;
  /** --init: the host path of the static init bound at INIT_IN_CONTAINER */
  initBinary?: string;
  /** whether the host kernel has a sysctl (Docker's defaults are added only where it does) */
  sysctlExists?: (key: string) => boolean;
  /** --device nodes, as the host has them now */
  devices?: RuntimeSpec['devices'];
}

/**
 * Where each HostConfig field goes. `runtime`, `cgroup`, `network`, `mounts`,
 * `logs`, `restart`, `exit`, `daemon` name the part of tsd that honours it; `client`
 * fields only matter to the CLI that sent them; `accepted` fields are stored and
 * shown by inspect but not applied (yet): the reason says what happens instead;
 * `refused` fields make create fail (400) when set, rather than be dropped.
 * A field missing here fails the plan test: adding one to the API means saying where it goes.
 */
export const HOSTCONFIG_FIELDS: Readonly<Record<string, 'runtime' | 'cgroup' | 'network' | 'mounts' | 'logs' | 'restart' | 'exit' | 'client' | 'stored' | { accepted: string } | { refused: string } | { dropped: string }>> = {
  Binds: 'mounts', Mounts: 'mounts', Tmpfs: 'mounts', VolumesFrom: 'mounts',
  VolumeDriver: { refused: 'only "local": another driver\'s volumes fail with moby\'s plugin-not-found message' },
  StorageOpt: { refused: "--storage-opt is supported only for overlay over xfs with 'pquota' mount option (moby overlay2)" },
  Annotations: 'stored',
  LogConfig: 'logs',
  NetworkMode: 'network', PortBindings: 'network', PublishAllPorts: 'network', Dns: 'network', DnsOptions: 'network', DnsSearch: 'network', ExtraHosts: 'network',
  Links: 'network',
  RestartPolicy: 'restart', AutoRemove: 'exit',
  ContainerIDFile: 'client',
  ConsoleSize: 'runtime', CapAdd: 'runtime', CapDrop: 'runtime', GroupAdd: 'runtime', IpcMode: 'runtime', PidMode: 'runtime', Privileged: 'runtime',
  ReadonlyRootfs: 'runtime', SecurityOpt: 'runtime', ShmSize: 'runtime', Ulimits: 'runtime', Init: 'runtime',
  CgroupnsMode: { refused: 'only private: host is refused at create (every container gets its own cgroup namespace)' },
  UTSMode: 'runtime',
  UsernsMode: { accepted: 'no user namespaces: containers run as host uids' },
  Cgroup: { accepted: 'no joining another cgroup' },
  OomScoreAdj: 'runtime',
  MaskedPaths: 'runtime', ReadonlyPaths: 'runtime',
  Sysctls: 'runtime',
  Runtime: { accepted: 'tsd is the only runtime' },
  Isolation: { accepted: 'Linux only: no isolation modes' },
  CpuShares: 'cgroup', Memory: 'cgroup', NanoCpus: 'cgroup', CgroupParent: 'cgroup', BlkioWeight: 'cgroup', BlkioWeightDevice: 'cgroup',
  BlkioDeviceReadBps: 'cgroup', BlkioDeviceWriteBps: 'cgroup', BlkioDeviceReadIOps: 'cgroup', BlkioDeviceWriteIOps: 'cgroup',
  CpuPeriod: 'cgroup', CpuQuota: 'cgroup', CpusetCpus: 'cgroup', CpusetMems: 'cgroup', Devices: 'cgroup', DeviceCgroupRules: 'cgroup',
  MemoryReservation: 'cgroup', MemorySwap: 'cgroup', MemorySwappiness: 'cgroup', OomKillDisable: 'cgroup', PidsLimit: 'cgroup',
  IOMaximumIOps: 'cgroup', IOMaximumBandwidth: 'cgroup', // refused by the resource translation (Windows only)
  CpuRealtimePeriod: 'cgroup', CpuRealtimeRuntime: 'cgroup', // v1 cpu.rt_*; v2: kernel does not support CPU real-time scheduler
  CpuCount: { accepted: 'Windows only: stored as moby does, and the create warns' },
  CpuPercent: { dropped: 'Windows only: discarded with moby\'s warning' },
  KernelMemoryTCP: { dropped: 'removed from the API: not stored, the create warns' },
  DeviceRequests: { refused: 'no device drivers: start fails with could not select device driver "" with capabilities: [[gpu]]' },
};

/** The runtime's spec of a container to start: each field from the record, in the order of RuntimeSpec. */
export function toRuntimeSpec(c: Container, p: Prepared): RuntimeSpec {
  const hc = c.hostConfig;
  const args = [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])];
  const spec: RuntimeSpec = {
    id: c.id,
    rootfs: p.rootfs,
    args,
    env: withPath(p.network.linkEnv?.length ? mergeEnv(p.network.linkEnv, c.config.Env) : c.config.Env, c.config.Hostname, c.config.Tty),
    cwd: c.config.WorkingDir || '/',
    user: c.config.User,
    groupAdd: hc.GroupAdd ?? [],
    hostname: c.config.Hostname,
    domainname: c.config.Domainname,
    uts: hc.UTSMode === 'host' ? 'host' : 'private',
    tty: c.config.Tty,
    openStdin: c.config.OpenStdin,
    readonlyRootfs: hc.ReadonlyRootfs,
    privileged: hc.Privileged,
    capAdd: hc.CapAdd ?? [],
    capDrop: hc.CapDrop ?? [],
    securityOpt: hc.SecurityOpt ?? [],
    maskedPaths: hc.MaskedPaths ?? undefined,
    readonlyPaths: hc.ReadonlyPaths ?? undefined,
    ulimits: (hc.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
    shmSize: hc.ShmSize,
    mounts: p.mounts,
    network: p.network.spec,
    cgroup: { parent: hc.CgroupParent || p.cgroupParent, name: c.id, resources: withDevicePolicy(resourcesOf(c), hc.Privileged) },
    etc: p.network.etc,
    consoleSize: hc.ConsoleSize[0] ? [hc.ConsoleSize[0], hc.ConsoleSize[1]] : undefined,
    ipc: p.ipc,
    pid: p.pid,
    ...(p.devices?.length ? { devices: p.devices } : {}),
    // always written, 0 included, as moby's WithOOMScore: the daemon's own score is not the container's
    oomScoreAdj: hc.OomScoreAdj ?? 0,
    sysctls: containerSysctls(hc, p.sysctlExists ?? (() => false)),
  };
  if (hc.Init && p.initBinary) {
    // --init: a tiny init (tini) as PID 1 reaps zombies and forwards signals to the command, as Docker does.
    spec.mounts = [{ type: 'bind', source: p.initBinary, destination: INIT_IN_CONTAINER, readonly: true }, ...spec.mounts];
    spec.args = [INIT_IN_CONTAINER, '--', ...args];
  }
  return spec;
}

/**
 * HostConfig.DeviceRequests (`--gpus`): tsd has no device drivers (no nvidia or CDI),
 * so any request fails at start as moby's handleDevice does when no driver matches.
 */
export function deviceRequestsError(hc: Pick<HostConfig, 'DeviceRequests'>): string | null {
  const req = hc.DeviceRequests?.[0];
  if (!req) return null;
  const caps = `[${(req.Capabilities ?? []).map((c) => `[${c.join(' ')}]`).join(' ')}]`;
  return `could not select device driver ${JSON.stringify(req.Driver ?? '')} with capabilities: ${caps}`;
}

/**
 * The sysctls a container starts with: moby's defaults for a container with a network
 * namespace of its own (unprivileged ping and low ports, where the kernel has them;
 * withCommonOptions), then HostConfig.Sysctls, which win.
 */
export function containerSysctls(hc: Pick<HostConfig, 'NetworkMode' | 'Sysctls'>, exists: (key: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const mode = hc.NetworkMode || 'default';
  if (mode !== 'host' && !mode.startsWith('container:')) {
    if (exists('net.ipv4.ping_group_range')) out['net.ipv4.ping_group_range'] = '0 2147483647';
    if (exists('net.ipv4.ip_unprivileged_port_start')) out['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  return { ...out, ...(hc.Sysctls ?? {}) };
}

/** PortBindings (and -P: every exposed port) as the network attach asks for them. */
export function portRequests(c: Pick<Container, 'config' | 'hostConfig'>): Array<{ containerPort: number; protocol: 'tcp' | 'udp' | 'sctp'; hostIp: string; hostPort: number; hostPortEnd?: number }> {
  const out: ReturnType<typeof portRequests> = [];
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

// ------------------------------------------------------------ exit

/** dockerd's restart backoff (moby restartmanager): 100 ms, doubling, at most a minute; back to 100 ms after 10 s up. */
export const RESTART_BACKOFF = { firstMs: 100, factor: 2, maxMs: 60_000, resetAfterUpMs: 10_000 } as const;

export interface ExitFacts {
  exitCode: number;
  /** how long the task ran */
  upMs: number;
  /** stopped, killed or removed by hand (or the daemon is shutting down) */
  manual: boolean;
}

export interface RestartHistory {
  /** restarts so far (RestartCount): on-failure:N stops after N */
  restartCount: number;
  /** the delay before the previous restart, 0 when none since the daemon started */
  lastDelayMs: number;
}

export type RestartDecision = { restart: false } | { restart: true; delayMs: number };

/** Whether an exit is followed by a restart, and after how long. */
export function restartDecision(policy: HostConfig['RestartPolicy'], exit: ExitFacts, history: RestartHistory): RestartDecision {
  if (exit.manual) return { restart: false };
  const again = policy.Name === 'always' || policy.Name === 'unless-stopped' ||
    (policy.Name === 'on-failure' && exit.exitCode !== 0 && (policy.MaximumRetryCount === 0 || history.restartCount < policy.MaximumRetryCount));
  if (!again) return { restart: false };
  const b = RESTART_BACKOFF;
  const prev = exit.upMs >= b.resetAfterUpMs ? 0 : history.lastDelayMs;
  return { restart: true, delayMs: prev === 0 ? b.firstMs : Math.min(prev * b.factor, b.maxMs) };
}
