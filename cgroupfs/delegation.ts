// Running under systemd with Delegate=yes (systemd/tsd.service) on cgroup v2:
// systemd hands the unit's cgroup (e.g. /system.slice/tsd.service) to the
// daemon, and only that subtree is the daemon's to write. A cgroup that holds
// processes cannot have children with controllers (the "no internal processes"
// rule), so, as systemd's delegation document asks, the daemon moves itself into
// a child of its own (`tsd`) and its containers and staging cgroups become that
// child's siblings. Outside a delegated cgroup (a shell, a test) nothing changes.
import fs from 'node:fs';
import path from 'node:path';
import { LinuxSyscalls } from '../sys/index.js';
import { writeError } from './write.js';

/** The child the daemon moves itself into. */
export const DAEMON_CHILD = 'tsd';

/** The v2 cgroup of this process from /proc/self/cgroup text ("0::/system.slice/tsd.service"), or null. */
export function ownCgroupV2(procSelfCgroup: string): string | null {
  const line = procSelfCgroup.split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3).trim() || '/' : null;
}

/**
 * Has systemd delegated `dir` to us? systemd (251+) marks a delegated cgroup with
 * the xattr trusted.delegate=1 (user.delegate for user managers); older ones do
 * not, so a service started by systemd (INVOCATION_ID) in a `.service` cgroup counts too.
 */
export function isDelegated(dir: string, env: NodeJS.ProcessEnv = process.env, getxattr = defaultGetxattr): boolean {
  for (const name of ['trusted.delegate', 'user.delegate']) {
    if (getxattr(dir, name)?.toString().trim() === '1') return true;
  }
  return !!env.INVOCATION_ID && dir.endsWith('.service');
}

function defaultGetxattr(p: string, name: string): Buffer | null {
  try {
    return new LinuxSyscalls().lgetxattr(p, name);
  } catch {
    return null;
  }
}

export interface DelegatedLayout {
  /** containers' parent (relative to the root): the delegated cgroup itself */
  parent: string;
  /** where the daemon now lives (relative to the root) */
  daemon: string;
}

/**
 * Pure: the layout for a daemon in `own` (its v2 cgroup path, "/a/b"), or null
 * when it stays as configured (the root cgroup, or already in our own child).
 */
export function delegatedLayout(own: string): DelegatedLayout | null {
  const rel = own.replace(/^\/+/, '');
  if (rel === '') return null;
  // restarted in place (e.g. exec'd again): we are already in <delegated>/tsd
  if (path.posix.basename(rel) === DAEMON_CHILD) {
    const parent = path.posix.dirname(rel);
    return parent === '.' ? null : { parent, daemon: rel };
  }
  return { parent: rel, daemon: `${rel}/${DAEMON_CHILD}` };
}

/**
 * At boot on v2: if this daemon runs in a cgroup systemd delegated to it, move it
 * into `<delegated>/tsd` and return the layout (the caller then uses `parent` as
 * the cgroup parent of containers); null when not delegated (nothing changed).
 */
export function enterDelegatedSubtree(root = '/sys/fs/cgroup', procSelfCgroup = readSelfCgroup(), env: NodeJS.ProcessEnv = process.env): DelegatedLayout | null {
  const own = ownCgroupV2(procSelfCgroup);
  if (own === null) return null;
  const layout = delegatedLayout(own);
  if (!layout) return null;
  if (!isDelegated(path.join(root, layout.parent), env)) return null;
  const dir = path.join(root, layout.daemon);
  if (path.posix.join('/', layout.daemon) !== own) {
    try { fs.mkdirSync(dir); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
    const procs = path.join(dir, 'cgroup.procs');
    try {
      fs.writeFileSync(procs, String(process.pid));
    } catch (e) {
      throw writeError(procs, String(process.pid), e);
    }
  }
  return layout;
}

function readSelfCgroup(): string {
  try {
    return fs.readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return '';
  }
}
