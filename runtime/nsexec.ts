// The exec fast path: tsd-nsexec (runtime/nsexec/nsexec.c), a static C helper
// that executes an exec plan (buildExecPlan's InitPlan) in ~1 ms of CPU where a
// cold Node init takes 60-100 ms. This module is its TypeScript side: where the
// binary is, the plan as the helper reads it, the user resolved from the
// container's /etc files the helper sends, and its failure reports turned into
// the Node init's messages (runtime/init/messages.ts), so both paths fail alike.
//
// Why a helper and not a warm Node init per exec: the Node init's cost is Node's
// start (its heap, its modules, koffi), paid for each exec and each healthcheck
// probe; a warm one would still cost that CPU to refill. The helper takes no
// decision: the plan, the policy (capabilities, seccomp, user resolution) and
// their tests stay in TypeScript.
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { fileURLToPath } from 'node:url';
import { SyscallError } from '../errors/index.js';
import { sealedMemfd } from '../sys/index.js';
import { capMask } from './caps.js';
import { cwdFailed, execFailed, execNotFound, sysctlFailed } from './init/messages.js';
import { hostCgroups } from './host-cgroups.js';
import { ETC_FILE_MAX } from './init/steps/process.js';
import { resolveUser, UserLookupError } from './user.js';
import type { InitPlan, MountOp } from './types.js';

/** Where scripts/build-static.sh puts the helper (next to this module in dist/). */
export const NSEXEC_BUILT = fileURLToPath(new URL('./nsexec/tsd-nsexec', import.meta.url));

/** The helper as it runs: a sealed memfd of the built file (sealedMemfd), once made; null: none. */
let helper: { fd: number; path: string } | null | undefined;

/**
 * The helper's path when it is built and usable (TSD_NSEXEC=0 turns the fast path
 * off): /proc/self/fd/<n> of a sealed memfd holding a copy of the built file,
 * made on first use. So /proc/<helper>/exe is never a host file, let alone a
 * writable one, whatever a container opens while the helper runs in its PID
 * namespace (CVE-2019-5736; runc runs a sealed memfd copy of itself the same way).
 * Without the built file, or if the memfd cannot be made, null: exec takes the Node init.
 */
export function nsexecPath(): string | null {
  if (process.env.TSD_NSEXEC === '0') return null;
  if (helper === undefined) {
    try {
      helper = null;
      const fd = sealedMemfd('tsd-nsexec', fs.readFileSync(NSEXEC_BUILT));
      helper = { fd, path: `/proc/self/fd/${fd}` };
    } catch {
      // not built (no gcc at install): the Node init
    }
  }
  return helper?.path ?? null;
}

/** Forget what nsexecPath() found (tests build the helper, then look again). */
export function resetNsexec(): void {
  if (helper) fs.closeSync(helper.fd);
  helper = undefined;
}

/** One frame of the helper's input: a u32 LE length and "key=value\0" records. */
export function frame(records: Array<[string, string | number]>): Buffer {
  const body = Buffer.from(records.map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8');
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32LE(body.length, 0);
  body.copy(out, 4);
  return out;
}

const NO_NUL = (what: string, s: string): string => {
  if (s.includes('\0')) throw new SyscallError('execve', 22, 'EINVAL', undefined, `${what} contains a NUL byte`);
  return s;
};

/** Whether a cgroup's parent directory is a v1 hierarchy's (it has a `tasks` file; v2 has none), per parent: it is the same for all of its containers. */
const v1Parents = new Map<string, boolean>();
const isV1Dir = (dir: string): boolean => {
  const parent = path.dirname(dir);
  let v1 = v1Parents.get(parent);
  if (v1 === undefined) {
    v1 = fs.existsSync(path.join(parent, 'tasks'));
    if (v1Parents.size >= 256) v1Parents.clear();
    v1Parents.set(parent, v1);
  }
  return v1;
};

/**
 * How the helper joins the cgroup of `procs` (a cgroup.procs file): on v1, `cgtask` = the
 * directory's `tasks` file, which the single-threaded helper writes "0" (itself) without the
 * threadgroup lock's RCU wait (~10-15 ms per exec); elsewhere `cgroup` = the file, written its pid.
 */
export function cgroupRecord(procs: string, v1 = isV1Dir): [string, string] {
  if (path.basename(procs) === 'cgroup.procs' && v1(path.dirname(procs))) return ['cgtask', path.join(path.dirname(procs), 'tasks')];
  return ['cgroup', procs];
}

/** The exec plan as the helper reads it (everything it does, in its order: see nsexec.c). */
export function encodeExecPlan(plan: InitPlan, v1 = isV1Dir): Buffer {
  if (plan.mode !== 'exec') throw new Error('tsd-nsexec runs exec plans only');
  const r: Array<[string, string | number]> = [];
  if (plan.oomScoreAdj !== null && plan.oomScoreAdj !== undefined) r.push(['oom', plan.oomScoreAdj]);
  for (const f of plan.cgroupProcs) r.push(cgroupRecord(NO_NUL('cgroup', f), v1));
  for (const j of plan.join) r.push(['join', `${j.type}:${NO_NUL('namespace', j.path)}`]);
  if (plan.root) r.push(['root', NO_NUL('root', plan.root)]);
  processRecords(plan, r);
  return frame(r);
}

/** The records both modes end with, in the steps' order: cwd, capabilities, no_new_privs, seccomp, tty, env, argv. */
function processRecords(plan: InitPlan, r: Array<[string, string | number]>): void {
  r.push(['cwd', NO_NUL('cwd', plan.cwd)]);
  r.push(['caps', capMask(plan.capabilities).toString(16)], ['lastcap', plan.lastCap]);
  if (plan.noNewPrivileges) r.push(['nnp', 1]);
  // the launcher compiles every filter (withBpf): a plan with one left uncompiled is refused, never run unfiltered
  if (plan.seccomp && !plan.seccompBpf) throw new Error('tsd-nsexec: the seccomp filter was not compiled');
  if (plan.seccompBpf) r.push(['bpf', Buffer.from(plan.seccompBpf, 'base64').toString('hex')]);
  if (plan.tty) r.push(['tty', 1]);
  if (plan.tty && plan.consoleSize) r.push(['console', `${plan.consoleSize[0]}x${plan.consoleSize[1]}`]);
  for (const e of plan.env) r.push(['env', NO_NUL('env', e)]);
  for (const a of plan.args) r.push(['arg', NO_NUL('argument', a)]);
}

// ---- create plans -------------------------------------------------------------

const S_IFCHR = 0o020000, S_IFBLK = 0o060000, MS_BIND = 4096;

/** An rlimit value as the helper's u64 (RLIM_INFINITY for a negative or infinite one, as LinuxSyscalls.setrlimit). */
const rlim = (v: number): string => (v < 0 || !Number.isFinite(v) ? '18446744073709551615' : BigInt(Math.floor(v)).toString());

const devMajor = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const devMinor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
const HOST_DEV_SKIP = new Set(['/pts', '/shm', '/mqueue', '/fd', '/stdin', '/stdout', '/stderr', '/ptmx', '/core', '/console']);

/** Privileged: the host's /dev as the Node init walks it (rootfs.ts hostDevices): directories first, then their nodes. */
function hostDevRecords(out: Array<[string, string | number]>, dir = '/dev'): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const src = `${dir}/${e.name}`;
    const rel = src.slice('/dev'.length);
    if (HOST_DEV_SKIP.has(rel)) continue;
    if (e.isDirectory()) {
      out.push(['o.hdir', NO_NUL('device', rel.slice(1))]);
      hostDevRecords(out, src);
      continue;
    }
    if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
    const st = fs.statSync(src);
    out.push(['o.hdev', `${st.mode}:${devMajor(st.rdev)}:${devMinor(st.rdev)}:${st.uid}:${st.gid}:${NO_NUL('device', rel.slice(1))}`]);
  }
}

/** The host's cgroup hierarchies and /sys/fs/cgroup's symlinks (host data: read here, mounted by the helper). */
function cgroupRecords(out: Array<[string, string | number]>): void {
  const { hierarchies, links } = hostCgroups();
  for (const h of hierarchies) out.push(['o.cgh', `${h.fstype}:${h.name}:${h.data ?? ''}`]);
  for (const l of links) out.push(['o.cgl', `${l.name}:${l.target}`]);
}

function opRecords(op: MountOp, out: Array<[string, string | number]>): void {
  out.push(['op', op.op], ['o.dst', NO_NUL('mount destination', op.destination)]);
  switch (op.op) {
    case 'mount': {
      let create: string = op.create;
      if (create === 'auto') {
        // the bind source's kind: host data, looked at here (a missing one is reported in its turn, as the Node init does)
        try {
          create = fs.statSync(op.source!).isDirectory() ? 'dir' : 'file';
        } catch {
          create = 'missing';
        }
      }
      out.push(['o.create', create], ['o.flags', op.flags]);
      if (op.source !== null) out.push(['o.src', NO_NUL('mount source', op.source)]);
      if (!(op.flags & MS_BIND)) out.push(['o.fstype', NO_NUL('fstype', op.fstype ?? '')]);
      if (op.data !== null) out.push(['o.data', NO_NUL('mount data', op.data)]);
      if (op.remount !== undefined) out.push(['o.remount', op.remount]);
      if (op.propagation !== undefined) out.push(['o.prop', op.propagation]);
      return;
    }
    case 'mknod':
      out.push(['o.mode', (op.type === 'b' ? S_IFBLK : S_IFCHR) | op.mode], ['o.major', op.major], ['o.minor', op.minor]);
      if (op.uid !== undefined) out.push(['o.owner', `${op.uid}:${op.gid ?? 0}`]);
      return;
    case 'symlink':
      out.push(['o.target', NO_NUL('symlink target', op.target)]);
      return;
    case 'cgroupfs':
      out.push(['o.ro', op.readonly ? 1 : 0]);
      cgroupRecords(out);
      return;
    case 'hostDevices':
      hostDevRecords(out);
      return;
    case 'mask':
    case 'readonly':
      return;
  }
}

const NS_FLAG = { mnt: 0x00020000, uts: 0x04000000, ipc: 0x08000000, cgroup: 0x02000000 } as const;

/**
 * A container's create plan (buildInitPlan's InitPlan, as the launcher hands it to an
 * init) as the helper reads it: the steps of runtime/init/steps.ts in their order, with
 * the host data the Node init would have looked up itself (bind sources' kinds, the
 * cgroup hierarchies, the host's /dev for --privileged) read here.
 */
export function encodeCreatePlan(plan: InitPlan, v1 = isV1Dir): Buffer {
  if (plan.mode !== 'create') throw new Error('encodeCreatePlan: not a create plan');
  if (!plan.rootfs) throw new Error('encodeCreatePlan: no rootfs in plan');
  const r: Array<[string, string | number]> = [['mode', 'create']];
  if (plan.oomScoreAdj !== null && plan.oomScoreAdj !== undefined) r.push(['oom', plan.oomScoreAdj]);
  if (plan.stdio?.stdinNull) r.push(['stdinnull', 1]);
  for (const f of plan.cgroupProcs) r.push(cgroupRecord(NO_NUL('cgroup', f), v1));
  if (plan.network === 'new') r.push(['net', 'new']);
  else if (plan.network !== 'host') r.push(['netjoin', NO_NUL('network namespace', plan.network.join)]);
  const flags = plan.unshare.reduce((f, n) => f | NS_FLAG[n], 0);
  if (flags) r.push(['unshare', flags.toString(16)]);
  for (const j of plan.join) r.push(['join', `${j.type}:${NO_NUL('namespace', j.path)}`]);
  if (plan.hostname) r.push(['hostname', NO_NUL('hostname', plan.hostname)]);
  if (plan.domainname) r.push(['domainname', NO_NUL('domainname', plan.domainname)]);
  for (const s of plan.sysctls ?? []) r.push(['sysctl', NO_NUL('sysctl', s.path)], ['sysctlv', NO_NUL('sysctl', s.value)]);
  r.push(['rootfs', NO_NUL('rootfs', plan.rootfs)]);
  for (const op of plan.mounts) opRecords(op, r);
  if (plan.readonlyRootfs) r.push(['rofs', 1]);
  for (const l of plan.rlimits) r.push(['rlimit', `${l.resource}:${rlim(l.soft)}:${rlim(l.hard)}`]);
  processRecords(plan, r);
  return frame(r);
}

/** The helper's {t:'etc'} message: the container's files it read (null: missing). */
export interface EtcMessage { t: 'etc'; passwd: string | null; group: string | null }
/** The helper's {t:'fail'} message: the step, the call that failed and its errno. */
export interface FailMessage {
  t: 'fail'; step: string; call: string; errno: number; path?: string; detail?: string;
  /** create: the index of the mount op that failed, the kind of its failure (its words' wrapper) and the inner failure's own */
  op?: number; kind?: 'mount' | 'mknod' | 'cgroupfs'; inner?: 'symlinks' | 'deep' | 'isdir' | 'nosource' | 'nullopen' | 'notnull' | 'procfs';
}

/** The identity the helper switches to, resolved with runc's rules (resolveUser), or the Node init's error. */
export function userReply(plan: InitPlan, m: EtcMessage): { frame: Buffer } | { error: { step: string; message: string; exitCode: number } } {
  try {
    const u = resolveUser(plan.user, plan.groupAdd, m.passwd, m.group);
    return { frame: frame([['uid', u.uid], ['gid', u.gid], ...u.groups.map((g): [string, number] => ['group', g]), ['home', u.home]]) };
  } catch (e) {
    if (e instanceof UserLookupError) return { error: { step: 'user', message: e.message, exitCode: 128 } };
    throw e;
  }
}

export const ptyAck = (): Buffer => frame([['ack', 'pty']]);

const errnoName = (n: number): string => util.getSystemErrorName(-Math.abs(n));

/** Node's message for a failed fs call ("ENOENT: no such file or directory, open '/x'"), as the Node init's fs calls throw. */
function nodeFsMessage(errno: number, call: string, p?: string): string {
  const [name, text] = util.getSystemErrorMap().get(-Math.abs(errno)) ?? [errnoName(errno), 'unknown error'];
  return `${name}: ${text}, ${call}${p !== undefined ? ` '${p}'` : ''}`;
}

/** A failure the helper reported, as the Node init reports the same failure (step, message, exit code). */
export function describeFailure(m: FailMessage, plan: InitPlan): { step: string; message: string; errno: string; exitCode: number } {
  const code = errnoName(m.errno);
  const out = (message: string, exitCode = 128) => ({ step: m.step, message, errno: code, exitCode });
  const argv0 = plan.args[0] ?? '';
  switch (m.step) {
    case 'cgroup':
      return out(`failed to join cgroup ${m.path}: ${nodeFsMessage(m.errno, m.call, m.call === 'open' ? m.path : undefined)}`);
    case 'join':
      if (m.call === 'open-ns') return out(`failed to open namespace ${m.path}: ${nodeFsMessage(m.errno, 'open', m.path)}`);
      if (m.call === 'open') return out(nodeFsMessage(m.errno, 'open', m.path));
      break;
    case 'network':
      if (m.call === 'open-netns') return out(`failed to open network namespace ${m.path}: ${nodeFsMessage(m.errno, 'open', m.path)}`);
      break;
    case 'sysctl':
      return out(sysctlFailed(m.call, m.path ?? '', code));
    case 'mounts':
      return out(mountFailure(m, plan.mounts[m.op ?? -1], code));
    case 'tty':
      if (m.inner === 'isdir') return out(innerMessage(m, code));
      break;
    case 'cwd_user':
      return out(cwdFailed(plan.cwd, code));
    case 'user':
      if (m.call === 'read' || m.call === 'open' || m.call === 'fstat') {
        // the Node init's words (readEtcFile through rootfs' Root.readFile)
        const why = m.detail === 'not a regular file' ? `${m.path} is not a regular file`
          : m.detail === 'too large' ? `${m.path} is larger than ${ETC_FILE_MAX} bytes`
          : new SyscallError(m.call, m.errno, code, m.path).message;
        return out(`unable to read ${m.path}: ${why}`);
      }
      break;
    case 'exec':
      if (m.call === 'lookpath') return out(execNotFound(argv0), 127);
      if (m.call === 'execve') {
        const f = execFailed(argv0, m.path ?? argv0, code);
        return out(f.message, f.exitCode);
      }
      break;
  }
  return out(new SyscallError(m.call, m.errno, code, m.path, m.detail).message);
}

/** The words of a failure inside a mount op, before the op's own wrapper (rootfs' DaemonErrors, the InitErrors of rootfs.ts, or the call's SyscallError). */
function innerMessage(m: FailMessage, code: string): string {
  switch (m.inner) {
    case 'symlinks': return `too many levels of symbolic links: ${m.path}`;
    case 'deep': return `path too deep: ${m.path}`;
    case 'isdir': return `${m.path} is a directory, a file is mounted there`;
    case 'nullopen': return `cannot mask paths: /dev/null: ${new SyscallError(m.call, m.errno, code, m.path, m.detail).message}`;
    case 'notnull': return `cannot mask paths: /dev/null is not the null device (${m.detail})`;
    default: return new SyscallError(m.call, m.errno, code, m.path, m.detail).message;
  }
}

/** A failed mount op in the Node init's words (rootfs.ts runOp). */
function mountFailure(m: FailMessage, op: MountOp | undefined, code: string): string {
  if (m.inner === 'nosource' && op?.op === 'mount') return `invalid mount config for type "bind": bind source path does not exist: ${op.source}`;
  const inner = innerMessage(m, code);
  // InitErrors pass through the op's wrapper as they are
  if (m.inner === 'isdir' || m.inner === 'nullopen' || m.inner === 'notnull' || !op) return inner;
  if (m.kind === 'mount' && op.op === 'mount') return `error mounting ${op.label ?? `${op.fstype ?? 'bind'} on ${op.destination}`}: ${inner}`;
  if (m.kind === 'mknod') return `error creating device node ${op.destination}: ${inner}`;
  if (m.kind === 'cgroupfs') return `error mounting cgroup hierarchies on ${op.destination}: ${inner}`;
  return inner;
}
