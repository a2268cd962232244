// The init's one ordered step list. Each entry: a name (reported on failure),
// the modes it runs in, and the reason it sits where it does (order after youki
// process/init/process.rs and crun container_init_setup).
import type { InitContext } from './context.js';
import { joinCgroup, network, unshareNamespaces, joinNamespaces, hostname } from './steps/namespaces.js';
import { makePrivate, bindRootfs, mounts, pivotRoot, readonlyRootfs } from './steps/rootfs.js';
import { rlimits, chdirAsRoot, boundingSet, user, chdirAsUser, tty, raiseEffective, stdio, closeExtraFds } from './steps/process.js';
import { seccompEarly, capabilities, keepOnParentDeath, noNewPrivs, seccompLate } from './steps/security.js';
import { execve } from './steps/exec.js';
import { oomScoreAdj } from './steps/oom.js';
import { sysctls } from './steps/sysctl.js';

export interface Step { name: string; modes: Array<'create' | 'exec'>; run: (ctx: InitContext) => void }

export const steps: Step[] = [
  // First, as runc's nsexec: the score every later instruction and the program run with (children inherit it).
  { name: 'oom_score_adj', modes: ['create', 'exec'], run: oomScoreAdj },
  // Warm inits: /dev/null as stdin when the container has none (the host's, before pivot_root).
  { name: 'stdio', modes: ['create', 'exec'], run: stdio },
  // First, while the host's /sys/fs/cgroup is still visible and before the cgroup
  // namespace is created, so the namespace's root is the container's cgroup.
  { name: 'cgroup', modes: ['create', 'exec'], run: joinCgroup },
  // The network namespace before the mount namespace: sysfs mounted later then shows this netns.
  { name: 'network', modes: ['create'], run: network },
  // mnt, uts, ipc, cgroup in one unshare (PID was done at spawn by the daemon).
  { name: 'namespaces', modes: ['create'], run: unshareNamespaces },
  // exec: ipc, uts, net, cgroup, then unshare(CLONE_FS) + mnt, then chroot to the container's root.
  // create: another container's IPC namespace (--ipc container:x), before /dev/mqueue is mounted in it.
  { name: 'join', modes: ['create', 'exec'], run: joinNamespaces },
  // Needs the new UTS namespace.
  { name: 'hostname', modes: ['create'], run: hostname },
  // In the container's net, IPC and UTS namespaces (all joined or made above), through the
  // init's own /proc/sys before any of the container's mounts (runc writes them in its init too).
  { name: 'sysctl', modes: ['create'], run: sysctls },
  // Before any mount, so nothing we mount propagates back to the host.
  { name: 'private', modes: ['create'], run: makePrivate },
  // pivot_root needs the new root to be a mount point.
  { name: 'rootfs', modes: ['create'], run: bindRootfs },
  // proc, sys, dev, devpts, shm, mqueue, /etc files, user mounts, then masked and
  // read-only paths (they need /proc mounted and /dev/null created).
  { name: 'mounts', modes: ['create'], run: mounts },
  // Host paths are still reachable until here; after it only the container's tree is.
  { name: 'pivot_root', modes: ['create'], run: pivotRoot },
  // After pivot_root: the remount must hit the new / (other mounts stay as they are).
  { name: 'readonly_rootfs', modes: ['create'], run: readonlyRootfs },
  // While still root: raising a hard limit needs CAP_SYS_RESOURCE.
  { name: 'rlimits', modes: ['create'], run: rlimits },
  // First try as root, creating the directory if missing.
  { name: 'cwd', modes: ['create', 'exec'], run: chdirAsRoot },
  // PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set: before the uid change.
  { name: 'bounding', modes: ['create', 'exec'], run: boundingSet },
  // setgroups, gid, uid (KEEPCAPS), reading the container's /etc/passwd and /etc/group.
  { name: 'user', modes: ['create', 'exec'], run: user },
  // Retry as the container user, with no effective capabilities left (a non-root user
  // has none after setresuid): a directory it can't enter is an error now, as in runc.
  { name: 'cwd_user', modes: ['create', 'exec'], run: chdirAsUser },
  // Effective set back from the permitted one, so seccomp and capset still may.
  { name: 'raise_effective', modes: ['create', 'exec'], run: raiseEffective },
  // A pty of the container's devpts (after pivot_root / the mnt join), while still
  // root with all capabilities (mounting /dev/console); the parent takes the master.
  { name: 'tty', modes: ['create', 'exec'], run: tty },
  // Late, when the init opens nothing more: fds above 2 close on exec (Node's spawn passes
  // on whatever the daemon inherited without close-on-exec).
  { name: 'cloexec', modes: ['create', 'exec'], run: closeExtraFds },
  // The parent-death signal the init set for itself is not the program's (before seccomp may refuse prctl).
  { name: 'parent_death', modes: ['create', 'exec'], run: keepOnParentDeath },
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the capability drop.
  { name: 'seccomp', modes: ['create', 'exec'], run: seccompEarly },
  // Effective, permitted, inheritable (empty, as Docker since 20.10), ambient cleared.
  { name: 'capabilities', modes: ['create', 'exec'], run: capabilities },
  { name: 'no_new_privs', modes: ['create', 'exec'], run: noNewPrivs },
  // With no_new_privs the filter goes last.
  { name: 'seccomp_late', modes: ['create', 'exec'], run: seccompLate },
  // Protocol fd close-on-exec, fds 0-2 not, PATH lookup, execve.
  { name: 'exec', modes: ['create', 'exec'], run: execve },
];

/** Runs the steps for the plan's mode; throws the first failure tagged with its step name. */
export function runSteps(ctx: InitContext, list: Step[] = steps, onStep?: (name: string) => void): void {
  for (const s of list) {
    if (!s.modes.includes(ctx.plan.mode)) continue;
    onStep?.(s.name);
    try {
      s.run(ctx);
    } catch (e) {
      (e as { step?: string }).step ??= s.name;
      throw e;
    }
  }
}
