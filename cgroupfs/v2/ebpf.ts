// The cgroup v2 device filter as a BPF_PROG_TYPE_CGROUP_DEVICE program, built
// as data (runc devicefilter.go, crun ebpf.c): the same instruction sequence
// runc generates, so its known-good listings are our unit tests. Pure: rules in,
// instructions out; encode() is the byte layout bpf(BPF_PROG_LOAD) takes.
//
// The program sees struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor }
// in r1 (access_type = device type in the low 16 bits, access bits in the high 16),
// and returns 1 to allow the access, 0 to refuse it (EPERM).
import os from 'node:os';
import { invalidParameter } from '../../errors/index.js';
import { DeviceEmulator, accessBits, ACC_ALL } from '../device-emulator.js';
import type { DeviceRule } from '../types.js';

/** struct bpf_insn, with an optional label (`sym`) and a jump target by label (`ref`) until encode() resolves it. */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  sym?: string;
  ref?: string;
}

// opcode parts (linux/bpf_common.h, linux/bpf.h)
const BPF_LDX = 0x01, BPF_ALU = 0x04, BPF_JMP = 0x05;
const BPF_W = 0x00, BPF_MEM = 0x60;
const BPF_K = 0x00, BPF_X = 0x08;
const BPF_AND = 0x50, BPF_RSH = 0x70, BPF_MOV = 0xb0;
const BPF_JNE = 0x50, BPF_EXIT = 0x90;

export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
/** bpf_insn is 8 bytes */
export const INSN_SIZE = 8;
/** runc's license string (the kernel only checks GPL compatibility for GPL-only helpers, which we do not call) */
export const LICENSE = 'Apache';

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

const ldxMemW = (dst: number, src: number, off: number): BpfInsn => ({ code: BPF_LDX | BPF_MEM | BPF_W, dst, src, off, imm: 0 });
const alu32Imm = (op: number, dst: number, imm: number): BpfInsn => ({ code: BPF_ALU | op | BPF_K, dst, src: 0, off: 0, imm });
const mov32Reg = (dst: number, src: number): BpfInsn => ({ code: BPF_ALU | BPF_MOV | BPF_X, dst, src, off: 0, imm: 0 });
const jneImm = (dst: number, imm: number, ref: string): BpfInsn => ({ code: BPF_JMP | BPF_JNE | BPF_K, dst, src: 0, off: -1, imm, ref });
const jneReg = (dst: number, src: number, ref: string): BpfInsn => ({ code: BPF_JMP | BPF_JNE | BPF_X, dst, src, off: -1, imm: 0, ref });
const exit = (): BpfInsn => ({ code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 });
const ret = (allow: boolean): BpfInsn[] => [alu32Imm(BPF_MOV, R0, allow ? 1 : 0), exit()];

/**
 * The program for `rules`, replayed in order on a deny-all cgroup as v1 would
 * (so an allow-all list gives the one-block "return 1" program runc makes;
 * devices.ts attaches nothing instead).
 */
export function deviceFilterProgram(rules: readonly DeviceRule[] | DeviceEmulator): BpfInsn[] {
  const emu = rules instanceof DeviceEmulator ? rules : DeviceEmulator.from(rules);
  const defaultAllow = emu.defaultAllow;
  const insns: BpfInsn[] = [
    // r2 = type (low 16 bits of access_type), r3 = access (high 16 bits), r4 = major, r5 = minor
    ldxMemW(R2, R1, 0), alu32Imm(BPF_AND, R2, 0xffff),
    ldxMemW(R3, R1, 0), alu32Imm(BPF_RSH, R3, 16),
    ldxMemW(R4, R1, 4),
    ldxMemW(R5, R1, 8),
  ];
  let block = 0;
  for (const [i, r] of emu.rules().entries()) {
    if (r.type === 'a') {
      // Only ever first, switching to deny-list mode: the default return below covers it.
      if (i !== 0 || r.allow !== defaultAllow) throw new Error(`internal error: wildcard device rule at ${i}`);
      continue;
    }
    const next = `block-${block + 1}`;
    const first = insns.length;
    insns.push(jneImm(R2, r.type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, next));
    const bits = accessBits(r.access);
    if (bits !== ACC_ALL) {
      // if ((access & bits) != access) goto next  (r1 is free: the context was read)
      insns.push(mov32Reg(R1, R3), alu32Imm(BPF_AND, R1, bits), jneReg(R1, R3, next));
    }
    if (r.major >= 0) insns.push(jneImm(R4, checkU32(r.major, 'major'), next));
    if (r.minor >= 0) insns.push(jneImm(R5, checkU32(r.minor, 'minor'), next));
    insns.push(...ret(r.allow));
    insns[first] = { ...insns[first]!, sym: `block-${block}` };
    block++;
  }
  const last = ret(defaultAllow);
  last[0] = { ...last[0]!, sym: `block-${block}` };
  insns.push(...last);
  return insns;
}

function checkU32(n: number, what: string): number {
  // The immediate is sign-extended against a zero-extended u32 load: keep it below 2^31
  // (Linux majors have 12 bits and minors 20).
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw invalidParameter(`invalid device ${what} ${n}`);
  return n;
}

/** The bytes bpf(BPF_PROG_LOAD) takes: jump labels resolved to relative offsets, native byte order. */
export function encode(insns: readonly BpfInsn[], endian: 'LE' | 'BE' = os.endianness()): Buffer {
  const at = new Map<string, number>();
  insns.forEach((x, i) => { if (x.sym) at.set(x.sym, i); });
  const buf = Buffer.alloc(insns.length * INSN_SIZE);
  insns.forEach((x, i) => {
    let off = x.off;
    if (x.ref !== undefined) {
      const target = at.get(x.ref);
      if (target === undefined) throw new Error(`internal error: unknown BPF label ${x.ref}`);
      off = target - i - 1;
    }
    const o = i * INSN_SIZE;
    buf[o] = x.code;
    // dst_reg:4 src_reg:4 is a bitfield: its order follows the byte order
    buf[o + 1] = endian === 'LE' ? ((x.src & 0xf) << 4) | (x.dst & 0xf) : ((x.dst & 0xf) << 4) | (x.src & 0xf);
    if (endian === 'LE') {
      buf.writeInt16LE(off, o + 2);
      buf.writeInt32LE(x.imm, o + 4);
    } else {
      buf.writeInt16BE(off, o + 2);
      buf.writeInt32BE(x.imm, o + 4);
    }
  });
  return buf;
}

/** encode()'s inverse (offsets stay numeric): for tests and for reading back what the kernel holds. */
export function decode(buf: Buffer, endian: 'LE' | 'BE' = os.endianness()): BpfInsn[] {
  const out: BpfInsn[] = [];
  for (let o = 0; o + INSN_SIZE <= buf.length; o += INSN_SIZE) {
    const regs = buf[o + 1]!;
    out.push({
      code: buf[o]!,
      dst: endian === 'LE' ? regs & 0xf : regs >> 4,
      src: endian === 'LE' ? regs >> 4 : regs & 0xf,
      off: endian === 'LE' ? buf.readInt16LE(o + 2) : buf.readInt16BE(o + 2),
      imm: endian === 'LE' ? buf.readInt32LE(o + 4) : buf.readInt32BE(o + 4),
    });
  }
  return out;
}

const ALU_NAMES: Record<number, string> = { [BPF_AND]: 'And', [BPF_RSH]: 'RSh', [BPF_MOV]: 'Mov' };

/** One instruction in cilium/ebpf's notation (what runc's tests print). */
export function formatInsn(x: BpfInsn): string {
  const cls = x.code & 0x07;
  const src = (x.code & 0x08) === BPF_X ? 'Reg' : 'Imm';
  const ref = x.ref ? ` <${x.ref}>` : '';
  if (x.code === (BPF_LDX | BPF_MEM | BPF_W)) return `LdXMemW dst: r${x.dst} src: r${x.src} off: ${x.off} imm: ${x.imm}`;
  if (cls === BPF_ALU) {
    const name = `${ALU_NAMES[x.code & 0xf0] ?? `Alu${x.code & 0xf0}`}${src}32`;
    return src === 'Reg' ? `${name} dst: r${x.dst} src: r${x.src}` : `${name} dst: r${x.dst} imm: ${x.imm}`;
  }
  if (x.code === (BPF_JMP | BPF_EXIT)) return 'Exit';
  if (cls === BPF_JMP && (x.code & 0xf0) === BPF_JNE) {
    return src === 'Reg' ? `JNEReg dst: r${x.dst} off: ${x.off} src: r${x.src}${ref}` : `JNEImm dst: r${x.dst} off: ${x.off} imm: ${x.imm}${ref}`;
  }
  return `Op${x.code.toString(16)} dst: r${x.dst} src: r${x.src} off: ${x.off} imm: ${x.imm}`;
}

/** The whole program, labels on their own lines, as cilium's Instructions.String(). */
export function listing(insns: readonly BpfInsn[]): string {
  const lines: string[] = [];
  insns.forEach((x, i) => {
    if (x.sym) lines.push(`${x.sym}:`);
    lines.push(`\t${i}: ${formatInsn(x)}`);
  });
  return lines.join('\n') + '\n';
}
