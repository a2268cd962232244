import type { CgroupWrite, Resources } from '../types.js';

export const MAX = 'pids.max';
export const CURRENT = 'pids.current';

export function plan(res: Resources): CgroupWrite[] {
  if (res.pidsLimit === undefined) return [];
  return [{ file: MAX, value: res.pidsLimit > 0 ? String(res.pidsLimit) : 'max' }];
}
