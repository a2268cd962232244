// The launcher's exec plan cache (execPlan/execFrame): an entry is found again for the
// same container pid and spec, and every input a plan is made of gives its own entry,
// whose frame is the one built from scratch: a key that missed one of them would serve a
// stale plan (another user, env, cwd, capability set, filter, cgroup, or a restarted
// container's old namespaces).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildExecPlan, hostInfo } from '../../../runtime/index.js';
import { execPlan, execFrame } from '../../../runtime/launcher.js';
import { encodeExecPlan } from '../../../runtime/nsexec.js';
import { seccompCompile } from '../../../sys/index.js';
import type { ExecSpec } from '../../../runtime/index.js';

const spec = (extra: Partial<ExecSpec> = {}): ExecSpec => ({
  args: ['/bin/sh', '-c', 'true'], env: ['A=1'], cwd: '/w', user: '', tty: false, openStdin: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [],
  cgroupProcs: ['/sys/fs/cgroup/pids/x/cgroup.procs'], ...extra,
});

/** The frame as it is built without any cache (the launcher's withBpf by hand). */
function fresh(pid: number, s: ExecSpec, securityOpt = s.securityOpt): Buffer {
  const plan = buildExecPlan(pid, { ...s, securityOpt }, hostInfo());
  const compiled = plan.seccomp ? { ...plan, seccomp: { ...plan.seccomp, rules: [] }, seccompBpf: seccompCompile(plan.seccomp).toString('base64') } : plan;
  return encodeExecPlan(compiled);
}

t.test('the same pid and spec: the same entry, its plan frozen, its frame the one built anew', async (t) => {
  const a = execPlan(100, spec());
  const b = execPlan(100, spec());
  t.equal(a, b, 'found again (a new spec object with the same contents)');
  t.ok(Object.isFrozen(a.plan), 'shared, so frozen');
  t.equal(execFrame(a), execFrame(b), 'encoded once');
  t.same(execFrame(a), fresh(100, spec()));
});

t.test('each input of a plan gives its own entry, never another\'s', async (t) => {
  const base = execFrame(execPlan(200, spec()));
  const variants: Array<[string, number, Partial<ExecSpec>]> = [
    ['a restarted container (another pid)', 201, {}],
    ['args', 200, { args: ['/bin/sh', '-c', 'false'] }],
    ['env', 200, { env: ['A=2'] }],
    ['cwd', 200, { cwd: '/other' }],
    ['tty', 200, { tty: true }],
    ['console size', 200, { tty: true, consoleSize: [10, 20] }],
    ['privileged', 200, { privileged: true }],
    ['cap add', 200, { capAdd: ['NET_ADMIN'] }],
    ['cap drop', 200, { capDrop: ['CHOWN'] }],
    ['security options', 200, { securityOpt: ['no-new-privileges'] }],
    ['seccomp unconfined', 200, { securityOpt: ['seccomp=unconfined'] }],
    ['cgroup', 200, { cgroupProcs: ['/sys/fs/cgroup/pids/y/cgroup.procs'] }],
    ['oom score', 200, { oomScoreAdj: 300 }],
  ];
  for (const [what, pid, extra] of variants) {
    const f = execFrame(execPlan(pid, spec(extra)));
    t.notSame(f, base, `${what}: another frame`);
    t.same(f, fresh(pid, spec(extra)), `${what}: the frame built anew`);
  }
  // inputs the frame does not carry: the plan does (the user is resolved from the container's files at each exec)
  const planOnly: Array<[string, Partial<ExecSpec>, 'user' | 'groupAdd']> = [['user', { user: 'nobody' }, 'user'], ['group add', { groupAdd: ['wheel'] }, 'groupAdd']];
  for (const [what, extra, field] of planOnly) {
    const e = execPlan(200, spec(extra));
    t.same(e.plan[field], buildExecPlan(200, spec(extra), hostInfo())[field], `${what}: in its plan`);
    t.notSame(e.plan[field], execPlan(200, spec()).plan[field], `${what}: not the base plan's`);
  }
  t.same(execFrame(execPlan(200, spec({ openStdin: true, mergeOutput: true }))), base, 'stdio choices: the same frame');
});

t.test('a seccomp profile file: its contents, read at each exec, are part of the key', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-test-plans-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'profile.json');
  const one = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}';
  const two = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["rmdir"],"action":"SCMP_ACT_ERRNO"}]}';
  fs.writeFileSync(file, one);
  const s = spec({ securityOpt: [`seccomp=${file}`] });
  const a = execFrame(execPlan(300, s));
  t.same(a, fresh(300, s, [`seccomp=${one}`]));
  fs.writeFileSync(file, two);
  const b = execFrame(execPlan(300, s));
  t.notSame(b, a, 'the file changed: another filter');
  t.same(b, fresh(300, s, [`seccomp=${two}`]));
});

t.test('bad input is refused every time, never cached', async (t) => {
  t.throws(() => execPlan(400, spec({ args: [] })), { message: 'No exec command specified' });
  t.throws(() => execPlan(400, spec({ args: [] })), { message: 'No exec command specified' });
  const nul = execPlan(400, spec({ env: ['A=\0'] }));
  t.throws(() => execFrame(nul), /NUL/);
  t.throws(() => execFrame(nul), /NUL/, 'an unencodable plan stays unencodable');
});
