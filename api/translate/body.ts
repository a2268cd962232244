// Request bodies decoded as Go's encoding/json decodes them into moby's API
// types: an object key names a struct field by exact match first, then by a
// case-insensitive match; keys that name no field are dropped; when two keys
// name the same field the later one wins. Map keys (Labels, Sysctls,
// ExposedPorts, EndpointsConfig, ...) are data and keep their spelling.
// Types are not checked here: translate/*.ts validates values with Docker's
// messages. Every body is decoded once, by its route, through decodeBody().

/** A struct (field name → type), a map with values of a type, a list of a type, or any value. */
export type Shape = { struct: Record<string, Shape> } | { map: Shape } | { list: Shape } | 'any';

const any = 'any' as const;
const struct = (fields: Record<string, Shape>): Shape => ({ struct: fields });
const map = (v: Shape = any): Shape => ({ map: v });
const list = (v: Shape = any): Shape => ({ list: v });
const fields = (names: string[], extra: Record<string, Shape> = {}): Record<string, Shape> => {
  const out: Record<string, Shape> = {};
  for (const n of names) out[n] = any;
  return { ...out, ...extra };
};

// api/types/container.HealthConfig
const Healthcheck = struct(fields(['Test', 'Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries']));

// api/types/container.Config
const configFields = fields(
  ['Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce',
    'Env', 'Cmd', 'ArgsEscaped', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'NetworkDisabled', 'MacAddress', 'OnBuild', 'Labels',
    'StopSignal', 'StopTimeout', 'Shell'],
  { Healthcheck, ExposedPorts: map(), Volumes: map(), Labels: map() },
);
export const ContainerConfig = struct(configFields);

const WeightDevice = struct(fields(['Path', 'Weight']));
const ThrottleDevice = struct(fields(['Path', 'Rate']));
const DeviceMapping = struct(fields(['PathOnHost', 'PathInContainer', 'CgroupPermissions']));
const DeviceRequest = struct(fields(['Driver', 'Count', 'DeviceIDs', 'Capabilities', 'Options'], { Options: map() }));
const Ulimit = struct(fields(['Name', 'Hard', 'Soft']));
const RestartPolicy = struct(fields(['Name', 'MaximumRetryCount']));

// api/types/container.Resources (embedded in HostConfig and UpdateConfig)
const resourceFields = fields(
  ['CpuShares', 'Memory', 'NanoCpus', 'CgroupParent', 'BlkioWeight', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime',
    'CpusetCpus', 'CpusetMems', 'DeviceCgroupRules', 'DiskQuota', 'KernelMemory', 'KernelMemoryTCP', 'MemoryReservation', 'MemorySwap',
    'MemorySwappiness', 'OomKillDisable', 'PidsLimit', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth'],
  {
    BlkioWeightDevice: list(WeightDevice), BlkioDeviceReadBps: list(ThrottleDevice), BlkioDeviceWriteBps: list(ThrottleDevice),
    BlkioDeviceReadIOps: list(ThrottleDevice), BlkioDeviceWriteIOps: list(ThrottleDevice), Devices: list(DeviceMapping),
    DeviceRequests: list(DeviceRequest), Ulimits: list(Ulimit),
  },
);

// api/types/mount.Mount
const Mount = struct(fields(['Type', 'Source', 'Target', 'ReadOnly', 'Consistency'], {
  BindOptions: struct(fields(['Propagation', 'NonRecursive', 'CreateMountpoint', 'ReadOnlyNonRecursive', 'ReadOnlyForceRecursive'])),
  VolumeOptions: struct(fields(['NoCopy', 'Subpath'], { Labels: map(), DriverConfig: struct(fields(['Name'], { Options: map() })) })),
  ImageOptions: struct(fields(['Subpath'])),
  TmpfsOptions: struct(fields(['SizeBytes', 'Mode', 'Options'])),
  ClusterOptions: any,
}));

// api/types/container.HostConfig
export const HostConfig = struct({
  ...resourceFields,
  ...fields(
    ['Binds', 'ContainerIDFile', 'NetworkMode', 'AutoRemove', 'VolumeDriver', 'VolumesFrom', 'ConsoleSize', 'CapAdd', 'CapDrop',
      'CgroupnsMode', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'IpcMode', 'Cgroup', 'Links', 'OomScoreAdj', 'PidMode',
      'Privileged', 'PublishAllPorts', 'ReadonlyRootfs', 'SecurityOpt', 'UTSMode', 'UsernsMode', 'ShmSize', 'Runtime', 'Isolation',
      'MaskedPaths', 'ReadonlyPaths', 'Init'],
    {
      LogConfig: struct(fields(['Type'], { Config: map() })),
      PortBindings: map(list(struct(fields(['HostIp', 'HostPort'])))),
      RestartPolicy,
      Annotations: map(), StorageOpt: map(), Tmpfs: map(), Sysctls: map(),
      Mounts: list(Mount),
    },
  ),
});

// api/types/network.EndpointSettings
export const EndpointSettings = struct(fields(
  ['Links', 'Aliases', 'GwPriority', 'NetworkID', 'EndpointID', 'Gateway', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'GlobalIPv6Address',
    'GlobalIPv6PrefixLen', 'MacAddress', 'DNSNames'],
  { IPAMConfig: struct(fields(['IPv4Address', 'IPv6Address', 'LinkLocalIPs'])), DriverOpts: map() },
));

/** POST /containers/create (container.CreateRequest: Config embedded, HostConfig, NetworkingConfig). */
export const ContainerCreate = struct({
  ...configFields,
  HostConfig,
  NetworkingConfig: struct({ EndpointsConfig: map(EndpointSettings) }),
});

/** POST /containers/{id}/update (container.UpdateConfig: Resources embedded, RestartPolicy). */
export const ContainerUpdate = struct({ ...resourceFields, RestartPolicy });

/** POST /containers/{id}/exec (container.ExecCreateRequest). */
export const ExecCreate = struct(fields(['User', 'Privileged', 'Tty', 'ConsoleSize', 'AttachStdin', 'AttachStderr', 'AttachStdout', 'Detach', 'DetachKeys', 'Env', 'WorkingDir', 'Cmd']));

/** POST /exec/{id}/start (container.ExecStartRequest). */
export const ExecStart = struct(fields(['Detach', 'Tty', 'ConsoleSize']));

const IPAMConfig = struct(fields(['Subnet', 'IPRange', 'Gateway'], { AuxiliaryAddresses: map() }));

/** POST /networks/create (network.CreateRequest). */
export const NetworkCreate = struct(fields(
  ['Name', 'CheckDuplicate', 'Driver', 'Scope', 'EnableIPv4', 'EnableIPv6', 'Internal', 'Attachable', 'Ingress', 'ConfigOnly'],
  {
    IPAM: struct(fields(['Driver'], { Config: list(IPAMConfig), Options: map() })),
    ConfigFrom: struct(fields(['Network'])),
    Options: map(), Labels: map(),
  },
));

/** POST /networks/{id}/connect and /disconnect. */
export const NetworkConnect = struct(fields(['Container'], { EndpointConfig: EndpointSettings }));
export const NetworkDisconnect = struct(fields(['Container', 'Force']));

/** POST /volumes/create (volume.CreateOptions). */
export const VolumeCreate = struct(fields(['Name', 'Driver', 'ClusterVolumeSpec'], { DriverOpts: map(), Labels: map() }));

/** The ASCII case folding Go applies to field names (foldName); the names here are all ASCII. */
const fold = (s: string): string => s.toLowerCase();

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Decodes `v` into `shape` the way Go's json.Unmarshal picks fields; values of the wrong kind pass through unchanged for translate/ to reject. */
export function decode(v: unknown, shape: Shape): unknown {
  if (shape === 'any' || v === null || v === undefined) return v;
  if ('list' in shape) return Array.isArray(v) ? v.map((x) => decode(x, shape.list)) : v;
  if (!isPlainObject(v)) return v;
  if ('map' in shape) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = decode(x, shape.map);
    return out;
  }
  const byFold = foldIndex(shape.struct);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const name = Object.prototype.hasOwnProperty.call(shape.struct, k) ? k : byFold.get(fold(k));
    if (name === undefined) continue; // Go ignores unknown fields
    out[name] = decode(x, shape.struct[name]!);
  }
  return out;
}

const foldCache = new WeakMap<object, Map<string, string>>();
function foldIndex(f: Record<string, Shape>): Map<string, string> {
  let m = foldCache.get(f);
  if (!m) {
    m = new Map();
    for (const name of Object.keys(f)) if (!m.has(fold(name))) m.set(fold(name), name);
    foldCache.set(f, m);
  }
  return m;
}

/** A route's body, decoded; a missing or empty body is {}. */
export function decodeBody(body: unknown, shape: Shape): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  const d = decode(body, shape);
  return (isPlainObject(d) ? d : body) as Record<string, unknown>;
}
