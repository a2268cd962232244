// Security steps: seccomp, capability sets, no_new_privs.
import * as K from '../../../sys/index.js';
import { capMask } from '../../caps.js';
import type { InitContext } from '../context.js';

/** Loading a filter without no_new_privs needs CAP_SYS_ADMIN, so it runs before the capability drop then. */
export function seccompEarly(ctx: InitContext): void {
  if (!ctx.plan.noNewPrivileges) loadSeccomp(ctx);
}

function loadSeccomp(ctx: InitContext): void {
  if (ctx.plan.seccompBpf) ctx.sys.seccompLoadBpf(Buffer.from(ctx.plan.seccompBpf, 'base64'));
  else if (ctx.plan.seccomp) ctx.sys.seccompLoad(ctx.plan.seccomp);
}

/** With no_new_privs the filter goes last, so it has to allow as little of the init as possible. */
export function seccompLate(ctx: InitContext): void {
  if (ctx.plan.noNewPrivileges) loadSeccomp(ctx);
}

export function capabilities(ctx: InitContext): void {
  // never more than the init holds (privileged = all of them, on hosts whose bounding set lacks some)
  const mask = capMask(ctx.plan.capabilities) & ctx.sys.capget().permitted;
  ctx.sys.prctl(K.PR_CAP_AMBIENT, K.PR_CAP_AMBIENT_CLEAR_ALL);
  ctx.sys.capset({ effective: mask, permitted: mask, inheritable: 0n });
}

/**
 * The init dies with the daemon while it is still the daemon's helper (main.ts sets
 * PR_SET_PDEATHSIG); the container's program must not (it survives a daemon crash
 * until the next boot's reconcile, as a container survives dockerd's). Before seccomp:
 * a profile may refuse prctl.
 */
export function keepOnParentDeath(ctx: InitContext): void {
  ctx.sys.prctl(K.PR_SET_PDEATHSIG, 0);
}

export function noNewPrivs(ctx: InitContext): void {
  if (ctx.plan.noNewPrivileges) ctx.sys.prctl(K.PR_SET_NO_NEW_PRIVS, 1);
}
