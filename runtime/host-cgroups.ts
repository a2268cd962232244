// The host's cgroup hierarchies under /sys/fs/cgroup (and its symlinks: cpu ->
// cpu,cpuacct), as a container's /sys/fs/cgroup is made of them: the create
// plan's o.cgh and o.cgl records. They come from /proc/self/mountinfo, which
// every container's mounts make longer; read on every start, they are now kept
// and read again when what they depend on changes:
//   - the entries of the base directory (a hierarchy's directory, a symlink):
//     adding, removing or re-pointing one changes the base's mtime and ctime;
//   - what is mounted on each directory entry (a hierarchy mounted, unmounted,
//     mounted again with other controllers): the entry's st_dev, the mount's
//     superblock, changes;
//   - what is mounted on the base itself (cgroup2 there: the unified layout):
//     the base's st_dev changes.
// So one stat of the base and one of each directory in it tell whether the kept
// answer holds. The kernel stamps times from a coarse clock: a base changed
// within RACY_MS of the read could change again with the same stamp, so such a
// read is not kept (git's racily-clean rule).
import fs from 'node:fs';
import path from 'node:path';
import { cgroupHierarchies } from './init/steps/rootfs.js';

export interface HostCgroups {
  hierarchies: ReadonlyArray<Readonly<ReturnType<typeof cgroupHierarchies>[number]>>;
  /** the base's symlinks (none in the unified layout, or without hierarchies) */
  links: ReadonlyArray<Readonly<{ name: string; target: string }>>;
}

const RACY_MS = 2000;

interface Stamp { base: string; key: string; changedMs: number; dirs: string[] }
let kept: { stamp: Stamp; devs: string; value: HostCgroups } | null = null;

function baseStamp(base: string): Omit<Stamp, 'dirs'> | null {
  try {
    const st = fs.statSync(base, { bigint: true });
    const changed = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
    return { base, key: `${st.dev}:${st.ino}:${st.mtimeNs}:${st.ctimeNs}`, changedMs: Number(changed / 1_000_000n) };
  } catch {
    return null;
  }
}

/** The devices of `dirs` in `base`, one string (null: one is gone). */
function devsOf(base: string, dirs: string[]): string | null {
  try {
    return dirs.map((d) => String(fs.statSync(path.join(base, d)).dev)).join(',');
  } catch {
    return null;
  }
}

function read(base: string): HostCgroups {
  const hierarchies = cgroupHierarchies(base).map((h) => Object.freeze(h));
  const links: Array<{ name: string; target: string }> = [];
  if (hierarchies.length && !(hierarchies.length === 1 && hierarchies[0]!.name === '')) {
    for (const e of fs.readdirSync(base, { withFileTypes: true })) {
      if (e.isSymbolicLink()) links.push(Object.freeze({ name: e.name, target: fs.readlinkSync(path.join(base, e.name)) }));
    }
  }
  return Object.freeze({ hierarchies: Object.freeze(hierarchies), links: Object.freeze(links) });
}

/** The hierarchies mounted in `base` and its symlinks, as they are now (kept from an earlier read while nothing changed). */
export function hostCgroups(base = '/sys/fs/cgroup'): HostCgroups {
  const b = baseStamp(base);
  if (b && kept && kept.stamp.base === base && kept.stamp.key === b.key && devsOf(base, kept.stamp.dirs) === kept.devs) return kept.value;
  kept = null;
  let dirs: string[] = [];
  try {
    dirs = fs.readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch { /* no base: nothing kept */ }
  // the devices before and after the read: a mount between them would leave a kept answer that no stamp contradicts
  const devs = devsOf(base, dirs);
  const value = read(base);
  const after = baseStamp(base);
  if (b && after && after.key === b.key && devs !== null && devsOf(base, dirs) === devs && Date.now() - b.changedMs > RACY_MS) {
    kept = { stamp: { ...b, dirs }, devs, value };
  }
  return value;
}
