import { invalidParameter } from '../../errors/index.js';
import { memswV1 } from '../convert.js';
import type { CgroupWrite, Resources } from '../types.js';

export const LIMIT = 'memory.limit_in_bytes';
export const SOFT_LIMIT = 'memory.soft_limit_in_bytes';
export const MEMSW_LIMIT = 'memory.memsw.limit_in_bytes';
export const SWAPPINESS = 'memory.swappiness';
export const OOM_CONTROL = 'memory.oom_control';
export const USAGE = 'memory.usage_in_bytes';
export const MAX_USAGE = 'memory.max_usage_in_bytes';
export const FAILCNT = 'memory.failcnt';
export const STAT = 'memory.stat';

const c = 'memory';

/**
 * memory.memsw.limit_in_bytes must stay ≥ memory.limit_in_bytes at every
 * instant, so when both change the swap limit is first lifted (-1), then the
 * memory limit written, then the final swap limit.
 */
export function plan(res: Resources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (res.memory !== undefined && res.memory > 0 && res.memorySwap !== undefined && res.memorySwap > 0 && res.memorySwap < res.memory) {
    throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  const swapSet = res.memorySwap !== undefined && res.memorySwap !== 0;
  if (res.memory !== undefined) {
    if (swapSet) {
      out.push({ controller: c, file: MEMSW_LIMIT, value: '-1', optional: true });
    }
    out.push({ controller: c, file: LIMIT, value: res.memory > 0 ? String(res.memory) : '-1' });
  }
  if (swapSet) {
    out.push({ controller: c, file: MEMSW_LIMIT, value: memswV1(res.memorySwap!), optional: true });
  }
  if (res.memoryReservation !== undefined) {
    out.push({ controller: c, file: SOFT_LIMIT, value: res.memoryReservation > 0 ? String(res.memoryReservation) : '-1' });
  }
  if (res.memorySwappiness !== undefined && res.memorySwappiness >= 0) {
    out.push({ controller: c, file: SWAPPINESS, value: String(res.memorySwappiness) });
  }
  if (res.oomKillDisable !== undefined) {
    out.push({
      controller: c,
      file: OOM_CONTROL,
      value: res.oomKillDisable ? '1' : '0',
      unsupported: 'OOM killer disabling is not supported by this kernel',
    });
  }
  return out;
}

