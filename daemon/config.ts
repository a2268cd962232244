// The daemon's configuration: defaults, then a JSON config file, then flags.
import fs from 'node:fs';
import { checkSlice } from '../cgroupfs/index.js';
import { invalidParameter } from '../errors/index.js';

export interface DaemonConfig {
  host: string;            // unix socket path
  dataRoot: string;
  execRoot: string;
  cgroupParent: string;
  bridge: string;
  bip: string;
  logLevel: string;
  insecureRegistries: string[];
  socketGroup: string;
  initPool: number;        // warm inits kept ready (0 disables)
  initPath: string;        // the init run as PID 1 for --init (tini), '' = look it up
  metricsAddr: string;     // host:port serving GET /metrics over TCP ('' = only on the API socket)
  cpuRtPeriod: number;     // µs, cgroup v1 cpu.rt_period_us of the containers' parent cgroups (0 = unset)
  cpuRtRuntime: number;    // µs of real-time runtime the parent cgroups grant their containers (0 = none, the kernel's default)
  liveRestore: boolean;    // containers keep running while the daemon is stopped, restarted or crashed
  execOpts: string[];      // dockerd's --exec-opt key=value list (native.cgroupdriver)
  cgroupDriver: 'cgroupfs' | 'systemd'; // from execOpts (cgroupDriverOf), not a flag of its own
}

export const defaults: DaemonConfig = {
  host: '/var/run/tsd.sock',
  dataRoot: '/var/lib/tsd',
  execRoot: '/run/tsd',
  cgroupParent: 'tsd',
  bridge: 'tsd0',
  bip: '172.31.0.1/16',
  logLevel: 'info',
  insecureRegistries: [],
  socketGroup: 'tsd',
  initPool: 2,
  initPath: '',
  metricsAddr: '',
  cpuRtPeriod: 0,
  cpuRtRuntime: 0,
  liveRestore: true,      // #13: on by default (dockerd's is opt-in); --live-restore=false for the old behaviour
  execOpts: [],
  cgroupDriver: 'cgroupfs',
};
/** The containers' default parent under the systemd driver, as dockerd's. */
export const SYSTEMD_DEFAULT_SLICE = 'system.slice';

const flagMap: Record<string, keyof DaemonConfig> = {
  '--host': 'host', '-H': 'host',
  '--data-root': 'dataRoot',
  '--exec-root': 'execRoot',
  '--cgroup-parent': 'cgroupParent',
  '--bridge': 'bridge', '-b': 'bridge',
  '--bip': 'bip',
  '--log-level': 'logLevel', '-l': 'logLevel',
  '--insecure-registry': 'insecureRegistries',
  '--group': 'socketGroup', '-G': 'socketGroup',
  '--init-pool': 'initPool',
  '--init-path': 'initPath',
  '--metrics-addr': 'metricsAddr',
  '--cpu-rt-period': 'cpuRtPeriod',
  '--cpu-rt-runtime': 'cpuRtRuntime',
  '--live-restore': 'liveRestore',
  '--exec-opt': 'execOpts',
};

const fileKeys: Record<string, keyof DaemonConfig> = {
  host: 'host', hosts: 'host', 'data-root': 'dataRoot', 'exec-root': 'execRoot', 'cgroup-parent': 'cgroupParent',
  bridge: 'bridge', bip: 'bip', 'log-level': 'logLevel', 'insecure-registries': 'insecureRegistries', group: 'socketGroup',
  'init-pool': 'initPool',
  'init-path': 'initPath',
  'metrics-addr': 'metricsAddr',
  'cpu-rt-period': 'cpuRtPeriod',
  'cpu-rt-runtime': 'cpuRtRuntime',
  'live-restore': 'liveRestore',
  'exec-opts': 'execOpts',
};

export const USAGE = `Usage: tsd [OPTIONS]

A container engine that speaks the Docker Engine API.

Options:
      --config-file string       JSON config file (keys as the long flags, e.g. "data-root")
  -H, --host string              unix socket to listen on (default ${defaults.host}; unix:// prefix accepted)
      --data-root string         root of persistent state (default ${defaults.dataRoot})
      --exec-root string         root of runtime state (default ${defaults.execRoot})
      --cgroup-parent string     parent cgroup for containers (default ${defaults.cgroupParent})
  -b, --bridge string            bridge device of the default network (default ${defaults.bridge})
      --bip string               bridge address/prefix (default ${defaults.bip})
      --insecure-registry list   registries reached over plain HTTP (repeatable)
  -G, --group string             group owning the socket, if it exists (default ${defaults.socketGroup})
      --init-path string         static init for --init (default: docker-init or tini-static on PATH)
      --init-pool int            pre-spawned container inits kept warm, 0 to disable (default ${defaults.initPool})
  -l, --log-level string         debug, info, warn, error (default ${defaults.logLevel})
      --metrics-addr string      also serve Prometheus metrics (GET /metrics) on this TCP host:port
      --cpu-rt-period int        cgroup v1: real-time period (µs) of the containers' parent cgroups
      --cpu-rt-runtime int       cgroup v1: real-time runtime (µs) the parent cgroups grant (needed by --cpu-rt-runtime of a container)
      --live-restore[=bool]      keep containers running while the daemon is down (stop, restart, crash) and
                                 re-adopt them when it starts (default true; =false: a stop stops them and
                                 a boot after a crash kills the survivors)
      --exec-opt list            runtime options as dockerd's: native.cgroupdriver=cgroupfs (default) or systemd
                                 (transient scopes docker-<id>.scope over systemd's D-Bus API; --cgroup-parent is then
                                 a slice, default ${'system.slice'})
  -h, --help                     print this help
`;

function set(cfg: DaemonConfig, key: keyof DaemonConfig, value: unknown, from: string): void {
  if (key === 'insecureRegistries' || key === 'execOpts') {
    const list = Array.isArray(value) ? value.map(String) : [String(value)];
    cfg[key] = [...cfg[key], ...list];
  } else if (key === 'initPool' || key === 'cpuRtPeriod' || key === 'cpuRtRuntime') {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw invalidParameter(`invalid value "${String(value)}" for ${from}`);
    cfg[key] = n;
  } else if (key === 'liveRestore') {
    // dockerd: a bool flag (bare = true, --live-restore=false) and a JSON boolean in daemon.json
    if (value === true || value === 'true' || value === '1') cfg.liveRestore = true;
    else if (value === false || value === 'false' || value === '0') cfg.liveRestore = false;
    else throw invalidParameter(`invalid value "${String(value)}" for ${from}: want true or false`);
  } else {
    let v = Array.isArray(value) ? String(value[0]) : String(value);
    if (key === 'host') v = v.replace(/^unix:\/\//, '');
    (cfg as unknown as Record<string, string>)[key] = v;
  }
}

/** Parses argv (without node and script). Throws invalid-parameter on unknown flags or bad values. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): DaemonConfig & { help: boolean } {
  const cfg: DaemonConfig = { ...defaults, insecureRegistries: [], execOpts: [] };
  let help = false;
  let configFile: string | undefined = env.TSD_CONFIG;
  const flags: Array<[keyof DaemonConfig, string, string]> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') { help = true; continue; }
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw invalidParameter(`flag needs an argument: ${name}`);
      return v;
    };
    if (name === '--config-file') { configFile = take(); continue; }
    const key = flagMap[name];
    if (!key) throw invalidParameter(`unknown flag: ${name}`);
    if (key === 'liveRestore') { flags.push([key, inline ?? 'true', name]); continue; }
    flags.push([key, take(), name]);
  }
  if (configFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw invalidParameter(`unable to read config file ${configFile}: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidParameter(`config file ${configFile}: not a JSON object`);
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      const key = fileKeys[k];
      if (!key) throw invalidParameter(`config file ${configFile}: unknown key "${k}"`);
      set(cfg, key, v, k);
    }
  }
  for (const [key, v, name] of flags) set(cfg, key, v, name);
  if (cfg.metricsAddr && !/^(\[[0-9a-fA-F:]+\]|[^:]+):\d{1,5}$/.test(cfg.metricsAddr)) throw invalidParameter(`invalid --metrics-addr "${cfg.metricsAddr}": want host:port`);
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(cfg.logLevel)) {
    throw invalidParameter(`invalid log level: ${cfg.logLevel}`);
  }
  cfg.cgroupDriver = cgroupDriverOf(cfg);
  if (cfg.cgroupDriver === 'systemd') {
    // dockerd: the parent is a slice under this driver (system.slice unless given)
    if (cfg.cgroupParent === defaults.cgroupParent) cfg.cgroupParent = SYSTEMD_DEFAULT_SLICE;
    checkSlice(cfg.cgroupParent);
  }
  return { ...cfg, help };
}

/**
 * The cgroup driver --exec-opt native.cgroupdriver asks for, checked as dockerd's
 * verifyCgroupDriver (the first one given counts, as moby's getCD; key case-insensitive):
 * cgroupfs (tsd writes the cgroup tree; under systemd on v2 inside the unit's delegated
 * subtree, cgroupfs/delegation.ts) or systemd (each container a transient scope made
 * over systemd's D-Bus API, cgroupfs/systemd/; kubelet must see the driver it was told of).
 */
export function cgroupDriverOf(cfg: Pick<DaemonConfig, 'execOpts'>): 'cgroupfs' | 'systemd' {
  let driver = '';
  for (const o of cfg.execOpts) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw invalidParameter(`invalid exec-opt (${o}): must be formatted 'opt=value'`);
    if (!driver && o.slice(0, eq).trim().toLowerCase() === 'native.cgroupdriver') driver = o.slice(eq + 1).trim();
  }
  switch (driver) {
    case '':
    case 'cgroupfs':
      return 'cgroupfs';
    case 'systemd':
      return 'systemd';
    case 'none':
      throw invalidParameter('native.cgroupdriver option none is internally used and cannot be specified manually');
    default:
      throw invalidParameter(`native.cgroupdriver option ${driver} not supported`);
  }
}
