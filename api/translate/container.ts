// Docker's container create body <-> our container record; list and inspect
// shapes. Pure functions: validation with Docker's messages, defaults as dockerd
// fills them.
import { invalidParameter } from '../../errors/index.js';
import { ZERO_TIME, hasProcess, isUp, parseBind, type Container, type ContainerConfig, type HostConfig, type MountCfg } from '../../daemon/index.js';
import { discardedFieldWarnings } from './resources.js';

export interface CreateRequest {
  config: Partial<ContainerConfig> & { Image: string };
  hostConfig: HostConfig;
  /** fields taken but without effect here (CpuPercent, KernelMemory, ...), for the create's Warnings */
  warnings: string[];
  endpointsConfig: Record<string, { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null; MacAddress?: string; DriverOpts?: Record<string, string> | null; Links?: string[] | null }>;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function strList(v: unknown, field: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw invalidParameter(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type []string`);
  }
  return v as string[];
}
function bool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw invalidParameter(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type bool`);
  return v;
}
function num(v: unknown, field: string, def = 0): number {
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidParameter(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type int64`);
  return v;
}
function str(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalidParameter(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type string`);
  return v;
}
function strMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw invalidParameter(`json: cannot unmarshal into Go struct field ${field} of type map[string]string`);
  }
  return v as Record<string, string>;
}

const PORT_RE = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/;

/** "80", "80/tcp", "53/udp" → "80/tcp"; Docker's error otherwise. */
export function normalizePort(p: string): string {
  const m = PORT_RE.exec(p);
  if (!m || Number(m[1]) > 65535 || Number(m[1]) === 0) throw invalidParameter(`invalid port specification: "${p}"`);
  return `${m[1]}${m[2] ? `-${m[2]}` : ''}/${m[3] ?? 'tcp'}`;
}

const RESTART_NAMES = ['', 'no', 'always', 'unless-stopped', 'on-failure'];

export function validateRestartPolicy(rp: unknown, autoRemove: boolean): HostConfig['RestartPolicy'] {
  const r = isObj(rp) ? rp : {};
  const name = str(r.Name, 'RestartPolicy.Name');
  const max = num(r.MaximumRetryCount, 'RestartPolicy.MaximumRetryCount');
  if (!RESTART_NAMES.includes(name)) {
    throw invalidParameter(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (max < 0) throw invalidParameter('invalid restart policy: maximum retry count cannot be negative');
  if (max > 0 && name !== 'on-failure') throw invalidParameter("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  if (autoRemove && name !== '' && name !== 'no') {
    throw invalidParameter("can't create 'AutoRemove' container with restart policy");
  }
  return { Name: name as HostConfig['RestartPolicy']['Name'], MaximumRetryCount: max };
}

export { parseBind, type BindSpec } from '../../daemon/index.js';

function parseMounts(v: unknown): MountCfg[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidParameter('json: cannot unmarshal into Go struct field HostConfig.Mounts of type []mount.Mount');
  return v.map((m) => {
    if (!isObj(m)) throw invalidParameter('invalid mount config');
    const type = str(m.Type, 'Mount.Type');
    const target = str(m.Target, 'Mount.Target');
    if (!['bind', 'volume', 'tmpfs'].includes(type)) throw invalidParameter(`mount type unknown: "${type}"`);
    if (!target) throw invalidParameter(`invalid mount config for type "${type}": field Target must not be empty`);
    if (!target.startsWith('/')) throw invalidParameter(`invalid mount config for type "${type}": invalid mount path: '${target}' mount path must be absolute`);
    const source = str(m.Source, 'Mount.Source');
    if (type === 'bind' && !source) throw invalidParameter('invalid mount config for type "bind": field Source must not be empty');
    if (type === 'tmpfs' && source) throw invalidParameter('invalid mount config for type "tmpfs": field Source must not be specified');
    return { ...(m as object), Type: type, Source: source, Target: target, ReadOnly: bool(m.ReadOnly, 'Mount.ReadOnly') } as MountCfg;
  });
}

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
export function validateName(name: string): string {
  if (!NAME_RE.test(name)) throw invalidParameter(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.replace(/^\//, '');
}

/** Runtime names tsd answers to: its own, and `runc`, the name clients send by default (both are tsd's runtime). */
export const RUNTIMES = ['tsd', 'runc'] as const;
export const DEFAULT_RUNTIME = 'tsd';

/** HostConfig.Runtime: echoed as asked; "" is the default runtime; others get dockerd's 400. */
function runtimeName(r: string): string {
  if (r === '') return DEFAULT_RUNTIME;
  if (!(RUNTIMES as readonly string[]).includes(r)) throw invalidParameter(`Unknown runtime specified ${r}`);
  return r;
}

/** HostConfig.Isolation: linux knows only "default" (and "", echoed as given), as dockerd's verifyPlatformContainerSettings. */
function isolation(v: string): string {
  if (v !== '' && v.toLowerCase() !== 'default') throw invalidParameter(`Invalid isolation: ${JSON.stringify(v)} - linux only supports 'default'`);
  return v;
}

/** The ulimit names Docker knows (go-units' ulimitNameMapping; "as" is disabled there too). */
const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

/**
 * HostConfig.Ulimits, checked at create with go-units' ParseUlimit rules and messages
 * (dockerd leaves them to runc, which fails the start with a 500): a known name, integer
 * limits, -1 (unlimited) or not negative, and soft <= hard unless hard is unlimited.
 */
export function parseUlimits(v: unknown): HostConfig['Ulimits'] {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw invalidParameter('json: cannot unmarshal into Go struct field HostConfig.Ulimits of type []*container.Ulimit');
  return v.map((u: unknown) => {
    if (!isObj(u) || typeof u.Name !== 'string') throw invalidParameter('json: cannot unmarshal into Go struct field HostConfig.Ulimits of type container.Ulimit');
    const name = u.Name;
    const soft = num(u.Soft, 'Ulimit.Soft');
    const hard = num(u.Hard, 'Ulimit.Hard');
    if (!Number.isSafeInteger(soft) || !Number.isSafeInteger(hard)) throw invalidParameter('json: cannot unmarshal number into Go struct field Ulimit.Soft of type int64');
    if (!ULIMIT_NAMES.has(name)) throw invalidParameter(`invalid ulimit type: ${name}`);
    if (soft < -1 || hard < -1) throw invalidParameter(`invalid ulimit argument: ${name}=${soft}:${hard}`);
    if (hard !== -1) {
      if (soft === -1) throw invalidParameter(`ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${hard}`);
      if (soft > hard) throw invalidParameter(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
    }
    return { Name: name, Soft: soft, Hard: hard };
  });
}

/** HostConfig.DeviceRequests: moby's DeviceRequest list (Driver, Count, DeviceIDs, Capabilities, Options). */
function deviceRequests(v: unknown): HostConfig['DeviceRequests'] {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw invalidParameter('json: cannot unmarshal into Go struct field HostConfig.DeviceRequests of type []container.DeviceRequest');
  return v.map((r) => {
    if (!isObj(r)) throw invalidParameter('json: cannot unmarshal into Go struct field HostConfig.DeviceRequests of type container.DeviceRequest');
    const caps = r.Capabilities === undefined || r.Capabilities === null ? null : r.Capabilities;
    if (caps !== null && (!Array.isArray(caps) || caps.some((c) => !Array.isArray(c) || c.some((x) => typeof x !== 'string')))) {
      throw invalidParameter('json: cannot unmarshal into Go struct field DeviceRequest.HostConfig.DeviceRequests.Capabilities of type [][]string');
    }
    return {
      Driver: str(r.Driver, 'DeviceRequest.Driver'),
      Count: num(r.Count, 'DeviceRequest.Count'),
      DeviceIDs: strList(r.DeviceIDs, 'DeviceRequest.DeviceIDs'),
      Capabilities: caps as string[][] | null,
      Options: r.Options === undefined || r.Options === null ? null : strMap(r.Options, 'DeviceRequest.Options'),
    };
  });
}

export function parseHostConfig(raw: unknown): HostConfig {
  const h = isObj(raw) ? raw : {};
  const autoRemove = bool(h.AutoRemove, 'HostConfig.AutoRemove');
  const portBindings: HostConfig['PortBindings'] = {};
  if (h.PortBindings !== undefined && h.PortBindings !== null) {
    if (!isObj(h.PortBindings)) throw invalidParameter('json: cannot unmarshal into Go struct field HostConfig.PortBindings of type nat.PortMap');
    for (const [port, list] of Object.entries(h.PortBindings)) {
      const key = normalizePort(port);
      if (list === null) { portBindings[key] = null; continue; }
      if (!Array.isArray(list)) throw invalidParameter(`invalid port binding for ${port}`);
      portBindings[key] = list.map((b) => {
        const hostPort = str((b as Record<string, unknown>)?.HostPort, 'PortBinding.HostPort');
        if (hostPort && !/^\d{1,5}(-\d{1,5})?$/.test(hostPort)) throw invalidParameter(`invalid port specification: "${hostPort}"`);
        if (hostPort && Number(hostPort.split('-')[0]) > 65535) throw invalidParameter(`invalid port specification: "${hostPort}"`);
        return { HostIp: str((b as Record<string, unknown>)?.HostIp, 'PortBinding.HostIp'), HostPort: hostPort };
      });
    }
  }
  const binds = strList(h.Binds, 'HostConfig.Binds');
  for (const b of binds ?? []) parseBind(b);
  const tmpfs = strMap(h.Tmpfs, 'HostConfig.Tmpfs');
  for (const k of Object.keys(tmpfs)) if (!k.startsWith('/')) throw invalidParameter(`invalid mount path: '${k}' mount path must be absolute`);
  const log = isObj(h.LogConfig) ? h.LogConfig : {};
  const logType = str(log.Type, 'LogConfig.Type') || 'json-file';
  const networkMode = str(h.NetworkMode, 'HostConfig.NetworkMode') || 'default';
  const ulimits = parseUlimits(h.Ulimits);
  const shm = num(h.ShmSize, 'HostConfig.ShmSize');
  if (shm < 0) throw invalidParameter('SHM size can not be less than 0');
  const cs = Array.isArray(h.ConsoleSize) ? (h.ConsoleSize as number[]) : [0, 0];
  // checked by the daemon's create with the runtime's parser (moby parseSecurityOpt)
  const securityOpt = strList(h.SecurityOpt, 'HostConfig.SecurityOpt');
  const oomScoreAdj = num(h.OomScoreAdj, 'HostConfig.OomScoreAdj');
  if (oomScoreAdj < -1000 || oomScoreAdj > 1000) throw invalidParameter(`Invalid value ${oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  // Gone from the API (1.42 / 1.52) and from current moby's HostConfig: not stored, not shown (the create warns)
  const { KernelMemory: _km, KernelMemoryTCP: _kmt, ...rest } = h;
  void _km; void _kmt;
  return {
    ...(rest as object),
    Binds: binds,
    LogConfig: { Type: logType, Config: strMap(log.Config, 'LogConfig.Config') },
    NetworkMode: networkMode,
    PortBindings: portBindings,
    RestartPolicy: validateRestartPolicy(h.RestartPolicy, autoRemove),
    AutoRemove: autoRemove,
    VolumeDriver: str(h.VolumeDriver, 'HostConfig.VolumeDriver'),
    VolumesFrom: strList(h.VolumesFrom, 'HostConfig.VolumesFrom'),
    ConsoleSize: [Number(cs[0]) || 0, Number(cs[1]) || 0],
    CapAdd: strList(h.CapAdd, 'HostConfig.CapAdd'),
    CapDrop: strList(h.CapDrop, 'HostConfig.CapDrop'),
    CgroupnsMode: str(h.CgroupnsMode, 'HostConfig.CgroupnsMode') || 'private',
    Dns: strList(h.Dns, 'HostConfig.Dns') ?? [],
    DnsOptions: strList(h.DnsOptions, 'HostConfig.DnsOptions') ?? [],
    DnsSearch: strList(h.DnsSearch, 'HostConfig.DnsSearch') ?? [],
    ExtraHosts: strList(h.ExtraHosts, 'HostConfig.ExtraHosts'),
    GroupAdd: strList(h.GroupAdd, 'HostConfig.GroupAdd'),
    IpcMode: str(h.IpcMode, 'HostConfig.IpcMode') || 'private',
    Cgroup: str(h.Cgroup, 'HostConfig.Cgroup'),
    Links: strList(h.Links, 'HostConfig.Links'),
    OomScoreAdj: oomScoreAdj,
    PidMode: str(h.PidMode, 'HostConfig.PidMode'),
    Privileged: bool(h.Privileged, 'HostConfig.Privileged'),
    PublishAllPorts: bool(h.PublishAllPorts, 'HostConfig.PublishAllPorts'),
    ReadonlyRootfs: bool(h.ReadonlyRootfs, 'HostConfig.ReadonlyRootfs'),
    SecurityOpt: securityOpt,
    // null = Docker's defaults (filled at create), [] = none (the CLI's --security-opt systempaths=unconfined)
    MaskedPaths: strList(h.MaskedPaths, 'HostConfig.MaskedPaths') ?? undefined,
    ReadonlyPaths: strList(h.ReadonlyPaths, 'HostConfig.ReadonlyPaths') ?? undefined,
    UTSMode: str(h.UTSMode, 'HostConfig.UTSMode'),
    UsernsMode: str(h.UsernsMode, 'HostConfig.UsernsMode'),
    ShmSize: shm || 64 * 1024 * 1024,
    Runtime: runtimeName(str(h.Runtime, 'HostConfig.Runtime')),
    Isolation: isolation(str(h.Isolation, 'HostConfig.Isolation')),
    Tmpfs: tmpfs,
    Mounts: parseMounts(h.Mounts),
    CpuShares: num(h.CpuShares, 'HostConfig.CpuShares'),
    Memory: num(h.Memory, 'HostConfig.Memory'),
    NanoCpus: num(h.NanoCpus, 'HostConfig.NanoCpus'),
    CgroupParent: str(h.CgroupParent, 'HostConfig.CgroupParent'),
    BlkioWeight: num(h.BlkioWeight, 'HostConfig.BlkioWeight'),
    BlkioWeightDevice: (h.BlkioWeightDevice as HostConfig['BlkioWeightDevice']) ?? null,
    BlkioDeviceReadBps: (h.BlkioDeviceReadBps as HostConfig['BlkioDeviceReadBps']) ?? null,
    BlkioDeviceWriteBps: (h.BlkioDeviceWriteBps as HostConfig['BlkioDeviceWriteBps']) ?? null,
    BlkioDeviceReadIOps: (h.BlkioDeviceReadIOps as HostConfig['BlkioDeviceReadIOps']) ?? null,
    BlkioDeviceWriteIOps: (h.BlkioDeviceWriteIOps as HostConfig['BlkioDeviceWriteIOps']) ?? null,
    CpuPeriod: num(h.CpuPeriod, 'HostConfig.CpuPeriod'),
    CpuQuota: num(h.CpuQuota, 'HostConfig.CpuQuota'),
    CpuRealtimePeriod: num(h.CpuRealtimePeriod, 'HostConfig.CpuRealtimePeriod'),
    CpuRealtimeRuntime: num(h.CpuRealtimeRuntime, 'HostConfig.CpuRealtimeRuntime'),
    CpusetCpus: str(h.CpusetCpus, 'HostConfig.CpusetCpus'),
    CpusetMems: str(h.CpusetMems, 'HostConfig.CpusetMems'),
    Devices: (h.Devices as HostConfig['Devices']) ?? null,
    DeviceCgroupRules: strList(h.DeviceCgroupRules, 'HostConfig.DeviceCgroupRules'),
    DeviceRequests: deviceRequests(h.DeviceRequests),
    // checked against the namespaces at start, as runc does (runtime/sysctl.ts)
    Sysctls: h.Sysctls === undefined || h.Sysctls === null ? null : strMap(h.Sysctls, 'HostConfig.Sysctls'),
    StorageOpt: h.StorageOpt === undefined || h.StorageOpt === null ? null : strMap(h.StorageOpt, 'HostConfig.StorageOpt'),
    Annotations: h.Annotations === undefined || h.Annotations === null ? null : strMap(h.Annotations, 'HostConfig.Annotations'),
    MemoryReservation: num(h.MemoryReservation, 'HostConfig.MemoryReservation'),
    MemorySwap: num(h.MemorySwap, 'HostConfig.MemorySwap'),
    MemorySwappiness: h.MemorySwappiness === undefined || h.MemorySwappiness === null ? null : num(h.MemorySwappiness, 'HostConfig.MemorySwappiness'),
    OomKillDisable: h.OomKillDisable === undefined || h.OomKillDisable === null ? null : bool(h.OomKillDisable, 'HostConfig.OomKillDisable'),
    PidsLimit: h.PidsLimit === undefined || h.PidsLimit === null ? null : num(h.PidsLimit, 'HostConfig.PidsLimit'),
    Ulimits: ulimits,
    CpuCount: num(h.CpuCount, 'HostConfig.CpuCount'),
    CpuPercent: (num(h.CpuPercent, 'HostConfig.CpuPercent'), 0), // discarded, as moby on linux (the create warns)
    IOMaximumIOps: num(h.IOMaximumIOps, 'HostConfig.IOMaximumIOps'),
    IOMaximumBandwidth: num(h.IOMaximumBandwidth, 'HostConfig.IOMaximumBandwidth'),
  };
}

/** POST /containers/create body → our create request (the image is not merged here). */
export function fromDockerCreate(body: unknown): CreateRequest {
  if (!isObj(body)) throw invalidParameter('config cannot be empty in order to create a container');
  const image = str(body.Image, 'Config.Image');
  if (!image) throw invalidParameter('No command specified');
  const env = strList(body.Env, 'Config.Env') ?? [];
  for (const e of env) if (e === '' || e.startsWith('=')) throw invalidParameter(`invalid environment variable: ${e}`);
  const exposed: Record<string, object> = {};
  if (isObj(body.ExposedPorts)) for (const p of Object.keys(body.ExposedPorts)) exposed[normalizePort(p)] = {};
  const cfg: Partial<ContainerConfig> & { Image: string } = {
    Image: image,
    Hostname: str(body.Hostname, 'Config.Hostname'),
    Domainname: str(body.Domainname, 'Config.Domainname'),
    ...(body.MacAddress ? { MacAddress: str(body.MacAddress, 'Config.MacAddress') } : {}),
    User: str(body.User, 'Config.User'),
    AttachStdin: bool(body.AttachStdin, 'Config.AttachStdin'),
    AttachStdout: bool(body.AttachStdout, 'Config.AttachStdout'),
    AttachStderr: bool(body.AttachStderr, 'Config.AttachStderr'),
    Tty: bool(body.Tty, 'Config.Tty'),
    OpenStdin: bool(body.OpenStdin, 'Config.OpenStdin'),
    StdinOnce: bool(body.StdinOnce, 'Config.StdinOnce'),
    Env: env,
    WorkingDir: str(body.WorkingDir, 'Config.WorkingDir'),
    Labels: strMap(body.Labels, 'Config.Labels'),
  };
  if (cfg.Hostname && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(cfg.Hostname)) throw invalidParameter(`invalid hostname format: ${cfg.Hostname}`);
  if (body.Cmd !== undefined && body.Cmd !== null) cfg.Cmd = strList(body.Cmd, 'Config.Cmd');
  if (body.Entrypoint !== undefined && body.Entrypoint !== null) cfg.Entrypoint = strList(body.Entrypoint, 'Config.Entrypoint');
  if (Object.keys(exposed).length) cfg.ExposedPorts = exposed;
  if (isObj(body.Volumes)) cfg.Volumes = body.Volumes as Record<string, object>;
  if (body.StopSignal) cfg.StopSignal = str(body.StopSignal, 'Config.StopSignal');
  if (body.StopTimeout !== undefined && body.StopTimeout !== null) cfg.StopTimeout = num(body.StopTimeout, 'Config.StopTimeout');
  if (isObj(body.Healthcheck)) cfg.Healthcheck = body.Healthcheck as ContainerConfig['Healthcheck'];
  if (body.WorkingDir && !str(body.WorkingDir, 'Config.WorkingDir').startsWith('/')) {
    throw invalidParameter(`the working directory '${body.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  const hostConfig = parseHostConfig(body.HostConfig);
  const nc = isObj(body.NetworkingConfig) && isObj(body.NetworkingConfig.EndpointsConfig) ? body.NetworkingConfig.EndpointsConfig : {};
  const endpointsConfig: CreateRequest['endpointsConfig'] = {};
  for (const [net, ec] of Object.entries(nc)) endpointsConfig[net] = isObj(ec) ? (ec as CreateRequest['endpointsConfig'][string]) : {};
  // MAC addresses as moby validates them at create (Config's, deprecated since 1.44, and each endpoint's)
  for (const m of [body.MacAddress, ...Object.values(endpointsConfig).map((e) => e.MacAddress)]) {
    if (m !== undefined && m !== null && m !== '' && !(typeof m === 'string' && /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(m))) throw invalidParameter(`invalid MAC address: ${String(m)}`);
  }
  const warnings = discardedFieldWarnings(isObj(body.HostConfig) ? body.HostConfig : {});
  return { config: cfg, hostConfig, endpointsConfig, warnings };
}

// ---------------------------------------------------------------- output

const since = (iso: string): string => {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${Math.floor(s)} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  const d = Math.round(s / 86400);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.round(d / 7)} weeks`;
  if (d < 730) return `${Math.round(d / 30)} months`;
  return `${Math.round(d / 365)} years`;
};

/** The Status column of `docker ps`: "Up 2 seconds", "Exited (0) 3 minutes ago", "Created". */
export function statusString(c: Container): string {
  const health = c.runtime.health && c.runtime.health.Status !== 'none' ? ` (${c.runtime.health.Status === 'starting' ? 'health: starting' : c.runtime.health.Status})` : '';
  switch (c.state) {
    case 'running': return `Up ${since(c.startedAt)}${health}`;
    case 'paused': return `Up ${since(c.startedAt)} (Paused)`;
    case 'restarting': return `Restarting (${c.exitCode}) ${since(c.finishedAt)} ago`;
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
    case 'exited': return c.finishedAt === ZERO_TIME ? 'Created' : `Exited (${c.exitCode}) ${since(c.finishedAt)} ago`;
    default: return 'Created';
  }
}

export function commandString(c: Container): string {
  const parts = [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])];
  return parts.map((p) => (/\s/.test(p) ? `'${p}'` : p)).join(' ');
}

export function dockerPorts(c: Container): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const published = hasProcess(c.state) ? c.runtime.ports : {};
  const seen = new Set<string>();
  for (const [key, binds] of Object.entries(published ?? {})) {
    const [port, type] = key.split('/') as [string, string];
    for (const b of binds ?? []) {
      out.push({ IP: b.HostIp || '0.0.0.0', PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
      seen.add(key);
    }
  }
  for (const key of Object.keys(c.config.ExposedPorts ?? {})) {
    if (seen.has(key)) continue;
    const [port, type] = key.split('/') as [string, string];
    out.push({ PrivatePort: Number(port), Type: type });
  }
  return out;
}

/** How inspect and list render endpoints: the client's API version and a network name → ID lookup. */
export interface NetworkView {
  apiVersion?: string | null;
  networkId?: (name: string) => string | undefined;
}

const BUILTIN_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);
const dedup = (xs: string[]): string[] => [...new Set(xs.filter(Boolean))];
export const apiBefore = (v: string | null | undefined, min: string): boolean => {
  if (!v) return false;
  const [a, b] = v.split('.').map(Number) as [number, number];
  const [c, d] = min.split('.').map(Number) as [number, number];
  return a < c || (a === c && b < d);
};

/**
 * The networks a container is (or, not running, will be) attached to, as moby's
 * NetworkSettings.Networks: a created or stopped container lists every network of
 * its NetworkMode and EndpointsConfig with its aliases and IPAM config and empty
 * addresses (compose decides from that whether to connect). Aliases are the
 * user's; before API 1.45 moby adds the short id and hostname on user-defined
 * networks. DNSNames (1.44): name, aliases, short id, hostname.
 */
function networksOut(c: Container, view: NetworkView = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const live = isUp(c.state);
  const cfg = c.runtime.endpointsConfig ?? {};
  const mode = c.hostConfig.NetworkMode || 'default';
  let names: string[];
  if (live) names = Object.keys(c.runtime.networks);
  else if (mode.startsWith('container:')) names = [];
  else {
    const primary = mode === 'default' ? 'bridge' : mode;
    names = dedup([primary, ...Object.keys(cfg).map((n) => (n === 'default' ? 'bridge' : n))]);
  }
  const shortId = c.id.slice(0, 12);
  for (const name of names) {
    const e = live ? c.runtime.networks[name] : undefined;
    const ec = cfg[name] ?? (name === 'bridge' ? cfg.default : undefined);
    const userDefined = !BUILTIN_NETWORKS.has(name);
    let aliases: string[] | null = ec?.Aliases?.length ? [...ec.Aliases] : null;
    if (userDefined && apiBefore(view.apiVersion, '1.45')) aliases = dedup([...(aliases ?? []), shortId, c.config.Hostname ?? '']);
    const networkId = e?.NetworkID || c.runtime.networks[name]?.NetworkID || view.networkId?.(name) || '';
    out[name] = {
      IPAMConfig: ec?.IPAMConfig ?? e?.IPAMConfig ?? null, Links: e?.Links?.length ? e.Links : null, Aliases: aliases, MacAddress: e?.MacAddress || ec?.MacAddress || '', NetworkID: networkId,
      EndpointID: e?.EndpointID ?? '', Gateway: e?.Gateway ?? '', IPAddress: e?.IPAddress ?? '', IPPrefixLen: e?.IPPrefixLen ?? 0,
      IPv6Gateway: e?.IPv6Gateway ?? '', GlobalIPv6Address: e?.GlobalIPv6Address ?? '', GlobalIPv6PrefixLen: e?.GlobalIPv6PrefixLen ?? 0, DriverOpts: e?.DriverOpts ?? ec?.DriverOpts ?? null,
      DNSNames: e && userDefined ? dedup([c.name, ...(ec?.Aliases ?? []), shortId, c.config.Hostname ?? '']) : null,
    };
  }
  return out;
}

export function toDockerListEntry(c: Container, opts: { size?: { rw: number; rootFs: number } } & NetworkView = {}): Record<string, unknown> {
  const e: Record<string, unknown> = {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.config.Image,
    ImageID: c.imageId,
    Command: commandString(c),
    Created: Math.floor(Date.parse(c.createdAt) / 1000),
    Ports: dockerPorts(c),
    Labels: c.config.Labels ?? {},
    State: c.state,
    Status: statusString(c),
    HostConfig: { NetworkMode: c.hostConfig.NetworkMode },
    NetworkSettings: { Networks: networksOut(c, opts) },
    Mounts: c.runtime.mounts.map((m) => ({ ...m })),
  };
  if (opts.size) {
    e.SizeRw = opts.size.rw;
    e.SizeRootFs = opts.size.rootFs;
  }
  return e;
}

export function toDockerInspect(c: Container, extra: { graphDriver: Record<string, string>; execIds: string[]; size?: { rw: number; rootFs: number } } & NetworkView): Record<string, unknown> {
  const running = isUp(c.state);
  const health = c.runtime.health;
  const state: Record<string, unknown> = {
    Status: c.state,
    Running: running,
    Paused: c.state === 'paused',
    Restarting: c.state === 'restarting',
    OOMKilled: c.oomKilled,
    Dead: c.state === 'dead',
    Pid: running ? c.pid : 0,
    ExitCode: c.exitCode,
    Error: c.error,
    StartedAt: c.startedAt,
    FinishedAt: c.finishedAt,
  };
  if (health) state.Health = health;
  const out: Record<string, unknown> = {
    Id: c.id,
    Created: c.createdAt,
    Path: (c.config.Entrypoint ?? c.config.Cmd ?? [])[0] ?? '',
    Args: [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])].slice(1),
    State: state,
    Image: c.imageId,
    ResolvConfPath: c.runtime.resolvConfPath,
    HostnamePath: c.runtime.hostnamePath,
    HostsPath: c.runtime.hostsPath,
    LogPath: c.runtime.logPath,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    // No AppArmor here: moby shows the asked-for profile until the first start, then "" (saveAppArmorConfig)
    AppArmorProfile: c.startedAt === ZERO_TIME ? appArmorOpt(c.hostConfig.SecurityOpt) : '',
    ExecIDs: extra.execIds.length ? extra.execIds : null,
    HostConfig: c.hostConfig,
    GraphDriver: { Name: 'overlay2', Data: extra.graphDriver },
    Mounts: c.runtime.mounts,
    Config: c.config,
    NetworkSettings: {
      Bridge: '',
      SandboxID: running && c.runtime.sandboxKey ? c.id : '',
      SandboxKey: running ? c.runtime.sandboxKey : '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: running ? portsMap(c) : {},
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: running ? (c.runtime.networks.bridge?.EndpointID ?? '') : '',
      Gateway: running ? (c.runtime.networks.bridge?.Gateway ?? '') : '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: running ? (c.runtime.networks.bridge?.IPAddress ?? '') : '',
      IPPrefixLen: running ? (c.runtime.networks.bridge?.IPPrefixLen ?? 0) : 0,
      IPv6Gateway: '',
      MacAddress: running ? (c.runtime.networks.bridge?.MacAddress ?? '') : '',
      Networks: networksOut(c, extra),
    },
  };
  if (extra.size) {
    out.SizeRw = extra.size.rw;
    out.SizeRootFs = extra.size.rootFs;
  }
  return out;
}

function appArmorOpt(opts: string[] | null): string {
  let profile = '';
  for (const o of opts ?? []) {
    const m = /^apparmor[=:](.*)$/s.exec(o);
    if (m) profile = m[1]!;
  }
  return profile;
}

function portsMap(c: Container): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const k of Object.keys(c.config.ExposedPorts ?? {})) out[k] = null;
  for (const [k, v] of Object.entries(c.runtime.ports ?? {})) out[k] = v;
  return out;
}
