// Contracts of the runtime: what the daemon hands in (RuntimeSpec, ExecSpec),
// the plan the init executes (InitPlan), and the running process handed back (Task).
//
// Lifecycle: launch(spec) builds an InitPlan with the pure buildInitPlan(), spawns
// the init (runtime/init/main.ts) as PID 1 of a new PID namespace, writes the plan
// on fd 3 and waits: an `error` message on fd 3 means the init failed (it reports
// before exiting, and everything it did lived in its own namespaces, so nothing is
// left behind); a clean close of fd 3 means execve happened and the Task is live.
import type { Duplex, Readable, Writable } from 'node:stream';
import type { SeccompFilter } from '../sys/index.js';
import type { CgroupStats, Resources } from '../cgroupfs/index.js';

export type RuntimeMount =
  | { type: 'bind'; source: string; destination: string; readonly: boolean; propagation?: string }
  | { type: 'tmpfs'; destination: string; options?: string };

export type RuntimeNetwork = { mode: 'none' } | { mode: 'host' } | { mode: 'netns'; path: string };

/** What the daemon knows about a container to start; no Docker JSON here. */
export interface RuntimeSpec {
  id: string;
  /** An already-mounted root filesystem directory (the overlay mount point). */
  rootfs: string;
  args: string[];
  env: string[];
  /** Working directory in the container; '' means '/'. Created if missing. */
  cwd: string;
  /** '', 'uid', 'uid:gid', 'name', 'name:group' (resolved in the container's /etc/passwd, /etc/group). */
  user: string;
  groupAdd?: string[];
  hostname: string;
  domainname?: string;
  tty: boolean;
  openStdin: boolean;
  readonlyRootfs: boolean;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  /** Docker's SecurityOpt strings: 'no-new-privileges[:true|false]', 'seccomp=unconfined|<json>|<path>', 'writable-cgroups', label/apparmor (no effect here). */
  securityOpt: string[];
  /** Paths masked (HostConfig.MaskedPaths); undefined = Docker's defaults, [] = none. Ignored when privileged. */
  maskedPaths?: string[];
  /** Paths made read-only (HostConfig.ReadonlyPaths); undefined = Docker's defaults, [] = none. Ignored when privileged. */
  readonlyPaths?: string[];
  ulimits: { name: string; soft: number; hard: number }[];
  /** Bytes; default 64 MiB. */
  shmSize?: number;
  mounts: RuntimeMount[];
  network: RuntimeNetwork;
  /** The task's cgroup, made (or adopted from a warm init) and limited by the runtime; none when absent. */
  cgroup?: TaskCgroup;
  /** More cgroup.procs files the init writes its own pid into before anything else (a cgroup the caller made). */
  cgroupProcs?: string[];
  /** Host files bound over the container's /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  etc?: { hosts?: string; hostname?: string; resolvConf?: string };
  consoleSize?: [rows: number, cols: number];
  /** IPC namespace: a new one (default), the host's, or another container's (`/proc/<pid>/ns/ipc`). */
  ipc?: NamespaceChoice;
  /** PID namespace: a new one with the entrypoint as PID 1 (default), the host's, or another container's (`/proc/<pid>/ns/pid`). */
  pid?: NamespaceChoice;
  /** Host devices made in the container (--device): the node at `path`, as the host's (type, numbers, mode, owner). */
  devices?: RuntimeDevice[];
  /** HostConfig.OomScoreAdj, set by the init on itself before anything else (runc's nsexec); undefined = inherited. */
  oomScoreAdj?: number;
  /** HostConfig.UTSMode: 'host' keeps the host's UTS namespace (no hostname set); default a new one. */
  uts?: 'host' | 'private';
  /** Namespaced sysctls (dotted or '/' keys), validated against the namespaces as runc does, written by the init. */
  sysctls?: Record<string, string>;
}

/** A device node to create in the container; whether it may be opened is the cgroup's device policy. */
export interface RuntimeDevice { path: string; type: 'b' | 'c'; major: number; minor: number; mode: number; uid: number; gid: number }

export type NamespaceChoice = { mode: 'private' } | { mode: 'host' } | { mode: 'join'; path: string };

/** A task's cgroup: `<parent>/<name>` in every hierarchy, with its limits. */
export interface TaskCgroup {
  /** relative to the hierarchy roots, e.g. the daemon's --cgroup-parent or a HostConfig.CgroupParent */
  parent: string;
  name: string;
  resources: Resources;
}

/** A second process in a running container (docker exec). */
export interface ExecSpec {
  args: string[];
  env: string[];
  cwd: string;
  user: string;
  groupAdd?: string[];
  tty: boolean;
  openStdin: boolean;
  /** Security profile: pass the container's own values (an exec cannot escape it). */
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  cgroupProcs: string[];
  consoleSize?: [rows: number, cols: number];
  /** The container's OomScoreAdj: an exec'd process gets it, as in dockerd (its process spec is the container's). */
  oomScoreAdj?: number;
  /**
   * No tty: stdout and stderr are one socket, read as the Process's stdout (stderr null),
   * for a reader that takes both as one stream in the order written (a healthcheck's
   * output). Where the exec is not started with vspawn (TSD_VSPAWN=0, the Node init),
   * they stay two.
   */
  mergeOutput?: boolean;
}

/** Facts about the host that plans depend on (kept out of the pure planner). */
export interface HostInfo {
  /** `uname -r`, for the seccomp profile's minKernel conditions. */
  kernel: string;
  /** Go-style arch name as Docker profiles use it ('amd64', 'arm64'). */
  arch: string;
  /** /proc/sys/kernel/cap_last_cap */
  lastCap: number;
  /** whether a netns file is the daemon's own network namespace (a joined container may be on the host's) */
  isHostNetns?: (path: string) => boolean;
}

/** One filesystem operation of the init, in order. Destinations are container paths (under the rootfs). */
export type MountOp =
  | { op: 'mount'; source: string | null; destination: string; fstype: string | null; flags: number; data: string | null;
      /** create the destination as a dir or file if missing ('auto': like the source) */
      create: 'dir' | 'file' | 'auto' | 'none';
      /** a bind remount with these flags after the mount (MS_RDONLY ...) */
      remount?: number;
      /** propagation flags applied after the mount (MS_PRIVATE|MS_REC ...) */
      propagation?: number;
      /** how to name this mount in errors */
      label?: string }
  | { op: 'mknod'; destination: string; major: number; minor: number; mode: number;
      /** default 'c'; a --device node also names its owner and may replace a node already there */
      type?: 'b' | 'c'; uid?: number; gid?: number }
  | { op: 'symlink'; destination: string; target: string }
  /**
   * The cgroup hierarchies the host has mounted under /sys/fs/cgroup, mounted again
   * here (a tmpfs with one cgroup mount per hierarchy): inside the container's cgroup
   * namespace they show its own cgroup as the root.
   */
  | { op: 'cgroupfs'; destination: string; readonly: boolean }
  /** privileged: every device node of the host's /dev */
  | { op: 'hostDevices'; destination: string }
  /** files: bind /dev/null over them; directories: a read-only tmpfs. Missing paths are skipped. */
  | { op: 'mask'; destination: string }
  /** bind onto itself and remount read-only. Missing paths are skipped. */
  | { op: 'readonly'; destination: string };

export interface InitPlan {
  version: 1;
  mode: 'create' | 'exec';
  /** Written with the init's pid first, so the container is accounted from its first page. */
  cgroupProcs: string[];
  /** create: network handling. 'new' = a fresh netns with lo up. */
  network: 'host' | 'new' | { join: string };
  /** create: namespaces unshared by the init (CLONE_* names: 'mnt','uts','ipc','cgroup'). */
  unshare: Array<'mnt' | 'uts' | 'ipc' | 'cgroup'>;
  /** exec: namespace files joined in this order (mnt last, after unshare(CLONE_FS)). */
  join: Array<{ type: 'ipc' | 'uts' | 'net' | 'cgroup' | 'mnt'; path: string }>;
  /** exec: the container's root (/proc/<pid>/root), chrooted into after joining. */
  root: string | null;
  hostname: string | null;
  domainname: string | null;
  rootfs: string | null;
  mounts: MountOp[];
  readonlyRootfs: boolean;
  rlimits: Array<{ name: string; resource: number; soft: number; hard: number }>;
  cwd: string;
  user: string;
  groupAdd: string[];
  env: string[];
  args: string[];
  /** Capability numbers kept in the bounding, permitted and effective sets. */
  capabilities: number[];
  lastCap: number;
  noNewPrivileges: boolean;
  seccomp: SeccompFilter | null;
  /**
   * Set by the launcher: `seccomp` compiled to BPF (base64), loaded by the init with
   * one prctl; `seccomp.rules` is then left empty in the message.
   */
  seccompBpf?: string;
  tty: boolean;
  /**
   * Set by the launcher for a warm init, whose stdio were made before the container
   * was known: open this pty slave onto fds 0-2, or /dev/null onto fd 0.
   */
  stdio?: { stdinNull: boolean };
  /** tty: initial window size of the pty the init creates */
  consoleSize: [rows: number, cols: number] | null;
  /** Written to /proc/self/oom_score_adj first (null: left as inherited). */
  oomScoreAdj: number | null;
  /** create: sysctls written after pivot_root through a fresh procfs instance (validated: see runtime/sysctl.ts). */
  sysctls: Array<{ key: string; path: string; value: string }>;
}

export interface ExitStatus {
  /** Exit code, or 128+n when killed by signal n (signal then holds its name). */
  exitCode: number;
  signal: string | null;
}

/** A running process: a container's PID 1, or an exec'd one (containerd's Process). */
export interface Process {
  /** pid in the daemon's PID namespace */
  pid: number;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  pty: { stream: Duplex; resize(rows: number, cols: number): void } | null;
  exited: Promise<ExitStatus>;
  /** the same promise as `exited`, under containerd's name */
  wait(): Promise<ExitStatus>;
  /** a signal to this process (nothing when it already exited) */
  kill(signal: NodeJS.Signals | number): void;
  /**
   * Stops using the task's stdio in this process (the streams are destroyed, the process keeps
   * running): a daemon leaving its containers running (live restore) does this before it exits.
   */
  release?(): void;
  /** The daemon's own fd numbers of the task's stdio (the live-restore holder copies them); null where there is none. */
  fds?: { stdin: number | null; stdout: number | null; stderr: number | null; pty: number | null };
}

/**
 * A container's task (containerd's Task): its PID 1 and the cgroup the runtime made
 * for it. The cgroup operations fail (not-implemented) for a task launched without
 * RuntimeSpec.cgroup.
 */
export interface Task extends Process {
  /** freeze every process of the task */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** live limits; returns warnings for settings the kernel could not take */
  update(resources: Resources): string[];
  stats(): CgroupStats;
  /** every pid of the task's cgroup */
  pids(): number[];
  /** whether the kernel OOM-killed a process of the task */
  oomKilled(): boolean;
  /** containerd's Kill with `all`: `signal` (default SIGKILL) to every process of the cgroup; resolves once empty */
  killAll(signal?: number): Promise<void>;
  /** a second process in the task's namespaces and cgroup (docker exec) */
  exec(spec: Omit<ExecSpec, 'cgroupProcs'>): Promise<Process>;
  /** after the exit: removes what the task held on the host (its cgroup); idempotent */
  delete(): Promise<void>;
  /**
   * the task's cgroup under its parent: the container's name, or on cgroup v2 the warm init's
   * staging cgroup it adopted (warm-<pid>: cgroup2 cannot rename); null without a cgroup
   */
  readonly cgroupName: string | null;
}
