import t from 'tap';
import { fromDockerCreate } from '../../../../api/translate/container.js';
import {
  HOSTCONFIG_FIELDS, RESTART_BACKOFF, deviceRequestsError, planMounts, portRequests, restartDecision, toRuntimeSpec, type MountWorld, type Prepared,
} from '../../../../daemon/containers/plan.js';
import { mergeImageConfig } from '../../../../daemon/containers/plan.js';
import type { Container, HostConfig } from '../../../../daemon/containers/types.js';

const policy = (Name: HostConfig['RestartPolicy']['Name'], MaximumRetryCount = 0): HostConfig['RestartPolicy'] => ({ Name, MaximumRetryCount });
const exit = (exitCode: number, upMs = 50, manual = false) => ({ exitCode, upMs, manual });

t.test('restartDecision: which policies restart', async (t) => {
  const none = { restartCount: 0, lastDelayMs: 0 };
  t.same(restartDecision(policy(''), exit(1), none), { restart: false });
  t.same(restartDecision(policy('no'), exit(1), none), { restart: false });
  t.same(restartDecision(policy('always'), exit(0), none), { restart: true, delayMs: 100 });
  t.same(restartDecision(policy('unless-stopped'), exit(0), none), { restart: true, delayMs: 100 });
  t.same(restartDecision(policy('on-failure'), exit(0), none), { restart: false }, 'on-failure: a clean exit stays down');
  t.same(restartDecision(policy('on-failure'), exit(2), none), { restart: true, delayMs: 100 });
  t.same(restartDecision(policy('on-failure', 2), exit(1), { restartCount: 1, lastDelayMs: 100 }), { restart: true, delayMs: 200 });
  t.same(restartDecision(policy('on-failure', 2), exit(1), { restartCount: 2, lastDelayMs: 200 }), { restart: false }, 'on-failure:2 stops after two restarts');
  t.same(restartDecision(policy('always'), exit(137, 50, true), none), { restart: false }, 'stopped or killed by hand');
});

t.test("restartDecision: dockerd's backoff, 100 ms doubling to a minute, reset after 10 s up", async (t) => {
  const delays: number[] = [];
  let last = 0;
  for (let i = 0; i < 12; i++) {
    const d = restartDecision(policy('always'), exit(1, 200), { restartCount: i, lastDelayMs: last });
    if (!d.restart) throw new Error('always restarts');
    delays.push(d.delayMs);
    last = d.delayMs;
  }
  t.same(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
  t.same(restartDecision(policy('always'), exit(1, RESTART_BACKOFF.resetAfterUpMs), { restartCount: 40, lastDelayMs: 60000 }), { restart: true, delayMs: 100 },
    'a container that ran 10 s starts over at 100 ms');
  t.same(restartDecision(policy('always'), exit(1, RESTART_BACKOFF.resetAfterUpMs - 1), { restartCount: 3, lastDelayMs: 800 }), { restart: true, delayMs: 1600 });
});

t.test('every HostConfig field the API accepts says where it goes', async (t) => {
  const hc = fromDockerCreate({ Image: 'busybox', HostConfig: { Init: true, Tmpfs: {}, Mounts: [] } }).hostConfig;
  const missing = Object.keys(hc).filter((k) => !(k in HOSTCONFIG_FIELDS));
  t.same(missing, [], 'a field missing from HOSTCONFIG_FIELDS');
  const notApplied = Object.entries(HOSTCONFIG_FIELDS).filter(([, v]) => typeof v === 'object').map(([k]) => k);
  t.ok(notApplied.includes('CgroupnsMode'), 'refused or stored-but-not-applied: visible, not silent');
  t.notOk(notApplied.includes('Sysctls'), 'Sysctls are applied now');
  // every HostConfig property of the v1.44 spec (reference/docker-engine-api-v1.44.yaml) says where it goes
  const SPEC = ['Annotations', 'AutoRemove', 'Binds', 'BlkioDeviceReadBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteBps', 'BlkioDeviceWriteIOps', 'BlkioWeight',
    'BlkioWeightDevice', 'CapAdd', 'CapDrop', 'Cgroup', 'CgroupParent', 'CgroupnsMode', 'ConsoleSize', 'ContainerIDFile', 'CpuCount', 'CpuPercent', 'CpuPeriod',
    'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpuShares', 'CpusetCpus', 'CpusetMems', 'DeviceCgroupRules', 'DeviceRequests', 'Devices', 'Dns',
    'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'IOMaximumBandwidth', 'IOMaximumIOps', 'Init', 'IpcMode', 'Isolation', 'KernelMemoryTCP', 'Links',
    'LogConfig', 'MaskedPaths', 'Memory', 'MemoryReservation', 'MemorySwap', 'MemorySwappiness', 'Mounts', 'NanoCpus', 'NetworkMode', 'OomKillDisable',
    'OomScoreAdj', 'PidMode', 'PidsLimit', 'PortBindings', 'Privileged', 'PublishAllPorts', 'ReadonlyPaths', 'ReadonlyRootfs', 'RestartPolicy', 'Runtime',
    'SecurityOpt', 'ShmSize', 'StorageOpt', 'Sysctls', 'Tmpfs', 'UTSMode', 'Ulimits', 'UsernsMode', 'VolumeDriver', 'VolumesFrom'];
  t.same(SPEC.filter((k) => !(k in HOSTCONFIG_FIELDS)), [], 'every field of the spec is placed');
  t.same([HOSTCONFIG_FIELDS.OomScoreAdj, HOSTCONFIG_FIELDS.MaskedPaths, HOSTCONFIG_FIELDS.ReadonlyPaths, HOSTCONFIG_FIELDS.Sysctls, HOSTCONFIG_FIELDS.UTSMode], ['runtime', 'runtime', 'runtime', 'runtime', 'runtime'], 'applied by the runtime now');
});

const container = (over: Partial<HostConfig> = {}, cfg: Record<string, unknown> = {}): Container => {
  const req = fromDockerCreate({ Image: 'busybox', Cmd: ['sh'], Env: ['A=1'], ...cfg, HostConfig: {} });
  const config = mergeImageConfig(req.config, { id: 'img', runConfig: { Entrypoint: ['/entry'], Env: ['PATH=/bin', 'A=0'] }, layerDirs: [] });
  config.Hostname = 'h1';
  return {
    id: 'c'.repeat(64), name: 'web', imageId: 'img', imageRef: 'busybox', createdAt: '', state: 'created', pid: 0, pidStart: '', exitCode: 0,
    oomKilled: false, error: '', startedAt: '', finishedAt: '', restartCount: 0, config, hostConfig: { ...req.hostConfig, ...over },
    runtime: { endpointsConfig: {}, networks: {}, ports: {}, sandboxKey: '', hostsPath: '', hostnamePath: '', resolvConfPath: '', logPath: '', mounts: [], manuallyStopped: false, platform: 'linux' },
  };
};
const prepared: Prepared = {
  rootfs: '/r', mounts: [{ type: 'tmpfs', destination: '/t' }], network: { spec: { mode: 'none' } }, cgroupParent: 'tsd',
  ipc: { mode: 'private' }, pid: { mode: 'private' },
};

t.test('toRuntimeSpec maps the record and the prepared host side', async (t) => {
  const s = toRuntimeSpec(container({ CapAdd: ['NET_ADMIN'], ReadonlyRootfs: true, Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }], ConsoleSize: [24, 80] }, { Tty: true }), prepared);
  t.same(s.args, ['/entry', 'sh'], 'entrypoint then cmd');
  t.same(s.env, ['PATH=/bin', 'HOSTNAME=h1', 'A=1', 'TERM=xterm'], 'image env overridden, HOSTNAME and TERM added');
  t.equal(s.cwd, '/');
  t.same(s.capAdd, ['NET_ADMIN']);
  t.equal(s.readonlyRootfs, true);
  t.same(s.ulimits, [{ name: 'nofile', soft: 10, hard: 20 }]);
  t.same(s.consoleSize, [24, 80]);
  t.same(s.cgroup, { parent: 'tsd', name: 'c'.repeat(64), resources: { devices: [] } }, 'the daemon parent unless HostConfig.CgroupParent; a device policy always');
  t.equal(toRuntimeSpec(container({ CgroupParent: 'mine' }), prepared).cgroup?.parent, 'mine');
  t.equal(s.shmSize, 64 * 1024 * 1024);
  t.equal(toRuntimeSpec(container({ OomScoreAdj: 500 }), prepared).oomScoreAdj, 500, 'OomScoreAdj goes to the runtime, which writes it on PID 1');
  const init = toRuntimeSpec(container({ Init: true }), { ...prepared, initBinary: '/usr/bin/tini-static' });
  t.same(init.args, ['/sbin/docker-init', '--', '/entry', 'sh'], '--init runs the command under tini');
  t.same(init.mounts[0], { type: 'bind', source: '/usr/bin/tini-static', destination: '/sbin/docker-init', readonly: true });
});

t.test('planMounts: binds, volumes, tmpfs, volumes-from, image volumes', async (t) => {
  let n = 0;
  const world = (exists: string[] = [], other: Container['runtime']['mounts'] = []): MountWorld => ({
    volumeMountpoint: (name) => `/vol/${name}/_data`, mountsOf: () => other, exists: (p) => exists.includes(p), newVolumeName: () => `anon${++n}`,
  });
  const c = container({ Binds: ['/missing:/a', 'named:/b:ro'], Tmpfs: { '/t': 'size=1m,ro' }, VolumesFrom: ['db:ro'] }, { Volumes: { '/img': {}, '/a': {} } });
  const m = planMounts(c.config, c.hostConfig, world([], [{ Type: 'volume', Name: 'dbdata', Source: '/vol/dbdata/_data', Destination: '/data', Mode: '', RW: true, Propagation: '' }]));
  t.same(m.map((x) => [x.Type, x.Destination, x.RW]), [['bind', '/a', true], ['volume', '/b', false], ['tmpfs', '/t', false], ['volume', '/data', false], ['volume', '/img', true]]);
  t.equal(m.find((x) => x.Destination === '/img')?.Name, 'anon1', 'an image volume is anonymous');
  t.throws(() => planMounts(c.config, { ...c.hostConfig, Binds: null, Mounts: [{ Type: 'bind', Source: '/nope', Target: '/x' }], VolumesFrom: null }, world()),
    { message: 'invalid mount config for type "bind": bind source path does not exist: /nope' }, '--mount type=bind refuses a missing source');
  t.throws(() => planMounts(c.config, { ...c.hostConfig, Binds: ['/a:/x', '/b:/x'], VolumesFrom: null }, world(['/a', '/b'])), { message: 'Duplicate mount point: /x' });
});

t.test('portRequests: bindings and -P', async (t) => {
  const c = container({ PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080-8081' }] }, PublishAllPorts: true }, { ExposedPorts: { '53/udp': {} } });
  t.same(portRequests(c), [
    { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, hostPortEnd: 8081 },
    { containerPort: 53, protocol: 'udp', hostIp: '', hostPort: 0 },
  ]);
});

t.test('VolumeDriver: only local; --mount names its own driver; DeviceRequests fail as without drivers', async (t) => {
  const world: MountWorld = { volumeMountpoint: (name) => `/vol/${name}/_data`, mountsOf: () => [], exists: () => true, newVolumeName: () => 'anon' };
  const c = container({ VolumeDriver: 'flocker', Binds: ['data:/d'] });
  t.throws(() => planMounts(c.config, c.hostConfig, world), { message: 'create data: error looking up volume plugin flocker: plugin "flocker" not found' });
  const img = container({ VolumeDriver: 'flocker' }, { Volumes: { '/v': {} } });
  t.throws(() => planMounts(img.config, img.hostConfig, world), { message: /^create anon: error looking up volume plugin flocker/ }, 'image volumes too');
  t.same(planMounts(c.config, { ...c.hostConfig, VolumeDriver: 'local' }, world).map((m) => m.Name), ['data']);
  const mnt = container({ VolumeDriver: 'flocker', Mounts: [{ Type: 'volume', Source: 'm', Target: '/m' }] });
  t.same(planMounts(mnt.config, mnt.hostConfig, world).map((m) => m.Name), ['m'], 'VolumeDriver does not apply to --mount');
  const mnt2 = container({ Mounts: [{ Type: 'volume', Source: 'm', Target: '/m', VolumeOptions: { DriverConfig: { Name: 'nfsplug' } } } as never] });
  t.throws(() => planMounts(mnt2.config, mnt2.hostConfig, world), { message: /plugin "nfsplug" not found/ });
  t.equal(deviceRequestsError(container({}).hostConfig), null);
  t.equal(deviceRequestsError(container({ DeviceRequests: [{ Driver: '', Count: -1, DeviceIDs: null, Capabilities: [['gpu']], Options: {} }] }).hostConfig), 'could not select device driver "" with capabilities: [[gpu]]');
  t.equal(deviceRequestsError(container({ DeviceRequests: [{ Driver: 'nvidia', Count: 1, DeviceIDs: null, Capabilities: [['gpu', 'utility'], ['compute']], Options: null }] }).hostConfig), 'could not select device driver "nvidia" with capabilities: [[gpu utility] [compute]]');
  t.same(toRuntimeSpec(container({ OomScoreAdj: 0 }), prepared).oomScoreAdj, 0, 'always written, 0 included');
});
