// Root filesystem steps: private propagation, the rootfs bind, the mount list,
// pivot_root with the old root detached, and the read-only remount.
//
// Every destination is resolved inside the rootfs through its fd (rootfs/:
// openat2 RESOLVE_IN_ROOT, missing directories made one component at a time)
// and every mount is made from and onto file descriptors (fsopen/fsmount,
// open_tree, move_mount, mount_setattr): no path string an image controls is
// ever handed to mount(2) to re-resolve (CVE-2021-30465: secureJoin's string
// raced by a second container; CVE-2025-31133: a /dev symlink turning the mask
// bind of ${rootfs}/dev/null into a read-write bind of a host file).
import fs from 'node:fs';
import path from 'node:path';
import * as K from '../../../sys/index.js';
import * as F from '../../../sys/fsat.js';
import { Root, errnoOf } from '../../../rootfs/index.js';
import { InitError } from '../context.js';
import type { InitContext } from '../context.js';
import type { MountOp } from '../../types.js';

const rootfs = (ctx: InitContext): string => {
  if (!ctx.plan.rootfs) throw new InitError('no rootfs in plan');
  return ctx.plan.rootfs;
};

const rootOf = (ctx: InitContext): Root => {
  if (!ctx.root) throw new InitError('the rootfs is not open');
  return ctx.root;
};

export function makePrivate(ctx: InitContext): void {
  ctx.sys.mount(null, '/', null, K.MS_REC | K.MS_PRIVATE, null);
}

/** The rootfs (a path of the daemon's data root: trusted) bound onto itself, then held by fd for every later step. */
export function bindRootfs(ctx: InitContext): void {
  const r = rootfs(ctx);
  ctx.sys.mount(r, r, null, K.MS_BIND | K.MS_REC, null);
  ctx.root = Root.open(r);
}

/**
 * The paths Docker's init layer makes (moby daemon/initlayer): whatever the image
 * has there, the container gets a real directory (or file). An image whose /dev is
 * a symlink gets a fresh directory and tmpfs, not a mount on the link's target.
 */
const INIT_LAYER_DIRS = new Set(['/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/proc', '/sys']);
const INIT_LAYER_FILES = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev/console']);

/** An O_PATH fd of the parent directory of `dest` (created if missing, symlinks followed inside the root). */
function parentFd(root: Root, dest: string): number {
  return root.mkdirAll(path.posix.dirname(dest));
}

/** Replaces a non-directory at (dirfd, name) by a directory; returns an O_PATH fd of it. */
function realDir(dirfd: number, name: string): number {
  let st: F.FileStat | null = null;
  try {
    st = F.statx(dirfd, name, F.AT_SYMLINK_NOFOLLOW);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e;
  }
  if (st && st.type !== 'dir') F.unlinkat(dirfd, name, 0);
  if (!st || st.type !== 'dir') F.mkdirat(dirfd, name, 0o755);
  return F.openat(dirfd, name, F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW);
}

/** Replaces anything but a regular file at (dirfd, name) by an empty file; returns an O_PATH fd of it. */
export function fileAt(dirfd: number, name: string, mode = 0o644): number {
  let st: F.FileStat | null = null;
  try {
    st = F.statx(dirfd, name, F.AT_SYMLINK_NOFOLLOW);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e;
  }
  if (st?.type === 'dir') throw new InitError(`${name} is a directory, a file is mounted there`);
  if (st && st.type !== 'file') F.unlinkat(dirfd, name, 0);
  if (!st || st.type !== 'file') F.close(F.openat(dirfd, name, F.O_WRONLY | F.O_CREAT | F.O_EXCL | F.O_NOFOLLOW, mode));
  return F.openat(dirfd, name, F.O_PATH | F.O_NOFOLLOW);
}

/**
 * The mount target `dest` as an O_PATH fd: init-layer paths replaced by a real
 * directory or file, others resolved inside the root (symlinks included, as runc
 * does) and created as `kind` when missing.
 */
function target(root: Root, dest: string, kind: 'dir' | 'file' | 'none'): number {
  if (INIT_LAYER_DIRS.has(dest) || INIT_LAYER_FILES.has(dest)) {
    const p = parentFd(root, dest);
    try {
      return INIT_LAYER_DIRS.has(dest) ? realDir(p, path.posix.basename(dest)) : fileAt(p, path.posix.basename(dest));
    } finally {
      F.close(p);
    }
  }
  try {
    return root.openFd(dest, F.O_PATH);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT' || kind === 'none') throw e;
  }
  if (kind === 'dir') return root.mkdirAll(dest);
  const p = parentFd(root, dest);
  try {
    try {
      F.close(F.openat(p, path.posix.basename(dest), F.O_WRONLY | F.O_CREAT | F.O_EXCL | F.O_NOFOLLOW, 0o644));
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw e;
    }
    return root.openFd(dest, F.O_PATH);
  } finally {
    F.close(p);
  }
}

const PROPAGATION_TYPES = K.MS_PRIVATE | K.MS_SHARED | K.MS_SLAVE | K.MS_UNBINDABLE;

/** Mounts `op` onto `targetFd`; returns the mount's fd (the caller closes it). */
function mountOnto(ctx: InitContext, op: Extract<MountOp, { op: 'mount' }>, targetFd: number): number {
  let mfd: number;
  if (op.flags & K.MS_BIND) {
    // a host path the daemon chose (bind source, volume, /etc file, --init binary): trusted
    mfd = ctx.sys.openTree(F.AT_FDCWD, op.source!, (op.flags & K.MS_REC) !== 0);
    if (op.remount !== undefined) ctx.sys.mountSetattr(mfd, F.mountAttrs(op.remount), 0, 0, true);
  } else {
    mfd = ctx.sys.fsMount(op.fstype!, op.source ?? op.fstype!, op.data, F.mountAttrs(op.flags));
  }
  try {
    ctx.sys.moveMount(mfd, targetFd);
    if (op.propagation !== undefined && op.propagation & PROPAGATION_TYPES) {
      ctx.sys.mountSetattr(mfd, 0, 0, op.propagation & PROPAGATION_TYPES, (op.propagation & K.MS_REC) !== 0);
    }
  } catch (e) {
    F.close(mfd);
    throw e;
  }
  return mfd;
}

const major = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

/** Privileged: the host's device nodes (read from the host's /dev, trusted) made under the /dev fd. */
function hostDevices(ctx: InitContext, destFd: number, dir = '/dev'): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const src = `${dir}/${e.name}`;
    const rel = src.slice('/dev'.length);
    if (['/pts', '/shm', '/mqueue', '/fd', '/stdin', '/stdout', '/stderr', '/ptmx', '/core', '/console'].includes(rel)) continue;
    if (e.isDirectory()) {
      let sub: number;
      try {
        F.mkdirat(destFd, e.name, 0o755);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
      }
      sub = F.openat(destFd, e.name, F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW);
      try {
        hostDevices(ctx, sub, src);
      } finally {
        F.close(sub);
      }
      continue;
    }
    if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
    const st = fs.statSync(src);
    ctx.sys.mknodat(destFd, e.name, st.mode, major(st.rdev), minor(st.rdev));
    F.fchownat(destFd, e.name, st.uid, st.gid, F.AT_SYMLINK_NOFOLLOW);
    const fd = F.openat(destFd, e.name, F.O_PATH | F.O_NOFOLLOW);
    try {
      F.fchmodPath(fd, st.mode & 0o7777);
    } finally {
      F.close(fd);
    }
  }
}

/** Host cgroup hierarchies under `base` from /proc/self/mountinfo: name (dir), fstype, controller options. */
export function cgroupHierarchies(base = '/sys/fs/cgroup'): Array<{ name: string; fstype: 'cgroup' | 'cgroup2'; data: string | null }> {
  const out: Array<{ name: string; fstype: 'cgroup' | 'cgroup2'; data: string | null }> = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mnt = pre.split(' ')[4] ?? '';
    const [fstype, , superOpts = ''] = post.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    if (mnt === base && fstype === 'cgroup2') return [{ name: '', fstype, data: null }]; // unified only
    if (path.dirname(mnt) !== base) continue;
    const opts = superOpts.split(',').filter((o) => o !== 'rw' && o !== 'ro');
    out.push({ name: path.basename(mnt), fstype, data: fstype === 'cgroup' ? opts.join(',') : null });
  }
  return out;
}

function cgroupfs(ctx: InitContext, targetFd: number, readonly: boolean): void {
  const hier = cgroupHierarchies();
  if (!hier.length) return;
  const flags = K.MS_NOSUID | K.MS_NODEV | K.MS_NOEXEC | (readonly ? K.MS_RDONLY : 0);
  if (hier.length === 1 && hier[0]!.name === '') {
    const m = ctx.sys.fsMount('cgroup2', 'cgroup2', null, F.mountAttrs(flags));
    try {
      ctx.sys.moveMount(m, targetFd);
    } finally {
      F.close(m);
    }
    return;
  }
  // a tmpfs attached first, then filled through its own fd (the mount fd is its root directory)
  const tmp = ctx.sys.fsMount('tmpfs', 'tmpfs', 'mode=755', F.mountAttrs(K.MS_NOSUID | K.MS_NODEV | K.MS_NOEXEC));
  try {
    ctx.sys.moveMount(tmp, targetFd);
    for (const h of hier) {
      F.mkdirat(tmp, h.name, 0o755);
      const dir = F.openat(tmp, h.name, F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW);
      try {
        const m = ctx.sys.fsMount(h.fstype, 'cgroup', h.data, F.mountAttrs(flags));
        try {
          ctx.sys.moveMount(m, dir);
        } finally {
          F.close(m);
        }
      } finally {
        F.close(dir);
      }
    }
    // the host's links (cpu -> cpu,cpuacct and the like)
    for (const e of fs.readdirSync('/sys/fs/cgroup', { withFileTypes: true })) {
      if (e.isSymbolicLink()) F.symlinkat(fs.readlinkSync(`/sys/fs/cgroup/${e.name}`), tmp, e.name);
    }
    if (readonly) ctx.sys.mountSetattr(tmp, F.MOUNT_ATTR_RDONLY | F.MOUNT_ATTR_NOSUID | F.MOUNT_ATTR_NODEV | F.MOUNT_ATTR_NOEXEC, 0, 0, false);
  } finally {
    F.close(tmp);
  }
}

/**
 * The null device masks are bound from: the container's /dev/null opened
 * O_PATH|O_NOFOLLOW and checked on its fd to be the 1:3 character device.
 */
function nullDevice(ctx: InitContext, root: Root): number {
  let fd: number;
  try {
    fd = root.openFd('/dev/null', F.O_PATH, { follow: false });
  } catch (e) {
    throw new InitError(`cannot mask paths: /dev/null: ${(e as Error).message}`);
  }
  const st = ctx.sys.fstat(fd);
  if (st.type !== 'char' || st.rdevMajor !== 1 || st.rdevMinor !== 3) {
    F.close(fd);
    throw new InitError(`cannot mask paths: /dev/null is not the null device (${st.type} ${st.rdevMajor}:${st.rdevMinor})`);
  }
  return fd;
}

/** An O_PATH fd of `dest` in the rootfs, not following its last component; null when there is nothing there (a masked or read-only path this kernel or image lacks). */
function existing(root: Root, dest: string): number | null {
  try {
    return root.openFd(dest, F.O_PATH, { follow: false });
  } catch (e) {
    const c = errnoOf(e);
    if (c === 'ENOENT' || c === 'ENOTDIR') return null;
    throw e;
  }
}

function runOp(ctx: InitContext, root: Root, op: MountOp, state: { nullFd: number | null }): void {
  switch (op.op) {
    case 'mount': {
      const label = op.label ?? `${op.fstype ?? 'bind'} on ${op.destination}`;
      let kind = op.create;
      if (kind === 'auto') {
        let st: fs.Stats;
        try {
          st = fs.statSync(op.source!);
        } catch {
          throw new InitError(`invalid mount config for type "bind": bind source path does not exist: ${op.source}`);
        }
        kind = st.isDirectory() ? 'dir' : 'file';
      }
      try {
        const t = target(root, op.destination, kind);
        try {
          F.close(mountOnto(ctx, op, t));
        } finally {
          F.close(t);
        }
      } catch (e) {
        if (e instanceof InitError) throw e;
        throw new InitError(`error mounting ${label}: ${(e as Error).message}`);
      }
      return;
    }
    case 'mknod': {
      const p = parentFd(root, op.destination);
      const name = path.posix.basename(op.destination);
      try {
        if (op.uid !== undefined) {
          // a --device node replaces what is there (privileged /dev)
          try {
            F.unlinkat(p, name, 0);
          } catch (e) {
            if (errnoOf(e) !== 'ENOENT') throw e;
          }
        }
        const old = ctx.sys.umask(0);
        try {
          ctx.sys.mknodat(p, name, (op.type === 'b' ? K.S_IFBLK : K.S_IFCHR) | op.mode, op.major, op.minor);
        } catch (e) {
          throw new InitError(`error creating device node ${op.destination}: ${(e as Error).message}`);
        } finally {
          ctx.sys.umask(old);
        }
        if (op.uid !== undefined) F.fchownat(p, name, op.uid, op.gid ?? 0, F.AT_SYMLINK_NOFOLLOW);
      } finally {
        F.close(p);
      }
      return;
    }
    case 'symlink': {
      const p = parentFd(root, op.destination);
      try {
        F.symlinkat(op.target, p, path.posix.basename(op.destination));
      } finally {
        F.close(p);
      }
      return;
    }
    case 'hostDevices': {
      const t = root.openFd(op.destination, F.O_PATH | F.O_DIRECTORY, { follow: false });
      try {
        hostDevices(ctx, t);
      } finally {
        F.close(t);
      }
      return;
    }
    case 'cgroupfs': {
      try {
        const t = root.mkdirAll(op.destination);
        try {
          cgroupfs(ctx, t, op.readonly);
        } finally {
          F.close(t);
        }
      } catch (e) {
        throw new InitError(`error mounting cgroup hierarchies on ${op.destination}: ${(e as Error).message}`);
      }
      return;
    }
    case 'mask': {
      // masked paths are in the /proc and /sys just mounted: nothing of the image's
      const t = existing(root, op.destination);
      if (t === null) return;
      try {
        const st = ctx.sys.fstat(t);
        let m: number;
        if (st.type === 'dir') {
          m = ctx.sys.fsMount('tmpfs', 'tmpfs', null, F.MOUNT_ATTR_RDONLY);
        } else {
          state.nullFd ??= nullDevice(ctx, root);
          m = ctx.sys.openTree(state.nullFd, '', false);
        }
        try {
          ctx.sys.moveMount(m, t);
        } finally {
          F.close(m);
        }
      } finally {
        F.close(t);
      }
      return;
    }
    case 'readonly': {
      const t = existing(root, op.destination);
      if (t === null) return;
      try {
        const m = ctx.sys.openTree(t, '', true);
        try {
          ctx.sys.mountSetattr(m, F.MOUNT_ATTR_RDONLY | F.MOUNT_ATTR_NOSUID | F.MOUNT_ATTR_NODEV | F.MOUNT_ATTR_NOEXEC, 0, 0, true);
          ctx.sys.moveMount(m, t);
        } finally {
          F.close(m);
        }
      } finally {
        F.close(t);
      }
      return;
    }
  }
}

export function mounts(ctx: InitContext): void {
  const root = rootOf(ctx);
  const state: { nullFd: number | null } = { nullFd: null };
  try {
    for (const op of ctx.plan.mounts) runOp(ctx, root, op, state);
  } finally {
    if (state.nullFd !== null) F.close(state.nullFd);
  }
}

/** pivot_root(".", ".") (runc) from the rootfs fd: the old root ends up stacked under the new one and is detached. */
export function pivotRoot(ctx: InitContext): void {
  const root = rootOf(ctx);
  ctx.sys.fchdir(root.fd);
  ctx.sys.pivotRoot('.', '.');
  ctx.sys.mount(null, '.', null, K.MS_SLAVE | K.MS_REC, null);
  ctx.sys.umount2('.', K.MNT_DETACH);
  ctx.sys.chdir('/');
  // nothing of the host stays open: the next steps resolve from the container's "/"
  root.close();
  ctx.root = undefined;
}

export function readonlyRootfs(ctx: InitContext): void {
  if (ctx.plan.readonlyRootfs) ctx.sys.mount(null, '/', null, K.MS_BIND | K.MS_REMOUNT | K.MS_RDONLY, null);
}
