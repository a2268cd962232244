// Docker's seccomp profile JSON format and its compilation, for one container's
// capabilities, architecture and kernel, into a SeccompFilter (pure).
// Semantics follow moby profiles/seccomp (includes/excludes) and runc's
// libcontainer/seccomp (several conditions on one argument = separate rules).
import { DaemonError } from '../../errors/index.js';
import { SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_LOG, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_NOTIFY, SCMP_ARCH, SCMP_CMP } from '../../sys/index.js';
import type { SeccompFilter, SeccompRule } from '../../sys/index.js';

export interface SeccompFilterCond { caps?: string[]; arches?: string[]; minKernel?: string }
export interface SeccompProfileSyscall {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: string }> | null;
  includes?: SeccompFilterCond;
  excludes?: SeccompFilterCond;
  comment?: string;
}
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures: string[] | null }>;
  syscalls?: SeccompProfileSyscall[];
}

const GO_ARCH_TO_SCMP: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64', '386': 'SCMP_ARCH_X86', x86: 'SCMP_ARCH_X86', x32: 'SCMP_ARCH_X32', arm: 'SCMP_ARCH_ARM',
};

const bad = (msg: string) => new DaemonError('invalid-parameter', 'TSD_ERR_INVALID_SECCOMP', msg);

function action(name: string, errnoRet: number | undefined, defaultErrno: number): number {
  switch (name) {
    case 'SCMP_ACT_ALLOW': return SCMP_ACT_ALLOW;
    case 'SCMP_ACT_ERRNO': return SCMP_ACT_ERRNO(errnoRet ?? defaultErrno);
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return SCMP_ACT_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return SCMP_ACT_KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return SCMP_ACT_TRAP;
    case 'SCMP_ACT_LOG': return SCMP_ACT_LOG;
    case 'SCMP_ACT_TRACE': return SCMP_ACT_TRACE(errnoRet ?? defaultErrno);
    case 'SCMP_ACT_NOTIFY': return SCMP_ACT_NOTIFY;
    default: throw bad(`unsupported seccomp action: ${name}`);
  }
}

/** "5.10.0-8-amd64" -> [5, 10] */
const kver = (v: string): [number, number] => {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
};
const kernelAtLeast = (have: string, want: string): boolean => {
  const [a, b] = kver(have), [c, d] = kver(want);
  return a > c || (a === c && b >= d);
};

/** Parses a profile given as JSON text; a clear invalid-parameter error otherwise. */
export function parseProfile(json: string): SeccompProfile {
  let p: unknown;
  try {
    p = JSON.parse(json);
  } catch (e) {
    throw bad(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
  if (!p || typeof p !== 'object' || typeof (p as SeccompProfile).defaultAction !== 'string') {
    throw bad('Decoding seccomp profile failed: defaultAction is required');
  }
  return p as SeccompProfile;
}

/**
 * Compiles a profile for a container with capabilities `caps` (names) on `arch`
 * (Go name, 'amd64') and kernel `kernel`.
 */
export function compileProfile(profile: SeccompProfile, caps: string[], arch: string, kernel: string): SeccompFilter {
  const defaultErrno = profile.defaultErrnoRet ?? 1;
  const defaultAction = action(profile.defaultAction, profile.defaultErrnoRet, 1);
  const native = GO_ARCH_TO_SCMP[arch] ?? 'SCMP_ARCH_X86_64';
  let archNames: string[] = [];
  const fromMap = profile.archMap?.find((m) => m.architecture === native);
  if (fromMap) archNames = [fromMap.architecture, ...(fromMap.subArchitectures ?? [])];
  else if (profile.architectures?.length) archNames = profile.architectures;
  const architectures = archNames.filter((a) => SCMP_ARCH[a] !== undefined).map((a) => SCMP_ARCH[a]!);
  const nativeArch = arch;

  const rules: SeccompRule[] = [];
  for (const s of profile.syscalls ?? []) {
    const inc = s.includes ?? {};
    const exc = s.excludes ?? {};
    // includes: all given conditions must hold (moby: arches match the native arch)
    if (inc.arches?.length && !inc.arches.includes(nativeArch)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => caps.includes(c))) continue;
    if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) continue;
    if (exc.arches?.length && exc.arches.includes(nativeArch)) continue;
    if (exc.caps?.length && exc.caps.some((c) => caps.includes(c))) continue;
    const act = action(s.action, s.errnoRet, defaultErrno);
    if (act === defaultAction) continue; // libseccomp refuses a rule equal to the default
    const names = s.names ?? (s.name ? [s.name] : []);
    const args = (s.args ?? []).map((a) => {
      const op = SCMP_CMP[a.op];
      if (op === undefined) throw bad(`unsupported seccomp operator: ${a.op}`);
      if (a.index < 0 || a.index > 5) throw bad(`invalid seccomp argument index: ${a.index}`);
      return { index: a.index, op, value: a.value, valueTwo: a.valueTwo ?? 0 };
    });
    const counts = new Map<number, number>();
    for (const a of args) counts.set(a.index, (counts.get(a.index) ?? 0) + 1);
    const split = [...counts.values()].some((n) => n > 1);
    for (const name of names) {
      if (split) for (const a of args) rules.push({ syscall: name, action: act, args: [a] });
      else rules.push({ syscall: name, action: act, args });
    }
  }
  return { defaultAction, architectures, rules };
}
