export * from './constants.js';
export { LinuxSyscalls, errnoName, preloadLibraries } from './syscalls.js';
export type { Syscalls, Rlimit, CapSets } from './syscalls.js';
export { tryLockFile, sdNotify } from './daemon.js';
export { seccompLoad, seccompCompile, seccompLoadBpf, seccompResolve, SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG, SCMP_ACT_NOTIFY, SCMP_ARCH, SCMP_CMP } from './seccomp.js';
export type { SeccompFilter, SeccompRule, SeccompArg } from './seccomp.js';
export { RtnlSocket, NetlinkError, ifIndex } from './netlink.js';
export { rtnl, type Request as RtnlRequest } from './rtnetlink.js';
export {
  bpfProgLoad, bpfProgAttach, bpfProgDetach, bpfProgQuery, bpfProgGetFdById, bpfProgInfo, bpfHasProgReplace,
  BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_F_REPLACE,
} from './bpf.js';
export type { BpfProgInfo, BpfProgLoadOptions } from './bpf.js';
export { watchProcessExits, exitCodeOf, type ProcExit } from './procevents.js';
export { setPipeSize, pipeSize, setNonBlocking } from './pipe.js';
// fd-relative file and mount syscalls (openat2 RESOLVE_IN_ROOT, the new mount API); rootfs/ builds on them
export * as fsat from './fsat.js';
export type { FileStat, FileType } from './fsat.js';
export { posixSpawn, reapSpawned, anyChildExited, socketPair, closeFd, sealedMemfd } from './spawn.js';
