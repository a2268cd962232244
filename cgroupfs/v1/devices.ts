import { DEFAULT_ALLOWED_DEVICES, formatDeviceRule } from '../devices.js';
import type { CgroupWrite, Resources } from '../types.js';

export const DENY = 'devices.deny';
export const ALLOW = 'devices.allow';
export const LIST = 'devices.list';

/** deny everything, then allow Docker's defaults, then the container's own rules in order. */
export function plan(res: Resources): CgroupWrite[] {
  if (res.devices === undefined) return [];
  const out: CgroupWrite[] = [{ controller: 'devices', file: DENY, value: 'a' }];
  for (const r of [...DEFAULT_ALLOWED_DEVICES, ...res.devices]) {
    out.push({ controller: 'devices', file: r.allow ? ALLOW : DENY, value: formatDeviceRule(r) });
  }
  return out;
}
