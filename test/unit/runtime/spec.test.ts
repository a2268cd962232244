// buildInitPlan / buildExecPlan: the plan as data, no kernel.
import t from 'tap';
import { buildInitPlan, buildExecPlan, parseSecurityOpt, tmpfsOptions, MASKED_PATHS, READONLY_PATHS } from '../../../runtime/index.js';
import type { RuntimeSpec, MountOp } from '../../../runtime/index.js';
import * as K from '../../../sys/index.js';

const host = { kernel: '6.18.0', arch: 'amd64', lastCap: 40 };
const spec = (extra: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
  id: 'c1', rootfs: '/var/lib/tsd/containers/c1/rootfs', args: ['sh'], env: ['A=1'], cwd: '', user: '', hostname: 'h1', tty: false,
  openStdin: false, readonlyRootfs: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], ulimits: [], mounts: [],
  network: { mode: 'none' }, cgroupProcs: ['/sys/fs/cgroup/pids/tsd/c1/cgroup.procs'], ...extra,
});
const dests = (ops: MountOp[]) => ops.map((o) => `${o.op} ${o.destination}`);

t.test('default plan: namespaces, system mounts in order, masks last', async (t) => {
  const p = buildInitPlan(spec(), host);
  t.equal(p.mode, 'create');
  t.same(p.unshare, ['mnt', 'uts', 'ipc', 'cgroup']);
  t.equal(p.network, 'new');
  t.equal(p.hostname, 'h1');
  t.equal(p.cwd, '/');
  t.same(p.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1']);
  const d = dests(p.mounts);
  t.same(d.slice(0, 4), ['mount /proc', 'mount /sys', 'cgroupfs /sys/fs/cgroup', 'mount /dev']);
  t.match(p.mounts[2], { op: 'cgroupfs', readonly: true });
  t.same(d.slice(4, 10), ['mknod /dev/null', 'mknod /dev/zero', 'mknod /dev/full', 'mknod /dev/random', 'mknod /dev/urandom', 'mknod /dev/tty']);
  t.ok(d.indexOf('mount /dev/pts') > d.indexOf('symlink /dev/ptmx'));
  t.same(d.slice(-MASKED_PATHS.length - READONLY_PATHS.length), [...MASKED_PATHS.map((x) => `mask ${x}`), ...READONLY_PATHS.map((x) => `readonly ${x}`)]);
  const sys = p.mounts.find((m) => m.destination === '/sys') as Extract<MountOp, { op: 'mount' }>;
  t.ok(sys.flags & K.MS_RDONLY, 'sysfs read-only');
  const pts = p.mounts.find((m) => m.destination === '/dev/pts') as Extract<MountOp, { op: 'mount' }>;
  t.equal(pts.data, 'newinstance,ptmxmode=0666,mode=0620,gid=5');
  const shm = p.mounts.find((m) => m.destination === '/dev/shm') as Extract<MountOp, { op: 'mount' }>;
  t.equal(shm.data, `mode=1777,size=${64 * 1024 * 1024}`);
  t.same(p.capabilities, [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]);
  t.ok(p.seccomp && p.seccomp.rules.length > 300, 'default seccomp profile');
  t.equal(p.noNewPrivileges, false);
});

t.test('privileged: all caps, no seccomp, host devices, no masks, sysfs rw', async (t) => {
  const p = buildInitPlan(spec({ privileged: true }), host);
  t.equal(p.capabilities.length, 41);
  t.equal(p.seccomp, null);
  t.ok(p.mounts.some((m) => m.op === 'hostDevices'));
  t.notOk(p.mounts.some((m) => m.op === 'mask' || m.op === 'readonly' || m.op === 'mknod'));
  const sys = p.mounts.find((m) => m.destination === '/sys') as Extract<MountOp, { op: 'mount' }>;
  t.notOk(sys.flags & K.MS_RDONLY);
});

t.test('user mounts keep their order, after the /etc files, with ro and propagation', async (t) => {
  const p = buildInitPlan(spec({
    mounts: [
      { type: 'bind', source: '/srv/a', destination: '/a/', readonly: true },
      { type: 'tmpfs', destination: '/t', options: 'size=1m,mode=700,exec' },
      { type: 'bind', source: '/srv/b', destination: '/b', readonly: false, propagation: 'rshared' },
    ],
    etc: { hosts: '/x/hosts', resolvConf: '/x/resolv.conf' },
    shmSize: 1024,
  }), host);
  const d = dests(p.mounts);
  const i = d.indexOf('mount /etc/hosts');
  t.same(d.slice(i, i + 5), ['mount /etc/hosts', 'mount /etc/resolv.conf', 'mount /a', 'mount /t', 'mount /b']);
  const a = p.mounts[i + 2] as Extract<MountOp, { op: 'mount' }>;
  t.equal(a.flags, K.MS_BIND | K.MS_REC);
  t.equal(a.remount, K.MS_RDONLY);
  t.equal(a.propagation, K.MS_PRIVATE | K.MS_REC);
  t.equal(a.create, 'auto');
  const tm = p.mounts[i + 3] as Extract<MountOp, { op: 'mount' }>;
  t.equal(tm.data, 'size=1048576,mode=700');
  t.equal(tm.flags, K.MS_NOSUID | K.MS_NODEV);
  t.equal((p.mounts[i + 4] as Extract<MountOp, { op: 'mount' }>).propagation, K.MS_SHARED | K.MS_REC);
  t.match(p.mounts.find((m) => m.destination === '/dev/shm'), { data: 'mode=1777,size=1024' });
});

t.test('network modes, hostname with host network, cwd', async (t) => {
  t.same(buildInitPlan(spec({ network: { mode: 'netns', path: '/run/tsd/netns/c1' } }), host).network, { join: '/run/tsd/netns/c1' });
  const h = buildInitPlan(spec({ network: { mode: 'host' }, cwd: 'work/../app' }), host);
  t.equal(h.network, 'host');
  t.equal(h.hostname, null, 'host network shares the host UTS settings, as Docker');
  t.equal(h.cwd, '/app');
});

t.test('security options', async (t) => {
  t.match(parseSecurityOpt(['no-new-privileges']), { noNewPrivileges: true, seccomp: 'default' });
  t.match(parseSecurityOpt(['no-new-privileges:true', 'seccomp=unconfined']), { noNewPrivileges: true, seccomp: 'unconfined' });
  t.match(parseSecurityOpt(['no-new-privileges=false', 'apparmor=unconfined']), { noNewPrivileges: false, seccomp: 'default' });
  t.throws(() => parseSecurityOpt(['no-new-privileges:maybe']), { kind: 'invalid-parameter', message: /./ });
  t.throws(() => parseSecurityOpt(['what']), { message: 'invalid --security-opt 1: "what"' });
  t.equal(buildInitPlan(spec({ securityOpt: ['seccomp=unconfined'] }), host).seccomp, null);
  const custom = buildInitPlan(spec({ securityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}'] }), host);
  t.same(custom.seccomp, { defaultAction: K.SCMP_ACT_ALLOW, architectures: [], rules: [{ syscall: 'mkdir', action: K.SCMP_ACT_ERRNO(1), args: [] }] });
  t.throws(() => buildInitPlan(spec({ securityOpt: ['seccomp={bad'] }), host), { kind: 'invalid-parameter', message: /Decoding seccomp profile failed/ });
});

t.test('bad input', async (t) => {
  t.throws(() => buildInitPlan(spec({ args: [] }), host), { message: 'no command specified' });
  t.throws(() => buildInitPlan(spec({ mounts: [{ type: 'bind', source: 'rel', destination: '/x', readonly: false }] }), host), { kind: 'invalid-parameter', message: /./ });
  t.throws(() => buildInitPlan(spec({ mounts: [{ type: 'bind', source: '/a', destination: 'x', readonly: false }] }), host), { kind: 'invalid-parameter', message: /./ });
  t.throws(() => buildInitPlan(spec({ mounts: [{ type: 'bind', source: '/a', destination: '/x', readonly: false, propagation: 'weird' }] }), host), { message: 'invalid propagation mode: weird' });
  t.throws(() => buildInitPlan(spec({ ulimits: [{ name: 'nofile', soft: 10, hard: 5 }] }), host), { kind: 'invalid-parameter', message: /./ });
  t.throws(() => tmpfsOptions('size=lots'), { message: 'invalid tmpfs option ["size=lots"]' });
  t.same(buildInitPlan(spec({ ulimits: [{ name: 'nofile', soft: 10, hard: 20 }] }), host).rlimits, [{ name: 'nofile', resource: 7, soft: 10, hard: 20 }]);
});

t.test('exec plan joins the container namespaces, mount last', async (t) => {
  const p = buildExecPlan(42, { args: ['ls'], env: [], cwd: '/x', user: '1000', tty: true, openStdin: true, privileged: false, capAdd: ['NET_ADMIN'], capDrop: [], securityOpt: [], cgroupProcs: [] }, host);
  t.equal(p.mode, 'exec');
  t.same(p.join.map((j) => j.type), ['ipc', 'uts', 'net', 'cgroup', 'mnt']);
  t.equal(p.join[4]!.path, '/proc/42/ns/mnt');
  t.equal(p.root, '/proc/42/root');
  t.same(p.mounts, []);
  t.ok(p.capabilities.includes(12), 'CAP_NET_ADMIN added');
  t.throws(() => buildExecPlan(42, { args: [], env: [], cwd: '', user: '', tty: false, openStdin: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], cgroupProcs: [] }, host), { message: 'No exec command specified' });
});

t.test('masked and read-only paths: HostConfig lists, [] for none, defaults when absent, none when privileged', async (t) => {
  const base = { id: 'c', rootfs: '/r', args: ['/bin/sh'], env: [], cwd: '/', user: '', hostname: 'h', tty: false, openStdin: false,
    readonlyRootfs: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], ulimits: [], mounts: [], network: { mode: 'none' as const }, cgroupProcs: [] };
  const ops = (extra: object) => buildInitPlan({ ...base, ...extra }, host).mounts.filter((m) => m.op === 'mask' || m.op === 'readonly').map((m) => `${m.op} ${m.destination}`);
  t.same(ops({ maskedPaths: ['/etc/hostname', 'proc/cpuinfo'], readonlyPaths: ['/tmp'] }), ['mask /etc/hostname', 'mask /proc/cpuinfo', 'readonly /tmp']);
  t.same(ops({ maskedPaths: [], readonlyPaths: [] }), [], 'systempaths=unconfined');
  t.same(ops({}), [...MASKED_PATHS.map((x) => `mask ${x}`), ...READONLY_PATHS.map((x) => `readonly ${x}`)]);
  t.ok(MASKED_PATHS.includes('/proc/interrupts'), "current moby's list");
  t.same(ops({ privileged: true, maskedPaths: ['/x'] }), [], 'privileged: none (moby clears them)');
  const cg = (extra: object) => buildInitPlan({ ...base, ...extra }, host).mounts.find((m) => m.op === 'cgroupfs');
  t.match(cg({}), { readonly: true });
  t.match(cg({ securityOpt: ['writable-cgroups=true'] }), { readonly: false });
  t.match(cg({ privileged: true, securityOpt: ['writable-cgroups=false'] }), { readonly: true });
});

t.test('security options as moby parseSecurityOpt reads them', async (t) => {
  t.match(parseSecurityOpt(['apparmor=foo', 'label=disable', 'label:type:t', 'disable', 'no-new-privileges=true', 'writable-cgroups']), { apparmor: 'foo', noNewPrivileges: true, writableCgroups: true });
  for (const o of ['systempaths=unconfined', 'mask=/x', 'proc-opts=x', 'foo=bar', 'no-new-privileges=maybe']) t.throws(() => parseSecurityOpt([o]), { message: `invalid --security-opt 2: "${o}"` });
  t.throws(() => parseSecurityOpt(['nocolon']), { message: 'invalid --security-opt 1: "nocolon"' });
});
