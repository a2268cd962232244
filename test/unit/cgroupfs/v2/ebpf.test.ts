// The device filter program against runc's known-good listings
// (opencontainers/cgroups devices/devicefilter_test.go): same rules in, same
// instructions out. Then the encoding: labels resolve to the right offsets and
// the bytes are struct bpf_insn as the kernel reads it.
import t from 'tap';
import { DEFAULT_ALLOWED_DEVICES } from '../../../../cgroupfs/index.js';
import { listing as bpfListing, decode as decodeBpf, deviceFilterProgram, encode as encodeBpf, formatInsn as formatBpfInsn } from '../../../../cgroupfs/v2/ebpf.js';
import { program as deviceProgram } from '../../../../cgroupfs/v2/devices.js';
import type { DeviceRule } from '../../../../cgroupfs/index.js';

const allow = (type: DeviceRule['type'], major: number, minor: number, access = 'rwm'): DeviceRule => ({ allow: true, type, major, minor, access });
const deny = (type: DeviceRule['type'], major: number, minor: number, access = 'rwm'): DeviceRule => ({ allow: false, type, major, minor, access });

/** runc's test helper: trim lines, drop blank lines and // comments. */
const hash = (s: string) => s.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('//')).join('\n');

const PROLOGUE = `
        0: LdXMemW dst: r2 src: r1 off: 0 imm: 0
        1: AndImm32 dst: r2 imm: 65535
        2: LdXMemW dst: r3 src: r1 off: 0 imm: 0
        3: RShImm32 dst: r3 imm: 16
        4: LdXMemW dst: r4 src: r1 off: 4 imm: 0
        5: LdXMemW dst: r5 src: r1 off: 8 imm: 0`;

t.test('TestDeviceFilter_Nil: no rules, reject everything', async (t) => {
  t.equal(hash(bpfListing(deviceFilterProgram([]))), hash(`${PROLOGUE}
block-0:
        6: MovImm32 dst: r0 imm: 0
        7: Exit`));
});

// runc specconv.AllowedDevices, in runc's order
const RUNC_ALLOWED: DeviceRule[] = [
  allow('c', -1, -1, 'm'), allow('b', -1, -1, 'm'), allow('c', 1, 3), allow('c', 1, 8), allow('c', 1, 7), allow('c', 5, 0),
  allow('c', 1, 5), allow('c', 1, 9), allow('c', 136, -1), allow('c', 5, 2), allow('c', 10, 200),
];

const block = (n: number, i: number, major: number, minor: number) => `block-${n}:
        ${i}: JNEImm dst: r2 off: -1 imm: 2 <block-${n + 1}>
        ${i + 1}: JNEImm dst: r4 off: -1 imm: ${major} <block-${n + 1}>
        ${i + 2}: JNEImm dst: r5 off: -1 imm: ${minor} <block-${n + 1}>
        ${i + 3}: MovImm32 dst: r0 imm: 1
        ${i + 4}: Exit`;

const BUILTIN = `${PROLOGUE}
block-0:
        6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
        7: MovReg32 dst: r1 src: r3
        8: AndImm32 dst: r1 imm: 1
        9: JNEReg dst: r1 off: -1 src: r3 <block-1>
        10: MovImm32 dst: r0 imm: 1
        11: Exit
block-1:
        12: JNEImm dst: r2 off: -1 imm: 2 <block-2>
        13: MovReg32 dst: r1 src: r3
        14: AndImm32 dst: r1 imm: 1
        15: JNEReg dst: r1 off: -1 src: r3 <block-2>
        16: MovImm32 dst: r0 imm: 1
        17: Exit
${block(2, 18, 1, 3)}
${block(3, 23, 1, 5)}
${block(4, 28, 1, 7)}
${block(5, 33, 1, 8)}
${block(6, 38, 1, 9)}
${block(7, 43, 5, 0)}
${block(8, 48, 5, 2)}
${block(9, 53, 10, 200)}
block-10:
        58: JNEImm dst: r2 off: -1 imm: 2 <block-11>
        59: JNEImm dst: r4 off: -1 imm: 136 <block-11>
        60: MovImm32 dst: r0 imm: 1
        61: Exit
block-11:
        62: MovImm32 dst: r0 imm: 0
        63: Exit`;

t.test('TestDeviceFilter_BuiltInAllowList: runc\'s default list gives runc\'s program', async (t) => {
  t.equal(hash(bpfListing(deviceFilterProgram(RUNC_ALLOWED))), hash(BUILTIN));
  // the block as runc spells it (kept verbatim from its test, for one block at least)
  t.match(bpfListing(deviceFilterProgram(RUNC_ALLOWED)), /53: JNEImm dst: r2 off: -1 imm: 2 <block-10>\n\t54: JNEImm dst: r4 off: -1 imm: 10 <block-10>\n\t55: JNEImm dst: r5 off: -1 imm: 200 <block-10>/);
});

t.test('TestDeviceFilter_Privileged: allow a = one "return 1" block', async (t) => {
  t.equal(hash(bpfListing(deviceFilterProgram([allow('a', -1, -1)]))), hash(`${PROLOGUE}
block-0:
        6: MovImm32 dst: r0 imm: 1
        7: Exit`));
});

t.test('TestDeviceFilter_PrivilegedExceptSingleDevice: a deny list', async (t) => {
  t.equal(hash(bpfListing(deviceFilterProgram([allow('a', -1, -1), deny('b', 8, 0)]))), hash(`${PROLOGUE}
block-0:
         6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
         7: JNEImm dst: r4 off: -1 imm: 8 <block-1>
         8: JNEImm dst: r5 off: -1 imm: 0 <block-1>
         9: MovImm32 dst: r0 imm: 0
        10: Exit
block-1:
        11: MovImm32 dst: r0 imm: 1
        12: Exit`));
});

t.test('TestDeviceFilter_Weird: a rule before "allow a" is reset by it', async (t) => {
  t.equal(hash(bpfListing(deviceFilterProgram([deny('b', 8, 1), allow('a', -1, -1), deny('b', 8, 2)]))), hash(`${PROLOGUE}
block-0:
         6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
         7: JNEImm dst: r4 off: -1 imm: 8 <block-1>
         8: JNEImm dst: r5 off: -1 imm: 2 <block-1>
         9: MovImm32 dst: r0 imm: 0
        10: Exit
block-1:
        11: MovImm32 dst: r0 imm: 1
        12: Exit`));
});

t.test('Docker\'s default list (runc\'s plus /dev/console 5:1) after deny-all', async (t) => {
  const prog = deviceFilterProgram([deny('a', -1, -1), ...DEFAULT_ALLOWED_DEVICES]);
  // runc's program with one more block for c 5:1 between 5:0 and 5:2
  const expected = `${PROLOGUE}
block-0:
        6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
        7: MovReg32 dst: r1 src: r3
        8: AndImm32 dst: r1 imm: 1
        9: JNEReg dst: r1 off: -1 src: r3 <block-1>
        10: MovImm32 dst: r0 imm: 1
        11: Exit
block-1:
        12: JNEImm dst: r2 off: -1 imm: 2 <block-2>
        13: MovReg32 dst: r1 src: r3
        14: AndImm32 dst: r1 imm: 1
        15: JNEReg dst: r1 off: -1 src: r3 <block-2>
        16: MovImm32 dst: r0 imm: 1
        17: Exit
${block(2, 18, 1, 3)}
${block(3, 23, 1, 5)}
${block(4, 28, 1, 7)}
${block(5, 33, 1, 8)}
${block(6, 38, 1, 9)}
${block(7, 43, 5, 0)}
${block(8, 48, 5, 1)}
${block(9, 53, 5, 2)}
${block(10, 58, 10, 200)}
block-11:
        63: JNEImm dst: r2 off: -1 imm: 2 <block-12>
        64: JNEImm dst: r4 off: -1 imm: 136 <block-12>
        65: MovImm32 dst: r0 imm: 1
        66: Exit
block-12:
        67: MovImm32 dst: r0 imm: 0
        68: Exit`;
  t.equal(hash(bpfListing(prog)), hash(expected));
});

t.test('partial access: "c 1:3 r" checks the access bits before the numbers', async (t) => {
  const prog = deviceFilterProgram([allow('c', 1, 3, 'rw')]);
  t.same(prog.slice(6, 12).map(formatBpfInsn), [
    'JNEImm dst: r2 off: -1 imm: 2 <block-1>',
    'MovReg32 dst: r1 src: r3',
    'AndImm32 dst: r1 imm: 6',
    'JNEReg dst: r1 off: -1 src: r3 <block-1>',
    'JNEImm dst: r4 off: -1 imm: 1 <block-1>',
    'JNEImm dst: r5 off: -1 imm: 3 <block-1>',
  ]);
});

t.test('encode: struct bpf_insn bytes, jumps resolved to their block', async (t) => {
  const prog = deviceFilterProgram(RUNC_ALLOWED);
  const le = encodeBpf(prog, 'LE');
  t.equal(le.length, prog.length * 8);
  // ldxw r2, [r1+0]: code 0x61, dst 2 | src 1 << 4, off 0, imm 0
  t.same([...le.subarray(0, 8)], [0x61, 0x12, 0, 0, 0, 0, 0, 0]);
  // and32 r2, 0xffff
  t.same([...le.subarray(8, 16)], [0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0]);
  // rsh32 r3, 16
  t.same([...le.subarray(24, 32)], [0x74, 0x03, 0, 0, 16, 0, 0, 0]);
  // insn 6: jne r2, 1, +5 (to block-1 at 12)
  t.same([...le.subarray(48, 56)], [0x55, 0x02, 5, 0, 1, 0, 0, 0]);
  // insn 7: mov32 r1, r3
  t.same([...le.subarray(56, 64)], [0xbc, 0x31, 0, 0, 0, 0, 0, 0]);
  // insn 9: jne r1, r3, +2
  t.same([...le.subarray(72, 80)], [0x5d, 0x31, 2, 0, 0, 0, 0, 0]);
  // insn 10: mov32 r0, 1; insn 11: exit
  t.same([...le.subarray(80, 96)], [0xb4, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const back = decodeBpf(le, 'LE');
  const labelAt = new Map(prog.flatMap((x, i) => (x.sym ? [[x.sym, i] as const] : [])));
  prog.forEach((x, i) => {
    const d = back[i]!;
    t.equal(d.code, x.code);
    t.equal(d.dst, x.dst);
    t.equal(d.src, x.src);
    t.equal(d.imm, x.imm);
    if (x.ref) t.equal(i + 1 + d.off, labelAt.get(x.ref), `insn ${i} jumps to ${x.ref}`);
    else t.equal(d.off, x.off);
  });
  t.ok(back.every((d, i) => !prog[i]!.ref || d.off > 0), 'every jump goes forward (the verifier forbids loops)');
  const be = encodeBpf(prog, 'BE');
  t.same([...be.subarray(0, 8)], [0x61, 0x21, 0, 0, 0, 0, 0, 0], 'big endian flips the register nibbles');
  t.same(decodeBpf(be, 'BE').map((d) => [d.code, d.dst, d.src, d.off, d.imm]), back.map((d) => [d.code, d.dst, d.src, d.off, d.imm]));
});

t.test('deviceProgram: no rules in the update = leave it; privileged = no filter; defaults = a program', async (t) => {
  t.equal(deviceProgram({ memory: 1 }), undefined);
  t.equal(deviceProgram({ devices: [allow('a', -1, -1)] }), null);
  const def = deviceProgram({ devices: [] })!;
  t.equal(def.length, 69 * 8, 'the Docker default program has 69 instructions');
  const fuse = deviceProgram({ devices: [allow('c', 10, 229)] })!;
  t.equal(fuse.length, def.length + 5 * 8, '--device /dev/fuse adds one block');
  t.throws(() => deviceProgram({ devices: [deny('c', 1, 3, 'm')] }), { kind: 'invalid-parameter', message: /punches a hole in the wildcard rule "c \*:\* m"/ });
  t.throws(() => deviceProgram({ devices: [allow('c', 2 ** 31, 0)] }), { kind: 'invalid-parameter', message: /invalid device major/ });
});
