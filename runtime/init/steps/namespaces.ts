// Namespace steps: cgroup join, network, unshare (create) or setns (exec).
import fs from 'node:fs';
import * as K from '../../../sys/index.js';
import { InitError } from '../context.js';
import type { InitContext } from '../context.js';

const FLAG = { mnt: K.CLONE_NEWNS, uts: K.CLONE_NEWUTS, ipc: K.CLONE_NEWIPC, cgroup: K.CLONE_NEWCGROUP, net: K.CLONE_NEWNET } as const;
const CLONE_FS = 0x00000200;

export function joinCgroup(ctx: InitContext): void {
  const pid = String(process.pid);
  for (const f of ctx.plan.cgroupProcs) {
    try {
      fs.writeFileSync(f, pid);
    } catch (e) {
      throw new InitError(`failed to join cgroup ${f}: ${(e as Error).message}`);
    }
  }
}

export function network(ctx: InitContext): void {
  const n = ctx.plan.network;
  if (n === 'host') return;
  if (n === 'new') {
    ctx.sys.unshare(K.CLONE_NEWNET);
    ctx.sys.linkUp('lo');
    return;
  }
  let fd: number;
  try {
    fd = fs.openSync(n.join, 'r');
  } catch (e) {
    throw new InitError(`failed to open network namespace ${n.join}: ${(e as Error).message}`);
  }
  try {
    ctx.sys.setns(fd, K.CLONE_NEWNET);
  } finally {
    fs.closeSync(fd);
  }
}

export function unshareNamespaces(ctx: InitContext): void {
  const flags = ctx.plan.unshare.reduce((f, n) => f | FLAG[n], 0);
  if (flags) ctx.sys.unshare(flags);
}

/**
 * exec: join the container's namespaces. The mount namespace comes last: setns(2)
 * refuses it to a process sharing fs attributes with other threads (Node's), so the
 * main thread first takes a private copy with unshare(CLONE_FS).
 */
export function joinNamespaces(ctx: InitContext): void {
  const fds = ctx.plan.join.map((j) => {
    try {
      return { type: j.type, fd: fs.openSync(j.path, 'r') };
    } catch (e) {
      throw new InitError(`failed to open namespace ${j.path}: ${(e as Error).message}`);
    }
  });
  const rootFd = ctx.plan.root ? fs.openSync(ctx.plan.root, 'r') : -1;
  try {
    for (const { type, fd } of fds) {
      if (type === 'mnt') ctx.sys.unshare(CLONE_FS);
      ctx.sys.setns(fd, FLAG[type]);
    }
    if (rootFd >= 0) {
      ctx.sys.fchdir(rootFd);
      ctx.sys.chroot('.');
      ctx.sys.chdir('/');
    }
  } finally {
    for (const { fd } of fds) fs.closeSync(fd);
    if (rootFd >= 0) fs.closeSync(rootFd);
  }
}

export function hostname(ctx: InitContext): void {
  if (ctx.plan.hostname) ctx.sys.sethostname(ctx.plan.hostname);
  if (ctx.plan.domainname) ctx.sys.setdomainname(ctx.plan.domainname);
}
