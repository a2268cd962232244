// Process steps: rlimits, working directory, user and groups, controlling tty.
import fs from 'node:fs';
import * as K from '../../../sys/index.js';
import * as F from '../../../sys/fsat.js';
import { Root } from '../../../rootfs/index.js';
import { fileAt } from './rootfs.js';
import { resolveUser, UserLookupError } from '../../user.js';
import { InitError } from '../context.js';
import type { InitContext } from '../context.js';
import { cwdFailed } from '../messages.js';

export function rlimits(ctx: InitContext): void {
  for (const r of ctx.plan.rlimits) ctx.sys.setrlimit(r.resource, { soft: r.soft, hard: r.hard });
}

/**
 * The working directory, resolved from the container's "/" (after pivot_root or
 * the exec's chroot) with openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: a cwd
 * like /proc/self/fd/N (an fd the init holds, CVE-2024-21626) is refused, and
 * fchdir goes to exactly the directory resolved.
 */
function chdirTo(ctx: InitContext): void {
  const root = Root.open('/');
  try {
    const fd = root.openFd(ctx.plan.cwd, F.O_PATH | F.O_DIRECTORY);
    try {
      ctx.sys.fchdir(fd);
    } finally {
      F.close(fd);
    }
  } finally {
    root.close();
  }
}

/**
 * First try as root: create the directory if missing (as Docker does at create
 * time; not for exec), one component at a time through fds, bounded, and never
 * inside procfs or sysfs (`-w /proc/self/fd/25` once spun here forever).
 */
export function chdirAsRoot(ctx: InitContext): void {
  try {
    chdirTo(ctx);
  } catch {
    if (ctx.plan.mode !== 'create') return;
    const root = Root.open('/');
    try {
      F.close(root.mkdirAll(ctx.plan.cwd, 0o755, { avoidProcfs: true }));
    } catch {
      // reported by chdirAsUser with the container user's view
    } finally {
      root.close();
    }
  }
}

/** Upper bound for /etc/passwd and /etc/group (a hostile image's 10 GB file is refused, not read). */
export const ETC_FILE_MAX = 4 * 1024 * 1024;

/**
 * The container's /etc/passwd or /etc/group: opened O_NONBLOCK inside its root
 * (a FIFO there never blocks the start), a regular file of at most ETC_FILE_MAX
 * bytes, checked on the opened fd. Null when missing.
 */
export function readEtcFile(p: string): string | null {
  const root = Root.open('/');
  try {
    return root.readFile(p, ETC_FILE_MAX)?.data.toString('utf8') ?? null;
  } catch (e) {
    throw new InitError(`unable to read ${p}: ${(e as Error).message}`);
  } finally {
    root.close();
  }
}

/** Drops from the bounding set every capability the container doesn't keep (needs CAP_SETPCAP: before the uid change). */
export function boundingSet(ctx: InitContext): void {
  const keep = new Set(ctx.plan.capabilities);
  for (let c = 0; c <= ctx.plan.lastCap; c++) if (!keep.has(c)) ctx.sys.prctl(K.PR_CAPBSET_DROP, c);
}

/** setgroups, setresgid, setresuid with KEEPCAPS (the permitted set survives the uid change). */
export function user(ctx: InitContext): void {
  let u;
  try {
    u = resolveUser(ctx.plan.user, ctx.plan.groupAdd, readEtcFile('/etc/passwd'), readEtcFile('/etc/group'));
  } catch (e) {
    if (e instanceof UserLookupError) throw new InitError(e.message);
    throw e;
  }
  if (!ctx.env.some((e) => e.startsWith('HOME='))) ctx.env.push(`HOME=${u.home}`);
  ctx.uid = u.uid;
  ctx.gid = u.gid;
  ctx.sys.prctl(K.PR_SET_KEEPCAPS, 1);
  ctx.sys.setgroups(u.groups);
  ctx.sys.setresgid(u.gid);
  ctx.sys.setresuid(u.uid);
}

/** After a uid change the effective set is empty; raise it from the permitted set KEEPCAPS kept, for seccomp and capset. */
export function raiseEffective(ctx: InitContext): void {
  if (ctx.uid === 0) return;
  const c = ctx.sys.capget();
  ctx.sys.capset({ effective: c.permitted, permitted: c.permitted, inheritable: 0n });
}

export function chdirAsUser(ctx: InitContext): void {
  try {
    chdirTo(ctx);
  } catch (e) {
    throw new InitError(cwdFailed(ctx.plan.cwd, (e as { errnoCode?: string }).errnoCode ?? (e as Error).message), 128, (e as { errnoCode?: string }).errnoCode);
  }
}

/**
 * tty: a pty from the container's own devpts (so /dev/pts/N and `tty` make sense
 * inside), the slave on fds 0-2 as controlling terminal (spawn made a new session),
 * bound over /dev/console when creating, and the master handed to the parent
 * (it copies the fd with pidfd_getfd before we go on).
 */
export function tty(ctx: InitContext): void {
  if (!ctx.plan.tty) return;
  const { master, slavePath } = ctx.sys.openptIn('/dev/ptmx', '/dev/pts');
  try {
    if (ctx.plan.consoleSize) ctx.sys.setWinsize(master, ctx.plan.consoleSize[0], ctx.plan.consoleSize[1]);
    const O_RDWR = 2, O_NOCTTY = 0o400;
    const slave = ctx.sys.open(slavePath, O_RDWR | O_NOCTTY);
    try {
      for (const n of [0, 1, 2]) ctx.sys.dup2(slave, n);
      // the pty bound from its fd onto a /dev/console made a regular file of our /dev's
      // (whatever was there replaced, a symlink never followed), as every other mount
      if (ctx.plan.mode === 'create') bindConsole(ctx, slave);
    } finally {
      ctx.sys.close(slave);
    }
    ctx.sys.ioctlInt(0, K.TIOCSCTTY, 0);
    ctx.send({ t: 'pty', fd: master });
    const ack = ctx.receive();
    if (ack?.t !== 'pty-ack') throw new InitError('the daemon did not take the pty');
  } finally {
    ctx.sys.close(master);
  }
}

function bindConsole(ctx: InitContext, slave: number): void {
  const dev = F.openat(F.AT_FDCWD, '/dev', F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW);
  try {
    const t = fileAt(dev, 'console', 0o600);
    try {
      const m = ctx.sys.openTree(slave, '', false);
      try {
        ctx.sys.moveMount(m, t);
      } finally {
        F.close(m);
      }
    } finally {
      F.close(t);
    }
  } finally {
    F.close(dev);
  }
}

/** Warm inits only: their stdio were made at spawn; a container without stdin gets /dev/null. */
export function stdio(ctx: InitContext): void {
  if (!ctx.plan.stdio?.stdinNull || ctx.plan.tty) return;
  const fd = ctx.sys.open('/dev/null', 2 /* O_RDWR */);
  ctx.sys.dup2(fd, 0);
  ctx.sys.close(fd);
}

/**
 * Every fd above 2 becomes close-on-exec, so nothing the daemon (or whoever
 * started it) left open reaches the container: spawn passes inherited fds on.
 */
export function closeExtraFds(ctx: InitContext): void {
  let fds: number[];
  try {
    fds = fs.readdirSync('/proc/self/fd').map(Number).filter((n) => n > 2);
  } catch {
    return;
  }
  for (const fd of fds) {
    try {
      ctx.sys.setCloexec(fd, true);
    } catch {
      // the directory fd of the readdir itself, already closed
    }
  }
}
