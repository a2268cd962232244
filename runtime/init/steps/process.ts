// Process steps: rlimits, working directory, user and groups, controlling tty.
import fs from 'node:fs';
import * as K from '../../../sys/index.js';
import { resolveUser, UserLookupError } from '../../user.js';
import { InitError } from '../context.js';
import type { InitContext } from '../context.js';

export function rlimits(ctx: InitContext): void {
  for (const r of ctx.plan.rlimits) ctx.sys.setrlimit(r.resource, { soft: r.soft, hard: r.hard });
}

/** First try as root: create the directory if missing (as Docker does at create time). */
export function chdirAsRoot(ctx: InitContext): void {
  try {
    ctx.sys.chdir(ctx.plan.cwd);
  } catch {
    try {
      fs.mkdirSync(ctx.plan.cwd, { recursive: true, mode: 0o755 });
    } catch {
      // reported by chdirAsUser with the container user's view
    }
  }
}

const readOrNull = (p: string): string | null => {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
};

/** Drops from the bounding set every capability the container doesn't keep (needs CAP_SETPCAP: before the uid change). */
export function boundingSet(ctx: InitContext): void {
  const keep = new Set(ctx.plan.capabilities);
  for (let c = 0; c <= ctx.plan.lastCap; c++) if (!keep.has(c)) ctx.sys.prctl(K.PR_CAPBSET_DROP, c);
}

/** setgroups, setresgid, setresuid with KEEPCAPS (the permitted set survives the uid change). */
export function user(ctx: InitContext): void {
  let u;
  try {
    u = resolveUser(ctx.plan.user, ctx.plan.groupAdd, readOrNull('/etc/passwd'), readOrNull('/etc/group'));
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
    ctx.sys.chdir(ctx.plan.cwd);
  } catch (e) {
    const code = (e as { errnoCode?: string }).errnoCode ?? (e as Error).message;
    const text: Record<string, string> = { ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', EACCES: 'permission denied' };
    throw new InitError(`chdir to cwd ("${ctx.plan.cwd}") set in config.json failed: ${text[code] ?? code}`);
  }
}

/** The session was created at spawn (detached); make the pty slave on fd 0 its controlling terminal. */
export function controllingTty(ctx: InitContext): void {
  if (ctx.plan.tty) ctx.sys.ioctlInt(0, K.TIOCSCTTY, 0);
}

/** Warm inits only: their stdio were made at spawn; put the pty slave (or /dev/null as stdin) in place. */
export function stdio(ctx: InitContext): void {
  const io = ctx.plan.stdio;
  if (!io) return;
  const O_RDWR = 2, O_NOCTTY = 0o400;
  if (io.tty) {
    const fd = ctx.sys.open(io.tty, O_RDWR | O_NOCTTY);
    for (const n of [0, 1, 2]) ctx.sys.dup2(fd, n);
    ctx.sys.close(fd);
  } else if (io.stdinNull) {
    const fd = ctx.sys.open('/dev/null', O_RDWR);
    ctx.sys.dup2(fd, 0);
    ctx.sys.close(fd);
  }
}
