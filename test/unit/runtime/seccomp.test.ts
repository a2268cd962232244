import t from 'tap';
import { compileProfile, defaultProfile, parseProfile } from '../../../runtime/index.js';
import * as K from '../../../sys/index.js';
import { DEFAULT_CAPS } from '../../../runtime/caps.js';

const rulesFor = (f: ReturnType<typeof compileProfile>, name: string) => f.rules.filter((r) => r.syscall === name);

t.test('default profile for the default capabilities on amd64', async (t) => {
  const f = compileProfile(defaultProfile, DEFAULT_CAPS, 'amd64', '6.18.0');
  t.equal(f.defaultAction, K.SCMP_ACT_ERRNO(1));
  t.same(f.architectures, [K.SCMP_ARCH.SCMP_ARCH_X86_64, K.SCMP_ARCH.SCMP_ARCH_X86, K.SCMP_ARCH.SCMP_ARCH_X32]);
  t.same(rulesFor(f, 'read'), [{ syscall: 'read', action: K.SCMP_ACT_ALLOW, args: [] }]);
  t.same(rulesFor(f, 'mount'), [], 'mount needs CAP_SYS_ADMIN');
  t.same(rulesFor(f, 'arch_prctl').length, 1, 'amd64-only call included');
  t.same(rulesFor(f, 'riscv_flush_icache'), [], 'other arches excluded');
  t.same(rulesFor(f, 'ptrace').length, 1, 'minKernel 4.8 met');
  t.same(rulesFor(f, 'clone'), [{ syscall: 'clone', action: K.SCMP_ACT_ALLOW, args: [{ index: 0, op: K.SCMP_CMP.SCMP_CMP_MASKED_EQ, value: 2114060288, valueTwo: 0 }] }]);
  t.same(rulesFor(f, 'clone3'), [{ syscall: 'clone3', action: K.SCMP_ACT_ERRNO(38), args: [] }]);
  t.equal(rulesFor(f, 'personality').length, 5, 'several values on one argument: one rule each');
  t.equal(rulesFor(f, 'socket').length, 3);
});

t.test('capabilities switch rules on and off; old kernels lose minKernel rules', async (t) => {
  const f = compileProfile(defaultProfile, [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'], 'amd64', '4.4.0');
  t.equal(rulesFor(f, 'mount').length, 1);
  t.same(rulesFor(f, 'clone'), [{ syscall: 'clone', action: K.SCMP_ACT_ALLOW, args: [] }]);
  t.same(rulesFor(f, 'clone3'), [{ syscall: 'clone3', action: K.SCMP_ACT_ALLOW, args: [] }]);
  t.same(rulesFor(f, 'ptrace'), []);
});

t.test('custom profiles', async (t) => {
  const f = compileProfile(parseProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13},{"name":"getpid","action":"SCMP_ACT_ALLOW"}]}'), [], 'amd64', '6.1');
  t.same(f.rules, [{ syscall: 'mkdir', action: K.SCMP_ACT_ERRNO(13), args: [] }], 'rules equal to the default action are dropped');
  t.throws(() => parseProfile('[]'), { kind: 'invalid-parameter', message: /./ });
  t.throws(() => compileProfile(parseProfile('{"defaultAction":"SCMP_ACT_NOPE"}'), [], 'amd64', '6.1'), { message: 'unsupported seccomp action: SCMP_ACT_NOPE' });
  t.throws(() => compileProfile(parseProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ZZ"}]}]}'), [], 'amd64', '6.1'), { message: /unsupported seccomp operator/ });
});
