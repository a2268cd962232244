// Which v1 controllers a cgroup root mounts, and their distinct hierarchies
// (co-mounted controllers: cpu -> cpu,cpuacct resolve to one directory). A
// manager is made for every start, stage, exec and probe: this is read once
// per root and kept while the root directory stays as it was.
//
// What the answer depends on: the entries of <root> (a controller's directory,
// or a symlink to the directory of its co-mount), nothing below them (a
// hierarchy mounted on an existing directory changes neither its existence nor
// its real path). Adding, removing or re-pointing an entry changes the root
// directory's mtime and ctime, so the kept answer carries them and one stat of
// the root tells whether it still holds. The kernel stamps times from a coarse
// clock: a root changed within RACY_MS of the read could change again with the
// same stamp, so such a read is not kept (git's racily-clean rule).
import fs from 'node:fs';
import path from 'node:path';

export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'devices', 'freezer'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export interface V1Layout {
  /** controller → mount point (absolute, <root>/<controller>) */
  mounts: ReadonlyMap<V1Controller, string>;
  /** one entry per distinct hierarchy, in V1_CONTROLLERS order of its first controller */
  hierarchies: ReadonlyArray<{ controllers: readonly V1Controller[]; mount: string }>;
}

const RACY_MS = 2000;
const kept = new Map<string, { key: string; layout: V1Layout }>();

/** The root directory's stamp and when it last changed (null: it cannot be stat'ed; nothing is kept then). */
function stamp(root: string): { key: string; changedMs: number } | null {
  try {
    const st = fs.statSync(root, { bigint: true });
    const changed = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
    return { key: `${st.dev}:${st.ino}:${st.mtimeNs}:${st.ctimeNs}`, changedMs: Number(changed / 1_000_000n) };
  } catch {
    return null;
  }
}

function read(root: string): V1Layout {
  const mounts = new Map<V1Controller, string>();
  for (const c of V1_CONTROLLERS) {
    const m = path.join(root, c);
    if (fs.existsSync(m)) mounts.set(c, m);
  }
  const byReal = new Map<string, { controllers: V1Controller[]; mount: string }>();
  for (const [c, m] of mounts) {
    let real = m;
    try {
      real = fs.realpathSync(m);
    } catch {
      /* keep m */
    }
    const h = byReal.get(real);
    if (h) h.controllers.push(c);
    else byReal.set(real, { controllers: [c], mount: m });
  }
  return { mounts, hierarchies: [...byReal.values()] };
}

/** The layout of `root` as its entries are now (kept from an earlier read while the root is unchanged). */
export function v1Layout(root: string): V1Layout {
  const before = stamp(root);
  const k = kept.get(root);
  if (before && k && k.key === before.key) return k.layout;
  const layout = read(root);
  const after = stamp(root);
  // kept only when the read saw one unchanged root, changed last well before the read
  if (before && after && after.key === before.key && Date.now() - before.changedMs > RACY_MS) {
    if (kept.size >= 16) kept.clear();
    kept.set(root, { key: before.key, layout });
  } else {
    kept.delete(root);
  }
  return layout;
}
