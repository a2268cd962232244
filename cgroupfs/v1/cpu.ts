import { nanoCpusToQuota } from '../convert.js';
import type { CgroupWrite, Resources } from '../types.js';

export const SHARES = 'cpu.shares';
export const CFS_PERIOD = 'cpu.cfs_period_us';
export const CFS_QUOTA = 'cpu.cfs_quota_us';
export const STAT = 'cpu.stat';
export const RT_PERIOD = 'cpu.rt_period_us';
export const RT_RUNTIME = 'cpu.rt_runtime_us';
export const ACCT_USAGE = 'cpuacct.usage';
export const ACCT_PERCPU = 'cpuacct.usage_percpu';
export const ACCT_STAT = 'cpuacct.stat';

const c = 'cpu';

export function plan(res: Resources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (res.cpuShares !== undefined && res.cpuShares > 0) {
    out.push({ controller: c, file: SHARES, value: String(res.cpuShares) });
  }
  let quota = res.cpuQuota;
  let period = res.cpuPeriod;
  if (res.nanoCpus !== undefined && res.nanoCpus > 0) {
    ({ quota, period } = nanoCpusToQuota(res.nanoCpus));
  } else if (res.nanoCpus === 0 && quota === undefined && period === undefined) {
    quota = -1; // NanoCpus 0 on update: lift the limit
  }
  // Lift the quota first so the kernel never sees an invalid quota/period pair mid-way.
  if (period !== undefined && period > 0) {
    out.push({ controller: c, file: CFS_QUOTA, value: '-1' });
    out.push({ controller: c, file: CFS_PERIOD, value: String(period) });
  }
  if (quota !== undefined) {
    out.push({ controller: c, file: CFS_QUOTA, value: quota > 0 ? String(quota) : '-1' });
  }
  // runc's order: the period, then the runtime within it
  const rtMissing = 'the kernel has no real-time group scheduling (cpu.rt_runtime_us)';
  if (res.cpuRealtimePeriod) out.push({ controller: c, file: RT_PERIOD, value: String(res.cpuRealtimePeriod), unsupported: rtMissing });
  if (res.cpuRealtimeRuntime) out.push({ controller: c, file: RT_RUNTIME, value: String(res.cpuRealtimeRuntime), unsupported: rtMissing });
  return out;
}
