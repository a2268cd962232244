// The last step: find the entrypoint on the container's PATH, fix the fds the
// program inherits, execve.
import fs from 'node:fs';
import { SyscallError } from '../../../errors/index.js';
import { InitError } from '../context.js';
import type { InitContext } from '../context.js';
import { execFailed, execNotFound } from '../messages.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Go's exec.LookPath, as runc uses it: a name with a slash is taken as is. */
export function lookPath(file: string, env: string[]): string {
  if (file.includes('/')) return file;
  const p = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of p.split(':')) {
    const cand = `${dir === '' ? '.' : dir}/${file}`;
    try {
      const st = fs.statSync(cand);
      if (st.isFile() && (st.mode & 0o111) !== 0) return cand;
    } catch {
      // next
    }
  }
  throw new InitError(execNotFound(file), 127, 'ENOENT');
}

export function execve(ctx: InitContext): void {
  const argv0 = ctx.plan.args[0]!;
  const file = lookPath(argv0, ctx.env);
  ctx.sys.setCloexec(ctx.protocolFd, true);
  for (const fd of [0, 1, 2]) {
    ctx.sys.setCloexec(fd, false);
    // Node sets its stdio pipes O_NONBLOCK; a program writing to a full pipe would then get EAGAIN ("write error").
    try { ctx.sys.setBlocking(fd); } catch { /* a closed fd: nothing to do */ }
  }
  // Node ignores SIGPIPE and SIGXFSZ; ignored signals survive execve (Docker's processes start with none ignored)
  const SIGPIPE = 13, SIGXFSZ = 25;
  ctx.sys.signalDefault(SIGPIPE);
  ctx.sys.signalDefault(SIGXFSZ);
  try {
    ctx.sys.execve(file, ctx.plan.args, ctx.env);
  } catch (e) {
    if (e instanceof SyscallError) {
      const f = execFailed(argv0, file, e.errnoCode);
      throw new InitError(f.message, f.exitCode, e.errnoCode);
    }
    throw e;
  }
}
