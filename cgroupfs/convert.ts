// Named conversions between Docker/v1 semantics and cgroup v2 files
// (crun cgroup-resources.c: convert_shares_to_weight, write_memory_swap).
import { invalidParameter } from '../errors/index.js';

/** v1 cpu.shares (2..262144) → v2 cpu.weight (1..10000). 0 means unset → 0. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** v1 blkio weight (10..1000) → v2 io.weight (1..10000). */
export function blkioWeightToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** A limit where -1 (or any negative) means unlimited: v2 spells it "max". */
export function limitToV2(n: number): string {
  return n < 0 ? 'max' : String(n);
}

/** v1 spells unlimited as -1. */
export function limitToV1(n: number): string {
  return n < 0 ? '-1' : String(n);
}

/** "max" or a number → number | null (null = unlimited). Huge v1 "unlimited" values also become null. */
export function parseLimit(s: string): number | null {
  const t = s.trim();
  if (t === 'max' || t === '' || t === '-1') return null;
  const n = Number(t);
  if (!Number.isFinite(n)) return null;
  // v1 reports "unlimited" as PAGE_COUNTER_MAX * page size (≈ 2^63).
  if (n >= 2 ** 62) return null;
  return n;
}

/**
 * v1 memory.memsw.limit_in_bytes is memory + swap: Docker's MemorySwap as is
 * (-1 → -1, unlimited).
 */
export function memswV1(memorySwap: number): string {
  return limitToV1(memorySwap);
}

/**
 * v2 memory.swap.max is swap alone: MemorySwap - Memory. -1 → "max".
 * Rejects swap below the memory limit (Docker's message).
 */
export function swapV2(memory: number, memorySwap: number): string {
  if (memorySwap < 0) return 'max';
  if (memory <= 0) {
    // swap set without a memory limit: nothing sensible to subtract; Docker refuses on create.
    throw invalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (memorySwap < memory) {
    throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  return String(memorySwap - memory);
}

/** nanoCpus → [quota µs, period µs] with Docker's 100 ms period. */
export function nanoCpusToQuota(nanoCpus: number): { quota: number; period: number } {
  const period = 100000;
  return { quota: Math.floor((nanoCpus * period) / 1e9), period };
}

/** v2 cpu.max "quota period"; quota ≤ 0 → "max". */
export function cpuMax(quota: number | undefined, period: number | undefined): string {
  const q = quota === undefined || quota <= 0 ? 'max' : String(quota);
  return period === undefined || period <= 0 ? q : `${q} ${period}`;
}
