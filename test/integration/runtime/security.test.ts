// Security options on the real kernel: seccomp profiles, no-new-privileges, capabilities; cgroup join; warm pool.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { privilegedOpts } from '../../helpers/privileged.js';
import { launch, warmPool, RuntimeStartError } from '../../../runtime/index.js';
import { overlayRootfs, baseSpec, run, guard, collect } from './helpers.js';

const status = (out: string, key: string) => new RegExp(`^${key}:\\t(.*)$`, 'm').exec(out)?.[1];

t.test('seccomp: custom profile (JSON and file), unconfined; no-new-privileges', privilegedOpts(), async (t) => {
  const { dir, rootfs } = overlayRootfs(t);
  const profile = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] });
  const script = 'mkdir /tmp/d 2>&1 && echo made; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status';
  let r = await run(t, baseSpec(rootfs, ['sh', '-c', script], { securityOpt: [`seccomp=${profile}`] }));
  t.match(r.out, /Permission denied/, 'mkdir refused with the profile\'s errno (EACCES)');
  t.equal(status(r.out, 'Seccomp'), '2');
  const file = path.join(dir, 'profile.json');
  fs.writeFileSync(file, profile);
  r = await run(t, baseSpec(rootfs, ['sh', '-c', script], { securityOpt: [`seccomp=${file}`, 'no-new-privileges:true'] }));
  t.match(r.out, /Permission denied/);
  t.equal(status(r.out, 'NoNewPrivs'), '1');
  r = await run(t, baseSpec(rootfs, ['sh', '-c', 'rmdir /tmp/d 2>/dev/null; ' + script], { securityOpt: ['seccomp=unconfined'] }));
  t.match(r.out, /made/);
  t.equal(status(r.out, 'Seccomp'), '0');
  t.equal(status(r.out, 'NoNewPrivs'), '0');
});

t.test('default profile blocks what Docker\'s blocks', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  // CAP_SYS_ADMIN added: mount is then allowed by both capabilities and the profile
  let r = await run(t, baseSpec(rootfs, ['sh', '-c', 'mount -t tmpfs none /tmp && echo mounted'], { capAdd: ['SYS_ADMIN'] }));
  t.match(r.out, /mounted/);
  // without it: keyctl-like and mount calls are refused by seccomp even for root
  r = await run(t, baseSpec(rootfs, ['sh', '-c', 'mount -t tmpfs none /tmp 2>&1; echo rc=$?']));
  t.match(r.out, /rc=[1-9]/);
});

t.test('capabilities: add, drop, ALL', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  let r = await run(t, baseSpec(rootfs, ['grep', 'CapEff', '/proc/self/status'], { capDrop: ['ALL'], capAdd: ['CHOWN'] }));
  t.equal(r.out.trim(), 'CapEff:\t0000000000000001');
  r = await run(t, baseSpec(rootfs, ['sh', '-c', 'chown 1000 /tmp && echo chowned'], { capDrop: ['CAP_CHOWN'] }));
  t.notMatch(r.out, /chowned/);
  r = await run(t, baseSpec(rootfs, ['grep', 'CapEff', '/proc/self/status'], { capAdd: ['NET_ADMIN'] }));
  t.equal(r.out.trim(), 'CapEff:\t00000000a80435fb');
});

t.test('cgroup: the init joins the given cgroup before exec, in a cgroup namespace', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const cg = `/sys/fs/cgroup/pids/tsd-rt-${process.pid}`;
  if (!fs.existsSync('/sys/fs/cgroup/pids')) {
    t.comment('no pids cgroup v1 hierarchy here');
    return;
  }
  fs.mkdirSync(cg);
  t.teardown(() => fs.rmdirSync(cg));
  fs.writeFileSync(`${cg}/pids.max`, '5');
  const task = guard(t, await launch(baseSpec(rootfs, ['sh', '-c', 'grep pids /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max; echo 9 > /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo cgroupfs-ro; for i in 1 2 3 4 5 6; do sleep 5 & done 2>&1 | head -1; echo done'], { cgroupProcs: [`${cg}/cgroup.procs`] })));
  const host = fs.readFileSync(`/proc/${task.pid}/cgroup`, 'utf8');
  t.match(host, new RegExp(`pids:/tsd-rt-${process.pid}\\n`), 'seen from the host: in our cgroup');
  const [out] = await Promise.all([collect(task.stdout), task.exited]);
  t.match(out, /^\d+:pids:\/\n5\ncgroupfs-ro\n/, 'seen from inside: the cgroup namespace root, its limit in a read-only /sys/fs/cgroup');
  t.match(out, /fork|Resource temporarily unavailable|can't fork/i, 'pids.max applies');
  task.kill('SIGKILL');
});

t.test('warm pool: pre-spawned inits run containers (pipes, tty, errors)', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  warmPool.enable(1);
  t.teardown(() => warmPool.disable());
  await warmPool.ready();
  t.equal(warmPool.available(), 1);
  let r = await run(t, baseSpec(rootfs, ['sh', '-c', 'ps -o pid,comm; read x || echo stdin-eof; grep Seccomp: /proc/self/status']));
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^PID\s+COMMAND\n\s+1 sh\n\s+\d+ ps\n/);
  t.match(r.out, /stdin-eof\nSeccomp:\t2/);
  await warmPool.ready();
  const task = guard(t, await launch(baseSpec(rootfs, ['sh', '-c', '[ -t 0 ] && echo is-tty; stty size'], { tty: true, consoleSize: [7, 9] })));
  let out = '';
  task.pty!.stream.on('data', (d: Buffer) => { out += d.toString(); });
  await task.exited;
  for (let i = 0; i < 50 && !out.includes('7 9'); i++) await new Promise((res) => setTimeout(res, 20));
  t.match(out, /is-tty\r\n7 9/);
  await warmPool.ready();
  const err = await launch(baseSpec(rootfs, ['missing-thing'])).then(() => null, (e: unknown) => e);
  t.ok(err instanceof RuntimeStartError);
  t.equal((err as RuntimeStartError).exitCode, 127);
  await warmPool.ready();
  const cat = guard(t, await launch(baseSpec(rootfs, ['cat'], { openStdin: true })));
  const o = collect(cat.stdout);
  cat.stdin!.end('through the pool\n');
  t.equal(await o, 'through the pool\n');
});
