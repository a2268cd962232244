// The TypeScript side of tsd-nsexec (runtime/nsexec.ts): the plan as the helper
// reads it, and its failure reports turned into the Node init's messages. The
// integration test (test/integration/runtime/exec-paths.test.ts) runs both paths.
import t from 'tap';
import { buildExecPlan } from '../../../runtime/index.js';
import { encodeExecPlan, encodeCreatePlan, describeFailure, userReply, frame, cgroupRecord } from '../../../runtime/nsexec.js';
import type { FailMessage } from '../../../runtime/nsexec.js';
import type { ExecSpec } from '../../../runtime/index.js';

const host = { kernel: '6.18.0', arch: 'amd64', lastCap: 40 };
const spec = (extra: Partial<ExecSpec> = {}): ExecSpec => ({
  args: ['ls', '-l'], env: ['A=1'], cwd: '/w', user: '', tty: false, openStdin: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], cgroupProcs: ['/sys/fs/cgroup/pids/x/cgroup.procs'], ...extra,
});
const records = (b: Buffer): string[] => {
  t.equal(b.readUInt32LE(0), b.length - 4, 'the length prefix is the body\'s');
  return b.subarray(4).toString('utf8').split('\0').slice(0, -1);
};

t.test('the plan, in the helper\'s order and format', async (t) => {
  const plan = { ...buildExecPlan(42, spec({ securityOpt: ['seccomp=unconfined', 'no-new-privileges'], tty: true, consoleSize: [3, 4] }), host), oomScoreAdj: -5 };
  const r = records(encodeExecPlan(plan, () => false));
  t.same(r.filter((x) => /^(oom|cgroup|join|root|cwd|nnp|tty|console|env|arg)=/.test(x)), [
    'oom=-5', 'cgroup=/sys/fs/cgroup/pids/x/cgroup.procs',
    'join=ipc:/proc/42/ns/ipc', 'join=uts:/proc/42/ns/uts', 'join=net:/proc/42/ns/net', 'join=cgroup:/proc/42/ns/cgroup', 'join=mnt:/proc/42/ns/mnt',
    'root=/proc/42/root', 'cwd=/w', 'nnp=1', 'tty=1', 'console=3x4', ...plan.env.map((e) => `env=${e}`), 'arg=ls', 'arg=-l',
  ]);
  t.ok(r.includes('caps=a80425fb'), 'Docker\'s default capabilities as a hex mask');
  t.ok(r.includes('lastcap=40'));
  t.notOk(r.some((x) => x.startsWith('bpf=')), 'unconfined: no filter');
});

t.test('refused: a NUL inside a record, a filter left uncompiled, a create plan', async (t) => {
  const plan = buildExecPlan(42, spec(), host);
  const compiled = { ...plan, seccompBpf: Buffer.alloc(8).toString('base64') };
  t.throws(() => encodeExecPlan({ ...compiled, args: ['ls', 'a\0b'] }), /NUL/);
  t.throws(() => encodeExecPlan({ ...compiled, env: ['A=\0'] }), /NUL/);
  t.throws(() => encodeExecPlan({ ...compiled, cwd: '/a\0' }), /NUL/);
  t.ok(plan.seccomp, 'the default profile');
  t.throws(() => encodeExecPlan(plan), /not compiled/, 'never run unfiltered');
  t.ok(records(encodeExecPlan({ ...plan, seccompBpf: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]).toString('base64') })).includes('bpf=0102030405060708'));
  t.throws(() => encodeExecPlan({ ...plan, mode: 'create' }), /exec plans only/);
});

t.test('the user the daemon resolves from the files the helper read', async (t) => {
  const plan = buildExecPlan(42, spec({ user: 'u', groupAdd: ['g2'] }), host);
  const r = userReply(plan, { t: 'etc', passwd: 'u:x:1000:1001::/home/u:/bin/sh\n', group: 'g2:x:2000:u\n' });
  t.ok('frame' in r);
  if ('frame' in r) t.same(records(r.frame), ['uid=1000', 'gid=1001', 'group=1001', 'group=2000', 'home=/home/u']);
  const bad = userReply(plan, { t: 'etc', passwd: null, group: null });
  t.ok('error' in bad && /u/.test(bad.error.message) && bad.error.exitCode === 128, 'an unknown user is the Node init\'s error');
});

t.test('failures in the Node init\'s words', async (t) => {
  const plan = buildExecPlan(42, spec({ args: ['prog'] }), host);
  t.same(describeFailure({ t: 'fail', step: 'exec', call: 'lookpath', errno: 2, path: 'prog' }, plan), { step: 'exec', message: 'exec: "prog": executable file not found in $PATH', errno: 'ENOENT', exitCode: 127 });
  t.same(describeFailure({ t: 'fail', step: 'exec', call: 'execve', errno: 13, path: '/bin/prog' }, plan), { step: 'exec', message: 'exec: "prog": permission denied', errno: 'EACCES', exitCode: 126 });
  t.equal(describeFailure({ t: 'fail', step: 'cwd_user', call: 'chdir', errno: 20, path: '/w' }, plan).message, 'chdir to cwd ("/w") set in config.json failed: not a directory');
  t.equal(describeFailure({ t: 'fail', step: 'user', call: 'read', errno: 22, path: '/etc/passwd', detail: 'not a regular file' }, plan).message, 'unable to read /etc/passwd: /etc/passwd is not a regular file');
  t.equal(describeFailure({ t: 'fail', step: 'user', call: 'read', errno: 27, path: '/etc/group', detail: 'too large' }, plan).message, 'unable to read /etc/group: /etc/group is larger than 4194304 bytes');
  t.match(describeFailure({ t: 'fail', step: 'cgroup', call: 'open', errno: 2, path: '/sys/x' }, plan).message, /^failed to join cgroup \/sys\/x: ENOENT: no such file or directory, open '\/sys\/x'$/);
  t.equal(frame([['a', 1], ['b', 'x=y']]).toString('latin1'), '\x0a\x00\x00\x00a=1\0b=x=y\0');
});

t.test('joining a cgroup: a v1 directory\'s tasks file, written "0" by the helper; cgroup.procs elsewhere', async (t) => {
  const v1 = (d: string) => d.startsWith('/v1/');
  const plan = { ...buildExecPlan(42, spec({ cgroupProcs: ['/v1/cpu/c/cgroup.procs', '/v2/c/cgroup.procs', '/v1/fifo'] }), host), seccomp: null };
  t.same(records(encodeExecPlan(plan, v1)).filter((x) => /^cg/.test(x)), ['cgtask=/v1/cpu/c/tasks', 'cgroup=/v2/c/cgroup.procs', 'cgroup=/v1/fifo']);
  t.same(cgroupRecord('/nonexistent/c/cgroup.procs'), ['cgroup', '/nonexistent/c/cgroup.procs'], 'no tasks file beside it: the pid into cgroup.procs');
});

t.test('a create plan: its steps\' records in order, host data looked up by the daemon', async (t) => {
  const { buildInitPlan } = await import('../../../runtime/index.js');
  const base = {
    id: 'x', rootfs: '/r', args: ['sh'], env: [], cwd: '', user: '', hostname: 'h', tty: false, openStdin: false, readonlyRootfs: true,
    privileged: false, capAdd: [], capDrop: [], securityOpt: ['seccomp=unconfined'], ulimits: [{ name: 'nofile', soft: 10, hard: -1 }],
    network: { mode: 'none' as const }, cgroupProcs: ['/sys/fs/cgroup/pids/x/cgroup.procs'],
    mounts: [{ type: 'bind' as const, source: '/nonexistent-tsd-src', destination: '/a', readonly: true }, { type: 'bind' as const, source: '/etc', destination: '/b', readonly: false }],
  };
  const plan = buildInitPlan(base, host);
  const r = records(encodeCreatePlan({ ...plan, stdio: { stdinNull: true } }, () => false));
  t.same(r.slice(0, 6), ['mode=create', 'stdinnull=1', 'cgroup=/sys/fs/cgroup/pids/x/cgroup.procs', 'net=new', 'unshare=e020000', 'hostname=h']);
  t.ok(r.includes('rootfs=/r') && r.includes('rofs=1') && r.includes('rlimit=7:10:18446744073709551615'), 'rootfs, read-only, an unlimited hard limit');
  const a = r.indexOf('o.dst=/a');
  t.same(r.slice(a - 1, a + 6), ['op=mount', 'o.dst=/a', 'o.create=missing', 'o.flags=20480', 'o.src=/nonexistent-tsd-src', 'o.remount=1', `o.prop=${r[a + 5]!.slice(7)}`], 'a missing bind source is marked, not refused');
  t.ok(r.includes('o.create=dir'), 'a directory source: a directory target');
  t.ok(r.some((x) => x.startsWith('o.cgh=')), 'the host\'s cgroup hierarchies');
  t.throws(() => encodeCreatePlan(buildExecPlan(42, spec(), host)), /not a create plan/);
});

t.test('create failures in the Node init\'s words', async (t) => {
  const { buildInitPlan } = await import('../../../runtime/index.js');
  const plan = buildInitPlan({
    id: 'x', rootfs: '/r', args: ['sh'], env: [], cwd: '', user: '', hostname: 'h', tty: false, openStdin: false, readonlyRootfs: false,
    privileged: false, capAdd: [], capDrop: [], securityOpt: [], ulimits: [], network: { mode: 'none' }, cgroupProcs: [],
    mounts: [{ type: 'bind', source: '/src', destination: '/a', readonly: false }, { type: 'tmpfs', destination: '/t' }],
  }, host);
  const idx = (pred: (o: (typeof plan.mounts)[number]) => boolean) => plan.mounts.findIndex(pred);
  const bind = idx((o) => o.op === 'mount' && o.destination === '/a');
  const proc = idx((o) => o.op === 'mount' && o.destination === '/proc');
  const cg = idx((o) => o.op === 'cgroupfs');
  const nul = idx((o) => o.op === 'mknod' && o.destination === '/dev/null');
  const msg = (m: Partial<FailMessage>) => describeFailure({ t: 'fail', step: 'mounts', call: 'move_mount', errno: 22, ...m } as FailMessage, plan).message;
  t.equal(msg({ op: bind, inner: 'nosource', call: 'stat', errno: 2, path: '/src' }), 'invalid mount config for type "bind": bind source path does not exist: /src');
  t.equal(msg({ op: bind, kind: 'mount' }), 'error mounting bind mount /src to /a: move_mount: EINVAL');
  t.equal(msg({ op: proc, kind: 'mount', call: 'fsopen', errno: 19, path: 'proc' }), 'error mounting proc on /proc: fsopen proc: ENODEV');
  t.equal(msg({ op: bind, kind: 'mount', inner: 'symlinks', path: '/a' }), 'error mounting bind mount /src to /a: too many levels of symbolic links: /a');
  t.equal(msg({ op: bind, kind: 'mount', inner: 'isdir', path: 'hosts' }), 'hosts is a directory, a file is mounted there');
  t.equal(msg({ op: cg, kind: 'cgroupfs', call: 'mkdirat', errno: 30, path: 'cpu' }), 'error mounting cgroup hierarchies on /sys/fs/cgroup: mkdirat cpu: EROFS');
  t.equal(msg({ op: nul, kind: 'mknod', call: 'mknodat', errno: 17, path: 'null' }), 'error creating device node /dev/null: mknodat null: EEXIST');
  t.equal(msg({ op: 0, inner: 'nullopen', call: 'openat2', errno: 2, path: 'dev/null' }), 'cannot mask paths: /dev/null: openat2 dev/null: ENOENT');
  t.equal(msg({ op: 0, inner: 'notnull', call: 'fstat', errno: 19, detail: 'symlink 0:0' }), 'cannot mask paths: /dev/null is not the null device (symlink 0:0)');
  t.equal(describeFailure({ t: 'fail', step: 'sysctl', call: 'open', errno: 2, path: '/proc/sys/net/x' }, plan).message, 'open /proc/sys/net/x: no such file or directory');
  t.equal(describeFailure({ t: 'fail', step: 'network', call: 'open-netns', errno: 2, path: '/n' }, plan).message, 'failed to open network namespace /n: ENOENT: no such file or directory, open \'/n\'');
  t.equal(describeFailure({ t: 'fail', step: 'private', call: 'mount', errno: 1, path: '/' }, plan).message, 'mount /: EPERM');
});
