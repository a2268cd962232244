// exec: a second process in a running container's namespaces and profile.
import t from 'tap';
import fs from 'node:fs';
import { privilegedOpts } from '../../helpers/privileged.js';
import { launch, execInContainer, nsexecPath, RuntimeStartError } from '../../../runtime/index.js';
import type { ExecSpec } from '../../../runtime/index.js';
import { overlayRootfs, baseSpec, guard, collect } from './helpers.js';

const execSpec = (args: string[], extra: Partial<ExecSpec> = {}): ExecSpec => ({
  args, env: [], cwd: '', user: '', tty: false, openStdin: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], cgroupProcs: [], ...extra,
});

t.test('exec joins the PID namespace, filesystem, hostname and profile', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const ctr = guard(t, await launch(baseSpec(rootfs, ['sh', '-c', 'echo made-inside > /tmp/marker; exec sleep 1000'], { hostname: 'exechost' })));
  for (let i = 0; i < 100 && !fs.existsSync(`${rootfs}/tmp/marker`); i++) await new Promise((r) => setTimeout(r, 20));

  const ex = async (args: string[], extra: Partial<ExecSpec> = {}) => {
    const task = guard(t, await execInContainer(ctr.pid, execSpec(args, extra)));
    const [out, err, x] = await Promise.all([collect(task.stdout), collect(task.stderr), task.exited]);
    return { out, err, code: x.exitCode };
  };
  // ps runs first and alone: busybox re-execs its applets through /proc/self/exe, so a pipeline's
  // processes can briefly show up as "exe"; only PID 1's line matters here.
  let r = await ex(['ps', '-o', 'pid,comm']);
  t.equal(r.code, 0, r.err);
  t.ok(r.out.split('\n').map((l) => l.trim().split(/\s+/)).some((f) => f[0] === '1' && f[1] === 'sleep'), 'PID 1 of the container is visible as 1');
  r = await ex(['sh', '-c', 'cat /tmp/marker; hostname; grep -E "^(CapEff|Seccomp):" /proc/self/status; readlink /proc/1/ns/mnt; readlink /proc/self/ns/mnt']);
  t.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').map((l) => l.trim());
  t.equal(lines[0], 'made-inside', 'same filesystem');
  t.equal(lines[1], 'exechost', 'same UTS namespace');
  t.equal(lines[2], 'CapEff:\t00000000a80425fb');
  t.equal(lines[3], 'Seccomp:\t2');
  t.match(lines[4], /^mnt:\[\d+\]$/);
  t.equal(lines[4], lines[5], 'same mount namespace as PID 1');

  r = await ex(['sh', '-c', 'unshare -m true && echo escaped || echo contained; cat /proc/timer_list | wc -c'], {});
  t.same(r.out.trim().split('\n').map((l) => l.trim()), ['contained', '0']);

  r = await ex(['sh', '-c', 'id; pwd; echo $HOME $X'], { user: '1000:1000', cwd: '/home/user', env: ['X=1'] });
  t.same(r.out.trim().split('\n'), ['uid=1000(user) gid=1000(user) groups=1000(user)', '/home/user', '/home/user 1']);

  r = await ex(['grep', 'NoNewPrivs', '/proc/self/status'], { securityOpt: ['no-new-privileges'] });
  t.equal(r.out.trim(), 'NoNewPrivs:\t1');

  const err = await execInContainer(ctr.pid, execSpec(['nope'])).then(() => null, (e: unknown) => e);
  t.ok(err instanceof RuntimeStartError);
  t.equal((err as RuntimeStartError).exitCode, 127);

  // tty exec
  const tt = guard(t, await execInContainer(ctr.pid, execSpec(['sh', '-c', '[ -t 1 ] && echo tty-yes; stty size'], { tty: true, consoleSize: [12, 34] })));
  let out = '';
  tt.pty!.stream.on('data', (d: Buffer) => { out += d.toString(); });
  await tt.exited;
  for (let i = 0; i < 50 && !out.includes('12 34'); i++) await new Promise((r) => setTimeout(r, 20));
  t.match(out, /tty-yes\r\n12 34/);

  // the exec'd process dies with the container
  const long = guard(t, await execInContainer(ctr.pid, execSpec(['sleep', '1000'])));
  ctr.kill('SIGKILL');
  t.equal((await ctr.exited).exitCode, 137);
  t.equal((await long.exited).signal, 'SIGKILL', 'the kernel killed the exec with PID 1');
});

t.test('the same exec again (its plan and user reply reused) after the container\'s /etc/passwd changed: resolved again', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const ctr = guard(t, await launch(baseSpec(rootfs, ['sleep', '1000'])));
  const id = async () => {
    const task = guard(t, await execInContainer(ctr.pid, execSpec(['id', '-u'], { user: 'probe' })));
    const [out] = await Promise.all([collect(task.stdout), task.exited, collect(task.stderr)]);
    return { out: out.trim() };
  };
  const before = await execInContainer(ctr.pid, execSpec(['id', '-u'], { user: 'probe' })).then(() => null, (e: Error) => e.message);
  t.match(before, /unable to find user probe/, 'no such user yet');
  fs.appendFileSync(`${rootfs}/etc/passwd`, 'probe:x:4242:4242::/:/bin/sh\n');
  t.equal((await id()).out, '4242', 'the new passwd line is used');
  const passwd = fs.readFileSync(`${rootfs}/etc/passwd`, 'utf8');
  fs.writeFileSync(`${rootfs}/etc/passwd`, passwd.replace('probe:x:4242:4242', 'probe:x:4343:4343'));
  t.equal((await id()).out, '4343', 'and its change');
});

t.test('exec output: stdout and stderr merged (mergeOutput), and a reader that comes after the exit', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const ctr = guard(t, await launch(baseSpec(rootfs, ['sleep', '1000'])));

  // a healthcheck's: one stream, in the order written (through tsd-nsexec started by vspawn; elsewhere two streams)
  const m = guard(t, await execInContainer(ctr.pid, execSpec(['sh', '-c', 'echo 1; echo 2 >&2; echo 3; echo 4 >&2'], { mergeOutput: true })));
  if (nsexecPath() !== null && process.env.TSD_VSPAWN !== '0') {
    t.equal(m.stderr, null, 'no stderr stream of its own');
    const [merged, mx] = await Promise.all([collect(m.stdout), m.exited]);
    t.equal(merged, '1\n2\n3\n4\n');
    t.equal(mx.exitCode, 0);
  } else {
    const [out, err, mx] = await Promise.all([collect(m.stdout), collect(m.stderr), m.exited]);
    t.same([out, err, mx.exitCode], ['1\n3\n', '2\n4\n', 0], 'without vspawn: the two streams as they are');
  }

  // a process that writes nothing and exits before anyone reads its streams: they still end for a late reader
  const quiet = guard(t, await execInContainer(ctr.pid, execSpec(['true'])));
  await quiet.exited;
  await new Promise((r) => setTimeout(r, 50));
  t.same(await Promise.all([collect(quiet.stdout), collect(quiet.stderr)]), ['', ''], 'both streams end, empty');
  const late = guard(t, await execInContainer(ctr.pid, execSpec(['sh', '-c', 'echo late; echo err >&2'])));
  await late.exited;
  await new Promise((r) => setTimeout(r, 50));
  t.same(await Promise.all([collect(late.stdout), collect(late.stderr)]), ['late\n', 'err\n'], 'output kept for a late reader');
});
