// The daemon side: spawn the init into a new PID namespace (or the container's,
// for exec), send it the plan, and turn its answer into a Process or an error.
// The warm pool (below) is module state: one per daemon process.
//
// PID namespace: the daemon's main thread unshares CLONE_NEWPID (or setns'es into
// the container's PID namespace), spawns, and setns'es back to its own PID
// namespace, all in one synchronous try/finally; this only changes the namespace
// of children created in between (pid_for_children), never the daemon's own.
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import tty from 'node:tty';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import type { Duplex, Readable, Writable } from 'node:stream';
import { invalidParameter, systemError } from '../errors/index.js';
import path from 'node:path';
import { LinuxSyscalls, CLONE_NEWPID, MNT_DETACH, MS_PRIVATE, UMOUNT_NOFOLLOW, seccompCompile } from '../sys/index.js';
import { fsat as F } from '../sys/index.js';
import type { Syscalls } from '../sys/index.js';
import { startError } from './errors.js';
import { encode, type InitMessage } from './protocol.js';
import { buildExecPlan, buildInitPlan } from './spec.js';
import { isVChild, vspawn } from './vspawn.js';
import { describeFailure, encodeCreatePlan, encodeExecPlan, nsexecPath, ptyAck, userReply, type EtcMessage, type FailMessage } from './nsexec.js';
import type { ExecSpec, HostInfo, InitPlan, Process, RuntimeSpec } from './types.js';

const INIT_MAIN = fileURLToPath(new URL('./init/main.js', import.meta.url));

/**
 * The node binary inits run from. sealInitBinary() makes it a read-only bind of
 * the host's node (so /proc/<init>/exe is never a writable path to it, whatever
 * a container manages to open: CVE-2019-5736); until then the host's binary.
 */
let initExe = process.execPath;

/**
 * Binds the host's node read-only onto <dir>/node (open_tree + mount_setattr +
 * move_mount, private) and runs every later init from there. Returns that path.
 */
export function sealInitBinary(dir: string): string {
  const target = path.join(dir, 'node');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try { fs.closeSync(fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o555)); } catch { /* a bind from a daemon that died */ }
  for (let i = 0; i < 8; i++) {
    // binds left by an earlier daemon on this exec root
    try { new LinuxSyscalls().umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW); } catch { break; }
  }
  const mfd = F.openTree(F.AT_FDCWD, process.execPath, false);
  try {
    F.mountSetattr(mfd, F.MOUNT_ATTR_RDONLY | F.MOUNT_ATTR_NOSUID | F.MOUNT_ATTR_NODEV, 0, 0, false);
    const tfd = F.openat(F.AT_FDCWD, target, F.O_PATH | F.O_NOFOLLOW);
    try {
      F.moveMount(mfd, tfd);
    } finally {
      F.close(tfd);
    }
    F.mountSetattr(mfd, 0, 0, MS_PRIVATE, false);
  } finally {
    F.close(mfd);
  }
  initExe = target;
  return target;
}

/** Undoes sealInitBinary (at shutdown; inits still running keep their binary). */
export function unsealInitBinary(): void {
  if (initExe === process.execPath) return;
  try { new LinuxSyscalls().umount2(initExe, MNT_DETACH | UMOUNT_NOFOLLOW); } catch { /* not mounted */ }
  initExe = process.execPath;
}

/**
 * Deadlines of a starting init: from spawn (or the plan, for a warm one) to its
 * first step, and for each step after (the init announces each). An init that
 * misses one is killed and the start fails: no step can wedge a start, and the
 * container lock with it. Overridable for tests through the environment.
 */
const deadlines = () => ({
  first: Number(process.env.TSD_INIT_START_TIMEOUT_MS) || 60_000,
  step: Number(process.env.TSD_INIT_STEP_TIMEOUT_MS) || 15_000,
});

/** What a launch may be asked besides its spec. */
export interface LaunchOptions {
  /** aborting it kills an init whose start is in progress (docker rm -f) */
  signal?: AbortSignal;
  /**
   * Called with the init's pid once it is spawned, before it gets its plan (the cold path;
   * a warm init's pid is known before launch): the systemd cgroup driver starts the
   * container's scope with that pid in it. A rejection kills the init and fails the launch.
   */
  spawned?: (pid: number) => Promise<void>;
}

let sys: Syscalls | undefined;
let selfPidNs: number | undefined;
let host: HostInfo | undefined;

/** runc's isHostNetNS: the same inode as the daemon's own /proc/self/ns/net. */
function isHostNetns(p: string): boolean {
  try {
    const a = fs.statSync(p);
    const b = fs.statSync('/proc/self/ns/net');
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** Facts about this host, read once. */
export function hostInfo(): HostInfo {
  if (!host) {
    let lastCap = 40;
    try {
      lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    } catch {
      // keep the default
    }
    const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
    host = { kernel: os.release(), arch, lastCap, isHostNetns };
  }
  return host;
}

const bpfCache = new Map<string, string>();
const bpfByFilter = new WeakMap<object, string>();

/** Compiles the plan's seccomp filter to BPF once per distinct filter (the init then loads it with one prctl). */
function withBpf(plan: InitPlan): InitPlan {
  if (!plan.seccomp) return plan;
  // the planner hands out one filter object per default profile and capability set: known by identity, not re-serialized
  let bpf = bpfByFilter.get(plan.seccomp);
  if (!bpf) {
    const key = JSON.stringify(plan.seccomp);
    bpf = bpfCache.get(key);
    if (!bpf) {
      bpf = seccompCompile(plan.seccomp).toString('base64');
      if (bpfCache.size > 64) bpfCache.clear();
      bpfCache.set(key, bpf);
    }
    bpfByFilter.set(plan.seccomp, bpf);
  }
  return { ...plan, seccomp: { ...plan.seccomp, rules: [] }, seccompBpf: bpf };
}

/** Replaces `seccomp=<file>` by the file's contents (buildInitPlan stays pure). */
function readSeccompFiles(opts: string[]): string[] {
  return opts.map((o) => {
    const m = /^seccomp[=:](.*)$/s.exec(o);
    if (!m || m[1] === 'unconfined' || m[1]!.trimStart().startsWith('{')) return o;
    try {
      return `seccomp=${fs.readFileSync(m[1]!, 'utf8')}`;
    } catch (e) {
      throw invalidParameter(`opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
    }
  });
}

/** stdio of a cold init: pipes, or nothing for a tty (the init opens its pty in the container). */
function coldStdio(ttyMode: boolean, openStdin: boolean): StdioOptions {
  if (ttyMode) return ['ignore', 'ignore', 'ignore', 'pipe'];
  return [openStdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'];
}

/**
 * Spawns the init with its PID namespace set for the spawn only: `pidns` null =
 * a new namespace (the init becomes its PID 1), else an fd of the namespace to enter.
 */
function spawnInit(s: Syscalls, pidns: number | null | 'host', stdio: StdioOptions, extra: string[] = [], exe: { file: string; args: string[]; vfork?: boolean } = { file: initExe, args: [INIT_MAIN] }): ChildProcess {
  // vfork: posix_spawn instead of Node's fork, which copies the daemon's page tables (runtime/vspawn.ts)
  const go = () => exe.vfork && process.env.TSD_VSPAWN !== '0'
    ? vspawn(exe.file, [...exe.args, ...extra], stdio as Array<'pipe' | 'ignore' | 'stdout'>)
    : spawn(exe.file, [...exe.args, ...extra], { stdio, detached: true, env: {}, cwd: '/' });
  if (pidns === 'host') return go();
  selfPidNs ??= fs.openSync('/proc/self/ns/pid', 'r');
  if (pidns === null) s.unshare(CLONE_NEWPID);
  else s.setns(pidns, CLONE_NEWPID);
  try {
    return go();
  } finally {
    s.setns(selfPidNs, CLONE_NEWPID);
  }
}

const signalNumber = (sig: string | null): number => (sig ? (os.constants.signals as Record<string, number>)[sig] ?? 0 : 0);

/** A spawned init: its process, protocol socket, buffered output, and protocol messages as they arrive. */
interface Spawned {
  child: ChildProcess;
  proto: Duplex;
  stdout: Readable | null;
  stderr: Readable | null;
  exited: Promise<{ exitCode: number; signal: string | null }>;
  /** set by the current owner (the pool, then start()) */
  onMessage: (m: InitMessage) => void;
  onClose: () => void;
  spawnError: Error | null;
  closed: boolean;
  /** warm inits: the staging cgroup the pool's hooks put it in (null: none) */
  stage: string | null;
  /** warm inits: resolves to that staging cgroup once made */
  staging: Promise<string | null>;
  /** the init is tsd-nsexec (binary frames), not the Node init (a JSON plan) */
  helper: boolean;
}

function track(child: ChildProcess, helper = false): Spawned {
  const proto = child.stdio[3] as Duplex;
  // Node discards unread child output when the child exits (flushStdio resumes the
  // streams); a short-lived container can exit before the caller attaches, so the
  // output is moved into our own buffers from the start. A vspawn child's sockets are
  // not flushed: they keep their output until it is read, and are used as they are.
  const vchild = isVChild(child);
  const keep = (r: Readable | null): Readable | null => {
    if (!r || vchild) return r;
    const p = new PassThrough();
    r.pipe(p);
    return p;
  };
  const sp: Spawned = {
    child, proto, stdout: keep(child.stdout), stderr: keep(child.stderr),
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ exitCode: code ?? 128 + signalNumber(signal), signal }));
      child.once('error', () => resolve({ exitCode: 128, signal: null }));
    }),
    onMessage: () => {}, onClose: () => {}, spawnError: null, closed: false, stage: null, staging: Promise.resolve(null), helper,
  };
  child.once('error', (e) => { sp.spawnError = e; });
  let buf = '';
  proto.setEncoding('utf8');
  proto.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        sp.onMessage(JSON.parse(line));
      } catch {
        // not ours: ignore
      }
    }
  });
  proto.on('error', () => { /* EPIPE when the init died early: the exit tells */ });
  proto.once('close', () => { sp.closed = true; sp.onClose(); });
  return sp;
}

/** The fd of a child's stdio stream (a libuv pipe), or null when it has none or it was closed. */
function fdOf(s: unknown): number | null {
  const h = (s as { destroyed?: boolean; _handle?: { fd?: number } } | null);
  const fd = h && !h.destroyed ? h._handle?.fd : undefined;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/**
 * Each shared (frozen: execPlans) plan's last user reply and the container's /etc files it
 * was resolved from: resolveUser is pure, so the same files give the same reply, and a
 * probe's files are the same every time. Other files (a passwd edited in the container)
 * are resolved again.
 */
const userReplies = new WeakMap<InitPlan, { passwd: string | null; group: string | null; reply: ReturnType<typeof userReply> }>();

function cachedUserReply(plan: InitPlan, m: EtcMessage): ReturnType<typeof userReply> {
  const last = userReplies.get(plan);
  if (last && last.passwd === m.passwd && last.group === m.group) return last.reply;
  const reply = userReply(plan, m);
  if (Object.isFrozen(plan)) userReplies.set(plan, { passwd: m.passwd, group: m.group, reply });
  return reply;
}

/**
 * Sends the plan, waits for exec (clean close) or an error, and builds the Process.
 * `helperFrame`: the init is tsd-nsexec (runtime/nsexec.ts), which reads binary frames,
 * asks for its user to be resolved, and reports failures as calls and errnos.
 */
function start(sp: Spawned, plan: InitPlan, opts: LaunchOptions = {}, helperFrame?: Buffer): Promise<Process> {
  const helper = helperFrame !== undefined;
  const { child, exited } = sp;
  const pipes = !plan.tty;
  let master: number | null = null;
  return new Promise<Process>((resolve, reject) => {
    let failed: Extract<InitMessage, { t: 'error' }> | null = null;
    // deadlines: the init is killed when a step overruns; its close then reports the step
    const limits = deadlines();
    let step = 'start';
    let timer: NodeJS.Timeout | null = null;
    const kill = (why: Extract<InitMessage, { t: 'error' }>) => {
      failed ??= why;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const arm = (ms: number) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => kill({ t: 'error', step, message: `container init: step "${step}" did not finish within ${ms} ms`, exitCode: 128 }), ms);
    };
    const disarm = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => kill({ t: 'error', step, message: 'container init killed: the container is being removed', exitCode: 128 });
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    arm(limits.first);
    sp.onMessage = (msg) => {
      const m = msg as InitMessage | EtcMessage | FailMessage;
      if (m.t === 'step' && !failed) {
        step = m.step;
        arm(limits.step);
      }
      if (m.t === 'error' && !failed) failed = m;
      if (m.t === 'fail' && helper && !failed) failed = { t: 'error', ...describeFailure(m, plan) };
      if (m.t === 'etc' && helper && !failed) {
        const r = cachedUserReply(plan, m);
        if ('error' in r) {
          failed = { t: 'error', ...r.error };
          child.kill('SIGKILL');
        } else sp.proto.write(r.frame);
      }
      if (m.t === 'pty' && plan.tty && master === null) {
        try {
          master = (sys ??= new LinuxSyscalls()).pidfdGetfd(child.pid!, m.fd);
          sp.proto.write(helper ? ptyAck() : encode({ t: 'pty-ack' }));
        } catch (e) {
          failed = { t: 'error', step: 'tty', message: `failed to take the pty: ${(e as Error).message}`, exitCode: 128 };
          child.kill('SIGKILL');
        }
      }
    };
    sp.onClose = () => {
      disarm();
      if (failed || sp.spawnError) {
        const f = failed;
        // leave nothing behind: the init exits right after reporting
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        void exited.then(() => {
          if (master !== null) fs.closeSync(master);
          master = null;
          if (f) reject(startError(f));
          else reject(systemError(`failed to start the init: ${sp.spawnError!.message}`, sp.spawnError));
        });
        return;
      }
      let pty: Process['pty'] = null;
      if (plan.tty && master === null) {
        reject(systemError('the init did not hand over its pty'));
        child.kill('SIGKILL');
        return;
      }
      if (master !== null) {
        const m = master;
        const stream = new tty.ReadStream(m);
        stream.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'EIO') stream.push(null); // the slave side closed: end of output
        });
        pty = { stream, resize: (rows, cols) => { try { (sys ??= new LinuxSyscalls()).setWinsize(m, rows, cols); } catch { /* exited */ } } };
      }
      resolve({
        pid: child.pid!,
        stdin: pipes ? (child.stdin as Writable | null) : null,
        stdout: pipes ? sp.stdout : null,
        stderr: pipes ? sp.stderr : null,
        pty,
        exited,
        wait: () => exited,
        kill: (signal) => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        },
        release: () => {
          for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
          pty?.stream.destroy();
        },
        fds: pipes
          ? { stdin: fdOf(child.stdin), stdout: fdOf(child.stdout), stderr: fdOf(child.stderr), pty: null }
          : { stdin: null, stdout: null, stderr: null, pty: master },
      });
    };
    if (sp.closed) sp.onClose();
    else sp.proto.write(helperFrame ?? encode({ t: 'plan', plan }));
  });
}

/** How a create plan's init is started: tsd-nsexec when built and not turned off (TSD_NSEXEC=0), else the Node init. */
const helperExe = (): { file: string; args: string[]; vfork: boolean } | undefined => {
  const helper = nsexecPath();
  return helper ? { file: helper, args: [], vfork: true } : undefined;
};

/** The plan as the init reads it: the helper's frame, or undefined for the Node init (start() sends it the JSON plan). */
function planFrame(sp: Spawned, plan: InitPlan): Buffer | undefined {
  if (!sp.helper) return undefined;
  try {
    return encodeCreatePlan(plan);
  } catch (e) {
    sp.proto.destroy();
    sp.child.kill('SIGKILL');
    throw e;
  }
}

async function run(plan: InitPlan, pidns: number | null | 'host', openStdin: boolean, opts: LaunchOptions = {}): Promise<Process> {
  const s = (sys ??= new LinuxSyscalls());
  const exe = helperExe();
  let child: ChildProcess;
  try {
    child = spawnInit(s, pidns, coldStdio(plan.tty, openStdin), [], exe);
  } catch (e) {
    if (!exe) throw e;
    throw systemError(`failed to start tsd-nsexec: ${(e as Error).message}`, e);
  }
  const sp = track(child, exe !== undefined);
  if (opts.spawned && child.pid) {
    try {
      await opts.spawned(child.pid);
    } catch (e) {
      child.kill('SIGKILL');
      await sp.exited;
      throw e;
    }
  }
  return start(sp, plan, opts, planFrame(sp, plan));
}

// ---- warm pool -------------------------------------------------------------
// Inits spawned ahead of time: already PID 1 of a fresh PID namespace, libraries
// loaded, blocked reading their plan. Their stdio are pipes made at spawn; for a
// tty container the plan names the pty slave and the init puts it on fds 0-2.

/**
 * Optional hooks of the daemon: `stage` puts a fresh warm init into a staging cgroup
 * off the critical path (moving a multithreaded process between cgroups waits for an
 * RCU grace period, ~20 ms on cgroup v1); the daemon later renames that cgroup into
 * the container's instead of moving the process. `discard` removes an unused one.
 */
export interface WarmPoolHooks {
  stage?(pid: number): Promise<string | null>;
  discard?(stage: string): Promise<void> | void;
}

/** A warm init taken from the pool for one launch (see launch()). */
export interface WarmInit {
  readonly pid: number;
  /** its staging cgroup, if the hooks made one */
  readonly stage: string | null;
  /** gives it up (kills it) when the launch does not happen */
  kill(): void;
  /**
   * The caller made the staging cgroup the task's own (CgroupManager.adopt: v1 renamed
   * it, v2 keeps it under its name): the launcher then leaves it to the task instead of
   * discarding it once the init started.
   */
  adoptStage(): void;
}

/** The launcher's side of a taken warm init. */
interface Taken { sp: Spawned; used: () => boolean; markUsed: () => void; stageAdopted: () => boolean }

const pool: { size: number; idle: Spawned[]; ready: Set<Spawned>; refilling: boolean; waiters: Array<() => void>; failures: number; hooks: WarmPoolHooks } =
  { size: 0, idle: [], ready: new Set(), refilling: false, waiters: [], failures: 0, hooks: {} };

function spawnWarm(): void {
  const s = (sys ??= new LinuxSyscalls());
  let child: ChildProcess;
  // a warm tsd-nsexec costs ~1 ms of CPU and a few hundred KiB; a warm Node init 60-90 ms and ~40 MiB
  const exe = helperExe();
  try {
    child = spawnInit(s, null, ['pipe', 'pipe', 'pipe', 'pipe'], ['--warm'], exe);
  } catch {
    return; // the cold path still works
  }
  const sp = track(child, exe !== undefined);
  child.unref();
  for (const x of child.stdio) (x as { unref?: () => void } | null)?.unref?.();
  const staged = pool.hooks.stage && child.pid ? pool.hooks.stage(child.pid).catch(() => null) : Promise.resolve(null);
  sp.staging = staged;
  sp.onMessage = (m) => {
    if (m.t === 'ready') {
      void staged.then((stage) => {
        if (sp.closed || !pool.idle.includes(sp)) return;
        sp.stage = stage;
        pool.failures = 0;
        pool.ready.add(sp);
        if (pool.ready.size >= Math.min(pool.size, pool.idle.length)) for (const w of pool.waiters.splice(0)) w();
      });
    }
  };
  sp.onClose = () => {
    // an idle init died (killed, or broken): replace it, but give up after repeated failures
    void Promise.all([staged, sp.exited]).then(([stage]) => { if (stage) pool.hooks.discard?.(stage); });
    const wasReady = pool.ready.delete(sp);
    const i = pool.idle.indexOf(sp);
    if (i >= 0) pool.idle.splice(i, 1);
    pool.failures = wasReady ? 0 : pool.failures + 1;
    if (pool.failures >= 3) pool.size = 0;
    if (pool.size === 0) for (const w of pool.waiters.splice(0)) w();
    else refill();
  };
  pool.idle.push(sp);
}

function refill(): void {
  if (pool.refilling) return;
  pool.refilling = true;
  setImmediate(() => {
    pool.refilling = false;
    while (pool.size > 0 && pool.idle.length < pool.size) spawnWarm();
  });
}

function takeWarm(): Spawned | null {
  const sp = pool.idle.find((x) => pool.ready.has(x)) ?? null;
  if (!sp) return null;
  pool.idle.splice(pool.idle.indexOf(sp), 1);
  pool.ready.delete(sp);
  sp.child.ref();
  for (const x of sp.child.stdio) (x as { ref?: () => void } | null)?.ref?.();
  return sp;
}

/** The warm pool (off by default): launch() takes a pre-spawned init when one is ready, else spawns cold. */
export const warmPool = {
  /** Keep `size` inits ready; `hooks` stage each one in a cgroup of the daemon's. */
  enable(size = 2, hooks: WarmPoolHooks = {}): void {
    pool.hooks = hooks;
    pool.size = Math.max(0, Math.floor(size));
    refill();
  },
  /**
   * Takes a ready init for the next launch(spec, warm), so the caller can adopt its
   * staging cgroup first. Null when none is ready (launch then spawns cold).
   */
  take(): WarmInit | null {
    if (pool.size === 0) return null;
    const sp = takeWarm();
    if (!sp) return null;
    // From here the taker owns it (and its staging cgroup): the pool's bookkeeping lets go.
    sp.onClose = () => {};
    let used = false;
    let adopted = false;
    const w: WarmInit & Taken = {
      pid: sp.child.pid!,
      stage: sp.stage,
      sp,
      used: () => used,
      markUsed: () => { used = true; },
      adoptStage: () => { adopted = true; },
      stageAdopted: () => adopted,
      kill: () => {
        if (used) return;
        used = true;
        sp.proto.destroy();
        sp.child.kill('SIGKILL');
        const stage = sp.stage;
        if (stage) void sp.exited.then(() => pool.hooks.discard?.(stage));
        refill();
      },
    };
    return w;
  },
  /** Stop and kill the idle inits. */
  /** Kills the idle inits; resolves once they are gone and their staging cgroups discarded. */
  async disable(): Promise<void> {
    pool.size = 0;
    for (const w of pool.waiters.splice(0)) w();
    const idle = pool.idle.splice(0);
    pool.ready.clear();
    await Promise.all(idle.map(async (sp) => {
      sp.onClose = () => {};
      sp.child.ref();
      sp.proto.destroy();
      sp.child.kill('SIGKILL');
      const [stage] = await Promise.all([sp.staging, sp.exited]);
      if (stage) await pool.hooks.discard?.(stage);
    }));
  },
  /** Resolves when the pool is full of ready inits. */
  ready(): Promise<void> {
    if (pool.size === 0 || (pool.ready.size >= pool.size)) return Promise.resolve();
    // the idle inits are unref'd: hold the event loop open while waiting for them
    const hold = setInterval(() => {}, 1000);
    return new Promise<void>((resolve) => pool.waiters.push(resolve)).finally(() => clearInterval(hold));
  },
  /** Ready idle inits. */
  available(): number {
    return pool.ready.size;
  },
};

function runWarm(sp: Spawned, plan: InitPlan, openStdin: boolean, opts: LaunchOptions = {}): Promise<Process> {
  if (plan.tty) {
    for (const x of [sp.child.stdin, sp.child.stdout, sp.child.stderr]) x?.destroy();
  } else if (!openStdin) {
    plan = { ...plan, stdio: { stdinNull: true } };
    sp.child.stdin?.destroy();
  }
  // refill once this one runs: a Node start competes for the CPU with this container's init
  let frame: Buffer | undefined;
  try {
    frame = planFrame(sp, plan);
  } catch (e) {
    refill();
    throw e;
  }
  const started = start(sp, plan, opts, frame);
  started.then(refill, refill);
  return started.then((task) => (openStdin && !plan.tty ? task : { ...task, stdin: null }));
}

/**
 * Starts a container: its init becomes PID 1 of a new PID namespace and execve's
 * the entrypoint. Resolves once execve happened; rejects with RuntimeStartError
 * (exitCode 127/126/128) when the init failed, or a DaemonError for bad input.
 */
export async function launch(spec: RuntimeSpec, warmInit?: WarmInit | null, opts: LaunchOptions = {}): Promise<Process> {
  const taken = warmInit as (WarmInit & Taken) | null | undefined;
  if (taken) {
    if (taken.used()) throw systemError('this warm init was already used');
    let plan: InitPlan;
    try {
      plan = withBpf(buildInitPlan({ ...spec, securityOpt: readSeccompFiles(spec.securityOpt) }, hostInfo()));
      if (spec.pid && spec.pid.mode !== 'private') throw systemError('a warm init has its own PID namespace: launch without one');
    } catch (e) {
      taken.kill();
      throw e;
    }
    taken.markUsed();
    const started = runWarm(taken.sp, plan, spec.openStdin, opts);
    // An adopted staging cgroup is the task's now (removed with it). Otherwise the init moved itself to
    // spec.cgroupProcs and the stage is empty, and nothing else would remove it (one leaked per start).
    const stage = taken.stageAdopted() ? null : taken.stage;
    if (stage) void started.then(() => pool.hooks.discard?.(stage), () => taken.sp.exited.then(() => pool.hooks.discard?.(stage)));
    return started;
  }
  const plan = withBpf(buildInitPlan({ ...spec, securityOpt: readSeccompFiles(spec.securityOpt) }, hostInfo()));
  // Another PID namespace than a fresh one is chosen at spawn: the cold path.
  if (spec.pid?.mode === 'host') return run(plan, 'host', spec.openStdin, opts);
  if (spec.pid?.mode === 'join') {
    let fd: number;
    try {
      fd = fs.openSync(spec.pid.path, 'r');
    } catch (e) {
      throw systemError(`cannot join PID namespace ${spec.pid.path}: ${(e as Error).message}`, e);
    }
    try {
      return await run(plan, fd, spec.openStdin, opts);
    } finally {
      fs.closeSync(fd);
    }
  }
  const warm = pool.size > 0 ? takeWarm() : null;
  if (warm) {
    if (opts.spawned && warm.child.pid) {
      try {
        await opts.spawned(warm.child.pid);
      } catch (e) {
        warm.proto.destroy();
        warm.child.kill('SIGKILL');
        const stage = warm.stage;
        if (stage) void warm.exited.then(() => pool.hooks.discard?.(stage));
        refill();
        throw e;
      }
    }
    const started = runWarm(warm, plan, spec.openStdin, opts);
    // Not adopted by the caller: the init moved itself to spec.cgroupProcs; its staging cgroup is empty now.
    const stage = warm.stage;
    if (stage) void started.then(() => pool.hooks.discard?.(stage), () => warm.exited.then(() => pool.hooks.discard?.(stage)));
    return started;
  }
  return run(plan, null, spec.openStdin, opts);
}

/**
 * Exec plans and their frames, by everything they are made from: a healthcheck probe
 * (and a repeated docker exec) runs the same spec into the same container every time,
 * and building the plan, compiling-or-finding its filter and encoding its frame (the
 * filter alone is ~19 KB of hex) was a fifth of the daemon's CPU per probe. The key is
 * the container's pid and the whole spec, seccomp files read: a plan is a pure function
 * of them (buildExecPlan is pure, hostInfo() and v1 detection are fixed for the daemon's
 * life), so an entry can never be stale, only unused. A docker update changes nothing
 * an exec plan is made of; a restart gives the container a new pid (a new key); a reused
 * pid with the same spec gets the same plan it would have been built anew. The plans are
 * frozen: every exec of one key shares it.
 */
const execPlans = new Map<string, { plan: InitPlan; frame: Buffer | null }>();
const EXEC_PLANS_MAX = 256;

/** An exec's entry of execPlans (its plan built, or found); execFrame() gives its frame. Exported for its tests. */
export function execPlan(containerPid: number, spec: ExecSpec): { plan: InitPlan; frame: Buffer | null } {
  const full = { ...spec, securityOpt: readSeccompFiles(spec.securityOpt) };
  const key = `${containerPid} ${JSON.stringify(full)}`;
  let e = execPlans.get(key);
  if (e) {
    // most recently used last: the oldest goes first when the map is full
    execPlans.delete(key);
    execPlans.set(key, e);
  } else {
    const plan = Object.freeze(withBpf(buildExecPlan(containerPid, full, hostInfo())));
    e = { plan, frame: null };
    if (execPlans.size >= EXEC_PLANS_MAX) execPlans.delete(execPlans.keys().next().value!);
    execPlans.set(key, e);
  }
  return e;
}

/** The frame of an execPlans entry, encoded on first use. */
export const execFrame = (e: { plan: InitPlan; frame: Buffer | null }): Buffer => (e.frame ??= encodeExecPlan(e.plan));

/**
 * Starts a process inside the running container whose PID 1 is `containerPid`
 * (a pid in the daemon's namespace): its PID namespace (entered at spawn), then
 * ipc, uts, net, cgroup and mount namespaces, its cgroup, with `spec`'s user, env,
 * cwd and security profile.
 */
export async function execInContainer(containerPid: number, spec: ExecSpec, opts: LaunchOptions = {}): Promise<Process> {
  const entry = execPlan(containerPid, spec);
  const plan = entry.plan;
  let pidns: number;
  try {
    pidns = fs.openSync(`/proc/${containerPid}/ns/pid`, 'r');
  } catch (e) {
    throw systemError(`container process ${containerPid} is not running: ${(e as Error).message}`, e);
  }
  try {
    const helper = nsexecPath();
    if (!helper) return await run(plan, pidns, spec.openStdin, opts);
    // the fast path: tsd-nsexec executes the same plan (runtime/nsexec.ts)
    const frame = execFrame(entry);
    let child: ChildProcess;
    try {
      // mergeOutput: fd 2 is fd 1's socket (vspawn only; Node's spawn has no such stdio)
      const stdio = spec.mergeOutput && !plan.tty && process.env.TSD_VSPAWN !== '0'
        ? [spec.openStdin ? 'pipe' : 'ignore', 'pipe', 'stdout', 'pipe'] as StdioOptions
        : coldStdio(plan.tty, spec.openStdin);
      child = spawnInit((sys ??= new LinuxSyscalls()), pidns, stdio, [], { file: helper, args: [], vfork: true });
    } catch (e) {
      throw systemError(`failed to start tsd-nsexec: ${(e as Error).message}`, e);
    }
    return await start(track(child), plan, opts, frame);
  } finally {
    fs.closeSync(pidns);
  }
}
