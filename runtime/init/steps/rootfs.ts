// Root filesystem steps: private propagation, the rootfs bind, the mount list,
// pivot_root with the old root detached, and the read-only remount.
import fs from 'node:fs';
import path from 'node:path';
import * as K from '../../../sys/index.js';
import { InitError } from '../context.js';
import type { InitContext } from '../context.js';
import type { MountOp } from '../../types.js';

/**
 * Joins a container path onto the rootfs, resolving symlinks inside the rootfs
 * (an absolute link is relative to the rootfs), so a mount can't escape it.
 */
export function secureJoin(root: string, unsafe: string): string {
  const parts = unsafe.split('/').filter(Boolean);
  let cur = '';
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      cur = cur.slice(0, Math.max(0, cur.lastIndexOf('/')));
      continue;
    }
    const full = `${root}${cur}/${part}`;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(full);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > 40) throw new InitError(`too many levels of symbolic links: ${unsafe}`);
      const target = fs.readlinkSync(full);
      if (target.startsWith('/')) cur = '';
      parts.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    cur += `/${part}`;
  }
  return `${root}${cur}`;
}

const rootfs = (ctx: InitContext): string => {
  if (!ctx.plan.rootfs) throw new InitError('no rootfs in plan');
  return ctx.plan.rootfs;
};

export function makePrivate(ctx: InitContext): void {
  ctx.sys.mount(null, '/', null, K.MS_REC | K.MS_PRIVATE, null);
}

export function bindRootfs(ctx: InitContext): void {
  const r = rootfs(ctx);
  ctx.sys.mount(r, r, null, K.MS_BIND | K.MS_REC, null);
}

function create(target: string, kind: 'dir' | 'file'): void {
  if (kind === 'dir') {
    fs.mkdirSync(target, { recursive: true });
  } else {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (!fs.existsSync(target)) fs.closeSync(fs.openSync(target, 'a', 0o644));
  }
}

const major = (rdev: number) => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

function hostDevices(ctx: InitContext, dest: string, dir = '/dev'): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const src = `${dir}/${e.name}`;
    const rel = src.slice('/dev'.length);
    if (['/pts', '/shm', '/mqueue', '/fd', '/stdin', '/stdout', '/stderr', '/ptmx', '/core', '/console'].includes(rel)) continue;
    if (e.isDirectory()) {
      hostDevices(ctx, dest, src);
      continue;
    }
    if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
    const st = fs.statSync(src);
    const target = `${dest}${rel}`;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    ctx.sys.mknod(target, st.mode, major(st.rdev), minor(st.rdev));
    fs.chmodSync(target, st.mode & 0o7777);
    fs.chownSync(target, st.uid, st.gid);
  }
}

/** Host cgroup hierarchies under `base` from /proc/self/mountinfo: name (dir), fstype, controller options. */
function cgroupHierarchies(base = '/sys/fs/cgroup'): Array<{ name: string; fstype: 'cgroup' | 'cgroup2'; data: string | null }> {
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

function cgroupfs(ctx: InitContext, target: string, readonly: boolean): void {
  const hier = cgroupHierarchies();
  if (!hier.length) return;
  const flags = K.MS_NOSUID | K.MS_NODEV | K.MS_NOEXEC | (readonly ? K.MS_RDONLY : 0);
  if (hier.length === 1 && hier[0]!.name === '') {
    ctx.sys.mount('cgroup2', target, 'cgroup2', flags, null);
    return;
  }
  ctx.sys.mount('tmpfs', target, 'tmpfs', K.MS_NOSUID | K.MS_NODEV | K.MS_NOEXEC, 'mode=755');
  for (const h of hier) {
    fs.mkdirSync(`${target}/${h.name}`, { recursive: true });
    ctx.sys.mount('cgroup', `${target}/${h.name}`, h.fstype, flags, h.data);
  }
  // the host's links (cpu -> cpu,cpuacct and the like)
  for (const e of fs.readdirSync('/sys/fs/cgroup', { withFileTypes: true })) {
    if (e.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(`/sys/fs/cgroup/${e.name}`), `${target}/${e.name}`);
  }
  if (readonly) ctx.sys.mount(null, target, null, K.MS_BIND | K.MS_REMOUNT | K.MS_RDONLY | K.MS_NOSUID | K.MS_NODEV | K.MS_NOEXEC, null);
}

function runOp(ctx: InitContext, r: string, op: MountOp): void {
  const target = secureJoin(r, op.destination);
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
        if (kind !== 'none') create(target, kind);
        ctx.sys.mount(op.source, target, op.fstype, op.flags, op.data);
        if (op.remount !== undefined) ctx.sys.mount(null, target, null, K.MS_BIND | K.MS_REMOUNT | op.remount, null);
        if (op.propagation !== undefined) ctx.sys.mount(null, target, null, op.propagation, null);
      } catch (e) {
        throw new InitError(`error mounting ${label}: ${(e as Error).message}`);
      }
      return;
    }
    case 'mknod':
    {
      if (op.uid !== undefined) {
        // a --device node: its directory may not exist yet, and it replaces what is there (privileged /dev)
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.rmSync(target, { force: true });
      }
      const old = ctx.sys.umask(0);
      try {
        ctx.sys.mknod(target, (op.type === 'b' ? K.S_IFBLK : K.S_IFCHR) | op.mode, op.major, op.minor);
      } catch (e) {
        throw new InitError(`error creating device node ${op.destination}: ${(e as Error).message}`);
      } finally {
        ctx.sys.umask(old);
      }
      if (op.uid !== undefined) fs.lchownSync(target, op.uid, op.gid ?? 0);
      return;
    }
    case 'symlink':
      fs.symlinkSync(op.target, target);
      return;
    case 'hostDevices':
      hostDevices(ctx, target);
      return;
    case 'cgroupfs':
      try {
        cgroupfs(ctx, target, op.readonly);
      } catch (e) {
        throw new InitError(`error mounting cgroup hierarchies on ${op.destination}: ${(e as Error).message}`);
      }
      return;
    case 'mask': {
      let st: fs.Stats;
      try {
        st = fs.lstatSync(target);
      } catch {
        return;
      }
      if (st.isDirectory()) ctx.sys.mount('tmpfs', target, 'tmpfs', K.MS_RDONLY, null);
      else ctx.sys.mount(`${r}/dev/null`, target, null, K.MS_BIND, null);
      return;
    }
    case 'readonly':
      if (!fs.existsSync(target)) return;
      ctx.sys.mount(target, target, null, K.MS_BIND | K.MS_REC, null);
      ctx.sys.mount(null, target, null, K.MS_BIND | K.MS_REMOUNT | K.MS_RDONLY | K.MS_NOSUID | K.MS_NODEV | K.MS_NOEXEC, null);
      return;
  }
}

export function mounts(ctx: InitContext): void {
  const r = rootfs(ctx);
  for (const op of ctx.plan.mounts) runOp(ctx, r, op);
}

/** pivot_root(".", ".") (runc): the old root ends up stacked under the new one and is detached. */
export function pivotRoot(ctx: InitContext): void {
  ctx.sys.chdir(rootfs(ctx));
  ctx.sys.pivotRoot('.', '.');
  ctx.sys.mount(null, '.', null, K.MS_SLAVE | K.MS_REC, null);
  ctx.sys.umount2('.', K.MNT_DETACH);
  ctx.sys.chdir('/');
}

export function readonlyRootfs(ctx: InitContext): void {
  if (ctx.plan.readonlyRootfs) ctx.sys.mount(null, '/', null, K.MS_BIND | K.MS_REMOUNT | K.MS_RDONLY, null);
}
