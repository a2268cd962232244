import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FakeSyscalls } from '../../../sys/fake.js';
import { applyLayer, cleanEntryName, whiteoutOf, applyChanges } from '../../../image/index.js';
import { makeTar } from '../../fixtures/images.js';

function tmp(t: Tap.Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-unpack-${process.pid}-`));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
declare namespace Tap { type Test = { teardown(fn: () => void): void } }

t.test('entry names', async (t) => {
  t.equal(cleanEntryName('./a/b/'), 'a/b');
  t.equal(cleanEntryName('a//./b'), 'a/b');
  t.equal(cleanEntryName('./'), '');
  t.throws(() => cleanEntryName('../x'), { code: 'TSD_ERR_HOSTILE_LAYER' });
  t.throws(() => cleanEntryName('a/../../x'), { code: 'TSD_ERR_HOSTILE_LAYER' });
  t.throws(() => cleanEntryName('/etc/passwd'), { code: 'TSD_ERR_HOSTILE_LAYER' });
});

t.test('whiteout classification', async (t) => {
  t.same(whiteoutOf('etc/.wh.passwd'), { kind: 'whiteout', target: 'etc/passwd' });
  t.same(whiteoutOf('.wh.x'), { kind: 'whiteout', target: 'x' });
  t.same(whiteoutOf('var/.wh..wh..opq'), { kind: 'opaque', dir: 'var' });
  t.same(whiteoutOf('etc/passwd'), { kind: 'none' });
  t.throws(() => whiteoutOf('a/.wh...'), { code: 'TSD_ERR_HOSTILE_LAYER' });
});

t.test('a normal layer: files, dirs, symlinks, hardlinks, whiteouts, opaque dirs', async (t) => {
  const dir = tmp(t);
  const sys = new FakeSyscalls();
  const tarBuf = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hosts', content: 'x', mode: 0o640 },
    { name: 'etc/link', type: 'symlink', linkname: '/etc/hosts' },
    { name: 'etc/hard', type: 'link', linkname: 'etc/hosts' },
    { name: 'bin/sh', content: '#!', mode: 0o755 },
    { name: 'etc/.wh.gone' },
    { name: 'var/.wh..wh..opq' },
  ]);
  const r = await applyLayer(Readable.from([tarBuf]), dir, sys);
  t.equal(fs.readFileSync(path.join(dir, 'etc/hosts'), 'utf8'), 'x');
  t.equal(fs.statSync(path.join(dir, 'etc/hosts')).mode & 0o7777, 0o640);
  t.equal(fs.readlinkSync(path.join(dir, 'etc/link')), '/etc/hosts');
  t.equal(fs.statSync(path.join(dir, 'etc/hard')).ino, fs.statSync(path.join(dir, 'etc/hosts')).ino);
  t.equal(fs.statSync(path.join(dir, 'bin/sh')).mode & 0o7777, 0o755);
  t.equal(fs.statSync(path.join(dir, 'etc')).mtime.toISOString(), '2024-01-01T00:00:00.000Z');
  // fd-relative: (parent dir fd, name); the fd is the parent's, which the fake cannot name, so the name and the rest
  const mknod = sys.calls.find((c) => c.call === 'mknodat');
  t.same(mknod?.args.slice(1, 5), ['gone', 0o020000, 0, 0], 'whiteout is a 0/0 char device');
  t.type(mknod?.args[0], 'number');
  const x = sys.calls.find((c) => c.call === 'setxattrAt');
  t.same(x?.args.slice(1, 3), ['var', 'trusted.overlay.opaque']);
  t.equal((x?.args[3] as Buffer).toString(), 'y');
  t.equal(r.entries, 7);
});

t.test('hostile layers are refused and nothing escapes', async (t) => {
  const dir = tmp(t);
  const outside = tmp(t);
  fs.writeFileSync(path.join(outside, 'victim'), 'original');
  const cases: Array<[string, Parameters<typeof makeTar>[0]]> = [
    ['dot-dot entry', [{ name: '../escape', content: 'bad' }]],
    ['dot-dot deep', [{ name: 'a/../../escape', content: 'bad' }]],
    ['absolute name', [{ name: path.join(outside, 'victim'), content: 'bad' }]],
    ['write through an absolute symlink', [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/victim', content: 'bad' }]],
    ['write through a relative symlink', [{ name: 'evil', type: 'symlink', linkname: '../../../../../../..' + outside }, { name: 'evil/new', content: 'bad' }]],
    ['hardlink outside', [{ name: 'hl', type: 'link', linkname: '../' + path.relative(dir, path.join(outside, 'victim')) }]],
    ['hardlink absolute', [{ name: 'hl', type: 'link', linkname: path.join(outside, 'victim') }]],
    ['hardlink through a symlink', [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'hl', type: 'link', linkname: 'evil/victim' }]],
    ['whiteout through a symlink', [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/.wh.victim' }]],
  ];
  for (const [name, entries] of cases) {
    const d = fs.mkdtempSync(path.join(dir, 'l-'));
    await t.rejects(applyLayer(Readable.from([await makeTar(entries)]), d, new FakeSyscalls()), { code: 'TSD_ERR_HOSTILE_LAYER' }, name);
  }
  t.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'original', 'host file untouched');
  t.same(fs.readdirSync(outside), ['victim'], 'nothing created outside');
});

t.test('changes (import/commit)', async (t) => {
  const c = applyChanges({ Env: ['A=1'] }, ['ENV A=2 B=3', 'CMD ["sh","-c","echo"]', 'ENTRYPOINT /bin/x', 'EXPOSE 80 53/udp', 'LABEL k=v', 'USER 1000', 'WORKDIR /w', 'VOLUME /data']);
  t.same(c.Env, ['A=2', 'B=3']);
  t.same(c.Cmd, ['sh', '-c', 'echo']);
  t.same(c.Entrypoint, ['/bin/sh', '-c', '/bin/x']);
  t.same(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  t.same(c.Labels, { k: 'v' });
  t.equal(c.User, '1000');
  t.equal(c.WorkingDir, '/w');
  t.same(c.Volumes, { '/data': {} });
  t.throws(() => applyChanges({}, ['RUN x']), { code: 'TSD_ERR_INVALID_PARAMETER', kind: 'invalid-parameter' });
});

t.test('PAX xattr values survive as bytes', async (t) => {
  const { encodePax, decodePax } = await import('../../../image/tar-pax.js');
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0xff, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const enc = encodePax({ name: 'dir/ünïcode-' + 'x'.repeat(120), pax: { 'SCHILY.xattr.security.capability': cap.toString('latin1'), 'SCHILY.xattr.user.k': 'v' } });
  const dec = decodePax(enc);
  t.equal(dec.path, 'dir/ünïcode-' + 'x'.repeat(120));
  t.same(Buffer.from(dec['SCHILY.xattr.security.capability']!, 'latin1'), cap);
  t.equal(dec['SCHILY.xattr.user.k'], 'v');
  const dir = tmp(t);
  const sys = new FakeSyscalls();
  await applyLayer(Readable.from([await makeTar([{ name: 'bin/ping', content: 'x', pax: { 'SCHILY.xattr.security.capability': cap.toString('latin1') } }])]), dir, sys);
  const set = sys.calls.find((c) => c.call === 'setxattrAt' && c.args[2] === 'security.capability');
  if (process.getuid?.() === 0) t.same(set?.args[3], cap, 'the exact bytes reach setxattrat');
  else t.notOk(set, 'security.* skipped when not root');
});
