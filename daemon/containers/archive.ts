// docker cp: a container's filesystem as dockerd shows it to GET/HEAD/PUT
// /containers/{id}/archive, reached only through file descriptors.
//
// Running: the root of the container's own mount namespace (/proc/<pid>/root,
// opened between a pidfd and a liveness check), so its volumes, binds and tmpfs
// are there as it sees them. Stopped: the overlay rootfs with the container's
// volumes, binds and /etc files bound onto it by fd (open_tree + move_mount,
// private), torn down after the copy, as dockerd's openContainerFS does.
// Either way every lookup is an openat2 RESOLVE_IN_ROOT from that root
// (rootfs/): a container swapping a directory for a symlink to the host's /etc
// mid-copy (CVE-2018-15664) only ever redirects the copy inside itself.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { notFound, invalidParameter, DaemonError } from '../../errors/index.js';
import { LinuxSyscalls, type Syscalls } from '../../sys/index.js';
import { fsat as F } from '../../sys/index.js';
import { Root, Dir, errnoOf, type FileStat } from '../../rootfs/index.js';
import { applyLayer, packStream } from '../../image/index.js';
import { packTree } from '../../image/index.js';

/** A mount of the container as docker cp sees it. */
export interface CopyMount {
  type: 'volume' | 'bind' | 'tmpfs' | 'etc';
  /** host path (volume data dir, bind source, etc file); '' for tmpfs */
  source: string;
  destination: string;
  rw: boolean;
}

/** Filesystems of the runtime's own mounts, never archived (dockerd's view has the image's empty dirs there). */
const RUNTIME_FS = new Set([F.PROC_SUPER_MAGIC, F.SYSFS_MAGIC, 0x27e0eb /* cgroup */, 0x63677270 /* cgroup2 */, 0x1cd1 /* devpts */, 0x19800202 /* mqueue */]);

/** The container's filesystem for one copy; close() releases it (and unmounts what was mounted for it). */
export class ContainerFs {
  constructor(readonly root: Root, readonly mounts: CopyMount[], readonly live: boolean, private readonly teardown: () => void = () => {}) {}
  private closed = false;
  /** The user mount a (lexically clean) container path falls in, deepest first. */
  mountOf(p: string): CopyMount | null {
    let best: CopyMount | null = null;
    for (const m of this.mounts) {
      if ((p === m.destination || p.startsWith(m.destination === '/' ? '/' : m.destination + '/')) && (!best || m.destination.length > best.destination.length)) best = m;
    }
    return best;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.root.close();
    } finally {
      this.teardown();
    }
  }
}

/** Field 22 of /proc/<pid>/stat (the start time), or '' when gone. */
function startTimeOf(pid: number): string {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/**
 * A running container: the root of its init's mount namespace. The pid must
 * still be the container's PID 1: `stillOurs` (the daemon's own record) and its
 * start time `pidStart`, both checked after the open while a pidfd pins the
 * process, so a pid recycled in between is refused, never followed.
 */
export function openLiveFs(pid: number, pidStart: string, stillOurs: () => boolean, mounts: CopyMount[]): ContainerFs {
  return new ContainerFs(Root.ofProcess(pid, () => stillOurs() && (!pidStart || startTimeOf(pid) === pidStart)), mounts, true);
}

/**
 * A stopped container whose overlay is mounted at `target` (a path of the
 * daemon's): its volumes, binds and etc files are bound onto it by fd, read-only
 * where the container has them so, private, and all unmounted by close().
 */
export function openStoppedFs(target: string, mounts: CopyMount[], sys: Syscalls = new LinuxSyscalls()): ContainerFs {
  // nothing mounted for the copy may propagate to the overlay's peers
  sys.mount(null, target, null, 1 << 18 /* MS_PRIVATE */, null);
  const root = Root.open(target);
  const done: string[] = [];
  try {
    const order = [...mounts].filter((m) => m.type !== 'tmpfs').sort((a, b) => a.destination.split('/').length - b.destination.split('/').length);
    for (const m of order) {
      let isDir: boolean;
      try {
        isDir = fs.statSync(m.source).isDirectory();
      } catch {
        continue; // a bind source that is gone: dockerd's copy fails later at that path too
      }
      const targetFd = isDir ? root.mkdirAll(m.destination) : fileTarget(root, m.destination);
      try {
        const mfd = F.openTree(F.AT_FDCWD, m.source, true);
        try {
          F.moveMount(mfd, targetFd);
          F.mountSetattr(mfd, 0, 0, 1 << 18 /* MS_PRIVATE */, true);
          if (!m.rw) F.mountSetattr(mfd, F.MOUNT_ATTR_RDONLY, 0, 0, true);
        } finally {
          F.close(mfd);
        }
      } finally {
        F.close(targetFd);
      }
      done.push(m.destination);
    }
  } catch (e) {
    root.close();
    throw e;
  }
  // the overlay's unmount (MNT_DETACH, by the caller) takes everything bound below it along
  return new ContainerFs(root, mounts, false);
}

/** An O_PATH fd of a file mount target, created empty if missing (never through a symlink at the last component). */
function fileTarget(root: Root, dest: string): number {
  try {
    return root.openFd(dest, F.O_PATH);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e;
  }
  const parent = root.mkdirAll(path.posix.dirname(dest));
  try {
    const fd = F.openat(parent, path.posix.basename(dest), F.O_WRONLY | F.O_CREAT | F.O_EXCL | F.O_NOFOLLOW, 0o644);
    F.close(fd);
    return F.openat(parent, path.posix.basename(dest), F.O_PATH | F.O_NOFOLLOW);
  } finally {
    F.close(parent);
  }
}

/** Go's os.FileMode bits, as Docker's X-Docker-Container-Path-Stat carries them. */
export function goFileMode(st: FileStat): number {
  let m = st.mode & 0o777;
  if (st.type === 'dir') m |= 2 ** 31;
  if (st.type === 'symlink') m |= 2 ** 27;
  if (st.type === 'block') m |= 2 ** 26;
  if (st.type === 'char') m |= 2 ** 26 | 2 ** 21;
  if (st.type === 'fifo') m |= 2 ** 25;
  if (st.type === 'socket') m |= 2 ** 24;
  if (st.mode & 0o4000) m |= 2 ** 23;
  if (st.mode & 0o2000) m |= 2 ** 22;
  if (st.mode & 0o1000) m |= 2 ** 20;
  return m >>> 0;
}

export interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

const noSuchPath = (p: string, id: string) => notFound(`Could not find the file ${p} in container ${id}`, 'TSD_ERR_NO_SUCH_PATH');

/** Docker's name for the copied resource: the base name, "." kept for "dir/." */
function baseName(p: string): string {
  if (p.endsWith('/.') || p === '.') return '.';
  const b = path.posix.basename(path.posix.normalize('/' + p));
  return b || '/';
}

/**
 * Resolves `p` (symlinks on the way followed inside the container, the last one
 * not) to an O_PATH fd, with its stat and Docker's PathStat. A path on one of
 * the runtime's filesystems (proc, sysfs, cgroup, devpts, mqueue) is "not found",
 * as dockerd's view shows the image's empty directories there.
 */
export function statPath(cfs: ContainerFs, p: string, containerId: string): { fd: number; st: FileStat; stat: PathStat } {
  // "dir/" and "dir/." follow a final symlink (lstat of a trailing slash does)
  const follow = p.endsWith('/') || p.endsWith('/.');
  let fd: number;
  try {
    fd = cfs.root.openFd(p, F.O_PATH, { follow });
  } catch (e) {
    const c = errnoOf(e);
    if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP' || c === 'EXDEV') throw noSuchPath(p, containerId);
    throw e;
  }
  try {
    if (RUNTIME_FS.has(F.fstatfsType(fd))) throw noSuchPath(p, containerId);
    const st = F.fstat(fd);
    const linkTarget = st.type === 'symlink' ? cfs.root.resolvedPath(p, true) : '';
    const stat = { name: baseName(p), size: st.size, mode: goFileMode(st), mtime: new Date(Number(st.mtimeNs / 1_000_000n)).toISOString(), linkTarget };
    return { fd, st, stat };
  } catch (e) {
    F.close(fd);
    throw e;
  }
}

/** HEAD: Docker's PathStat of `p`. */
export function pathStat(cfs: ContainerFs, p: string, containerId: string): PathStat {
  const r = statPath(cfs, p, containerId);
  F.close(r.fd);
  return r.stat;
}

/**
 * GET: a tar of `p` named by its base name (a directory with its content;
 * symlinks kept as links), read through fds only. The tar's errors end the
 * returned stream (the request that reads it owns them).
 */
export function archivePath(cfs: ContainerFs, p: string, containerId: string): { stat: PathStat; tar: Readable } {
  const { fd, st, stat } = statPath(cfs, p, containerId);
  const prefix = stat.name === '/' ? '.' : stat.name;
  const top = cfs.root.resolvedPath(p, true);
  let dir: Dir | null = null;
  let held: number | null = fd;
  const tar = packStream(async (w) => {
    const mtime = new Date(Number(st.mtimeNs / 1_000_000n));
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime };
    switch (st.type) {
      case 'dir': {
        dir = new Dir(F.openat(fd, '.', F.O_RDONLY | F.O_DIRECTORY));
        await w.add({ ...base, name: prefix + '/', type: 'directory' });
        await packTree(w, dir, prefix, {
          xattrs: false,
          // inside a running container: its volumes, binds and tmpfs, never the runtime's /proc, /sys, /dev
          enterMount: (e) => !!cfs.mountOf(path.posix.join(top, e.rel)),
        });
        return;
      }
      case 'symlink':
        await w.add({ ...base, name: prefix, type: 'symlink', linkname: F.readlinkat(fd, '') });
        return;
      case 'file': {
        const rfd = F.reopen(fd, F.O_RDONLY | F.O_NONBLOCK);
        try {
          await w.addFd({ ...base, name: prefix, type: 'file', size: st.size }, rfd);
        } finally {
          F.close(rfd);
        }
        return;
      }
      case 'char':
      case 'block':
        await w.add({ ...base, name: prefix, type: st.type === 'char' ? 'character-device' : 'block-device', devmajor: st.rdevMajor, devminor: st.rdevMinor });
        return;
      case 'fifo':
        await w.add({ ...base, name: prefix, type: 'fifo' });
        return;
      default:
        return;
    }
  }, () => {
    (dir as Dir | null)?.close();
    if (held !== null) F.close(held);
    held = null;
  });
  return { stat, tar };
}

export interface ExtractOptions {
  containerId: string;
  readonlyRootfs: boolean;
  noOverwriteDirNonDir: boolean;
  sys?: Syscalls;
}

/**
 * PUT: extracts a tar into the directory `p` of the container (symlinks followed
 * inside it), refusing a read-only rootfs or volume as dockerd does.
 */
export async function extractToDir(cfs: ContainerFs, p: string, input: Readable, o: ExtractOptions): Promise<void> {
  const { fd, st } = statPath(cfs, p.endsWith('/') ? p : p + '/', o.containerId);
  F.close(fd);
  if (st.type !== 'dir') throw invalidParameter('extraction point is not a directory');
  const resolved = cfs.root.resolvedPath(p, true);
  const m = cfs.mountOf(resolved);
  if (m && !m.rw) throw new DaemonError('invalid-parameter', 'TSD_ERR_READONLY', 'mounted volume is marked read-only');
  if (!m && o.readonlyRootfs) throw new DaemonError('invalid-parameter', 'TSD_ERR_READONLY', 'container rootfs is marked read-only');
  try {
    await applyLayer(input, cfs.root, o.sys ?? new LinuxSyscalls(), { whiteouts: 'keep', base: resolved, noOverwriteDirNonDir: o.noOverwriteDirNonDir });
  } catch (e) {
    if (errnoOf(e) === 'EROFS') throw new DaemonError('invalid-parameter', 'TSD_ERR_READONLY', m ? 'mounted volume is marked read-only' : 'container rootfs is marked read-only');
    throw e;
  }
}

