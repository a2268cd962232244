import { invalidParameter, notImplemented } from '../../errors/index.js';
import { swapV2 } from '../convert.js';
import type { CgroupWrite, Resources } from '../types.js';

export const MAX = 'memory.max';
export const LOW = 'memory.low';
export const SWAP_MAX = 'memory.swap.max';
export const CURRENT = 'memory.current';
export const STAT = 'memory.stat';
export const EVENTS = 'memory.events';

export const HIGH = 'memory.high';
export const PRESSURE = 'memory.pressure';

/** What the cgroup enforces now: memory.max and memory.swap.max (null = max). */
export interface MemoryNow { memory?: number; swap?: number | null }

/**
 * memory.max, memory.low (reservation), memory.swap.max (swap alone: MemorySwap - Memory).
 * `current` is what is in force: when only the swap changes it is computed against the
 * memory limit in force, and when only the memory limit changes the swap follows so
 * that Docker's MemorySwap (memory + swap, what v1 keeps in memsw) stays the same.
 */
export function plan(res: Resources, current?: MemoryNow): CgroupWrite[] {
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
  } else if (res.memory !== undefined && res.memory > 0 && current?.memory !== undefined && current.memory > 0
    && current.swap !== undefined && current.swap !== null) {
    const total = current.memory + current.swap;
    if (res.memory > total) {
      throw invalidParameter('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
    out.push({ file: SWAP_MAX, value: String(total - res.memory), optional: true });
  }
  if (res.memoryReservation !== undefined) {
    out.push({ file: LOW, value: String(Math.max(0, res.memoryReservation)) });
  }
  return out;
}
