// The init's steps against FakeSyscalls: the order of kernel calls and the mount plan.
import t from 'tap';
import type { Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeSyscalls } from '../../../sys/fake.js';
import * as K from '../../../sys/index.js';
import { buildInitPlan, buildExecPlan } from '../../../runtime/index.js';
import type { RuntimeSpec, InitPlan } from '../../../runtime/index.js';
import { runSteps } from '../../../runtime/init/steps.js';
import type { InitContext } from '../../../runtime/init/context.js';

const host = { kernel: '6.18.0', arch: 'amd64', lastCap: 40 };
const spec = (rootfs: string, extra: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
  id: 'c1', rootfs, args: ['/bin/true'], env: [], cwd: '/', user: '', hostname: 'h1', tty: false, openStdin: false,
  readonlyRootfs: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], ulimits: [{ name: 'nofile', soft: 10, hard: 10 }],
  mounts: [], network: { mode: 'none' }, cgroupProcs: [], ...extra,
});

function execute(plan: InitPlan, sys = new FakeSyscalls()): { sys: FakeSyscalls; error: Error & { step?: string } } {
  const sent: unknown[] = [];
  const ctx: InitContext = { plan, sys, protocolFd: 3, env: [...plan.env], uid: 0, gid: 0, send: (m) => sent.push(m), receive: () => ({ t: 'pty-ack' }) };
  try {
    runSteps(ctx);
  } catch (e) {
    return { sys, error: e as Error & { step?: string } };
  }
  throw new Error('runSteps returned without execve');
}

const rootfsDir = (t: Test) => {
  const dir = t.testdir({ rootfs: { proc: { keys: '', acpi: {}, sys: {} }, sys: {}, etc: { passwd: 'root:x:0:0:root:/root:/bin/sh\n' } }, cg: { 'cgroup.procs': '' } });
  return { rootfs: path.join(dir, 'rootfs'), procs: path.join(dir, 'cg', 'cgroup.procs') };
};

/** A directory outside the rootfs standing for the host's (t.testdir is one per test: the rootfs's). */
const hostDir = (t: Test, files: Record<string, string>): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-steps-host-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  for (const [k, v] of Object.entries(files)) fs.writeFileSync(path.join(d, k), v);
  return d;
};

const idx = (sys: FakeSyscalls, pred: (c: { call: string; args: unknown[] }) => boolean) => sys.calls.findIndex(pred);

t.test('create: namespaces, mounts, pivot_root, then identity and security, execve last', async (t) => {
  const { rootfs, procs } = rootfsDir(t);
  const { sys, error } = execute(buildInitPlan(spec(rootfs, { cgroupProcs: [procs] }), host));
  t.equal(error.step, 'exec');
  t.match(error.message, /FakeSyscalls.execve/);
  t.equal(fs.readFileSync(procs, 'utf8'), String(process.pid), 'joined the cgroup');
  const names = sys.names();
  t.same(names.slice(0, 4), ['unshare', 'linkUp', 'unshare', 'sethostname']);
  t.same(sys.calls[0]!.args, [K.CLONE_NEWNET], 'a new network namespace first');
  t.same(sys.calls[2]!.args, [K.CLONE_NEWNS | K.CLONE_NEWUTS | K.CLONE_NEWIPC | K.CLONE_NEWCGROUP]);
  t.same(sys.calls[4], { call: 'mount', args: [null, '/', null, K.MS_REC | K.MS_PRIVATE, null] }, 'private before any mount');
  t.same(sys.calls[5], { call: 'mount', args: [rootfs, rootfs, null, K.MS_BIND | K.MS_REC, null] });
  const pivot = names.indexOf('pivot_root');
  const detach = idx(sys, (c) => c.call === 'umount2' && c.args[1] === K.MNT_DETACH);
  t.ok(pivot > 5 && detach > pivot, 'pivot_root, then the old root detached');
  // every mount is made by fd: a detached mount moved onto the O_PATH fd of its resolved target
  const moved = (from: string, to: string) => idx(sys, (c) => c.call === 'moveMount' && c.args[0] === from && c.args[1] === to);
  t.ok(moved('fsmount:proc', `${rootfs}/proc`) >= 0 && moved('fsmount:proc', `${rootfs}/proc`) < pivot, 'proc mounted before pivot_root');
  t.notOk(sys.calls.some((c) => c.call === 'mount' && c.args[1] !== '/' && c.args[1] !== '.' && c.args[1] !== rootfs), 'no mount(2) on a path in the rootfs');
  // masks: /proc/keys (file) bound from the verified /dev/null fd, /proc/acpi (dir) a ro tmpfs, missing /proc/kcore skipped
  t.ok(moved(`tree:${rootfs}/dev/null`, `${rootfs}/proc/keys`) > 0, '/proc/keys masked with the container\'s /dev/null');
  t.ok(sys.calls.some((c) => c.call === 'fsMount' && c.args[0] === 'tmpfs' && c.args[3] === 1 /* MOUNT_ATTR_RDONLY */), 'a read-only tmpfs for a masked dir');
  t.notOk(sys.calls.some((c) => c.call === 'moveMount' && String(c.args[1]).endsWith('kcore')));
  const roSys = idx(sys, (c) => c.call === 'openTree' && c.args[0] === `${rootfs}/proc/sys`);
  t.ok(roSys > 0 && sys.calls[roSys + 1]?.call === 'mountSetattr' && ((sys.calls[roSys + 1]!.args[1] as number) & 1), '/proc/sys read-only');
  t.ok(fs.lstatSync(`${rootfs}/dev/ptmx`).isSymbolicLink());
  const rl = names.indexOf('setrlimit');
  const firstDrop = idx(sys, (c) => c.call === 'prctl' && c.args[0] === K.PR_CAPBSET_DROP);
  const uid = names.indexOf('setresuid');
  const seccomp = names.indexOf('seccompLoad');
  const capset = names.lastIndexOf('capset');
  const exec = names.indexOf('execve');
  t.ok(pivot < rl && rl < firstDrop && firstDrop < uid, 'rlimits, bounding set, then the uid change');
  t.same(names.slice(names.indexOf('setgroups'), uid + 1), ['setgroups', 'setresgid', 'setresuid']);
  t.ok(uid < seccomp && seccomp < capset && capset < exec, 'without no_new_privs: seccomp before the capability drop');
  t.equal(exec, names.length - 1, 'execve is last');
  t.equal(sys.calls.filter((c) => c.call === 'prctl' && c.args[0] === K.PR_CAPBSET_DROP).length, 41 - 14);
  t.same(sys.calls[capset]!.args, [{ effective: 0xa80425fbn, permitted: 0xa80425fbn, inheritable: 0n }]);
  const fcntl = sys.calls.filter((c) => c.call === 'fcntl').map((c) => c.args as [number, boolean]);
  t.same(fcntl.slice(-4), [[3, true], [0, false], [1, false], [2, false]], 'protocol fd closes on exec, stdio does not');
  t.ok(fcntl.slice(0, -4).every(([fd, on]) => fd > 2 && on), 'every other fd (this process\'s, here) marked close-on-exec');
});

t.test('no_new_privs: the filter loads last, after prctl', async (t) => {
  const { rootfs } = rootfsDir(t);
  const { sys } = execute(buildInitPlan(spec(rootfs, { securityOpt: ['no-new-privileges'] }), host));
  const names = sys.names();
  const nnp = idx(sys, (c) => c.call === 'prctl' && c.args[0] === K.PR_SET_NO_NEW_PRIVS);
  t.ok(names.lastIndexOf('capset') < nnp && nnp < names.indexOf('seccompLoad') && names.indexOf('seccompLoad') < names.indexOf('execve'));
});

t.test('the parent-death signal is cleared before seccomp, in create and exec plans', async (t) => {
  const { rootfs } = rootfsDir(t);
  // not a second t.testdir: that would replace the rootfs's
  const dir = hostDir(t, {});
  fs.mkdirSync(path.join(dir, 'ns'));
  fs.mkdirSync(path.join(dir, 'root'));
  for (const n of ['ipc', 'uts', 'net', 'cgroup', 'mnt']) fs.writeFileSync(path.join(dir, 'ns', n), '');
  const exec = buildExecPlan(42, { args: ['/bin/true'], env: [], cwd: '/', user: '', tty: false, openStdin: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], cgroupProcs: [] }, host);
  exec.join = exec.join.map((j) => ({ ...j, path: path.join(dir, 'ns', j.type) }));
  exec.root = path.join(dir, 'root');
  for (const [what, plan] of [['create', buildInitPlan(spec(rootfs), host)], ['exec', exec]] as const) {
    const { sys } = execute(plan);
    const pd = idx(sys, (c) => c.call === 'prctl' && c.args[0] === K.PR_SET_PDEATHSIG && c.args[1] === 0);
    const filter = sys.calls.findIndex((c) => c.call === 'seccompLoad' || c.call === 'seccompLoadBpf');
    t.ok(pd >= 0, `${what}: PR_SET_PDEATHSIG 0`);
    t.ok(filter < 0 || pd < filter, `${what}: before the seccomp filter`);
    t.ok(pd < sys.names().indexOf('execve'), `${what}: before execve`);
  }
});

t.test('host network and readonly rootfs', async (t) => {
  const { rootfs } = rootfsDir(t);
  const { sys } = execute(buildInitPlan(spec(rootfs, { network: { mode: 'host' }, readonlyRootfs: true }), host));
  t.notOk(sys.calls.some((c) => c.call === 'linkUp' || (c.call === 'unshare' && c.args[0] === K.CLONE_NEWNET)));
  const ro = idx(sys, (c) => c.call === 'mount' && c.args[1] === '/' && c.args[3] === (K.MS_BIND | K.MS_REMOUNT | K.MS_RDONLY));
  t.ok(ro > sys.names().indexOf('pivot_root'), 'root remounted read-only after pivot_root');
});

t.test('a failing step stops the init and names itself', async (t) => {
  const { rootfs } = rootfsDir(t);
  const sys = new FakeSyscalls().failOn('pivot_root', 'EINVAL');
  const { error } = execute(buildInitPlan(spec(rootfs), host), sys);
  t.equal(error.step, 'pivot_root');
  t.equal(sys.names().at(-1), 'pivot_root', 'nothing after the failure');
});

t.test('exec: join namespaces, unshare(CLONE_FS) right before the mount namespace', async (t) => {
  const dir = t.testdir({ ns: { ipc: '', uts: '', net: '', cgroup: '', mnt: '' }, root: {} });
  const plan = buildExecPlan(42, { args: ['/bin/true'], env: [], cwd: '/', user: '', tty: true, openStdin: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], cgroupProcs: [] }, host);
  plan.join = plan.join.map((j) => ({ ...j, path: path.join(dir, 'ns', j.type) }));
  plan.root = path.join(dir, 'root');
  const { sys, error } = execute(plan);
  t.equal(error.step, 'exec');
  const ns = sys.calls.filter((c) => c.call === 'setns' || c.call === 'unshare').map((c) => `${c.call} ${(c.args.at(-1) as number).toString(16)}`);
  t.same(ns, ['setns 8000000', 'setns 4000000', 'setns 40000000', 'setns 2000000', 'unshare 200', 'setns 20000']);
  t.same(sys.names().slice(6, 9), ['fchdir', 'chroot', 'chdir'], 'then into the container root');
  t.notOk(sys.names().includes('mount'), 'exec mounts nothing');
  t.ok(sys.calls.some((c) => c.call === 'ioctl' && c.args[1] === K.TIOCSCTTY), 'tty: controlling terminal');
});

t.test('mount destinations resolve inside the rootfs, by fd', async (t) => {
  const { rootfs } = rootfsDir(t);
  const outside = hostDir(t, { victim: 'x' });
  fs.symlinkSync('/../../../etc', path.join(rootfs, 'escape'));
  fs.symlinkSync(outside, path.join(rootfs, 'abs'));
  const { sys } = execute(buildInitPlan(spec(rootfs, { mounts: [
    { type: 'tmpfs', destination: '/escape/x' },
    { type: 'tmpfs', destination: '/abs/new' },
  ] }), host));
  const targets = sys.calls.filter((c) => c.call === 'moveMount' && c.args[0] === 'fsmount:tmpfs').map((c) => c.args[1]);
  t.ok(targets.includes(`${rootfs}/etc/x`), 'an absolute symlink resolves in the rootfs');
  t.ok(targets.includes(`${rootfs}${outside}/new`), 'a symlink to a host path resolves under the rootfs');
  t.same(fs.readdirSync(outside), ['victim'], 'nothing made on the host');
});

t.test('a /dev that is a symlink is replaced by a directory before the tmpfs goes on it', async (t) => {
  const { rootfs } = rootfsDir(t);
  const outside = hostDir(t, { null: 'host file named null' });
  fs.symlinkSync(outside, path.join(rootfs, 'dev'));
  const { sys } = execute(buildInitPlan(spec(rootfs), host));
  t.ok(fs.lstatSync(path.join(rootfs, 'dev')).isDirectory(), '/dev is a real directory now');
  t.ok(sys.calls.some((c) => c.call === 'moveMount' && c.args[0] === 'fsmount:tmpfs' && c.args[1] === `${rootfs}/dev`));
  t.notOk(sys.calls.some((c) => String(c.args[0]).startsWith(`tree:${outside}`)), 'the host "null" is never bound');
  t.equal(fs.readFileSync(path.join(outside, 'null'), 'utf8'), 'host file named null');
});

t.test('masks refuse a /dev/null that is not the null device', async (t) => {
  const { rootfs } = rootfsDir(t);
  const sys = new FakeSyscalls();
  // the fake mknod makes placeholders; this one is a plain file the image put there
  const plan = buildInitPlan(spec(rootfs), host);
  plan.mounts = plan.mounts.filter((m) => !(m.op === 'mknod' && m.destination === '/dev/null'));
  fs.mkdirSync(path.join(rootfs, 'dev'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'dev', 'null'), 'not a device');
  const { error } = execute(plan, sys);
  t.equal(error.step, 'mounts');
  t.match(error.message, /\/dev\/null is not the null device/);
});

t.test('OomScoreAdj: written first, for PID 1 and for an exec (runc nsexec)', async (t) => {
  const { rootfs } = rootfsDir(t);
  const { sys } = execute(buildInitPlan(spec(rootfs, { oomScoreAdj: -200 }), host));
  t.same(sys.calls[0], { call: 'setOomScoreAdj', args: [-200] }, 'before any namespace, mount or exec');
  const dir = t.testdir({ ns: { ipc: '', uts: '', net: '', cgroup: '', mnt: '' }, root: {} });
  const plan = buildExecPlan(42, { args: ['/bin/true'], env: [], cwd: '/', user: '', tty: false, openStdin: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], cgroupProcs: [], oomScoreAdj: 500 }, host);
  plan.join = plan.join.map((j) => ({ ...j, path: path.join(dir, 'ns', j.type) }));
  plan.root = path.join(dir, 'root');
  const ex = execute(plan);
  t.same(ex.sys.calls[0], { call: 'setOomScoreAdj', args: [500] });
  t.notOk(execute(buildInitPlan(spec(rootfs), host)).sys.names().includes('setOomScoreAdj'), 'not asked: inherited');
  t.throws(() => buildInitPlan(spec(rootfs, { oomScoreAdj: 1001 }), host), /range for oom score adj is \[-1000, 1000\]/);
});
