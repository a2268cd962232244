// posix_spawn for the daemon's helpers (tsd-nsexec): glibc's posix_spawn is
// clone(CLONE_VM|CLONE_VFORK), so the child shares the daemon's memory until it
// execs, where Node's spawn (libuv) forks and copies the page tables of the
// whole daemon: ~5-11 ms of CPU for a daemon of 150-250 MiB, paid by every
// docker exec and every healthcheck probe (bench/compare.ts --only exec,probe).
// The child is this process's but not libuv's: reapSpawned() collects it.
import fs from 'node:fs';
import { koffi } from './libc.js';
import { SyscallError } from '../errors/index.js';
import { errnoName } from './syscalls.js';

const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSID = 0x80;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const O_RDWR = 2;
const P_ALL = 0;
const P_PID = 1;
const WEXITED = 4;
const WNOHANG = 1;
const WNOWAIT = 0x01000000;
const CLD_EXITED = 1;

let lib: ReturnType<typeof bind> | undefined;

function bind() {
  const c = koffi.load('libc.so.6');
  return {
    // opaque glibc types, given room to spare (posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128)
    fa_init: c.func('int posix_spawn_file_actions_init(_Inout_ uint8_t *fa)'),
    fa_destroy: c.func('int posix_spawn_file_actions_destroy(_Inout_ uint8_t *fa)'),
    fa_dup2: c.func('int posix_spawn_file_actions_adddup2(_Inout_ uint8_t *fa, int fd, int newfd)'),
    fa_open: c.func('int posix_spawn_file_actions_addopen(_Inout_ uint8_t *fa, int fd, const char *path, int flags, uint32 mode)'),
    fa_chdir: c.func('int posix_spawn_file_actions_addchdir_np(_Inout_ uint8_t *fa, const char *path)'),
    attr_init: c.func('int posix_spawnattr_init(_Inout_ uint8_t *attr)'),
    attr_destroy: c.func('int posix_spawnattr_destroy(_Inout_ uint8_t *attr)'),
    attr_flags: c.func('int posix_spawnattr_setflags(_Inout_ uint8_t *attr, short flags)'),
    attr_sigdefault: c.func('int posix_spawnattr_setsigdefault(_Inout_ uint8_t *attr, const uint8_t *set)'),
    attr_sigmask: c.func('int posix_spawnattr_setsigmask(_Inout_ uint8_t *attr, const uint8_t *set)'),
    sigfillset: c.func('int sigfillset(_Inout_ uint8_t *set)'),
    sigemptyset: c.func('int sigemptyset(_Inout_ uint8_t *set)'),
    spawn: c.func('int posix_spawn(_Out_ int *pid, const char *path, const uint8_t *fa, const uint8_t *attr, const char **argv, const char **envp)'),
    socketpair: c.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)'),
    waitid: c.func('int waitid(int idtype, uint32 id, _Out_ uint8_t *info, int options)'),
    close: c.func('int close(int fd)'),
    memfd_create: c.func('int memfd_create(const char *name, unsigned int flags)'),
    fcntl: c.func('int fcntl(int fd, int cmd, int arg)'),
  };
}

const f = () => (lib ??= bind());

const fail = (call: string, err: number, detail?: string): never => {
  throw new SyscallError(call, err, errnoName(err), undefined, detail);
};

/** A connected AF_UNIX stream pair, both close-on-exec. */
export function socketPair(): [number, number] {
  const sv = [0, 0];
  if (f().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) fail('socketpair', koffi.errno());
  return [sv[0]!, sv[1]!];
}

export function closeFd(fd: number): void {
  f().close(fd);
}

/**
 * posix_spawn of `file` in a new session with cwd "/", every signal at its
 * default and none blocked (as Node's spawn leaves a child), the environment
 * `env`; `fds[i]` becomes the child's fd i (null: /dev/null). Returns the pid.
 * The calling thread's PID namespace for children applies (setns before).
 */
/** The spawn attributes, the same for every child (made once: glibc's attr holds no allocation). */
let spawnAttr: Buffer | undefined;
/** The file actions' storage, reused (posixSpawn is synchronous; the actions are made and destroyed in each call). */
const fileActions = Buffer.alloc(256);

function attributes(): Buffer {
  if (spawnAttr) return spawnAttr;
  const l = f();
  const attr = Buffer.alloc(1024);
  const all = Buffer.alloc(256);
  const none = Buffer.alloc(256);
  l.attr_init(attr);
  l.sigfillset(all);
  l.sigemptyset(none);
  let e = 0;
  e ||= l.attr_sigdefault(attr, all);
  e ||= l.attr_sigmask(attr, none);
  e ||= l.attr_flags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  if (e) {
    l.attr_destroy(attr);
    fail('posix_spawn', e, 'attributes');
  }
  return (spawnAttr = attr);
}

export function posixSpawn(file: string, argv: string[], env: string[], fds: Array<number | null>): number {
  const l = f();
  const attr = attributes();
  const fa = fileActions;
  l.fa_init(fa);
  try {
    let e = 0;
    for (let i = 0; i < fds.length; i++) {
      const fd = fds[i] ?? null;
      // the sources are the daemon's close-on-exec fds, all above the targets: dup2 clears the flag on the copy
      e ||= fd === null ? l.fa_open(fa, i, '/dev/null', O_RDWR, 0) : l.fa_dup2(fa, fd, i);
    }
    e ||= l.fa_chdir(fa, '/');
    if (e) fail('posix_spawn', e, 'attributes');
    const pid = [0];
    // posix_spawn returns the error (the child's failed execve included) rather than setting errno
    const r = l.spawn(pid, file, fa, attr, [...argv, null], [...env, null]);
    if (r !== 0) fail('posix_spawn', r, file);
    return pid[0]!;
  } finally {
    l.fa_destroy(fa);
  }
}

/** siginfo_t for waitid, reused (the calls are synchronous). */
const info = Buffer.alloc(128);

/**
 * Whether any child of this process has exited and is still unreaped (waitid P_ALL with
 * WNOWAIT: it stays waitable, for whoever reaps it; libuv's children included): false
 * when none has, so a caller looking for its own can skip asking for each.
 */
export function anyChildExited(): boolean {
  info.fill(0, 0, 32);
  // a failure (ECHILD: no child at all, the caller's reaped by someone else): let the caller ask for each
  if (f().waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT) < 0) return true;
  return info.readInt32LE(16) !== 0;
}

/** waitid(P_PID, pid, WEXITED|WNOHANG): null while it runs, else how it ended (it is reaped). */
export function reapSpawned(pid: number): { exitCode: number | null; signal: number | null } | null {
  info.fill(0, 0, 32);
  if (f().waitid(P_PID, pid, info, WEXITED | WNOHANG) < 0) {
    const err = koffi.errno();
    if (err === 10 /* ECHILD: reaped already, or not ours */) return { exitCode: null, signal: null };
    fail('waitid', err, String(pid));
  }
  // siginfo_t: si_signo, si_errno, si_code (int each), padding, then si_pid, si_uid, si_status
  if (info.readInt32LE(16) === 0) return null;
  const code = info.readInt32LE(8);
  const status = info.readInt32LE(24);
  return code === CLD_EXITED ? { exitCode: status, signal: null } : { exitCode: null, signal: status };
}

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
const F_SEAL_SEAL = 1;
const F_SEAL_SHRINK = 2;
const F_SEAL_GROW = 4;
const F_SEAL_WRITE = 8;

/**
 * `bytes` in a sealed memfd (runc's answer to CVE-2019-5736): a file with no
 * path on any filesystem whose content can never change again (no write,
 * grow, shrink, nor new seal). Close-on-exec; run it as /proc/self/fd/<fd>.
 */
export function sealedMemfd(name: string, bytes: Buffer): number {
  const l = f();
  const fd = l.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) fail('memfd_create', koffi.errno(), name);
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    if (l.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) fail('fcntl', koffi.errno(), 'F_ADD_SEALS');
    return fd;
  } catch (e) {
    l.close(fd);
    throw e;
  }
}
