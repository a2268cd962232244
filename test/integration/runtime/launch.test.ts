// A container's PID 1 in its namespaces, root filesystem and security profile, on the real kernel.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { privilegedOpts } from '../../helpers/privileged.js';
import { launch } from '../../../runtime/index.js';
import { LinuxSyscalls } from '../../../sys/index.js';
import { overlayRootfs, baseSpec, run, guard, collect, pidsInNamespace } from './helpers.js';

t.test('PID 1 is the entrypoint and ps sees only the container', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const r = await run(t, baseSpec(rootfs, ['ps', '-o', 'pid,comm']));
  t.equal(r.code, 0, r.err);
  const rows = r.out.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  t.same(rows, [['1', 'ps']], 'only PID 1, which is ps itself');
});

t.test('hostname, network none, default security profile', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const r = await run(t, baseSpec(rootfs, ['sh', '-c', 'hostname; grep -E "^(CapEff|CapBnd|Seccomp|NoNewPrivs|SigIgn|SigBlk):" /proc/self/status; ls /sys/class/net'], { hostname: 'box1' }));
  t.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  t.equal(lines[0], 'box1');
  t.match(r.out, /CapEff:\t00000000a80425fb/);
  t.match(r.out, /CapBnd:\t00000000a80425fb/);
  t.match(r.out, /Seccomp:\t2/);
  t.match(r.out, /NoNewPrivs:\t0/);
  t.match(r.out, /SigBlk:\t0000000000000000/);
  t.match(r.out, /SigIgn:\t0000000000000000/, 'no signal ignored (Node\'s SIGPIPE/SIGXFSZ reset)');
  t.equal(lines.at(-1), 'lo', 'a new network namespace with only lo');
});

t.test('privileged: all capabilities, no seccomp, host devices, writable /proc/sys', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  // all the capabilities the daemon itself has (this machine's bounding set may lack some)
  const full = /CapBnd:\t([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]!;
  const r = await run(t, baseSpec(rootfs, ['sh', '-c', 'grep -E "^(CapEff|Seccomp):" /proc/self/status; ls /dev; mount | grep " /proc/sys " || true'], { privileged: true }));
  t.equal(r.code, 0, r.err);
  t.match(r.out, new RegExp(`CapEff:\\t${full}`));
  t.match(r.out, /Seccomp:\t0/);
  t.match(r.out, /\bloop0|\btty0|\bkmsg/, 'host devices are present');
  t.notMatch(r.out, / \/proc\/sys /, '/proc/sys is not a separate read-only mount');
});

t.test('masked and read-only paths, read-only rootfs, no host files', privilegedOpts(), async (t) => {
  const { dir, rootfs } = overlayRootfs(t);
  const marker = path.join(dir, 'host-marker');
  fs.writeFileSync(marker, 'secret');
  const script = [
    'wc -c < /proc/timer_list',
    'cat /proc/kcore 2>/dev/null | wc -c',
    'ls /proc/acpi | wc -l',
    'echo 1 > /proc/sys/kernel/ns_last_pid && echo sys-writable || echo sys-ro',
    'touch /newfile && echo root-writable || echo root-ro',
    'touch /tmp/x 2>/dev/null && echo tmp-writable || echo tmp-ro',
    'echo x > /dev/shm/x && echo shm-writable',
    `cat ${marker} 2>/dev/null || echo no-host-file`,
    'ls /proc/1/root/ | grep -c host-marker || true',
  ].join('; ');
  const r = await run(t, baseSpec(rootfs, ['sh', '-c', script], { readonlyRootfs: true }));
  t.equal(r.code, 0, r.err);
  t.same(r.out.trim().split('\n').map((s) => s.trim()), ['0', '0', '0', 'sys-ro', 'root-ro', 'tmp-ro', 'shm-writable', 'no-host-file', '0']);
  t.notOk(fs.existsSync(path.join(rootfs, 'newfile')));
});

t.test('no privileges to unshare or mount inside', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const r = await run(t, baseSpec(rootfs, ['sh', '-c', 'unshare -m true && echo unshare-ok || echo unshare-denied; mount -t tmpfs none /mnt 2>/dev/null && echo mount-ok || echo mount-denied; mknod /tmp/sda b 8 0 && echo mknod-ok']));
  t.equal(r.code, 0, r.err);
  t.same(r.out.trim().split('\n'), ['unshare-denied', 'mount-denied', 'mknod-ok']);
});

t.test('user 1000:1000, named users, groups, HOME, cwd created, env', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  let r = await run(t, baseSpec(rootfs, ['sh', '-c', 'id; echo $HOME; grep CapEff /proc/self/status'], { user: '1000:1000' }));
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^uid=1000\(user\) gid=1000\(user\)/);
  t.match(r.out, /CapEff:\t0000000000000000/);
  r = await run(t, baseSpec(rootfs, ['sh', '-c', 'id; echo $HOME; pwd; echo $FOO; echo $PATH'], { user: 'user', groupAdd: ['wheel', '4242'], cwd: '/work/dir', env: ['FOO=bar'] }));
  t.equal(r.code, 0, r.err);
  const [id, home, pwd, foo, p] = r.out.trim().split('\n');
  t.equal(id, 'uid=1000(user) gid=1000(user) groups=10(wheel),29(audio),1000(user),4242');
  t.equal(home, '/home/user');
  t.equal(pwd, '/work/dir');
  t.equal(foo, 'bar');
  t.equal(p, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  r = await run(t, baseSpec(rootfs, ['id'], { user: 'root' }));
  t.equal(r.out.trim(), 'uid=0(root) gid=0(root) groups=0(root),10(wheel)');
});

t.test('the user\'s ids are the process\'s: real, effective, saved and fs uid and gid, and the groups (the init sets its own thread\'s, then execve\'s)', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const r = await run(t, baseSpec(rootfs, ['sh', '-c', 'grep -E "^(Uid|Gid|Groups|CapEff|CapPrm):" /proc/self/status; ls /proc/1/task | wc -l'], { user: 'user', groupAdd: ['4242'] }));
  t.equal(r.code, 0, r.err);
  const [uid, gid, groups, prm, eff, threads] = r.out.trim().split('\n');
  t.equal(uid, 'Uid:\t1000\t1000\t1000\t1000');
  t.equal(gid, 'Gid:\t1000\t1000\t1000\t1000');
  t.equal(groups?.trim(), 'Groups:\t10 29 1000 4242');
  t.equal(prm, 'CapPrm:\t0000000000000000');
  t.equal(eff, 'CapEff:\t0000000000000000');
  t.equal(threads?.trim(), '1', 'one thread: the init\'s others ended at its execve');
});

t.test('mounts: bind ro/rw, tmpfs, /etc files, shm size, ulimits', privilegedOpts(), async (t) => {
  const { dir, rootfs } = overlayRootfs(t);
  const src = path.join(dir, 'vol');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'f'), 'from-host\n');
  const hosts = path.join(dir, 'hosts');
  fs.writeFileSync(hosts, '127.0.0.1 localhost\n10.9.9.9 magic\n');
  const script = [
    'cat /data/f', 'echo w > /data/w && echo data-rw', 'cat /ro/f', 'echo w > /ro/w 2>/dev/null || echo ro-ro',
    'grep magic /etc/hosts', 'mount | grep " /scratch " | grep -o "size=[0-9]*k"', 'df -k /dev/shm | tail -1 | awk "{print \\$2}"',
    'ulimit -n',
  ].join('; ');
  const r = await run(t, baseSpec(rootfs, ['sh', '-c', script], {
    mounts: [
      { type: 'bind', source: src, destination: '/data', readonly: false },
      { type: 'bind', source: src, destination: '/ro', readonly: true },
      { type: 'tmpfs', destination: '/scratch', options: 'size=1m' },
    ],
    etc: { hosts },
    shmSize: 8 * 1024 * 1024,
    ulimits: [{ name: 'nofile', soft: 1234, hard: 2048 }],
  }));
  t.equal(r.code, 0, r.err);
  t.same(r.out.trim().split('\n'), ['from-host', 'data-rw', 'from-host', 'ro-ro', '10.9.9.9 magic', 'size=1024k', '8192', '1234']);
  t.equal(fs.readFileSync(path.join(src, 'w'), 'utf8'), 'w\n', 'the rw bind wrote through to the host dir');
});

t.test('only fds 0-2 reach the container', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  // an fd the daemon holds without close-on-exec must not leak
  const leak = fs.openSync('/dev/null', fs.constants.O_RDONLY);
  new LinuxSyscalls().setCloexec(leak, false);
  t.teardown(() => fs.closeSync(leak));
  const r = await run(t, baseSpec(rootfs, ['ls', '/proc/self/fd']));
  // ls's own directory fd is 3
  t.same(r.out.trim().split(/\s+/), ['0', '1', '2', '3']);
});

t.test('stdin pipe, exit codes, signals, PID namespace dies with PID 1', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const cat = guard(t, await launch(baseSpec(rootfs, ['sh', '-c', 'cat; exit 3'], { openStdin: true })));
  const out = collect(cat.stdout);
  cat.stdin!.end('hello stdin\n');
  t.equal(await out, 'hello stdin\n');
  t.same(await cat.exited, { exitCode: 3, signal: null });

  const task = guard(t, await launch(baseSpec(rootfs, ['sh', '-c', 'sleep 1000 & sleep 1000 & wait'])));
  const ns = fs.readlinkSync(`/proc/${task.pid}/ns/pid`);
  for (let i = 0; i < 100 && pidsInNamespace(ns).length < 3; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(pidsInNamespace(ns).length, 3, 'sh and two sleeps');
  task.kill('SIGKILL');
  t.same(await task.exited, { exitCode: 137, signal: 'SIGKILL' });
  for (let i = 0; i < 100 && pidsInNamespace(ns).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(pidsInNamespace(ns), [], 'the kernel killed the rest of the namespace');
});

t.test('tty: pty stream, controlling terminal, resize', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const task = guard(t, await launch(baseSpec(rootfs, ['sh', '-c', 'stty size; read line; echo "got:$line"; stty size; [ -t 0 ] && echo is-tty; tty; ls -l /dev/console | grep -c "136,\\s*0"'], { tty: true, openStdin: true, consoleSize: [30, 100] })));
  t.ok(task.pty);
  t.equal(task.stdout, null);
  let out = '';
  task.pty!.stream.on('data', (d: Buffer) => { out += d.toString(); });
  for (let i = 0; i < 100 && !out.includes('30 100'); i++) await new Promise((r) => setTimeout(r, 20));
  task.pty!.resize(40, 120);
  task.pty!.stream.write('hi\r');
  const ex = await task.exited;
  for (let i = 0; i < 50 && !out.includes('is-tty'); i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(ex.exitCode, 0);
  t.match(out, /30 100\r\n/);
  t.match(out, /got:hi\r\n40 120\r\nis-tty\r\n\/dev\/pts\/0\r\n1\r\n/, 'a pty of the container\'s devpts, bound on \/dev\/console');
});

t.test('network: join a prepared netns, or the host one', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const name = `tsdrt${process.pid}`;
  const { execFileSync } = await import('node:child_process');
  execFileSync('ip', ['netns', 'add', name]);
  t.teardown(() => execFileSync('ip', ['netns', 'del', name]));
  execFileSync('ip', ['-n', name, 'link', 'add', 'tva7', 'type', 'veth', 'peer', 'name', 'tvb7']);
  let r = await run(t, baseSpec(rootfs, ['ls', '/sys/class/net'], { network: { mode: 'netns', path: `/run/netns/${name}` } }));
  t.same(r.out.trim().split('\n').sort(), ['lo', 'tva7', 'tvb7']);
  r = await run(t, baseSpec(rootfs, ['readlink', '/proc/self/ns/net'], { network: { mode: 'host' } }));
  t.equal(r.out.trim(), fs.readlinkSync('/proc/self/ns/net'));
});
