// The daemon's face: what the API is handed (Services: one backend per
// resource, services.ts), the factory that builds it, and the domain vocabulary
// the API translates with (the container record, its states, the -v parser, log
// timestamps, paths inside a container's root). The API imports the daemon
// through this file only; nothing under daemon/ imports api/ except main.ts,
// the process, which serves the API over these services.
export { createDaemon, type Daemon } from './daemon.js';
export type {
  Services, ContainerBackend, ExecBackend, ImageBackend, VolumeBackend, NetworkBackend, SystemBackend, NetworkContainerOps,
  MetricsBackend, PrimitivesBackend,
} from './services.js';

// ------------------------------------------------------------ the vocabulary the API translates with

export type { DaemonConfig } from './config.js';
export type { EventBus, DaemonEvent } from './events.js';
export type { HostFacts, ContainerCounts } from './system.js';
export type { Volume } from './volumes.js';
export type { StdioClient, StdioHub } from './stdio.js';
export type { Container, ContainerConfig, HostConfig, MountCfg, RuntimeState, EndpointState, HealthState } from './containers/types.js';
export { ZERO_TIME } from './containers/types.js';
export { isUp, hasProcess, type ContainerState, type WaitResult } from './containers/state.js';
export { parseBind, type BindSpec } from './containers/binds.js';
export type { CreateInput } from './containers/create.js';
export type { ExecConfig, ExecSession } from './containers/exec.js';
export type { LogsOptions } from './containers/inspect.js';
export type { RemoveOptions } from './containers/remove.js';
export type { StopOptions } from './containers/stop.js';
export type { CommitRequest } from './containers/service.js';
export type { Change } from './containers/ports.js';
export { pathStat, archivePath, extractToDir, type ContainerFs, type PathStat } from './containers/archive.js';
export { parseTimestampParam, formatRfc3339Nano, detailsPrefix, type LogEntry } from './logs/index.js';
