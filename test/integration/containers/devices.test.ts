// Device access through the real CLI, on whatever cgroup version the host has
// (v1 here: devices.allow/deny; v2 in the v2vm guest: the eBPF program).
// A default container keeps CAP_MKNOD, as Docker's do, so the policy is what
// stands between it and the host's disks: mknod works, opening the node does not.
// --device makes the node and opens exactly that device; --privileged sees all.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { detectCgroupMode } from '../../../cgroupfs/index.js';
import { bpfProgGetFdById, bpfProgQuery, BPF_CGROUP_DEVICE } from '../../../sys/index.js';
import { containerEnv, containerOpts, waitFor } from './helpers.js';

const opts = containerOpts();
const v2 = detectCgroupMode() === 'unified';

/** A block device this process can open (a disk first, else a loop device); the test needs one. */
function blockDevice(): { path: string; major: number; minor: number } | undefined {
  const names = fs.readdirSync('/dev').sort((a, b) => Number(/^loop/.test(a)) - Number(/^loop/.test(b)));
  for (const n of names) {
    const p = `/dev/${n}`;
    try {
      const st = fs.statSync(p);
      if (!st.isBlockDevice()) continue;
      fs.closeSync(fs.openSync(p, 'r'));
      return { path: p, major: Number((BigInt(st.rdev) >> 8n) & 0xfffn), minor: Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & ~0xffn)) };
    } catch { /* next */ }
  }
  return undefined;
}

const progIds = (dir: string): number[] => {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try { return bpfProgQuery(fd, BPF_CGROUP_DEVICE); } finally { fs.closeSync(fd); }
};
const progGone = (id: number) => {
  try { fs.closeSync(bpfProgGetFdById(id)); return false; } catch (e) { return (e as { errnoCode?: string }).errnoCode === 'ENOENT'; }
};

t.test('device policy of containers', opts, async (t) => {
  const dev = blockDevice();
  if (!dev) { t.pass('no readable block device here: nothing to check'); return; }
  const e = await containerEnv(t);
  const { docker, ok } = e;

  await t.test('default: mknod of a disk and of /dev/mem succeeds, opening them is EPERM', async (t) => {
    const r = await docker(['run', '--rm', 'busybox:fixture', 'sh', '-c',
      `mknod /tmp/disk b ${dev.major} ${dev.minor} && echo mknod-ok; head -c 1 /tmp/disk; echo disk=$?; mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem; echo mem=$?; head -c 1 /dev/zero | wc -c`]);
    t.equal(r.code, 0, r.err);
    t.same(r.out.trim().split('\n'), ['mknod-ok', 'disk=1', 'mem=1', '1'], 'the standard devices work, the others do not');
    t.match(r.err, /head: \/tmp\/disk: Operation not permitted/);
    t.match(r.err, /head: \/tmp\/mem: Operation not permitted/);
  });

  await t.test('--device makes the node with the host numbers and opens it', async (t) => {
    const r = await docker(['run', '--rm', '--device', `${dev.path}:/dev/xdisk`, 'busybox:fixture', 'sh', '-c',
      'stat -c "%t:%T %F" /dev/xdisk; head -c 1 /dev/xdisk > /dev/null && echo read-ok; mknod /tmp/other c 1 1 && head -c 1 /tmp/other; echo other=$?']);
    t.equal(r.code, 0, r.err);
    t.same(r.out.trim().split('\n'), [`${dev.major.toString(16)}:${dev.minor.toString(16)} block special file`, 'read-ok', 'other=1']);
  });

  await t.test('--device-cgroup-rule opens a device by number', async (t) => {
    const r = await docker(['run', '--rm', '--device-cgroup-rule', `b ${dev.major}:${dev.minor} r`, 'busybox:fixture', 'sh', '-c',
      `mknod /tmp/disk b ${dev.major} ${dev.minor} && head -c 1 /tmp/disk > /dev/null && echo read-ok`]);
    t.equal(r.code, 0, r.err);
    t.equal(r.out.trim(), 'read-ok');
  });

  await t.test('--privileged reads the host\'s devices', async (t) => {
    const r = await docker(['run', '--rm', '--privileged', 'busybox:fixture', 'sh', '-c', `head -c 1 ${dev.path} > /dev/null && echo read-ok`]);
    t.equal(r.code, 0, r.err);
    t.equal(r.out.trim(), 'read-ok');
  });

  await t.test(v2 ? 'v2: one program on the container\'s cgroup, gone after rm' : 'v1: the container\'s devices cgroup is an allow list', async (t) => {
    const name = e.name('devpol');
    const id = (await ok('run', '-d', '--name', name, 'busybox:fixture', 'sleep', '60')).trim();
    if (v2) {
      const dir = path.join('/sys/fs/cgroup', e.d.cgroupParent, id);
      const ids = progIds(dir);
      t.equal(ids.length, 1, 'one device program');
      await ok('rm', '-f', name);
      t.notOk(fs.existsSync(dir), 'the cgroup is removed');
      await waitFor(() => progGone(ids[0]!), 10_000, 'the program to be freed');
      t.pass('the program is gone');
    } else {
      const list = fs.readFileSync(path.join('/sys/fs/cgroup/devices', e.d.cgroupParent, id, 'devices.list'), 'utf8');
      t.notMatch(list, /^a \*:\* rwm$/m, 'not allow-all');
      t.match(list, /^b \*:\* m$/m, 'mknod of any block device');
      await ok('rm', '-f', name);
    }
  });
});
