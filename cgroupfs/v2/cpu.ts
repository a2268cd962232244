import { cpuMax, nanoCpusToQuota, sharesToWeight } from '../convert.js';
import type { CgroupWrite, Resources } from '../types.js';

export const WEIGHT = 'cpu.weight';
export const MAX = 'cpu.max';
export const STAT = 'cpu.stat';
export const PRESSURE = 'cpu.pressure';

export function plan(res: Resources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (res.cpuShares !== undefined && res.cpuShares > 0) {
    out.push({ file: WEIGHT, value: String(sharesToWeight(res.cpuShares)) });
  }
  if (res.nanoCpus !== undefined && res.nanoCpus > 0) {
    const { quota, period } = nanoCpusToQuota(res.nanoCpus);
    out.push({ file: MAX, value: cpuMax(quota, period) });
  } else if (res.cpuQuota !== undefined || res.cpuPeriod !== undefined) {
    out.push({ file: MAX, value: cpuMax(res.cpuQuota, res.cpuPeriod ?? 100000) });
  } else if (res.nanoCpus === 0) {
    out.push({ file: MAX, value: cpuMax(undefined, 100000) });
  }
  return out;
}
