// rm -rf of a data-root directory whose content containers wrote (a container's
// dir with its upper dir and rootfs mount point, a volume), through fds: every
// entry unlinked relative to its directory's fd, nothing followed, and never a
// step into another mount. A bind or overlay still mounted below (an unmount
// that failed, a copy's binds) is left in place and reported, never emptied: a
// recursive rmSync descends into whatever is mounted there, host directories
// included.
import path from 'node:path';
import { fsat as F } from '../sys/index.js';
import { Dir } from './root.js';

/**
 * Removes `hostPath` (a path of the daemon's own) and everything below it on
 * the same mount. Returns the mount points found below it, left in place (with
 * the directories that hold them); [] when everything went. Missing: nothing to do.
 */
export function removeTree(hostPath: string): string[] {
  let parent: number;
  try {
    parent = F.openat(F.AT_FDCWD, path.dirname(hostPath), F.O_PATH | F.O_DIRECTORY);
  } catch (e) {
    if (F.codeOf(e) === 'ENOENT') return [];
    throw e;
  }
  try {
    const top = statOrNull(parent, path.basename(hostPath));
    if (!top) return [];
    const kept: string[] = [];
    removeAt(parent, path.basename(hostPath), hostPath, F.fstat(parent).mntId, kept, true);
    return kept;
  } finally {
    F.close(parent);
  }
}

function statOrNull(dirfd: number, name: string): F.FileStat | null {
  try {
    return F.statx(dirfd, name, F.AT_SYMLINK_NOFOLLOW);
  } catch (e) {
    if (F.codeOf(e) === 'ENOENT') return null;
    throw e;
  }
}

/** false when something was kept below `name` (so it stays too). */
function removeAt(dirfd: number, name: string, shown: string, mnt: bigint, kept: string[], top = false): boolean {
  const st = statOrNull(dirfd, name);
  if (!st) return true;
  // the top may be a mount of its own (a volume's data dir never is; a tmpfs data root could be)
  if (!top && st.mntId !== mnt) {
    kept.push(shown);
    return false;
  }
  if (st.type !== 'dir') {
    F.unlinkat(dirfd, name, 0);
    return true;
  }
  const sub = new Dir(F.openat(dirfd, name, F.O_RDONLY | F.O_DIRECTORY | F.O_NOFOLLOW));
  let all = true;
  try {
    const here = top ? F.fstat(sub.fd).mntId : mnt;
    for (const n of sub.names()) all = removeAt(sub.fd, n, `${shown}/${n}`, here, kept) && all;
  } finally {
    sub.close();
  }
  if (all) F.unlinkat(dirfd, name, F.AT_REMOVEDIR);
  return all;
}
