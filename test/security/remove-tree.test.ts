// Removing a container's directory or a volume (rootfs/remove.ts) never empties
// a host directory still bound below it, and never follows a symlink a
// container left there. fs.rmSync({ recursive: true }), used before, descends
// into whatever is mounted below: a bind of a host directory left on the
// container's rootfs (an unmount that failed, a copy's binds) was emptied by
// docker rm. Real bind mounts; ~50 ms.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { removeTree } from '../../rootfs/index.js';
import { privilegedOpts } from '../helpers/privileged.js';

t.test('removeTree keeps what is mounted below and what symlinks point at', privilegedOpts(), async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-rmtree-'));
  const host = path.join(base, 'host');
  const ctr = path.join(base, 'ctr');
  const mounted: string[] = [];
  t.teardown(() => {
    for (const m of mounted.reverse()) try { execFileSync('umount', ['-l', m]); } catch { /* gone */ }
    fs.rmSync(base, { recursive: true, force: true });
  });
  fs.mkdirSync(path.join(host, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(host, 'sentinel'), 'host data\n', { mode: 0o600 });
  fs.writeFileSync(path.join(host, 'sub', 'deep'), 'deeper host data\n');
  // a container dir: upper with files, a symlink to the host dir, a FIFO, a mode-000 dir, and a rootfs with a host bind on it
  fs.mkdirSync(path.join(ctr, 'upper', 'etc'), { recursive: true });
  fs.writeFileSync(path.join(ctr, 'upper', 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.symlinkSync(host, path.join(ctr, 'upper', 'escape'));
  fs.symlinkSync(path.join(host, 'sentinel'), path.join(ctr, 'upper', 'escape-file'));
  execFileSync('mkfifo', [path.join(ctr, 'upper', 'fifo')]);
  fs.mkdirSync(path.join(ctr, 'work', 'work'), { recursive: true, mode: 0 });
  fs.mkdirSync(path.join(ctr, 'rootfs', 'data'), { recursive: true });
  execFileSync('mount', ['--bind', host, path.join(ctr, 'rootfs', 'data')]);
  mounted.push(path.join(ctr, 'rootfs', 'data'));

  const kept = removeTree(ctr);
  t.same(kept, [path.join(ctr, 'rootfs', 'data')], 'the mount point is reported, not entered');
  t.equal(fs.readFileSync(path.join(host, 'sentinel'), 'utf8'), 'host data\n', 'the bound host file is untouched');
  t.equal(fs.statSync(path.join(host, 'sentinel')).mode & 0o777, 0o600, 'and its mode');
  t.equal(fs.readFileSync(path.join(host, 'sub', 'deep'), 'utf8'), 'deeper host data\n', 'the bound host subdirectory is untouched');
  t.same(fs.readdirSync(ctr), ['rootfs'], 'everything else went; only the path to the mount is left');
  t.same(fs.readdirSync(path.join(ctr, 'rootfs')), ['data'], 'down to the mount point');

  execFileSync('umount', [path.join(ctr, 'rootfs', 'data')]);
  mounted.pop();
  t.same(removeTree(ctr), [], 'once unmounted, nothing is kept');
  t.notOk(fs.existsSync(ctr), 'the directory is gone');
  t.same(fs.readdirSync(host).sort(), ['sentinel', 'sub'], 'the host directory the symlinks named is whole');
  t.same(removeTree(ctr), [], 'a missing directory is no error');
});
