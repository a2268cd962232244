// Layer unpacking on the real filesystem as root: owners, devices, fifos,
// binary xattrs (security.capability); pack -> unpack round trip of an upper dir.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { privilegedOpts } from '../../helpers/privileged.js';
import { LinuxSyscalls } from '../../../sys/index.js';
import { applyLayer, packDir } from '../../../image/index.js';
import { makeTar } from '../../fixtures/images.js';

t.test('owners, devices, fifos, capabilities, whiteouts', privilegedOpts(), async (t) => {
  const sys = new LinuxSyscalls();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-unpack-root-${process.pid}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const a = path.join(dir, 'a');
  fs.mkdirSync(a);
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  await applyLayer(Readable.from([await makeTar([
    { name: 'home/user/', type: 'directory', uid: 1000, gid: 1000, mode: 0o750 },
    { name: 'home/user/f', content: 'x', uid: 1000, gid: 1000, mode: 0o4755 },
    { name: 'bin/ping', content: 'ping', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': cap.toString('latin1'), 'SCHILY.xattr.user.note': 'hi' } },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    { name: 'etc/.wh.passwd' },
    { name: 'opt/.wh..wh..opq' },
  ])]), a, sys);
  const u = fs.statSync(path.join(a, 'home/user'));
  t.equal(u.uid, 1000);
  t.equal(u.mode & 0o7777, 0o750);
  const f = fs.statSync(path.join(a, 'home/user/f'));
  t.equal(f.mode & 0o7777, 0o4755, 'setuid kept after chown');
  t.same(sys.lgetxattr(path.join(a, 'bin/ping'), 'security.capability'), cap, 'binary capability intact');
  t.equal(sys.lgetxattr(path.join(a, 'bin/ping'), 'user.note')?.toString(), 'hi');
  const dn = fs.statSync(path.join(a, 'dev/null'));
  t.ok(dn.isCharacterDevice());
  t.equal(dn.rdev, (1 << 8) | 3);
  t.ok(fs.statSync(path.join(a, 'run/fifo')).isFIFO());
  const wh = fs.lstatSync(path.join(a, 'etc/passwd'));
  t.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout device');
  t.equal(sys.lgetxattr(path.join(a, 'opt'), 'trusted.overlay.opaque')?.toString(), 'y');

  // pack as an OCI layer (whiteouts back to .wh. files) and unpack elsewhere
  const b = path.join(dir, 'b');
  fs.mkdirSync(b);
  await applyLayer(packDir(a, { overlayWhiteouts: true, xattrs: true }), b, sys);
  t.same(sys.lgetxattr(path.join(b, 'bin/ping'), 'security.capability'), cap);
  t.ok(fs.lstatSync(path.join(b, 'etc/passwd')).isCharacterDevice());
  t.equal(sys.lgetxattr(path.join(b, 'opt'), 'trusted.overlay.opaque')?.toString(), 'y');
  t.equal(fs.statSync(path.join(b, 'home/user/f')).uid, 1000);
  t.equal(fs.statSync(path.join(b, 'dev/null')).rdev, (1 << 8) | 3);
});
