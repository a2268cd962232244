// The flags of `tsctl run` and `tsctl create`, and their translation to the
// Engine API's create body, as the docker CLI does it on the client side
// (cli/command/container/opts.go): -p parsed into PortBindings, -v into Binds
// or anonymous Volumes, --mount's CSV, --cpus into NanoCpus, a seccomp
// profile file read and sent inline.
import fs from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from './client.js';
import { collect, keyValues, parseBytes, parseDurationNs } from './format.js';

export interface RunOpts {
  detach?: boolean; interactive?: boolean; tty?: boolean; rm?: boolean; name?: string;
  env?: string[]; envFile?: string[]; publish?: string[]; publishAll?: boolean; volume?: string[]; mount?: string[]; tmpfs?: string[];
  memory?: string; memorySwap?: string; memoryReservation?: string; cpus?: string; cpusetCpus?: string; cpuShares?: string; pidsLimit?: string;
  network?: string; networkAlias?: string[]; ip?: string; restart?: string; user?: string; workdir?: string; entrypoint?: string;
  readOnly?: boolean; capAdd?: string[]; capDrop?: string[]; privileged?: boolean; securityOpt?: string[]; label?: string[];
  healthCmd?: string; healthInterval?: string; healthTimeout?: string; healthRetries?: string; healthStartPeriod?: string; healthcheck?: boolean;
  init?: boolean; device?: string[]; hostname?: string; addHost?: string[]; dns?: string[]; expose?: string[]; ulimit?: string[];
  shmSize?: string; stopSignal?: string; stopTimeout?: string; pid?: string; ipc?: string; uts?: string; cgroupns?: string;
  groupAdd?: string[]; logDriver?: string; logOpt?: string[]; oomKillDisable?: boolean; sigProxy?: boolean; detachKeys?: string;
  cgroupParent?: string; macAddress?: string; attach?: string[];
}

/** Declares docker's create flags on `cmd`. */
export function createFlags(cmd: Command): Command {
  return cmd
    .option('-i, --interactive', 'keep STDIN open even if not attached')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--name <name>', 'assign a name to the container')
    .option('-e, --env <list>', 'set environment variables', collect)
    .option('--env-file <file>', 'read in a file of environment variables', collect)
    .option('-p, --publish <list>', "publish a container's port(s) to the host", collect)
    .option('-P, --publish-all', 'publish all exposed ports to random ports')
    .option('--expose <list>', 'expose a port or a range of ports', collect)
    .option('-v, --volume <list>', 'bind mount a volume', collect)
    .option('--mount <mount>', 'attach a filesystem mount to the container', collect)
    .option('--tmpfs <tmpfs>', 'mount a tmpfs directory', collect)
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--oom-kill-disable', 'disable OOM killer')
    .option('--cpus <decimal>', 'number of CPUs')
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
    .option('--pids-limit <int>', 'tune container pids limit (set -1 for unlimited)')
    .option('--network <network>', 'connect a container to a network', 'default')
    .option('--network-alias <list>', 'add network-scoped alias for the container', collect)
    .option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--mac-address <string>', 'container MAC address')
    .option('-h, --hostname <string>', 'container host name')
    .option('--add-host <list>', 'add a custom host-to-IP mapping (host:ip)', collect)
    .option('--dns <list>', 'set custom DNS servers', collect)
    .option('--restart <string>', 'restart policy to apply when a container exits', 'no')
    .option('-u, --user <string>', 'username or UID (format: <name|uid>[:<group|gid>])')
    .option('--group-add <list>', 'add additional groups to join', collect)
    .option('-w, --workdir <string>', 'working directory inside the container')
    .option('--entrypoint <string>', 'overwrite the default ENTRYPOINT of the image')
    .option('--read-only', "mount the container's root filesystem as read only")
    .option('--cap-add <list>', 'add Linux capabilities', collect)
    .option('--cap-drop <list>', 'drop Linux capabilities', collect)
    .option('--privileged', 'give extended privileges to this container')
    .option('--security-opt <list>', 'security options', collect)
    .option('-l, --label <list>', 'set meta data on a container', collect)
    .option('--health-cmd <string>', 'command to run to check health')
    .option('--health-interval <duration>', 'time between running the check (ms|s|m|h)')
    .option('--health-timeout <duration>', 'maximum time to allow one check to run (ms|s|m|h)')
    .option('--health-retries <int>', 'consecutive failures needed to report unhealthy')
    .option('--health-start-period <duration>', 'start period for the container to initialize before starting health-retries countdown')
    .option('--no-healthcheck', 'disable any container-specified HEALTHCHECK')
    .option('--init', 'run an init inside the container that forwards signals and reaps processes')
    .option('--device <list>', 'add a host device to the container', collect)
    .option('--ulimit <ulimit>', 'ulimit options', collect)
    .option('--shm-size <bytes>', 'size of /dev/shm')
    .option('--stop-signal <string>', 'signal to stop the container')
    .option('--stop-timeout <int>', 'timeout (in seconds) to stop a container')
    .option('--pid <string>', 'PID namespace to use')
    .option('--ipc <string>', 'IPC mode to use')
    .option('--uts <string>', 'UTS namespace to use')
    .option('--cgroupns <string>', 'cgroup namespace to use (host|private)')
    .option('--cgroup-parent <string>', 'optional parent cgroup for the container')
    .option('--log-driver <string>', 'logging driver for the container')
    .option('--log-opt <list>', 'log driver options', collect)
    .option('-a, --attach <list>', 'attach to STDIN, STDOUT or STDERR', collect);
}

const int = (s: string | undefined, flag: string): number | undefined => {
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw new UsageError(`invalid argument "${s}" for "${flag}" flag: strconv.ParseInt: parsing "${s}": invalid syntax`);
  return Number(s);
};

/** -p [ip:][hostPort:]containerPort[/proto], ranges included. */
export function parsePublish(specs: string[]): { exposed: Record<string, object>; bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> } {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const spec of specs) {
    let rest = spec;
    let proto = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) { proto = rest.slice(slash + 1); rest = rest.slice(0, slash); }
    let ip = '';
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      ip = rest.slice(1, end);
      rest = rest.slice(end + 2);
    }
    const parts = rest.split(':');
    if (parts.length > 3) throw new UsageError(`invalid port format for --publish: ${spec}`);
    let container = parts[parts.length - 1]!;
    let host = parts.length >= 2 ? parts[parts.length - 2]! : '';
    if (parts.length === 3) ip = parts[0]!;
    if (!container) throw new UsageError(`no port specified: ${spec}<empty>`);
    const range = (s: string): [number, number] => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(s);
      if (!m) throw new UsageError(`invalid containerPort: ${s}`);
      return [Number(m[1]), Number(m[2] ?? m[1])];
    };
    const [c0, c1] = range(container);
    const [h0, h1] = host ? range(host) : [0, 0];
    if (host && h1 - h0 !== c1 - c0 && h0 !== h1) throw new UsageError(`invalid ranges specified for container and host Ports: ${container} and ${host}`);
    for (let p = c0; p <= c1; p++) {
      const key = `${p}/${proto}`;
      exposed[key] = {};
      const hp = !host ? '' : h0 === h1 && c0 !== c1 ? `${h0}` : `${h0 + (p - c0)}`;
      (bindings[key] ??= []).push({ HostIp: ip, HostPort: hp });
    }
    container = '';
    host = '';
  }
  return { exposed, bindings };
}

/** --mount type=bind,source=/a,target=/b,readonly[,bind-propagation=rshared] */
export function parseMount(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  const bind: Record<string, unknown> = {};
  const vol: Record<string, unknown> = {};
  const tmp: Record<string, unknown> = {};
  for (const field of spec.split(',')) {
    const i = field.indexOf('=');
    const k = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    const v = i < 0 ? '' : field.slice(i + 1);
    switch (k) {
      case 'type': m.Type = v; break;
      case 'source': case 'src': m.Source = v; break;
      case 'target': case 'destination': case 'dst': m.Target = v; break;
      case 'readonly': case 'ro': m.ReadOnly = i < 0 || ['1', 'true'].includes(v); break;
      case 'bind-propagation': bind.Propagation = v; break;
      case 'bind-create-mountpoint': bind.CreateMountpoint = i < 0 || v === 'true'; break;
      case 'volume-nocopy': vol.NoCopy = i < 0 || v === 'true'; break;
      case 'tmpfs-size': tmp.SizeBytes = parseBytes(v, '--mount'); break;
      case 'tmpfs-mode': tmp.Mode = parseInt(v, 8); break;
      default: throw new UsageError(`invalid argument "${spec}" for "--mount" flag: unexpected key '${k}' in '${field}'`);
    }
  }
  if (!m.Target) throw new UsageError(`invalid argument "${spec}" for "--mount" flag: target is required`);
  if (Object.keys(bind).length) m.BindOptions = bind;
  if (Object.keys(vol).length) m.VolumeOptions = vol;
  if (Object.keys(tmp).length) m.TmpfsOptions = tmp;
  return m;
}

function readEnvFile(file: string): string[] {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new UsageError(`open ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`); }
  return text.split('\n').map((l) => l.replace(/^\s+/, '')).filter((l) => l && !l.startsWith('#'))
    .map((l) => (l.includes('=') ? l : process.env[l] !== undefined ? `${l}=${process.env[l]}` : l));
}

/** `-e NAME` passes our own variable, as docker does. */
const envEntry = (e: string): string => (e.includes('=') ? e : process.env[e] !== undefined ? `${e}=${process.env[e]}` : e);

/** The create body (and the ?name= query) for `run`/`create`. */
export function createBody(image: string, cmd: string[], o: RunOpts): { name?: string; body: Record<string, unknown> } {
  const attach = o.attach?.map((s) => s.toLowerCase());
  const detached = !!o.detach;
  const pub = parsePublish(o.publish ?? []);
  const exposed: Record<string, object> = { ...pub.exposed };
  for (const e of o.expose ?? []) {
    const [p, proto = 'tcp'] = e.split('/');
    const [a, b = a] = p!.split('-');
    for (let n = Number(a); n <= Number(b); n++) exposed[`${n}/${proto}`] = {};
  }
  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of o.volume ?? []) {
    // an anonymous volume is a bare container path
    if (v.startsWith('/') && !v.includes(':')) volumes[v] = {};
    else binds.push(v);
  }
  const tmpfs: Record<string, string> = {};
  for (const t of o.tmpfs ?? []) {
    const i = t.indexOf(':');
    tmpfs[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
  }
  let restart: { Name: string; MaximumRetryCount: number } = { Name: 'no', MaximumRetryCount: 0 };
  if (o.restart) {
    const [n, max] = o.restart.split(':');
    restart = { Name: n!, MaximumRetryCount: max ? Number(max) : 0 };
  }
  const securityOpt = (o.securityOpt ?? []).map((s) => {
    const m = /^seccomp[=:](.+)$/.exec(s);
    if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return s;
    // docker reads the profile here and sends its JSON inline
    try {
      return `seccomp=${JSON.stringify(JSON.parse(fs.readFileSync(m[1]!, 'utf8')))}`;
    } catch (e) {
      throw new UsageError(`invalid argument "${s}" for "--security-opt" flag: opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
    }
  });
  let healthcheck: Record<string, unknown> | undefined;
  if (o.healthcheck === false) healthcheck = { Test: ['NONE'] };
  else if (o.healthCmd || o.healthInterval || o.healthTimeout || o.healthRetries || o.healthStartPeriod) {
    healthcheck = {
      ...(o.healthCmd ? { Test: ['CMD-SHELL', o.healthCmd] } : {}),
      ...(o.healthInterval ? { Interval: parseDurationNs(o.healthInterval, '--health-interval') } : {}),
      ...(o.healthTimeout ? { Timeout: parseDurationNs(o.healthTimeout, '--health-timeout') } : {}),
      ...(o.healthStartPeriod ? { StartPeriod: parseDurationNs(o.healthStartPeriod, '--health-start-period') } : {}),
      ...(o.healthRetries ? { Retries: int(o.healthRetries, '--health-retries') } : {}),
    };
  }
  const devices = (o.device ?? []).map((d) => {
    const [src, dst = src, perms = 'rwm'] = d.split(':');
    return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
  });
  const ulimits = (o.ulimit ?? []).map((u) => {
    const [name, v] = u.split('=');
    const [soft, hard = soft] = (v ?? '').split(':');
    if (!name || soft === undefined || soft === '') throw new UsageError(`invalid argument "${u}" for "--ulimit" flag: invalid ulimit argument: ${u}`);
    return { Name: name, Soft: Number(soft), Hard: Number(hard) };
  });
  let nanoCpus = 0;
  if (o.cpus !== undefined) {
    const n = Number(o.cpus);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`invalid argument "${o.cpus}" for "--cpus" flag: failed to parse ${o.cpus} as a rational number`);
    nanoCpus = Math.round(n * 1e9);
  }
  const memory = o.memory ? parseBytes(o.memory, '--memory') : 0;
  const network = o.network ?? 'default';
  const endpoints: Record<string, unknown> = {};
  if (o.networkAlias?.length || o.ip) {
    endpoints[network === 'default' ? 'bridge' : network] = {
      ...(o.networkAlias?.length ? { Aliases: o.networkAlias } : {}),
      ...(o.ip ? { IPAMConfig: { IPv4Address: o.ip } } : {}),
    };
  }
  const env = [...(o.envFile ?? []).flatMap(readEnvFile), ...(o.env ?? []).map(envEntry)];
  const stdin = !!o.interactive && !detached;
  const body: Record<string, unknown> = {
    Hostname: o.hostname ?? '',
    User: o.user ?? '',
    AttachStdin: attach ? attach.includes('stdin') : stdin,
    AttachStdout: attach ? attach.includes('stdout') : !detached,
    AttachStderr: attach ? attach.includes('stderr') : !detached,
    Tty: !!o.tty,
    OpenStdin: !!o.interactive,
    StdinOnce: !!o.interactive && !detached,
    Env: env,
    Cmd: cmd.length ? cmd : null,
    Image: image,
    WorkingDir: o.workdir ?? '',
    Entrypoint: o.entrypoint === undefined ? null : o.entrypoint === '' ? [''] : [o.entrypoint],
    Labels: keyValues(o.label),
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    ...(Object.keys(volumes).length ? { Volumes: volumes } : {}),
    ...(healthcheck ? { Healthcheck: healthcheck } : {}),
    ...(o.stopSignal ? { StopSignal: o.stopSignal } : {}),
    ...(o.stopTimeout ? { StopTimeout: int(o.stopTimeout, '--stop-timeout') } : {}),
    ...(o.macAddress ? { MacAddress: o.macAddress } : {}),
    HostConfig: {
      ...(o.tty && process.stdout.isTTY && process.stdout.rows ? { ConsoleSize: [process.stdout.rows, process.stdout.columns] } : {}),
      Binds: binds.length ? binds : null,
      NetworkMode: network,
      PortBindings: pub.bindings,
      PublishAllPorts: !!o.publishAll,
      RestartPolicy: restart,
      AutoRemove: !!o.rm,
      Mounts: (o.mount ?? []).map(parseMount),
      ...(Object.keys(tmpfs).length ? { Tmpfs: tmpfs } : {}),
      CapAdd: o.capAdd ?? null,
      CapDrop: o.capDrop ?? null,
      Privileged: !!o.privileged,
      ReadonlyRootfs: !!o.readOnly,
      SecurityOpt: securityOpt.length ? securityOpt : null,
      Init: o.init ? true : null,
      Memory: memory,
      MemorySwap: o.memorySwap ? parseBytes(o.memorySwap, '--memory-swap') : 0,
      MemoryReservation: o.memoryReservation ? parseBytes(o.memoryReservation, '--memory-reservation') : 0,
      ...(o.oomKillDisable ? { OomKillDisable: true } : {}),
      NanoCpus: nanoCpus,
      CpusetCpus: o.cpusetCpus ?? '',
      CpuShares: int(o.cpuShares, '--cpu-shares') ?? 0,
      PidsLimit: int(o.pidsLimit, '--pids-limit') ?? null,
      Devices: devices,
      Ulimits: ulimits.length ? ulimits : null,
      ExtraHosts: o.addHost?.length ? o.addHost.map((h) => h.replace(/^([^:]+):/, '$1:')) : null,
      Dns: o.dns ?? [],
      GroupAdd: o.groupAdd ?? null,
      ...(o.shmSize ? { ShmSize: parseBytes(o.shmSize, '--shm-size') } : {}),
      PidMode: o.pid ?? '',
      IpcMode: o.ipc ?? '',
      UTSMode: o.uts ?? '',
      CgroupnsMode: o.cgroupns ?? '',
      CgroupParent: o.cgroupParent ?? '',
      ...(o.logDriver || o.logOpt ? { LogConfig: { Type: o.logDriver ?? '', Config: keyValues(o.logOpt) } } : {}),
    },
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
  return { name: o.name, body };
}
