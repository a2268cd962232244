// buildInitPlan / buildExecPlan: everything the init will do, decided here as
// data (pure: no fs, no clock, no kernel). The init only executes the plan.
import path from 'node:path';
import { DaemonError, invalidParameter } from '../errors/index.js';
import * as K from '../sys/index.js';
import { resolveCaps, capNumber } from './caps.js';
import { defaultProfile } from './seccomp/default.js';
import { compileProfile, parseProfile } from './seccomp/profile.js';
import { planSysctls } from './sysctl.js';
import type { ExecSpec, HostInfo, InitPlan, MountOp, RuntimeMount, RuntimeSpec } from './types.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/**
 * Docker's masked paths (moby daemon/pkg/oci/defaults.go), the host-independent
 * part: the daemon adds each CPU's thermal_throttle directory that exists
 * (defaultMaskedPaths in runtime/paths.ts) and stores the list in HostConfig.
 */
export const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/sched_debug',
  '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/devices/virtual/powercap', '/sys/firmware',
];

/** Docker's read-only paths. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const { MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_RDONLY, MS_BIND, MS_REC, MS_STRICTATIME, MS_RELATIME } = K;

const PROPAGATION: Record<string, number> = {
  private: K.MS_PRIVATE, rprivate: K.MS_PRIVATE | MS_REC, shared: K.MS_SHARED, rshared: K.MS_SHARED | MS_REC,
  slave: K.MS_SLAVE, rslave: K.MS_SLAVE | MS_REC,
};

interface SecurityOpts { noNewPrivileges: boolean; seccomp: 'default' | 'unconfined' | string; writableCgroups: boolean | null; apparmor: string }

const parseBoolOpt = (v: string, o: string): boolean => {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw invalidParameter(`invalid --security-opt 2: "${o}"`);
};

/**
 * Docker's SecurityOpt list as moby's parseSecurityOpt reads it (seccomp given as
 * JSON text; launch() reads files first). `label` and `apparmor` are accepted and
 * have no effect on a host without SELinux or AppArmor (as here, and as dockerd
 * on such a host); `systempaths=unconfined` is the docker CLI's, which sends
 * empty MaskedPaths/ReadonlyPaths instead, so the daemon refuses it as moby does.
 */
export function parseSecurityOpt(opts: string[]): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false, seccomp: 'default', writableCgroups: null, apparmor: '' };
  for (const o of opts) {
    if (o === 'no-new-privileges') { out.noNewPrivileges = true; continue; }
    if (o === 'writable-cgroups') { out.writableCgroups = true; continue; }
    if (o === 'disable') continue; // label=disable's short form
    const m = o.includes('=') ? /^([^=]*)=(.*)$/s.exec(o) : /^([^:]*):(.*)$/s.exec(o);
    if (!m) throw invalidParameter(`invalid --security-opt 1: "${o}"`);
    const [, key, value] = m as unknown as [string, string, string];
    switch (key) {
      case 'no-new-privileges': out.noNewPrivileges = parseBoolOpt(value, o); break;
      case 'writable-cgroups': out.writableCgroups = parseBoolOpt(value, o); break;
      case 'seccomp': out.seccomp = value === 'unconfined' ? 'unconfined' : value; break;
      case 'apparmor': out.apparmor = value; break;
      case 'label': break;
      default: throw invalidParameter(`invalid --security-opt 2: "${o}"`);
    }
  }
  return out;
}

/** Docker's tmpfs option string ("size=64m,mode=1777,noexec") -> flags + data. */
export function tmpfsOptions(options: string | undefined): { flags: number; data: string } {
  let flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  const data: string[] = [];
  for (const o of (options ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    switch (o) {
      case 'ro': flags |= MS_RDONLY; break;
      case 'rw': flags &= ~MS_RDONLY; break;
      case 'exec': flags &= ~MS_NOEXEC; break;
      case 'noexec': flags |= MS_NOEXEC; break;
      case 'suid': flags &= ~MS_NOSUID; break;
      case 'nosuid': flags |= MS_NOSUID; break;
      case 'dev': flags &= ~MS_NODEV; break;
      case 'nodev': flags |= MS_NODEV; break;
      default: {
        const sz = /^size=(\d+)([kmg]?)$/i.exec(o);
        if (sz) {
          const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[sz[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
          data.push(`size=${Number(sz[1]) * mult}`);
        } else if (/^(mode|uid|gid|nr_inodes|nr_blocks)=/.test(o)) data.push(o);
        else throw invalidParameter(`invalid tmpfs option ["${o}"]`);
      }
    }
  }
  return { flags, data: data.join(',') };
}

/** A masked or read-only path: relative ones are taken from / (runc works from the new root). */
const systemPath = (p: string): string => path.posix.normalize(p.startsWith('/') ? p : `/${p}`);

const containerPath = (p: string, what: string): string => {
  if (!p.startsWith('/')) throw invalidParameter(`invalid mount config: ${what} must be an absolute path: ${p}`);
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
};

function userMounts(mounts: RuntimeMount[]): MountOp[] {
  const ops: MountOp[] = [];
  for (const m of mounts) {
    const destination = containerPath(m.destination, 'destination');
    if (destination === '/') throw invalidParameter('invalid mount config: destination can\'t be \'/\'');
    if (m.type === 'bind') {
      if (!m.source.startsWith('/')) throw invalidParameter(`invalid mount config for type "bind": invalid mount path: '${m.source}' mount path must be absolute`);
      const prop = m.propagation ? PROPAGATION[m.propagation] : PROPAGATION.rprivate;
      if (prop === undefined) throw invalidParameter(`invalid propagation mode: ${m.propagation}`);
      ops.push({ op: 'mount', source: m.source, destination, fstype: null, flags: MS_BIND | MS_REC, data: null, create: 'auto',
        remount: m.readonly ? MS_RDONLY : undefined, propagation: prop, label: `bind mount ${m.source} to ${destination}` });
    } else {
      const t = tmpfsOptions(m.options);
      ops.push({ op: 'mount', source: 'tmpfs', destination, fstype: 'tmpfs', flags: t.flags, data: t.data || null, create: 'dir', label: `tmpfs mount on ${destination}` });
    }
  }
  return ops;
}

/** /proc, /sys, /dev and friends, as Docker sets them up (moby oci/defaults.go). */
function systemMounts(spec: RuntimeSpec): MountOp[] {
  const shm = spec.shmSize && spec.shmSize > 0 ? spec.shmSize : DEFAULT_SHM_SIZE;
  const ops: MountOp[] = [
    { op: 'mount', source: 'proc', destination: '/proc', fstype: 'proc', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: null, create: 'dir' },
    { op: 'mount', source: 'sysfs', destination: '/sys', fstype: 'sysfs', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | (spec.privileged ? 0 : MS_RDONLY), data: null, create: 'dir' },
    // read-only unless privileged, or writable-cgroups says otherwise (moby withCgroups)
    { op: 'cgroupfs', destination: '/sys/fs/cgroup', readonly: !(parseSecurityOpt(spec.securityOpt).writableCgroups ?? spec.privileged) },
    { op: 'mount', source: 'tmpfs', destination: '/dev', fstype: 'tmpfs', flags: MS_NOSUID | MS_STRICTATIME, data: 'mode=755,size=65536k', create: 'dir' },
  ];
  if (spec.privileged) ops.push({ op: 'hostDevices', destination: '/dev' });
  else {
    for (const [name, major, minor] of [['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]] as const) {
      ops.push({ op: 'mknod', destination: `/dev/${name}`, major, minor, mode: 0o666 });
    }
  }
  for (const [name, target] of [['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'],
    ['stderr', '/proc/self/fd/2'], ['ptmx', 'pts/ptmx'], ['core', '/proc/kcore']] as const) {
    ops.push({ op: 'symlink', destination: `/dev/${name}`, target });
  }
  ops.push(
    { op: 'mount', source: 'devpts', destination: '/dev/pts', fstype: 'devpts', flags: MS_NOSUID | MS_NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620,gid=5', create: 'dir' },
    { op: 'mount', source: 'shm', destination: '/dev/shm', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: `mode=1777,size=${shm}`, create: 'dir' },
    { op: 'mount', source: 'mqueue', destination: '/dev/mqueue', fstype: 'mqueue', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: null, create: 'dir' },
  );
  // --device nodes (runc createDevices: mknod with the host's mode and owner)
  for (const d of spec.devices ?? []) {
    ops.push({ op: 'mknod', destination: d.path, type: d.type, major: d.major, minor: d.minor, mode: d.mode & 0o7777, uid: d.uid, gid: d.gid });
  }
  return ops;
}

function etcMounts(etc: RuntimeSpec['etc']): MountOp[] {
  const ops: MountOp[] = [];
  for (const [key, dest] of [['hosts', '/etc/hosts'], ['hostname', '/etc/hostname'], ['resolvConf', '/etc/resolv.conf']] as const) {
    const src = etc?.[key];
    if (!src) continue;
    if (!src.startsWith('/')) throw invalidParameter(`${dest} source must be an absolute path: ${src}`);
    ops.push({ op: 'mount', source: src, destination: dest, fstype: null, flags: MS_BIND, data: null, create: 'file', propagation: K.MS_PRIVATE, label: `bind mount ${src} to ${dest}` });
  }
  return ops;
}

function rlimits(ulimits: RuntimeSpec['ulimits']): InitPlan['rlimits'] {
  return ulimits.map((u) => {
    const resource = K.RLIMIT[u.name];
    if (resource === undefined) throw invalidParameter(`invalid ulimit type: ${u.name}`);
    if (u.soft > u.hard && u.hard >= 0) throw invalidParameter(`ulimit soft limit must be less than or equal to hard limit: ${u.soft} > ${u.hard}`);
    return { name: u.name, resource, soft: u.soft, hard: u.hard };
  });
}

interface Security { capabilities: number[]; noNewPrivileges: boolean; seccomp: InitPlan['seccomp'] }

const defaultFilters = new Map<string, NonNullable<InitPlan['seccomp']>>();

function security(s: { privileged: boolean; capAdd: string[]; capDrop: string[]; securityOpt: string[] }, host: HostInfo): Security {
  const caps = resolveCaps(s.capAdd, s.capDrop, s.privileged, host.lastCap);
  const opts = parseSecurityOpt(s.securityOpt);
  let seccomp: InitPlan['seccomp'] = null;
  if (!s.privileged && opts.seccomp !== 'unconfined') {
    if (opts.seccomp === 'default') {
      // the same filter for every container and exec with the same capabilities: compiled once
      // (shared between plans: nothing changes a plan's filter, the launcher replaces it by its BPF)
      const key = `${caps.join(',')}|${host.arch}|${host.kernel}`;
      seccomp = defaultFilters.get(key) ?? null;
      if (!seccomp) {
        seccomp = compileProfile(defaultProfile, caps, host.arch, host.kernel);
        if (defaultFilters.size >= 64) defaultFilters.clear();
        defaultFilters.set(key, seccomp);
      }
    } else {
      seccomp = compileProfile(parseProfile(opts.seccomp), caps, host.arch, host.kernel);
    }
  }
  return { capabilities: caps.map(capNumber), noNewPrivileges: opts.noNewPrivileges, seccomp };
}

const withPath = (env: string[]): string[] => (env.some((e) => e.startsWith('PATH=')) ? [...env] : [`PATH=${DEFAULT_PATH}`, ...env]);

/** The plan for a container's PID 1. Throws invalid-parameter errors for bad input, before anything runs. */
export function buildInitPlan(spec: RuntimeSpec, host: HostInfo): InitPlan {
  if (!spec.args.length || !spec.args[0]) throw new DaemonError('invalid-parameter', 'TSD_ERR_NO_COMMAND', 'no command specified');
  if (!spec.rootfs.startsWith('/')) throw invalidParameter(`rootfs must be an absolute path: ${spec.rootfs}`);
  const sec = security(spec, host);
  const mounts: MountOp[] = [...systemMounts(spec), ...etcMounts(spec.etc), ...userMounts(spec.mounts)];
  // HostConfig's lists when given ([] = none: --security-opt systempaths=unconfined), Docker's
  // defaults otherwise; none at all when privileged (moby clears them).
  if (!spec.privileged) {
    for (const p of spec.maskedPaths ?? MASKED_PATHS) mounts.push({ op: 'mask', destination: systemPath(p) });
    for (const p of spec.readonlyPaths ?? READONLY_PATHS) mounts.push({ op: 'readonly', destination: systemPath(p) });
  }
  const network: InitPlan['network'] = spec.network.mode === 'host' ? 'host' : spec.network.mode === 'none' ? 'new' : { join: spec.network.path };
  const ownNet = network === 'new' || (network !== 'host' && !host.isHostNetns?.(network.join));
  const utsHost = spec.uts === 'host';
  const ns = { net: ownNet, ipc: spec.ipc?.mode !== 'host', uts: !utsHost };
  const sysctls = planSysctls(spec.sysctls, ns);
  // moby sets a domain name as the kernel.domainname sysctl: in the host's UTS namespace runc refuses it
  if (utsHost && spec.domainname) planSysctls({ 'kernel.domainname': spec.domainname }, ns);
  return {
    version: 1,
    mode: 'create',
    cgroupProcs: [...(spec.cgroupProcs ?? [])],
    network,
    // IPC: unshared unless the host's or another container's is asked for (then joined by the 'join' step).
    // UTS: unshared unless --uts host (moby removes the namespace and the hostname).
    unshare: ['mnt', ...(utsHost ? [] : (['uts'] as const)), ...(!spec.ipc || spec.ipc.mode === 'private' ? (['ipc'] as const) : []), 'cgroup'],
    join: spec.ipc?.mode === 'join' ? [{ type: 'ipc', path: spec.ipc.path }] : [],
    root: null,
    hostname: spec.network.mode === 'host' || utsHost ? null : spec.hostname || null,
    domainname: spec.network.mode === 'host' || utsHost ? null : spec.domainname || null,
    rootfs: spec.rootfs,
    mounts,
    readonlyRootfs: spec.readonlyRootfs,
    rlimits: rlimits(spec.ulimits),
    ...processPart(spec, sec, host),
    sysctls,
  };
}

function oomScore(v: number | undefined): number | null {
  if (v === undefined) return null;
  if (!Number.isInteger(v) || v < -1000 || v > 1000) throw invalidParameter(`Invalid value ${v}, range for oom score adj is [-1000, 1000]`);
  return v;
}

/** What the init does for the process itself, the same for a container's PID 1 and an exec. */
function processPart(spec: RuntimeSpec | ExecSpec, sec: ReturnType<typeof security>, host: HostInfo) {
  return {
    cwd: spec.cwd ? path.posix.normalize(spec.cwd.startsWith('/') ? spec.cwd : `/${spec.cwd}`) : '/',
    user: spec.user,
    groupAdd: spec.groupAdd ?? [],
    env: withPath(spec.env),
    args: [...spec.args],
    capabilities: sec.capabilities,
    lastCap: host.lastCap,
    noNewPrivileges: sec.noNewPrivileges,
    seccomp: sec.seccomp,
    tty: spec.tty,
    consoleSize: spec.tty && spec.consoleSize && spec.consoleSize[0] > 0 && spec.consoleSize[1] > 0 ? ([spec.consoleSize[0], spec.consoleSize[1]] as [number, number]) : null,
    oomScoreAdj: oomScore(spec.oomScoreAdj),
  };
}

/** The plan for an exec in the container whose PID 1 is `containerPid` (daemon's PID namespace). */
export function buildExecPlan(containerPid: number, spec: ExecSpec, host: HostInfo): InitPlan {
  if (!spec.args.length || !spec.args[0]) throw new DaemonError('invalid-parameter', 'TSD_ERR_NO_COMMAND', 'No exec command specified');
  const sec = security(spec, host);
  const ns = (t: 'ipc' | 'uts' | 'net' | 'cgroup' | 'mnt') => ({ type: t, path: `/proc/${containerPid}/ns/${t}` });
  return {
    version: 1,
    mode: 'exec',
    cgroupProcs: [...spec.cgroupProcs],
    network: 'host',
    unshare: [],
    // mnt last: it needs unshare(CLONE_FS) first, and /proc of the host is gone after it
    join: [ns('ipc'), ns('uts'), ns('net'), ns('cgroup'), ns('mnt')],
    root: `/proc/${containerPid}/root`,
    hostname: null,
    domainname: null,
    rootfs: null,
    mounts: [],
    readonlyRootfs: false,
    rlimits: [],
    ...processPart(spec, sec, host),
    sysctls: [],
  };
}
