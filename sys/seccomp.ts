// libseccomp through koffi: builds a filter from resolved data (SeccompFilter)
// and loads it on the calling thread. Only the init calls this, right before execve.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SyscallError } from '../errors/index.js';
import { koffi } from './libc.js';
import { errnoName } from './errno.js';

/** One comparison on a syscall argument (libseccomp `struct scmp_arg_cmp`). */
export interface SeccompArg { index: number; op: number; value: number | string; valueTwo?: number | string }
/** A rule: when `syscall` is called (and all `args` match), take `action`. */
export interface SeccompRule { syscall: string; action: number; args: SeccompArg[] }
/** A filter as data: numeric actions (SCMP_ACT_*), audit arch values, rules in order. */
export interface SeccompFilter { defaultAction: number; architectures: number[]; rules: SeccompRule[] }

export const SCMP_ACT_KILL_PROCESS = 0x80000000;
export const SCMP_ACT_KILL_THREAD = 0x00000000;
export const SCMP_ACT_TRAP = 0x00030000;
export const SCMP_ACT_ERRNO = (e: number): number => (0x00050000 | (e & 0xffff)) >>> 0;
export const SCMP_ACT_TRACE = (m: number): number => (0x7ff00000 | (m & 0xffff)) >>> 0;
export const SCMP_ACT_LOG = 0x7ffc0000;
export const SCMP_ACT_ALLOW = 0x7fff0000;
export const SCMP_ACT_NOTIFY = 0x7fc00000;

export const SCMP_ARCH: Record<string, number> = {
  SCMP_ARCH_X86_64: 0xc000003e, SCMP_ARCH_X86: 0x40000003, SCMP_ARCH_X32: 0x4000003e,
  SCMP_ARCH_AARCH64: 0xc00000b7, SCMP_ARCH_ARM: 0x40000028,
};
export const SCMP_CMP: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
const SCMP_FLTATR_CTL_NNP = 3;
/** libseccomp ≥ 2.5: 2 = the syscalls as a binary tree instead of one list (the same decisions). */
const SCMP_FLTATR_CTL_OPTIMIZE = 8;

let lib: ReturnType<typeof bind> | undefined;
function bind() {
  const s = koffi.load('libseccomp.so.2');
  return {
    init: s.func('void *seccomp_init(uint32 def_action)'),
    release: s.func('void seccomp_release(void *ctx)'),
    archAdd: s.func('int seccomp_arch_add(void *ctx, uint32 arch)'),
    attrSet: s.func('int seccomp_attr_set(void *ctx, int attr, uint32 value)'),
    resolve: s.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAddArray: s.func('int seccomp_rule_add_array(void *ctx, uint32 action, int syscall, unsigned int arg_cnt, const uint8_t *args)'),
    load: s.func('int seccomp_load(void *ctx)'),
    exportBpf: s.func('int seccomp_export_bpf(void *ctx, int fd)'),
  };
}

const fail = (call: string, rc: number, detail?: string): never => {
  throw new SyscallError(call, -rc, errnoName(-rc), undefined, detail);
};

/** Resolves a syscall name for the native arch; -1 when this kernel/arch has no such call. */
export function seccompResolve(name: string): number {
  lib ??= bind();
  return lib.resolve(name);
}

/**
 * Builds a libseccomp context for `filter`; the caller releases it. `tree`: the syscall
 * numbers as a binary search tree (libseccomp's optimize level 2). The kernel runs the
 * filter over every syscall number when it is loaded (seccomp_cache_prepare, irqs off):
 * with the default profile's ~370 rules as one list (973 instructions), loading it took
 * 1.2 ms of CPU per container process and exec; as a tree, 0.5 ms, and the container's
 * filtered syscalls take a dozen comparisons instead of hundreds.
 */
function build(filter: SeccompFilter, tree = true): { l: NonNullable<typeof lib>; ctx: unknown } {
  lib ??= bind();
  const l = lib;
  const ctx = l.init(filter.defaultAction >>> 0);
  if (!ctx) throw new SyscallError('seccomp_init', 22, 'EINVAL');
  try {
    let rc = l.attrSet(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (rc < 0) fail('seccomp_attr_set', rc);
    // an older libseccomp refuses the attribute (EINVAL): it builds the list, which decides the same
    if (tree) l.attrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (const a of filter.architectures) {
      rc = l.archAdd(ctx, a >>> 0);
      if (rc < 0 && rc !== -17 /* EEXIST: native arch */) fail('seccomp_arch_add', rc, String(a));
    }
    for (const r of filter.rules) {
      const nr = l.resolve(r.syscall);
      if (nr < 0) continue;
      const buf = Buffer.alloc(24 * r.args.length);
      r.args.forEach((a, i) => {
        buf.writeUInt32LE(a.index, i * 24);
        buf.writeInt32LE(a.op, i * 24 + 4);
        buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a.value)), i * 24 + 8);
        buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a.valueTwo ?? 0)), i * 24 + 16);
      });
      rc = l.ruleAddArray(ctx, r.action >>> 0, nr, r.args.length, r.args.length ? buf : null);
      if (rc < 0) fail('seccomp_rule_add', rc, r.syscall);
    }
  } catch (e) {
    l.release(ctx);
    throw e;
  }
  return { l, ctx };
}

/**
 * Builds and loads `filter` on the calling thread. It does not set no_new_privs
 * (the caller decides; without it the thread needs CAP_SYS_ADMIN). Syscall names
 * unknown here are skipped, as runc does.
 */
export function seccompLoad(filter: SeccompFilter): void {
  const { l, ctx } = build(filter);
  try {
    const rc = l.load(ctx);
    if (rc < 0) fail('seccomp_load', rc);
  } finally {
    l.release(ctx);
  }
}

/**
 * Compiles `filter` to a classic BPF program (struct sock_filter[]), without
 * loading it: the daemon does this once per profile, the init loads the result
 * with seccompLoadBpf in microseconds instead of building it (~10 ms).
 * `tree: false`: the rules as one list (libseccomp's default; tests compare the two).
 */
export function seccompCompile(filter: SeccompFilter, opts: { tree?: boolean } = {}): Buffer {
  const { l, ctx } = build(filter, opts.tree ?? true);
  const file = path.join(os.tmpdir(), `tsd-bpf-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = fs.openSync(file, 'w+', 0o600);
  try {
    fs.unlinkSync(file);
    const rc = l.exportBpf(ctx, fd);
    if (rc < 0) fail('seccomp_export_bpf', rc);
    const size = fs.fstatSync(fd).size;
    const out = Buffer.alloc(size);
    fs.readSync(fd, out, 0, size, 0);
    return out;
  } finally {
    fs.closeSync(fd);
    l.release(ctx);
  }
}

let prctlFprog: ((option: number, mode: number, prog: { len: number; filter: Buffer }, a4: number, a5: number) => number) | undefined;

function bindFprog() {
  if (!prctlFprog) {
    const c = koffi.load('libc.so.6');
    koffi.struct('tsd_sock_fprog', { len: 'uint16', filter: 'void *' });
    prctlFprog = c.func('int prctl(int option, unsigned long mode, tsd_sock_fprog *prog, unsigned long a4, unsigned long a5)');
  }
  return prctlFprog;
}

/** Loads a compiled BPF program as the calling thread's seccomp filter (prctl PR_SET_SECCOMP). */
export function seccompLoadBpf(bpf: Buffer): void {
  if (bpf.length === 0 || bpf.length % 8 !== 0) throw new SyscallError('prctl', 22, 'EINVAL', undefined, 'PR_SET_SECCOMP: bad program');
  const PR_SET_SECCOMP = 22, SECCOMP_MODE_FILTER = 2;
  if (bindFprog()(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, { len: bpf.length / 8, filter: bpf }, 0, 0) !== 0) {
    const e = koffi.errno();
    throw new SyscallError('prctl', e, errnoName(e), undefined, 'PR_SET_SECCOMP');
  }
}

/** Binds prctl for seccompLoadBpf now (the init calls it before pivot_root). */
export function seccompBpfPreload(): void {
  bindFprog();
}

/** Loads libseccomp now (the init calls this before pivot_root: the container has no copy). */
export function seccompPreload(): void {
  lib ??= bind();
}
