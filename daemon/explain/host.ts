// The few ways the primitives reader looks at the host: files under /proc,
// /sys and the cgroup mount, symlinks (namespace inodes) and directory
// listings. Behind one small interface so tests can point it at a fixture tree.
import fs from 'node:fs';
import path from 'node:path';

export interface HostView {
  /** /proc */
  readonly proc: string;
  /** /sys/fs/cgroup */
  readonly cgroupRoot: string;
  /** /sys */
  readonly sys: string;
  /** a file's text, or null when it cannot be read (gone, no permission, not this kernel) */
  read(p: string): string | null;
  readlink(p: string): string | null;
  list(p: string): string[];
}

export function hostView(roots: { proc?: string; cgroupRoot?: string; sys?: string } = {}): HostView {
  return {
    proc: roots.proc ?? '/proc',
    cgroupRoot: roots.cgroupRoot ?? '/sys/fs/cgroup',
    sys: roots.sys ?? '/sys',
    read: (p) => { try { return fs.readFileSync(p, 'utf8'); } catch { return null; } },
    readlink: (p) => { try { return fs.readlinkSync(p); } catch { return null; } },
    list: (p) => { try { return fs.readdirSync(p); } catch { return []; } },
  };
}

export const join = path.join;
