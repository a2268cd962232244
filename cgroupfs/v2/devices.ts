import { notImplemented } from '../../errors/index.js';
import type { CgroupWrite, Resources } from '../types.js';

/**
 * v2 device control needs an eBPF program attached to the cgroup, which tsd does
 * not build. Extra rules are refused rather than half-applied; the default set
 * (no rules) is accepted unenforced.
 */
export function plan(res: Resources): CgroupWrite[] {
  // Allowing everything (privileged) needs no program: accepted.
  const rules = (res.devices ?? []).filter((r) => !(r.allow && r.type === 'a'));
  if (rules.length > 0) {
    throw notImplemented('device cgroup rules are not supported on cgroup v2 by tsd', 'TSD_ERR_CGROUP_UNSUPPORTED');
  }
  return [];
}
