import type { CgroupWrite, Resources } from '../types.js';

export const CPUS = 'cpuset.cpus';
export const MEMS = 'cpuset.mems';

const c = 'cpuset';

export function plan(res: Resources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (res.cpusetCpus) out.push({ controller: c, file: CPUS, value: res.cpusetCpus });
  if (res.cpusetMems) out.push({ controller: c, file: MEMS, value: res.cpusetMems });
  return out;
}
