// Volumes and binds (host dir, named volume persisting, tmpfs, read-only
// rootfs, volume ls/inspect/rm/prune) and networking (user network with name
// resolution, published port + docker port, --network none, --network host).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { containerEnv, containerOpts, waitFor } from './helpers.js';

const opts = containerOpts();

t.test('volumes, binds and networks', opts, async (t) => {
  const e = await containerEnv(t);
  const { docker, ok, d } = e;
  const inspect = async (ref: string): Promise<Record<string, any>> => (JSON.parse(await ok('inspect', ref)) as Array<Record<string, any>>)[0]!;

  await t.test('bind mount a host dir', async (t) => {
    const host = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-c6-bind-${process.pid}-`));
    t.teardown(() => fs.rmSync(host, { recursive: true, force: true }));
    fs.writeFileSync(path.join(host, 'f'), 'from host\n');
    const name = e.name('bind');
    const r = await ok('run', '--name', name, '-v', `${host}:/data`, 'busybox:fixture', 'sh', '-c', 'cat /data/f; echo from container > /data/g');
    t.equal(r, 'from host\n');
    t.equal(fs.readFileSync(path.join(host, 'g'), 'utf8'), 'from container\n');
    const m = (await inspect(name)).Mounts as Array<Record<string, any>>;
    t.equal(m.length, 1);
    t.match(m[0], { Type: 'bind', Source: host, Destination: '/data', RW: true });
    const ro = await docker(['run', '--rm', '-v', `${host}:/data:ro`, 'busybox:fixture', 'touch', '/data/x']);
    t.not(ro.code, 0);
    t.match(ro.err, /Read-only file system/);
    t.notOk(fs.existsSync(path.join(host, 'x')));
    await ok('rm', name);
  });

  await t.test('named volume persists across containers', async (t) => {
    const vol = e.name('vol');
    await ok('run', '--rm', '-v', `${vol}:/data`, 'busybox:fixture', 'sh', '-c', 'echo persisted > /data/p');
    t.equal(await ok('run', '--rm', '-v', `${vol}:/data`, 'busybox:fixture', 'cat', '/data/p'), 'persisted\n');
    const ls = await ok('volume', 'ls', '--format', '{{.Driver}} {{.Name}}');
    t.match(ls, `local ${vol}`);
    const vi = (JSON.parse(await ok('volume', 'inspect', vol)) as Array<Record<string, any>>)[0]!;
    t.equal(vi.Name, vol);
    t.equal(vi.Driver, 'local');
    t.ok(fs.readFileSync(path.join(vi.Mountpoint, 'p'), 'utf8') === 'persisted\n', 'Mountpoint holds the data');
    const holder = e.name('holder');
    await ok('create', '--name', holder, '-v', `${vol}:/data`, 'busybox:fixture');
    const inUse = await docker(['volume', 'rm', vol]);
    t.equal(inUse.code, 1);
    t.match(inUse.err, /volume is in use/);
    await ok('rm', holder);
    t.equal((await ok('volume', 'rm', vol)).trim(), vol);
    t.notMatch(await ok('volume', 'ls', '-q'), vol);
    const missing = await docker(['volume', 'inspect', vol]);
    t.equal(missing.code, 1);
    t.match(missing.err, /no such volume/i);
  });

  await t.test('anonymous volumes and prune', async (t) => {
    const named = e.name('keep');
    await ok('volume', 'create', named);
    const anon = e.name('anon');
    await ok('run', '--name', anon, '-v', '/anon', 'busybox:fixture', 'true');
    const anonVol = ((await inspect(anon)).Mounts as Array<Record<string, any>>)[0]!;
    t.equal(anonVol.Type, 'volume');
    t.match(anonVol.Name, /^[0-9a-f]{64}$/);
    await ok('rm', anon);
    const pr = await ok('volume', 'prune', '-f');
    t.match(pr, anonVol.Name, 'prune removes the unused anonymous volume');
    t.match(await ok('volume', 'ls', '-q'), named, 'prune without -a keeps named volumes');
    const all = await ok('volume', 'prune', '-af');
    t.match(all, named);
    t.equal((await ok('volume', 'ls', '-q')).trim(), '');
  });

  await t.test('--volumes-from', async (t) => {
    const host = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-c6-vf-${process.pid}-`));
    t.teardown(() => fs.rmSync(host, { recursive: true, force: true }));
    const src = e.name('vsrc');
    await ok('run', '-d', '--name', src, '-v', '/shared', '-v', `${host}:/hb`, 'busybox:fixture', 'sh', '-c', 'echo from-src > /shared/x; sleep 300');
    await waitFor(async () => (await docker(['exec', src, 'cat', '/shared/x'])).out === 'from-src\n', 5000, 'source wrote');
    t.equal(await ok('run', '--rm', '--volumes-from', src, 'busybox:fixture', 'sh', '-c', 'cat /shared/x; echo w > /hb/w'), 'from-src\n', 'sees the anonymous volume');
    t.equal(fs.readFileSync(path.join(host, 'w'), 'utf8'), 'w\n', 'and the bind, writable');
    const ro = await docker(['run', '--rm', '--volumes-from', `${src}:ro`, 'busybox:fixture', 'touch', '/shared/y']);
    t.not(ro.code, 0);
    t.match(ro.err, /Read-only file system/);
    t.match(await ok('run', '--rm', '-v', `${host}:/shared`, '--volumes-from', src, 'busybox:fixture', 'ls', '/shared'), /^w$/m, 'an explicit -v wins over --volumes-from');
    const anon = ((await inspect(src)).Mounts as Array<Record<string, any>>).find((m) => m.Destination === '/shared')!.Name as string;
    t.match(await ok('volume', 'ls', '-q'), anon, "the --rm containers left the source's volume alone");
    await ok('rm', '-f', '-v', src);
  });

  await t.test('--tmpfs and --read-only', async (t) => {
    const out = await ok('run', '--rm', '--tmpfs', '/t', 'busybox:fixture', 'sh', '-c', 'grep " /t " /proc/mounts; echo a > /t/a && cat /t/a');
    t.match(out, /^tmpfs \/t tmpfs rw/);
    t.match(out, /\na\n$/);
    const ro = await docker(['run', '--rm', '--read-only', 'busybox:fixture', 'touch', '/x']);
    t.not(ro.code, 0);
    t.match(ro.err, /Read-only file system/);
    t.equal(await ok('run', '--rm', '--read-only', '--tmpfs', '/tmp', 'busybox:fixture', 'sh', '-c', 'echo ok > /tmp/x && cat /tmp/x'), 'ok\n', 'tmpfs is writable on a read-only rootfs');
  });

  await t.test('user network: containers reach each other by name', async (t) => {
    const net = e.name('net');
    await ok('network', 'create', net);
    t.teardown(() => docker(['network', 'rm', net]));
    const srv = e.name('srv');
    await ok('run', '-d', '--name', srv, '--network', net, 'busybox:fixture', 'sh', '-c', 'mkdir -p /www && echo served > /www/index.html && httpd -f -p 80 -h /www');
    const script = `ping -c1 -W2 ${srv} >/dev/null && echo pingok; for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${srv} 80 && break; sleep 0.2; done`;
    const out = await ok('run', '--rm', '--network', net, 'busybox:fixture', 'sh', '-c', script);
    t.match(out, /^pingok$/m);
    t.match(out, /200 OK/);
    t.match(out, /^served$/m);
    const ni = (JSON.parse(await ok('network', 'inspect', net)) as Array<Record<string, any>>)[0]!;
    t.ok(Object.values(ni.Containers as Record<string, { Name: string }>).some((c) => c.Name === srv), 'network inspect lists the container');
    const rmBusy = await docker(['network', 'rm', net]);
    t.not(rmBusy.code, 0, 'a network in use cannot be removed');
    await ok('rm', '-f', srv);
  });

  await t.test('publish on 127.0.0.1:0 and docker port', async (t) => {
    const name = e.name('pub');
    await ok('run', '-d', '--name', name, '-p', '127.0.0.1:0:80', 'busybox:fixture', 'sh', '-c', 'mkdir -p /www && echo published > /www/index.html && httpd -f -p 80 -h /www');
    const port = (await ok('port', name)).trim();
    t.match(port, /^80\/tcp -> 127\.0\.0\.1:\d+$/);
    const addr = (await ok('port', name, '80/tcp')).trim();
    t.match(addr, /^127\.0\.0\.1:\d+$/);
    let body = '';
    let last = '';
    await waitFor(async () => {
      try {
        body = await (await fetch(`http://${addr}/index.html`, { signal: AbortSignal.timeout(2000) })).text();
        return true;
      } catch (err) {
        last = String((err as { cause?: unknown }).cause ?? err);
        return false;
      }
    }, 10_000, 'published port').catch((err: Error) => { throw new Error(`${err.message}: ${last}`); });
    t.equal(body, 'published\n');
    const c = await inspect(name);
    t.same(c.NetworkSettings.Ports['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: addr.split(':')[1] }]);
    t.match(await ok('ps', '--format', '{{.Ports}}', '--filter', `name=${name}`), `${addr}->80/tcp`);
    const none = await docker(['port', name, '81']);
    t.not(none.code, 0);
    const clash = await docker(['run', '-d', '--name', e.name('clash'), '-p', `${addr}:80`, 'busybox:fixture', 'true']);
    t.equal(clash.code, 125, 'a taken host port fails the run');
    t.match(clash.err, `Bind for ${addr} failed: port is already allocated`);
    const all = e.name('puball');
    await ok('run', '-d', '--name', all, '-P', '--expose', '80', '--expose', '81/udp', 'busybox:fixture', 'sleep', '300');
    const ports = (await ok('port', all)).trim().split('\n').sort();
    t.equal(ports.length, 2, `-P publishes every exposed port: ${ports.join(', ')}`);
    t.match(ports[0], /^80\/tcp -> 0\.0\.0\.0:\d+$/);
    t.match(ports[1], /^81\/udp -> 0\.0\.0\.0:\d+$/);
    const ps = async (f: string) => (await ok('ps', '--filter', f, '--format', '{{.Names}}')).split('\n').filter(Boolean).sort();
    t.same(await ps('publish=80'), [name, all].sort(), 'ps --filter publish=80');
    t.same(await ps('publish=81/udp'), [all]);
    t.same(await ps('publish=79-81/udp'), [all], 'port ranges');
    t.same(await ps('publish=81'), [], 'tcp by default');
    t.same(await ps('expose=81/udp'), [all]);
    t.same(await ps('expose=82'), []);
    await ok('rm', '-f', name, all);
  });

  await t.test('--network container:<name> shares the network and the hostname', async (t) => {
    const base = e.name('base');
    await ok('run', '-d', '--name', base, '--hostname', 'basehost', 'busybox:fixture', 'sh', '-c', 'mkdir -p /www && echo shared > /www/index.html && httpd -f -p 8080 -h /www; sleep 300');
    const ip = (await inspect(base)).NetworkSettings.IPAddress as string;
    const script = `hostname; ip -o -4 addr show eth0 | awk '{print $4}'; for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 8080 && break; sleep 0.2; done`;
    const out = await ok('run', '--rm', '--network', `container:${base}`, 'busybox:fixture', 'sh', '-c', script);
    const lines = out.split('\n');
    t.equal(lines[0], 'basehost', 'hostname of the joined container');
    t.equal(lines[1], `${ip}/${(await inspect(base)).NetworkSettings.IPPrefixLen}`, 'same eth0 address');
    t.match(out, /^shared$/m, "the joined container's localhost");
    const stopped = e.name('stopped');
    await ok('create', '--name', stopped, 'busybox:fixture', 'true');
    const r = await docker(['run', '--rm', '--network', `container:${stopped}`, 'busybox:fixture', 'true']);
    t.not(r.code, 0);
    t.match(r.err, /cannot join network of a non running container/);
    await ok('rm', '-f', base, stopped);
  });

  await t.test('--network none and --network host', async (t) => {
    const none = await ok('run', '--rm', '--network', 'none', 'busybox:fixture', 'sh', '-c', 'ls /sys/class/net');
    t.same(none.split(/\s+/).filter(Boolean), ['lo'], 'only lo');
    // A pod's pause container: its netns is reachable through SandboxKey (CNI and Nomad use it).
    const pause = e.name('pause');
    await ok('run', '-d', '--name', pause, '--network', 'none', 'busybox:fixture', 'sleep', '30');
    const key = (await ok('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', pause)).trim();
    const pid = (await ok('inspect', '-f', '{{.State.Pid}}', pause)).trim();
    t.equal(key, `/proc/${pid}/ns/net`);
    t.equal(fs.readlinkSync(key), fs.readlinkSync(`/proc/${pid}/ns/net`));
    t.not(fs.readlinkSync(key), fs.readlinkSync('/proc/self/ns/net'), 'not the host netns');
    const joined = await ok('run', '--rm', '--network', `container:${pause}`, 'busybox:fixture', 'readlink', '/proc/self/ns/net');
    t.equal(joined.trim(), fs.readlinkSync(key), 'container: joins the same netns');
    await ok('rm', '-f', pause);
    const host = await ok('run', '--rm', '--network', 'host', 'busybox:fixture', 'sh', '-c', 'ls /sys/class/net');
    const hostIfs = fs.readdirSync('/sys/class/net').sort();
    const seen = host.split(/\s+/).filter(Boolean).sort();
    t.ok(seen.includes(d.bridge), 'host network sees the daemon bridge');
    t.ok(hostIfs.filter((i) => !i.startsWith('veth') && !i.startsWith('tsd')).every((i) => seen.includes(i)), 'host network sees the host interfaces');
  });
});
