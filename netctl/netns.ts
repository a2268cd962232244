// netns files: <execRoot>/netns is a private bind mount of itself (so the
// nsfs mounts on its files don't propagate into other mount namespaces), and
// each <id> file in it is a bind mount of a container's network namespace.
import fs from 'node:fs';
import path from 'node:path';
import { MNT_DETACH, MS_BIND, MS_PRIVATE, type Syscalls } from '../sys/index.js';

/** True if `p` is a mount point (its device differs from its parent's, or it is listed in mountinfo). */
export function isMountPoint(p: string): boolean {
  const abs = path.resolve(p);
  try {
    const info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    return info.split('\n').some((l) => l.split(' ')[4] === abs.replace(/ /g, '\\040'));
  } catch {
    return false;
  }
}

/** A netns file is live when it is a bind mount of an nsfs inode (different st_dev from its directory). */
export function isBoundNetns(file: string): boolean {
  try {
    return fs.statSync(file).dev !== fs.statSync(path.dirname(file)).dev;
  } catch {
    return false;
  }
}

export function ensureNetnsDir(sys: Syscalls, dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  if (isMountPoint(dir)) return;
  sys.mount(dir, dir, null, MS_BIND);
  sys.mount(null, dir, null, MS_PRIVATE);
}

export function removeNetnsDir(sys: Syscalls, dir: string): void {
  if (isMountPoint(dir)) {
    try {
      sys.umount2(dir, MNT_DETACH);
    } catch {
      /* already gone */
    }
  }
  try {
    fs.rmdirSync(dir);
  } catch {
    /* not empty or missing: leave it */
  }
}

/** Unmount (lazily: a process may still hold it) and unlink a netns file. Idempotent. */
export function removeNetnsFile(sys: Syscalls, file: string): void {
  for (let i = 0; i < 4 && isBoundNetns(file); i++) {
    try {
      sys.umount2(file, MNT_DETACH);
    } catch {
      break;
    }
  }
  try {
    fs.unlinkSync(file);
  } catch {
    /* missing */
  }
}
