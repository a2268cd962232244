// seccompCompile's program as the kernel runs it: a classic BPF interpreter (the
// instructions libseccomp emits) over struct seccomp_data, for every syscall number of
// each of the profile's architectures and argument values around the rules' own. The
// tree (libseccomp's optimize level 2) must decide exactly as the list does, in far
// fewer instructions: the kernel runs the filter over every syscall number when it is
// loaded, which is what each container process and exec pays.
import t from 'tap';
import os from 'node:os';
import { compileProfile, defaultProfile } from '../../../runtime/index.js';
import { DEFAULT_CAPS } from '../../../runtime/caps.js';
import * as K from '../../../sys/index.js';

/** Runs `prog` on one seccomp_data (nr, arch, args): the action and how many instructions ran. */
function run(prog: Buffer, nr: number, arch: number, args: bigint[]): { action: number; steps: number } {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr | 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  args.forEach((a, i) => data.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  const mem = new Uint32Array(16);
  let A = 0, X = 0;
  for (let pc = 0, steps = 1; pc * 8 < prog.length; pc++, steps++) {
    const code = prog.readUInt16LE(pc * 8), jt = prog[pc * 8 + 2]!, jf = prog[pc * 8 + 3]!, k = prog.readUInt32LE(pc * 8 + 4);
    const cls = code & 0x07;
    if (cls === 0x00) { // LD
      if ((code & 0xe0) === 0x20) A = data.readUInt32LE(k); // W ABS
      else if ((code & 0xe0) === 0x00) A = k; // IMM
      else if ((code & 0xe0) === 0x60) A = mem[k]!; // MEM
      else throw new Error(`ld ${code.toString(16)}`);
    } else if (cls === 0x01) { // LDX
      if ((code & 0xe0) === 0x00) X = k;
      else if ((code & 0xe0) === 0x60) X = mem[k]!;
      else throw new Error(`ldx ${code.toString(16)}`);
    } else if (cls === 0x02) mem[k] = A; // ST
    else if (cls === 0x03) mem[k] = X; // STX
    else if (cls === 0x04) { // ALU
      const v = code & 0x08 ? X : k;
      switch (code & 0xf0) {
        case 0x00: A = (A + v) >>> 0; break;
        case 0x10: A = (A - v) >>> 0; break;
        case 0x50: A = (A & v) >>> 0; break;
        case 0x40: A = (A | v) >>> 0; break;
        case 0x60: A = (A << v) >>> 0; break;
        case 0x70: A = A >>> v; break;
        case 0xa0: A = (A ^ v) >>> 0; break;
        case 0x80: A = (-A) >>> 0; break;
        default: throw new Error(`alu ${code.toString(16)}`);
      }
    } else if (cls === 0x05) { // JMP
      const v = code & 0x08 ? X : k;
      const op = code & 0xf0;
      if (op === 0x00) { pc += k; continue; }
      const taken = op === 0x10 ? A === v : op === 0x20 ? A > v : op === 0x30 ? A >= v : op === 0x40 ? (A & v) !== 0 : (() => { throw new Error(`jmp ${code.toString(16)}`); })();
      pc += taken ? jt : jf;
    } else if (cls === 0x06) return { action: (code & 0x18) === 0x10 ? A : k, steps }; // RET A / K
    else if (cls === 0x07) { if (code & 0x80) A = X; else X = A; } // MISC TXA / TAX
  }
  throw new Error('fell off the end of the program');
}

t.test('the default profile as a tree decides every syscall as the list does, in far fewer instructions', { skip: process.arch !== 'x64' && 'amd64 syscall numbers' }, async (t) => {
  const filter = compileProfile(defaultProfile, DEFAULT_CAPS, 'amd64', os.release());
  const tree = K.seccompCompile(filter);
  const list = K.seccompCompile(filter, { tree: false });
  t.not(tree.toString('hex'), list.toString('hex'), 'two different programs');
  // argument values: 0, ~0 and those the rules compare with, ±1, each in every argument
  const values = new Set<bigint>([0n, 0xffffffffn, 0xffffffffffffffffn]);
  for (const r of filter.rules) for (const a of r.args) {
    const v = BigInt.asUintN(64, BigInt(a.value));
    for (const x of [v, v + 1n, v - 1n, BigInt.asUintN(64, BigInt(a.valueTwo ?? 0))]) values.add(BigInt.asUintN(64, x));
  }
  let differ = 0, runs = 0, treeMax = 0, listMax = 0;
  const allowed = new Set<number>();
  for (const arch of filter.architectures) {
    const base = arch === K.SCMP_ARCH.SCMP_ARCH_X32 ? 0x40000000 : 0;
    for (let nr = base; nr < base + 560; nr++) {
      for (const v of values) {
        const args = [v, v, v, v, v, v];
        const a = run(tree, nr, arch, args), b = run(list, nr, arch, args);
        runs++;
        if (a.action !== b.action) differ++;
        if (v === 0n) { treeMax = Math.max(treeMax, a.steps); listMax = Math.max(listMax, b.steps); }
        if (a.action === K.SCMP_ACT_ALLOW && arch === K.SCMP_ARCH.SCMP_ARCH_X86_64) allowed.add(nr);
      }
    }
  }
  // an architecture outside the profile: the same (kill) decision from both
  t.equal(run(tree, 0, K.SCMP_ARCH.SCMP_ARCH_AARCH64, []).action, run(list, 0, K.SCMP_ARCH.SCMP_ARCH_AARCH64, []).action, 'a foreign architecture');
  t.equal(differ, 0, `the same action on all ${runs} inputs`);
  t.ok(allowed.has(0) && allowed.has(1) && !allowed.has(K.seccompResolve('mount')), 'read and write allowed, mount not (the interpreter reads the programs right)');
  t.ok(treeMax * 10 < listMax, `longest path ${treeMax} instructions as a tree, ${listMax} as a list`);
});
