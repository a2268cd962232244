import { notImplemented } from '../../errors/index.js';
import { swapV2 } from '../convert.js';
import type { CgroupWrite, Resources } from '../types.js';

export const MAX = 'memory.max';
export const LOW = 'memory.low';
export const SWAP_MAX = 'memory.swap.max';
export const CURRENT = 'memory.current';
export const STAT = 'memory.stat';
export const EVENTS = 'memory.events';

/**
 * memory.max, memory.low (reservation), memory.swap.max (swap alone: MemorySwap - Memory).
 * `current` is the memory limit in force, used when only the swap changes.
 */
export function plan(res: Resources, current?: { memory?: number }): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (res.oomKillDisable) {
    throw notImplemented('OOM killer disabling is not supported on cgroup v2', 'TSD_ERR_CGROUP_UNSUPPORTED');
  }
  if (res.memory !== undefined) {
    out.push({ file: MAX, value: res.memory > 0 ? String(res.memory) : 'max' });
  }
  if (res.memorySwap !== undefined && res.memorySwap !== 0) {
    const memory = res.memory ?? current?.memory ?? 0;
    out.push({ file: SWAP_MAX, value: swapV2(memory, res.memorySwap), optional: true });
  }
  if (res.memoryReservation !== undefined) {
    out.push({ file: LOW, value: String(Math.max(0, res.memoryReservation)) });
  }
  return out;
}
