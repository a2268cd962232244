// docker cp sees a container's mounts (issue #10 item 3), through the real CLI:
// running, the container's own mount view (volume, bind, read-only bind, tmpfs);
// stopped and never started, the rootfs with its volumes and binds mounted for
// the copy as dockerd does (a tmpfs is then the empty directory under it,
// dockerd's view too), and nothing of that copy left mounted afterwards.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { containerEnv, containerOpts } from './helpers.js';

t.test('docker cp through volumes, binds and tmpfs', containerOpts(), async (t) => {
  const { d, ok, docker, name } = await containerEnv(t);
  const bind = path.join(d.dir, 'bind');
  const robind = path.join(d.dir, 'robind');
  fs.mkdirSync(bind);
  fs.mkdirSync(robind);
  fs.writeFileSync(path.join(bind, 'hostfile'), 'from the host\n');
  fs.writeFileSync(path.join(robind, 'keep'), 'read only\n');
  const src = path.join(d.dir, 'in.txt');
  fs.writeFileSync(src, 'copied in\n');
  const vol = name('cpvol');
  const c = name('cpmounts');
  await ok('run', '-d', '--name', c, '-v', `${vol}:/vol`, '-v', `${bind}:/bind`, '-v', `${robind}:/robind:ro`, '--tmpfs', '/t',
    'busybox:fixture', 'sh', '-c', 'echo in-volume > /vol/f && echo in-tmpfs > /t/f && touch /ready && exec sleep 600');
  for (let i = 0; i < 100 && (await docker(['exec', c, 'test', '-e', '/ready'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  const cat = async (p: string) => {
    const dst = path.join(d.dir, `out-${Math.random().toString(36).slice(2)}`);
    const r = await docker(['cp', `${c}:${p}`, dst]);
    return r.code === 0 ? fs.readFileSync(dst, 'utf8') : `ERR ${r.err.trim()}`;
  };
  const volData = JSON.parse(await ok('volume', 'inspect', vol))[0].Mountpoint as string;

  await t.test('running: the container\'s own view', async (t) => {
    t.equal(await cat('/vol/f'), 'in-volume\n', 'a file in a named volume');
    t.equal(await cat('/bind/hostfile'), 'from the host\n', 'a file in a bind mount');
    t.equal(await cat('/t/f'), 'in-tmpfs\n', 'a file in a tmpfs (the live one)');
    t.equal(await cat('/robind/keep'), 'read only\n', 'a file in a read-only bind');
    await ok('cp', src, `${c}:/vol/`);
    t.equal(await ok('exec', c, 'cat', '/vol/in.txt'), 'copied in\n', 'copied into the volume, seen inside');
    t.equal(fs.readFileSync(path.join(volData, 'in.txt'), 'utf8'), 'copied in\n', 'and in the volume\'s data dir');
    await ok('cp', src, `${c}:/bind/`);
    t.equal(fs.readFileSync(path.join(bind, 'in.txt'), 'utf8'), 'copied in\n', 'copied into the bind source');
    await ok('cp', src, `${c}:/t/`);
    t.equal(await ok('exec', c, 'cat', '/t/in.txt'), 'copied in\n', 'copied into the live tmpfs');
    const ro = await docker(['cp', src, `${c}:/robind/`]);
    t.not(ro.code, 0);
    t.match(ro.err, /mounted volume is marked read-only/);
    t.notOk(fs.existsSync(path.join(robind, 'in.txt')));
    const proc = await docker(['cp', `${c}:/proc/self/status`, path.join(d.dir, 'status')]);
    t.not(proc.code, 0, 'the runtime\'s /proc is not archived');
  });

  await t.test('stopped: volumes and binds mounted for the copy, then gone', async (t) => {
    await ok('stop', '-t', '1', c);
    const mountsBefore = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(d.dir)).length;
    t.equal(await cat('/vol/f'), 'in-volume\n', 'a file in a named volume');
    t.equal(await cat('/bind/hostfile'), 'from the host\n', 'a file in a bind mount');
    t.equal(await cat('/robind/keep'), 'read only\n');
    t.match(await cat('/t/f'), /^ERR .*Could not find the file \/t\/f/, 'a stopped container\'s tmpfs is gone (dockerd: the same)');
    fs.writeFileSync(src, 'copied while stopped\n');
    await ok('cp', src, `${c}:/vol/`);
    t.equal(fs.readFileSync(path.join(volData, 'in.txt'), 'utf8'), 'copied while stopped\n', 'into the volume');
    const ro = await docker(['cp', src, `${c}:/robind/`]);
    t.match(ro.err, /mounted volume is marked read-only/);
    const mountsAfter = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(d.dir)).length;
    t.equal(mountsAfter, mountsBefore, 'nothing the copies mounted is left');
    await ok('start', c);
    t.equal(await ok('exec', c, 'cat', '/vol/in.txt'), 'copied while stopped\n', 'the container sees it after start');
  });

  await t.test('created, never started: its volume gets the file', async (t) => {
    const v2 = name('cpvol2');
    const c2 = name('cpcreated');
    await ok('create', '--name', c2, '-v', `${v2}:/v`, 'busybox:fixture', 'cat', '/v/in.txt');
    await ok('cp', src, `${c2}:/v/`);
    await ok('start', c2);
    t.equal((await ok('wait', c2)).trim(), '0');
    t.equal(await ok('logs', c2), 'copied while stopped\n');
  });

  await t.test('a read-only rootfs refuses a copy into it, not into its volume', async (t) => {
    const c3 = name('cpro');
    await ok('run', '-d', '--name', c3, '--read-only', '-v', `${name('cpvol3')}:/v`, 'busybox:fixture', 'sleep', '600');
    const r = await docker(['cp', src, `${c3}:/tmp/`]);
    t.match(r.err, /container rootfs is marked read-only/);
    await ok('cp', src, `${c3}:/v/`);
    t.equal(await ok('exec', c3, 'cat', '/v/in.txt'), 'copied while stopped\n');
  });

  await t.test('copy-up: an empty named volume gets the image\'s content at its mount point, as dockerd', async (t) => {
    const v = name('copyup');
    t.equal(await ok('run', '--rm', '-v', `${v}:/etc`, 'busybox:fixture', 'head', '-1', '/etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    const data = JSON.parse(await ok('volume', 'inspect', v))[0].Mountpoint as string;
    t.ok(fs.existsSync(path.join(data, 'group')), 'the image\'s /etc is in the volume');
    fs.writeFileSync(path.join(data, 'passwd'), 'mine\n');
    await ok('run', '--rm', '-v', `${v}:/etc`, 'busybox:fixture', 'true');
    t.equal(fs.readFileSync(path.join(data, 'passwd'), 'utf8'), 'mine\n', 'a volume with content is left as it is');
    const v2 = name('nocopy');
    t.notMatch(await ok('run', '--rm', '-v', `${v2}:/etc:nocopy`, 'busybox:fixture', 'ls', '/etc'), /passwd/, 'nocopy: nothing copied');
    // symlinks are copied as links: one pointing at a host path stays a dangling link in the volume
    const c4 = name('mklinks');
    await ok('run', '--name', c4, 'busybox:fixture', 'sh', '-c', 'mkdir /data && ln -s /etc /data/hostetc && echo f > /data/f');
    await ok('commit', c4, 'tsd-test:links');
    const v4 = name('links2');
    t.equal(await ok('run', '--rm', '-v', `${v4}:/data`, 'tsd-test:links', 'cat', '/data/f'), 'f\n');
    const d4 = JSON.parse(await ok('volume', 'inspect', v4))[0].Mountpoint as string;
    t.equal(fs.readlinkSync(path.join(d4, 'hostetc')), '/etc', 'the link is copied, not followed');
    t.ok(fs.lstatSync(path.join(d4, 'hostetc')).isSymbolicLink());
  });
});
