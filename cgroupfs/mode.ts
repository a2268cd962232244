// Mode detection (youki get_cgroup_setup_with_root, crun CGROUP_MODE_*):
// statfs the root; cgroup2 there → unified; tmpfs with a cgroup2 at ./unified → hybrid;
// otherwise legacy. The statfs function is injectable for tests.
import fs from 'node:fs';
import path from 'node:path';
import type { CgroupMode, CgroupVersion } from './types.js';

export const CGROUP2_SUPER_MAGIC = 0x63677270;
export const TMPFS_MAGIC = 0x01021994;

export type StatfsType = (p: string) => number | undefined;

const realStatfs: StatfsType = (p) => {
  try {
    return Number(fs.statfsSync(p).type);
  } catch {
    return undefined;
  }
};

export function detectCgroupMode(root = '/sys/fs/cgroup', statfs: StatfsType = realStatfs): CgroupMode {
  const t = statfs(root);
  if (t === CGROUP2_SUPER_MAGIC) return 'unified';
  if (statfs(path.join(root, 'unified')) === CGROUP2_SUPER_MAGIC) return 'hybrid';
  return 'legacy';
}

/** hybrid is driven as v1 for every controller. */
export const versionOf = (mode: CgroupMode): CgroupVersion => (mode === 'unified' ? 'v2' : 'v1');
