import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { privilegedOpts } from '../../helpers/privileged.js';
import { statDevice } from '../../../api/translate/resources.js';
import { testCgroup } from './helpers.js';

const blockDev = ['/dev/vda', '/dev/sda', '/dev/nvme0n1', '/dev/zram0', '/dev/loop0'].find((p) => fs.existsSync(p));

t.test('v1 device rules: deny all, Docker defaults, extra rules', privilegedOpts(), async (t) => {
  const cg = testCgroup(t);
  const dev = statDevice('/dev/null');
  t.same(dev, { type: 'c', major: 1, minor: 3 }, 'stat rdev → major:minor');
  cg.mgr.apply({ devices: [{ allow: false, type: 'c', major: 1, minor: 5, access: 'r' }] });
  const list = fs.readFileSync(path.join('/sys/fs/cgroup/devices', cg.mgr.path, 'devices.list'), 'utf8');
  t.notMatch(list, /^a \*:\* rwm$/m, 'no longer allow-all');
  t.match(list, /^c 1:3 rwm$/m, '/dev/null allowed');
  t.match(list, /^c 1:5 wm$/m, 'the extra deny rule took read off /dev/zero');
  const res = await cg.runToExit(['/bin/busybox', 'sh', '-c',
    'echo x > /dev/null || exit 3; head -c 1 /dev/zero > /dev/null 2>&1 && exit 4; exit 0']);
  t.same(res, { code: 0, signal: null }, 'null writable, zero not readable inside the cgroup');
  if (blockDev) {
    const r = spawnSync('/bin/sh', ['-c', `echo $$ > ${cg.mgr.procsFiles().find((f) => f.includes('/devices/'))}; exec /bin/busybox head -c 1 ${blockDev}`]);
    t.not(r.status, 0, `${blockDev} (not in the allow list) is refused`);
    t.match(String(r.stderr), /not permitted/);
  }
});

t.test('v1 block I/O throttles and weight', { ...privilegedOpts(), skip: privilegedOpts().skip || (!blockDev && 'no block device') }, async (t) => {
  const cg = testCgroup(t);
  const d = statDevice(blockDev!);
  cg.mgr.apply({
    blkioDeviceReadBps: [{ major: d.major, minor: d.minor, rate: 1048576 }],
    blkioDeviceWriteIOps: [{ major: d.major, minor: d.minor, rate: 100 }],
  });
  const dir = path.join('/sys/fs/cgroup/blkio', cg.mgr.path);
  t.equal(fs.readFileSync(path.join(dir, 'blkio.throttle.read_bps_device'), 'utf8').trim(), `${d.major}:${d.minor} 1048576`);
  t.equal(fs.readFileSync(path.join(dir, 'blkio.throttle.write_iops_device'), 'utf8').trim(), `${d.major}:${d.minor} 100`);
  const support = cg.mgr.support();
  if (support.blkioWeight) {
    try {
      cg.mgr.apply({ blkioWeight: 300 });
      t.pass('weight accepted');
    } catch (e) {
      t.match((e as Error).message, /cannot write "300" to .*blkio\.(bfq\.)?weight/, 'a refused weight names file and value');
    }
  } else {
    t.throws(() => cg.mgr.apply({ blkioWeight: 300 }), { kind: 'not-implemented', message: /Block I\/O weight is not supported/ });
  }
});
