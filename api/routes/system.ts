// System endpoints: _ping, version, info, system/df, events.
import type { FastifyInstance, FastifyReply } from 'fastify';
import os from 'node:os';
import { API_VERSION, MIN_API_VERSION, commonHeaders } from '../version.js';
import { toDockerEvent, eventMatcher, parseTimestamp } from '../translate/events.js';
import * as qp from '../translate/query.js';
import type { DaemonEvent } from '../../daemon/index.js';
import { toDockerListEntry, RUNTIMES, DEFAULT_RUNTIME } from '../translate/container.js';
import { toDockerBuildCache } from './build.js';
import type { BuildCache } from '../../builder/index.js';

export const TSD_VERSION = '0.1.0';

export default async function systemRoutes(app: FastifyInstance): Promise<void> {
  const { system, events, config } = app.deps;

  const ping = async (_req: unknown, reply: FastifyReply) => {
    reply.header('Cache-Control', 'no-cache, no-store, must-revalidate').header('Pragma', 'no-cache');
    return reply.type('text/plain; charset=utf-8').send(reply.request.method === 'HEAD' ? '' : 'OK');
  };
  app.get('/_ping', { exposeHeadRoute: false }, ping);
  app.head('/_ping', ping);

  app.get('/version', async () => {
    const f = system.facts;
    const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch(), KernelVersion: f.kernelVersion, GitCommit: '', GoVersion: process.version, BuildTime: '', Experimental: 'false' };
    return {
      Platform: { Name: 'tsd' },
      Components: [{ Name: 'Engine', Version: TSD_VERSION, Details: details }],
      Version: TSD_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: f.kernelVersion,
      BuildTime: '',
    };
  });

  app.get('/info', async () => {
    const f = system.facts;
    const c = system.containerCounts();
    return {
      ID: f.id,
      Containers: c.total,
      ContainersRunning: c.running,
      ContainersPaused: c.paused,
      ContainersStopped: c.stopped,
      Images: system.imageCount(),
      Driver: f.storageDriver,
      DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true'], ['Using metacopy', 'false'], ['Native Overlay Diff', 'true']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: f.memoryLimit,
      SwapLimit: f.swapLimit,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: f.pidsLimit,
      IPv4Forwarding: true,
      BridgeNfIptables: false,
      BridgeNfIp6tables: false,
      Debug: config.logLevel === 'debug',
      NFd: 0,
      OomKillDisable: f.cgroupVersion === '1',
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: f.cgroupDriver,
      CgroupVersion: f.cgroupVersion,
      NEventsListener: events.listenerCount,
      KernelVersion: f.kernelVersion,
      OperatingSystem: f.operatingSystem,
      OSVersion: f.osVersion,
      OSType: 'linux',
      Architecture: f.architecture,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        AllowNondistributableArtifactsCIDRs: null,
        AllowNondistributableArtifactsHostnames: null,
        InsecureRegistryCIDRs: ['127.0.0.0/8'],
        IndexConfigs: {},
        Mirrors: null,
      },
      NCPU: f.ncpu,
      MemTotal: f.memTotal,
      GenericResources: null,
      DockerRootDir: config.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: f.name,
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: TSD_VERSION,
      Runtimes: Object.fromEntries(RUNTIMES.map((r) => [r, { path: 'tsd-init' }])),
      DefaultRuntime: DEFAULT_RUNTIME,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      // what is in effect: false under --live-restore=false, and when the holder could not start or went away
      LiveRestoreEnabled: app.deps.liveRestore?.() ?? config.liveRestore,
      Isolation: '',
      InitBinary: 'docker-init',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=seccomp,profile=builtin', `name=cgroupns`],
      Warnings: [],
    };
  });

  // Images and layers come from the store; containers and volumes, when their services run, with live sizes.
  app.get('/system/df', async () => {
    const df = system.df() as { Images: Array<Record<string, unknown>>; Containers: unknown[]; Volumes: unknown[] };
    for (const i of df.Images) i.SharedSize = 0;
    const { containers, volumes, buildCache } = app.deps;
    if (buildCache) Object.assign(df, toDockerBuildCache(buildCache));
    if (containers) df.Containers = containers.list().map((c) => toDockerListEntry(c, { size: containers.sizes(c) }));
    if (volumes) {
      df.Volumes = volumes.list().map((v) => ({
        Name: v.name, Driver: v.driver, Mountpoint: v.mountpoint, Labels: v.labels, Scope: 'local', Options: v.options, CreatedAt: v.createdAt,
        UsageData: ((u) => ({ Size: u.size, RefCount: u.refCount }))(volumes.usage(v.name)),
      }));
    }
    return df;
  });

  app.get<{ Querystring: qp.RawQuery & object }>('/events', async (req, reply) => {
    const since = parseTimestamp(qp.str(req.query, 'since'), 'since');
    const until = parseTimestamp(qp.str(req.query, 'until'), 'until');
    const match = eventMatcher(qp.filters(req.query));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...commonHeaders, 'Content-Type': 'application/json' });
    res.flushHeaders();
    const write = (e: DaemonEvent) => {
      if (match(e)) res.write(JSON.stringify(toDockerEvent(e)) + '\n');
    };
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    if (since !== undefined) for (const e of events.recent(since, until)) write(e);
    if (until !== undefined && until <= nowNs) {
      res.end();
      return;
    }
    const unsubscribe = events.subscribe((e) => {
      if (until !== undefined && e.timeNano > until) return;
      write(e);
    });
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      unsubscribe();
      offShutdown();
      if (timer) clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    const offShutdown = app.deps.onShutdown(finish);
    if (until !== undefined) timer = setTimeout(finish, Number((until - nowNs) / 1_000_000n) + 1);
    res.on('close', finish);
    req.raw.socket.on('close', finish);
  });
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', ia32: '386' } as Record<string, string>)[os.arch()] ?? os.arch();
}
