// The process's OOM score adjustment, written before anything else (runc's
// nsexec does it first, while the process is still dumpable and privileged):
// PID 1 and every exec'd process run with the container's HostConfig.OomScoreAdj
// from their first instruction, and their children inherit it.
import type { InitContext } from '../context.js';

export function oomScoreAdj(ctx: InitContext): void {
  if (ctx.plan.oomScoreAdj !== null && ctx.plan.oomScoreAdj !== undefined) ctx.sys.setOomScoreAdj(ctx.plan.oomScoreAdj);
}
