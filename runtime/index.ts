// runtime: turning a container's spec into a running process in its own
// namespaces, root filesystem and security profile. See types.ts for the contracts.
export { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';
// The launcher itself, for the runtime's own tests and benchmarks (no cgroup is made for them).
export { nsexecPath } from './nsexec.js';
export { launch, execInContainer, hostInfo, warmPool, sealInitBinary, unsealInitBinary, type WarmInit, type WarmPoolHooks, type LaunchOptions } from './launcher.js';
export { buildInitPlan, buildExecPlan, parseSecurityOpt, tmpfsOptions, DEFAULT_PATH, DEFAULT_SHM_SIZE, MASKED_PATHS, READONLY_PATHS } from './spec.js';
export { defaultMaskedPaths } from './paths.js';
export { RuntimeStartError } from './errors.js';
export { resolveCaps, DEFAULT_CAPS, CAPS } from './caps.js';
export { compileProfile, parseProfile } from './seccomp/profile.js';
export type { SeccompProfile } from './seccomp/profile.js';
export { defaultProfile } from './seccomp/default.js';
export { resolveUser } from './user.js';
export type { RuntimeSpec, ExecSpec, Task, Process, ExitStatus, TaskCgroup, InitPlan, MountOp, HostInfo, RuntimeMount, RuntimeNetwork, NamespaceChoice } from './types.js';
