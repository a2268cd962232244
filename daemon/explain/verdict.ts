// One line per thing that is wrong with a container, worst first, each with
// the figures and the files that show it:
//   "OOM-killed 3 times, last 2 min ago (tail, pid 4242): memory limit 64 MiB (memory.limit_in_bytes), peak 64 MiB"
//   "throttled in 62% of CPU periods over the last 2 s: quota 50000/100000 µs (50% of one core)"
import type { Primitives } from './primitives.js';

export const mib = (n: number): string => {
  const v = n / 1048576;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} MiB`;
};

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

/** "50% of one core", "2.5 cores" */
export function cpuShare(quotaUsec: number, periodUsec: number): string {
  const cores = quotaUsec / periodUsec;
  return cores < 1 ? `${Math.round(cores * 100)}% of one core` : `${Number(cores.toFixed(2))} core${cores === 1 ? '' : 's'}`;
}

export function verdicts(p: Primitives, now = Date.now()): string[] {
  const out: string[] = [];
  const cg = p.cgroup;
  // a stopped container: its cgroup's files as read at the exit, when they were kept
  const last = !cg.present ? p.atExit?.cgroup ?? null : null;
  const view = cg.present ? cg : last;
  const atExit = last ? ', at exit' : '';
  const v1 = (view ?? cg).version === 'v1';
  const limitFile = v1 ? 'memory.limit_in_bytes' : 'memory.max';
  const peakFile = v1 ? 'memory.max_usage_in_bytes' : 'memory.peak';
  const kills = Math.max(view ? view.memory.oomKills : 0, cg.oomKillsLogged.length, p.exit?.oomKilled ? 1 : 0);
  if (kills > 0) {
    const last = cg.oomKillsLogged[cg.oomKillsLogged.length - 1];
    const when = last ? `, last ${ago(now - last.at)} (${last.task}, pid ${last.pid})` : p.exit?.oomKilled ? `, the last at exit ${ago(now - Date.parse(p.exit.finishedAt))}` : '';
    const limit = view ? view.memory.limit : p.spec.memory > 0 ? p.spec.memory : null;
    const figures = [
      limit !== null ? `memory limit ${mib(limit)} (${limitFile}${view ? atExit : ', asked'})` : 'no memory limit',
      view && view.memory.peak !== null ? `peak ${mib(view.memory.peak)} (${peakFile}${atExit})` : null,
    ].filter(Boolean).join(', ');
    out.push(`OOM-killed ${kills} time${kills === 1 ? '' : 's'}${when}: ${figures}`);
  }
  const t = cg.throttling;
  if (t && t.periods > 0 && t.share >= 0.1 && cg.cpu.quotaUsec) {
    out.push(`throttled in ${Math.round(t.share * 100)}% of CPU periods over the last ${t.seconds} s: quota ${cg.cpu.quotaUsec}/${cg.cpu.periodUsec} µs (${cpuShare(cg.cpu.quotaUsec, cg.cpu.periodUsec)}, ${v1 ? 'cpu.cfs_quota_us/cpu.cfs_period_us' : 'cpu.max'})`);
  }
  // over the whole run, for a stopped container: cpu.stat's totals at exit
  const s = last?.cpu.stat;
  if (last && s && s.nrPeriods > 0 && s.nrThrottled / s.nrPeriods >= 0.1 && last.cpu.quotaUsec) {
    out.push(`throttled in ${Math.round((s.nrThrottled / s.nrPeriods) * 100)}% of CPU periods over its run (${s.nrThrottled} of ${s.nrPeriods}, cpu.stat at exit): quota ${last.cpu.quotaUsec}/${last.cpu.periodUsec} µs (${cpuShare(last.cpu.quotaUsec, last.cpu.periodUsec)}, ${v1 ? 'cpu.cfs_quota_us/cpu.cfs_period_us' : 'cpu.max'})`);
  }
  if (cg.present && cg.pids.maxHits > 0) {
    out.push(`fork refused ${cg.pids.maxHits} time${cg.pids.maxHits === 1 ? '' : 's'} at the pids limit ${cg.pids.limit ?? 'max'} (pids.events max); ${cg.pids.current ?? '?'} of ${cg.pids.limit ?? 'max'} in use (pids.current)`);
  } else if (last && last.pids.maxHits > 0) {
    out.push(`fork refused ${last.pids.maxHits} time${last.pids.maxHits === 1 ? '' : 's'} at the pids limit ${last.pids.limit ?? 'max'} (pids.events max, at exit)`);
  }
  if (cg.present && cg.memory.limit && cg.memory.usage !== null && cg.memory.usage / cg.memory.limit > 0.9 && kills === 0) {
    out.push(`memory at ${Math.round((cg.memory.usage / cg.memory.limit) * 100)}% of its limit: ${mib(cg.memory.usage)} of ${mib(cg.memory.limit)} (${v1 ? 'memory.usage_in_bytes' : 'memory.current'})`);
  }
  for (const [res, p10] of Object.entries(cg.pressure ?? {})) {
    const some = p10.some?.avg10 ?? 0;
    if (some >= 10) out.push(`${res} pressure: tasks stalled ${some}% of the last 10 s (${res}.pressure some avg10)`);
  }
  for (const x of p.network?.ports ?? []) {
    const missing = x.rules.filter((r) => !r.installed);
    if (missing.length) out.push(`published port ${x.hostIp}:${x.hostPort} -> ${x.container}: ${missing.length} of its NAT rules missing from iptables-save -t nat (${missing[0]!.rule})`);
  }
  if (p.exit && !p.process) {
    const sig = p.exit.code > 128 ? ` (signal ${p.exit.code - 128}${p.exit.code === 137 ? ', SIGKILL' : p.exit.code === 143 ? ', SIGTERM' : ''})` : '';
    if (p.exit.code !== 0 || p.exit.oomKilled) out.push(`exited with ${p.exit.code}${sig} ${ago(now - Date.parse(p.exit.finishedAt))}${p.exit.error ? `: ${p.exit.error}` : ''}`);
  }
  return out;
}
