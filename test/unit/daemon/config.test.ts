import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { parseConfig, defaults } from '../../../daemon/config.js';

t.test('defaults', async (t) => {
  const c = parseConfig([], {});
  t.equal(c.host, '/var/run/tsd.sock');
  t.equal(c.dataRoot, defaults.dataRoot);
  t.equal(c.help, false);
});

t.test('flags override, unix:// prefix stripped, = form', async (t) => {
  const c = parseConfig(['--host', 'unix:///tmp/x.sock', '--data-root=/tmp/d', '--exec-root', '/tmp/e', '--cgroup-parent', 'p', '--log-level', 'debug', '--insecure-registry', 'a:5000', '--insecure-registry=b'], {});
  t.equal(c.host, '/tmp/x.sock');
  t.equal(c.dataRoot, '/tmp/d');
  t.equal(c.execRoot, '/tmp/e');
  t.equal(c.cgroupParent, 'p');
  t.equal(c.logLevel, 'debug');
  t.same(c.insecureRegistries, ['a:5000', 'b']);
});

t.test('config file, then flags win', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ 'data-root': '/from/file', bridge: 'br9', 'log-level': 'warn' }) });
  const c = parseConfig(['--config-file', path.join(dir, 'c.json'), '--bridge', 'br1'], {});
  t.equal(c.dataRoot, '/from/file');
  t.equal(c.bridge, 'br1');
  t.equal(c.logLevel, 'warn');
});

t.test('bad input is refused with a clear message', async (t) => {
  t.throws(() => parseConfig(['--nope'], {}), { message: 'unknown flag: --nope', kind: 'invalid-parameter' });
  t.throws(() => parseConfig(['--host'], {}), { message: 'flag needs an argument: --host' });
  t.throws(() => parseConfig(['--log-level', 'loud'], {}), { message: 'invalid log level: loud' });
  const dir = t.testdir({ 'bad.json': '{nope', 'k.json': '{"colour":"red"}' });
  t.throws(() => parseConfig(['--config-file', path.join(dir, 'bad.json')], {}), /unable to read config file/);
  t.throws(() => parseConfig(['--config-file', path.join(dir, 'k.json')], {}), /unknown key "colour"/);
  t.throws(() => parseConfig(['--config-file', path.join(dir, 'missing.json')], {}), /unable to read config file/);
  t.ok(fs.existsSync(dir));
});

t.test('help', async (t) => {
  t.equal(parseConfig(['-h'], {}).help, true);
});

t.test('--live-restore: a bool flag and a config key, as dockerd', async (t) => {
  t.equal(parseConfig([], {}).liveRestore, true, 'on by default (#13)');
  t.equal(parseConfig(['--live-restore'], {}).liveRestore, true, 'bare flag');
  t.equal(parseConfig(['--live-restore', '--bridge', 'br1'], {}).bridge, 'br1', 'the bare flag takes no argument');
  t.equal(parseConfig(['--live-restore=false'], {}).liveRestore, false);
  t.equal(parseConfig(['--live-restore=true'], {}).liveRestore, true);
  const dir = t.testdir({ 'on.json': '{"live-restore": true}', 'off.json': '{"live-restore": false}', 'bad.json': '{"live-restore": "yes"}' });
  t.equal(parseConfig(['--config-file', path.join(dir, 'off.json')], {}).liveRestore, false, 'daemon.json turns it off');
  t.equal(parseConfig(['--config-file', path.join(dir, 'off.json'), '--live-restore'], {}).liveRestore, true, 'the bare flag wins over the file');
  t.equal(parseConfig(['--config-file', path.join(dir, 'on.json')], {}).liveRestore, true, 'daemon.json key');
  t.equal(parseConfig(['--config-file', path.join(dir, 'on.json'), '--live-restore=false'], {}).liveRestore, false, 'the flag wins');
  t.throws(() => parseConfig(['--config-file', path.join(dir, 'bad.json')], {}), /invalid value "yes" for live-restore/);
  t.throws(() => parseConfig(['--live-restore=maybe'], {}), /invalid value "maybe"/);
});

t.test('--exec-opt native.cgroupdriver as dockerd checks it: cgroupfs (default) or systemd', async (t) => {
  t.same(parseConfig([], {}).execOpts, []);
  const c = parseConfig(['--exec-opt', 'native.cgroupdriver=cgroupfs', '--exec-opt=other.opt=x'], {});
  t.same(c.execOpts, ['native.cgroupdriver=cgroupfs', 'other.opt=x']);
  t.ok(parseConfig(['--exec-opt', 'Native.CgroupDriver = cgroupfs'], {}), 'key case and spaces as moby');
  t.throws(() => parseConfig(['--exec-opt', 'native.cgroupdriver'], {}), { message: "invalid exec-opt (native.cgroupdriver): must be formatted 'opt=value'", kind: 'invalid-parameter' });
  t.throws(() => parseConfig(['--exec-opt', 'native.cgroupdriver=cgroupv3'], {}), { message: 'native.cgroupdriver option cgroupv3 not supported' });
  t.throws(() => parseConfig(['--exec-opt', 'native.cgroupdriver=none'], {}), { message: /internally used/ });
  const sd = parseConfig(['--exec-opt', 'native.cgroupdriver=systemd'], {});
  t.equal(sd.cgroupDriver, 'systemd');
  t.equal(sd.cgroupParent, 'system.slice', 'the systemd driver\'s default parent is system.slice, as dockerd\'s');
  t.equal(parseConfig(['--exec-opt', 'native.cgroupdriver=systemd', '--cgroup-parent', 'tsd-ci.slice'], {}).cgroupParent, 'tsd-ci.slice');
  t.throws(() => parseConfig(['--exec-opt', 'native.cgroupdriver=systemd', '--cgroup-parent', '/foo/bar'], {}), { message: /should be a valid slice named as "xxx.slice"/, kind: 'invalid-parameter' });
  t.equal(parseConfig([], {}).cgroupDriver, 'cgroupfs');
  t.ok(parseConfig(['--exec-opt', 'native.cgroupdriver=cgroupfs', '--exec-opt', 'native.cgroupdriver=bogus'], {}), 'the first one counts, as moby\'s getCD');
  const dir = t.testdir({ 'c.json': JSON.stringify({ 'exec-opts': ['native.cgroupdriver=systemd'] }) });
  t.equal(parseConfig(['--config-file', path.join(dir, 'c.json')], {}).cgroupDriver, 'systemd', 'daemon.json exec-opts too');
});
