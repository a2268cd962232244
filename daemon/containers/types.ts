// The container record. Its Config and HostConfig keep Docker's field names on
// purpose: inspect must hand back what the client sent (merged with the image),
// and translating every field twice would only add ways to lose one. Validation
// and normalisation happen once, in api/translate/container.ts; everything the
// runtime, cgroups and network see is our own types (RuntimeSpec, Resources, ...).

import type { ContainerRow } from '../../store/index.js';
import type { ContainerState } from './state.js';
import type { CgroupView } from '../explain/cgroup.js';

export type { ContainerState };

export interface HealthcheckConfig { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number }

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts: Record<string, object> | null;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Healthcheck?: HealthcheckConfig;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  ArgsEscaped?: boolean;
  NetworkDisabled?: boolean;
  MacAddress?: string;
}

export interface PortBindingCfg { HostIp: string; HostPort: string }
export interface MountCfg {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HostConfig {
  Binds: string[] | null;
  ContainerIDFile?: string;
  LogConfig: { Type: string; Config: Record<string, string> };
  NetworkMode: string;
  PortBindings: Record<string, PortBindingCfg[] | null>;
  RestartPolicy: { Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure'; MaximumRetryCount: number };
  AutoRemove: boolean;
  VolumeDriver?: string;
  VolumesFrom: string[] | null;
  ConsoleSize: [number, number];
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  CgroupnsMode: string;
  Dns: string[];
  DnsOptions: string[];
  DnsSearch: string[];
  ExtraHosts: string[] | null;
  GroupAdd: string[] | null;
  IpcMode: string;
  Cgroup: string;
  Links: string[] | null;
  OomScoreAdj: number;
  PidMode: string;
  Privileged: boolean;
  PublishAllPorts: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  UTSMode: string;
  UsernsMode: string;
  ShmSize: number;
  Runtime: string;
  Isolation: string;
  Tmpfs?: Record<string, string>;
  Mounts?: MountCfg[];
  Init?: boolean | null;
  // Resources (Docker's names; cgroupfs gets them translated)
  CpuShares: number;
  Memory: number;
  NanoCpus: number;
  CgroupParent: string;
  BlkioWeight: number;
  BlkioWeightDevice: Array<{ Path: string; Weight: number }> | null;
  BlkioDeviceReadBps: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceWriteBps: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceReadIOps: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceWriteIOps: Array<{ Path: string; Rate: number }> | null;
  CpuPeriod: number;
  CpuQuota: number;
  CpuRealtimePeriod: number;
  CpuRealtimeRuntime: number;
  CpusetCpus: string;
  CpusetMems: string;
  Devices: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }> | null;
  DeviceCgroupRules: string[] | null;
  DeviceRequests: DeviceRequest[] | null;
  /** namespaced sysctls, validated at start against the container's namespaces (runc's rules) */
  Sysctls?: Record<string, string> | null;
  /** overlay: refused (no project quotas here), as moby's overlay2 without xfs pquota */
  StorageOpt?: Record<string, string> | null;
  /** stored and shown (API >= 1.43); an OCI runtime's annotations, no runtime here reads them */
  Annotations?: Record<string, string> | null;
  MemoryReservation: number;
  MemorySwap: number;
  MemorySwappiness: number | null;
  OomKillDisable: boolean | null;
  PidsLimit: number | null;
  Ulimits: Array<{ Name: string; Soft: number; Hard: number }> | null;
  CpuCount: number;
  CpuPercent: number;
  IOMaximumIOps: number;
  IOMaximumBandwidth: number;
  MaskedPaths?: string[];
  ReadonlyPaths?: string[];
  [k: string]: unknown;
}

/** A request for devices by driver and capabilities (`docker run --gpus`). */
export interface DeviceRequest { Driver: string; Count: number; DeviceIDs: string[] | null; Capabilities: string[][] | null; Options: Record<string, string> | null }

/** What a network attachment looked like when the container last ran (for inspect and ps). */
export interface EndpointState {
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Aliases: string[] | null;
  IPAMConfig?: { IPv4Address?: string } | null;
  Links?: string[] | null;
  DNSNames?: string[] | null;
  DriverOpts?: Record<string, string> | null;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  IPv6Gateway?: string;
}

export interface HealthState {
  Status: 'none' | 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

export interface RuntimeState {
  /** networks requested at create (NetworkingConfig.EndpointsConfig), by name */
  endpointsConfig: Record<string, { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null; MacAddress?: string; DriverOpts?: Record<string, string> | null; Links?: string[] | null }>;
  /** live (or last) attachments, by network name */
  networks: Record<string, EndpointState>;
  ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
  sandboxKey: string;
  hostsPath: string;
  hostnamePath: string;
  resolvConfPath: string;
  logPath: string;
  /** Mounts as inspect shows them */
  mounts: Array<{ Type: string; Name?: string; Source: string; Destination: string; Driver?: string; Mode: string; RW: boolean; Propagation: string }>;
  health?: HealthState;
  /** set by `docker stop` so restart policies (unless-stopped, always) know it was manual */
  manuallyStopped: boolean;
  /** inspect's Platform: always 'linux' */
  platform: string;
  /**
   * The last run's cgroup as its files read just before it was removed at the exit
   * (OOM kills, peak, throttled periods, refused forks...): what `tsctl explain` shows
   * of a stopped container.
   */
  lastRun?: { exitedAt: string; pid: number; cgroup: CgroupView };
  /**
   * The last start's cgroup under its parent (Task.cgroupName): the id, or on cgroup v2 the
   * warm init's staging cgroup it adopted (warm-<pid>). Unset: the id (rows from before).
   */
  cgroupName?: string;
}

/** Where a container's (last) cgroup is under its parent. */
export const cgroupNameOf = (c: { id: string; runtime: { cgroupName?: string } }): string => c.runtime.cgroupName || c.id;

/** The stored row (store/containers.ts) with its JSON columns typed. */
export type Container = Omit<ContainerRow, 'state' | 'config' | 'hostConfig' | 'runtime'> & {
  state: ContainerState;
  config: ContainerConfig;
  hostConfig: HostConfig;
  runtime: RuntimeState;
};

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * A container as a probe or an exec reads it (store view()): no runtime column, the
 * config and host config shared between readers and frozen. Read only.
 */
export type ContainerView = Readonly<Omit<Container, 'runtime'>>;
