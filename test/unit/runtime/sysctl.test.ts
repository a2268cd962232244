// Sysctls: runc's namespace rules (runtime/sysctl.ts), moby's defaults (daemon plan),
// and where the init writes them (after the namespaces, before any mount).
import t from 'tap';
import path from 'node:path';
import { FakeSyscalls } from '../../../sys/fake.js';
import { buildInitPlan } from '../../../runtime/index.js';
import type { RuntimeSpec, InitPlan } from '../../../runtime/index.js';
import { planSysctls, dottedSysctl, sysctlPath } from '../../../runtime/sysctl.js';
import { runSteps } from '../../../runtime/init/steps.js';
import type { InitContext } from '../../../runtime/init/context.js';
import { containerSysctls } from '../../../daemon/containers/plan.js';

const own = { net: true, ipc: true, uts: true };

t.test("runc's rules: IPC keys need the container's IPC namespace, net.* its own netns, nothing else", async (t) => {
  t.same(planSysctls({ 'kernel.shmmax': '1000', 'fs.mqueue.msg_max': '20', 'net.ipv4.tcp_syncookies': '0', 'kernel.domainname': 'x' }, own), [
    { key: 'kernel.shmmax', path: '/proc/sys/kernel/shmmax', value: '1000' },
    { key: 'fs.mqueue.msg_max', path: '/proc/sys/fs/mqueue/msg_max', value: '20' },
    { key: 'net.ipv4.tcp_syncookies', path: '/proc/sys/net/ipv4/tcp_syncookies', value: '0' },
    { key: 'kernel.domainname', path: '/proc/sys/kernel/domainname', value: 'x' },
  ]);
  for (const k of ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmni', 'kernel.shm_rmid_forced']) {
    t.equal(planSysctls({ [k]: '1' }, own).length, 1, k);
  }
  t.throws(() => planSysctls({ 'kernel.shmmax': '1' }, { ...own, ipc: false }), { message: 'sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace', kind: 'system' });
  t.throws(() => planSysctls({ 'fs.mqueue.queues_max': '1' }, { ...own, ipc: false }), /not allowed in the hosts ipc namespace/);
  t.throws(() => planSysctls({ 'net.ipv4.ip_forward': '1' }, { ...own, net: false }), { message: 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace' });
  t.throws(() => planSysctls({ 'kernel.foo': '1' }, own), { message: 'sysctl "kernel.foo" is not in a separate kernel namespace' });
  t.throws(() => planSysctls({ 'vm.overcommit_memory': '1' }, own), /"vm.overcommit_memory" is not in a separate kernel namespace/);
  t.throws(() => planSysctls({ 'kernel.hostname': 'h' }, own), /conflicts with the OCI "hostname" field/);
  t.throws(() => planSysctls({ 'user.max_user_namespaces': '0' }, own), /setting ucounts without a user namespace not allowed/);
  t.same(planSysctls(undefined, own), []);
});

t.test("sysctl(8)'s slash form, and no path outside /proc/sys", async (t) => {
  t.equal(dottedSysctl('net/ipv4/conf/eno2.100/rp_filter'), 'net.ipv4.conf.eno2/100.rp_filter');
  t.equal(dottedSysctl('net.ipv4.tcp_syncookies'), 'net.ipv4.tcp_syncookies');
  t.equal(sysctlPath('net.ipv4.conf.eno2/100.rp_filter'), '/proc/sys/net/ipv4/conf/eno2.100/rp_filter');
  t.same(planSysctls({ 'net/ipv4/conf/eno2.100/rp_filter': '1' }, own)[0], { key: 'net.ipv4.conf.eno2/100.rp_filter', path: '/proc/sys/net/ipv4/conf/eno2.100/rp_filter', value: '1' });
  // a net.* key may not climb out of /proc/sys/net
  for (const k of ['net/ipv4/../../kernel/core_pattern', 'net.ipv4./..', 'net..ipv4', 'net.ipv4.', 'net.a\0b']) {
    t.throws(() => planSysctls({ [k]: 'x' }, own), /invalid sysctl name/, JSON.stringify(k));
  }
});

t.test("moby's defaults for a container with its own network, where the kernel has them; the user's win", async (t) => {
  const all = () => true;
  t.same(containerSysctls({ NetworkMode: 'bridge', Sysctls: null }, all), { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0' });
  t.same(containerSysctls({ NetworkMode: 'none', Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '1024' } }, all), { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '1024' });
  t.same(containerSysctls({ NetworkMode: 'host', Sysctls: { 'kernel.shmmax': '1' } }, all), { 'kernel.shmmax': '1' }, 'host: none added');
  t.same(containerSysctls({ NetworkMode: 'container:abc', Sysctls: null }, all), {}, "another container's netns: none added");
  t.same(containerSysctls({ NetworkMode: 'bridge', Sysctls: null }, (k) => k === 'net.ipv4.ip_unprivileged_port_start'), { 'net.ipv4.ip_unprivileged_port_start': '0' }, 'only those the kernel has');
});

const host = { kernel: '6.18.0', arch: 'amd64', lastCap: 40 };
const spec = (rootfs: string, extra: Partial<RuntimeSpec> = {}): RuntimeSpec => ({
  id: 'c1', rootfs, args: ['/bin/true'], env: [], cwd: '/', user: '', hostname: 'h1', tty: false, openStdin: false,
  readonlyRootfs: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], ulimits: [],
  mounts: [], network: { mode: 'none' }, cgroupProcs: [], ...extra,
});

function execute(plan: InitPlan, sys = new FakeSyscalls()): { sys: FakeSyscalls; error: Error & { step?: string } } {
  const ctx: InitContext = { plan, sys, protocolFd: 3, env: [...plan.env], uid: 0, gid: 0, send: () => {}, receive: () => ({ t: 'pty-ack' }) };
  try {
    runSteps(ctx);
  } catch (e) {
    return { sys, error: e as Error & { step?: string } };
  }
  throw new Error('runSteps returned without execve');
}

t.test('the init writes them in its namespaces, before any of the container\'s mounts; the plan checks the namespaces it is given', async (t) => {
  const dir = t.testdir({ rootfs: { proc: {}, sys: {}, etc: { passwd: 'root:x:0:0:root:/root:/bin/sh\n' } } });
  const rootfs = path.join(dir, 'rootfs');
  const { sys } = execute(buildInitPlan(spec(rootfs, { sysctls: { 'kernel.shmmax': '4096', 'net.ipv4.tcp_syncookies': '0' } }), host));
  const names = sys.names();
  const writes = sys.calls.filter((c) => c.call === 'writeProcFile');
  t.same(writes.map((c) => c.args), [['/proc/sys/kernel/shmmax', '4096'], ['/proc/sys/net/ipv4/tcp_syncookies', '0']]);
  const first = names.indexOf('writeProcFile');
  t.ok(first > names.indexOf('sethostname') && first > names.lastIndexOf('unshare'), 'after the namespaces are made');
  t.ok(first < names.indexOf('mount'), 'before the first mount');
  t.notOk(sys.calls.some((c) => c.call === 'mount' && c.args[1] === '/proc'), 'no procfs mounted for it');
  // host network, host IPC, a joined netns that is the host's: refused when the plan is built
  t.throws(() => buildInitPlan(spec(rootfs, { network: { mode: 'host' }, sysctls: { 'net.ipv4.ip_forward': '1' } }), host), /not allowed in host network namespace/);
  t.throws(() => buildInitPlan(spec(rootfs, { ipc: { mode: 'host' }, sysctls: { 'kernel.sem': '1 2 3 4' } }), host), /hosts ipc namespace/);
  const onHost = { ...host, isHostNetns: (p: string) => p === '/proc/7/ns/net' };
  t.throws(() => buildInitPlan(spec(rootfs, { network: { mode: 'netns', path: '/proc/7/ns/net' }, sysctls: { 'net.core.somaxconn': '1' } }), onHost), /not allowed in host network namespace/);
  t.equal(buildInitPlan(spec(rootfs, { network: { mode: 'netns', path: '/proc/8/ns/net' }, sysctls: { 'net.core.somaxconn': '1' } }), onHost).sysctls.length, 1, "another container's netns");
  // a failed write is the start's error, in runc's words
  const failing = new FakeSyscalls();
  failing.writeProcFile = () => { const e = Object.assign(new Error('x'), { syscall: 'open', errnoCode: 'ENOENT' }); throw e; };
  const r = execute(buildInitPlan(spec(rootfs, { sysctls: { 'net.ipv4.nope': '1' } }), host), failing);
  t.equal(r.error.step, 'sysctl');
  t.equal(r.error.message, 'open /proc/sys/net/ipv4/nope: no such file or directory');
});

t.test('--uts host: no UTS namespace and no hostname; a domain name is then refused as runc refuses kernel.domainname', async (t) => {
  const dir = t.testdir({ rootfs: {} });
  const rootfs = path.join(dir, 'rootfs');
  const own = buildInitPlan(spec(rootfs), host);
  t.ok(own.unshare.includes('uts'));
  t.equal(own.hostname, 'h1');
  const shared = buildInitPlan(spec(rootfs, { uts: 'host' }), host);
  t.notOk(shared.unshare.includes('uts'), 'the host UTS namespace kept');
  t.same([shared.hostname, shared.domainname], [null, null], 'nothing set in it');
  t.throws(() => buildInitPlan(spec(rootfs, { uts: 'host', domainname: 'example.org' }), host), { message: 'sysctl "kernel.domainname" is not in a separate kernel namespace', kind: 'system' });
  t.throws(() => buildInitPlan(spec(rootfs, { uts: 'host', sysctls: { 'kernel.domainname': 'x' } }), host), /not in a separate kernel namespace/);
});
