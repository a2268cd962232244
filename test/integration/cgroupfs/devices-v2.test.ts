// The v2 device policy on the real kernel: an eBPF program on a cgroup2 cgroup
// (the unified mount of a v1 host is enough: device programs run on every
// access of a task in that cgroup, whatever v1 says). Default containers may
// mknod but not open a block device or /dev/mem; a --device rule opens it;
// update replaces the program (one attached, the old one freed); privileged
// attaches none; destroy leaves no program behind.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { detectCgroupMode } from '../../../cgroupfs/index.js';
import { CGROUP2_SUPER_MAGIC } from '../../../cgroupfs/mode.js';
import type { CgroupV2Manager } from '../../../cgroupfs/v2/manager.js';
import { bpfProgGetFdById } from '../../../sys/index.js';
import { statDevice } from '../../../api/translate/resources.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { eventually, testCgroup } from './helpers.js';

const root = detectCgroupMode() === 'unified' ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
const isV2 = (() => {
  try {
    return Number(fs.statfsSync(root).type) === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
})();
const opts = { skip: privilegedOpts().skip || (!isV2 && 'needs a cgroup2 mount') };

/** A block device this process can read outside the cgroup (a disk first, else a loop device). */
function blockDevice(): string | undefined {
  const names = fs.readdirSync('/dev').sort((a, b) => Number(/^loop/.test(a)) - Number(/^loop/.test(b)));
  return names.map((n) => `/dev/${n}`).find((p) => {
    try {
      if (!fs.statSync(p).isBlockDevice()) return false;
      fs.closeSync(fs.openSync(p, 'r'));
      return true;
    } catch {
      return false;
    }
  });
}

const progGone = (id: number) => {
  try {
    fs.closeSync(bpfProgGetFdById(id));
    return false;
  } catch (e) {
    return (e as { errnoCode?: string }).errnoCode === 'ENOENT';
  }
};

t.test('v2 device policy: Docker defaults, --device, update, privileged, destroy', opts, async (t) => {
  const dev = blockDevice();
  if (!dev) { t.pass('no block device on this machine: nothing to check'); return; }
  const { type, major, minor } = statDevice(dev);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-devv2-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cg = testCgroup(t, root);
  const mgr = cg.mgr as CgroupV2Manager;
  mgr.apply({ devices: [] });
  const [first, ...more] = mgr.deviceProgramIds();
  t.ok(first !== undefined && more.length === 0, 'one device program attached');

  // exit codes: 2 = a default device failed, 3 = mknod refused, 4/5 = a forbidden open succeeded
  const probe = `echo x > /dev/null || exit 2; head -c 1 /dev/zero > /dev/null || exit 2;
    mknod ${dir}/disk ${type} ${major} ${minor} || exit 3; mknod ${dir}/mem c 1 1 || exit 3;
    head -c 1 ${dir}/disk > /dev/null 2> ${dir}/disk.err && exit 4; head -c 1 ${dir}/mem > /dev/null 2> ${dir}/mem.err && exit 5;
    head -c 1 ${dev} > /dev/null 2>&1 && exit 4; exit 0`;
  t.same(await cg.runToExit(['/bin/sh', '-c', probe]), { code: 0, signal: null }, 'mknod allowed; the disk and /dev/mem are not');
  t.match(fs.readFileSync(path.join(dir, 'disk.err'), 'utf8'), /Operation not permitted/, 'EPERM on the block device');
  t.match(fs.readFileSync(path.join(dir, 'mem.err'), 'utf8'), /Operation not permitted/, 'EPERM on c 1:1 (/dev/mem)');

  // --device: the rule opens exactly that device (read only here)
  mgr.update({ devices: [{ allow: true, type, major, minor, access: 'r' }] });
  const ids = mgr.deviceProgramIds();
  t.equal(ids.length, 1, 'still one program after update');
  t.not(ids[0], first, 'a new program replaced the old one');
  t.ok(await eventually(() => progGone(first!)), 'the replaced program is freed');
  t.same(await cg.runToExit(['/bin/sh', '-c', `head -c 1 ${dev} > /dev/null || exit 6; echo > ${dev} 2>/dev/null && exit 7; exit 0`]),
    { code: 0, signal: null }, 'the device reads, and only reads');

  // privileged: no filter at all
  mgr.update({ devices: [{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }] });
  t.same(mgr.deviceProgramIds(), [], 'privileged: nothing attached');
  t.ok(await eventually(() => progGone(ids[0]!)), 'and the previous program is freed');
  t.same(await cg.runToExit(['/bin/sh', '-c', `head -c 1 ${dir}/mem > /dev/null 2>&1; head -c 1 ${dev} > /dev/null`]), { code: 0, signal: null }, 'privileged reads the disk');

  mgr.apply({ devices: [] });
  const [last] = mgr.deviceProgramIds();
  await mgr.destroy();
  t.ok(await eventually(() => progGone(last!)), 'destroy: the program is gone with the cgroup');
});
