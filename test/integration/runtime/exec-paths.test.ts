// The exec fast path (tsd-nsexec, runtime/nsexec.ts) and the Node init run the
// same plan: every case here runs through both and must give the same result
// (output, exit code, error message), so a user cannot tell which one ran. Plus
// what only the helper needs proving: that it is built where gcc is (deps.sh),
// that a blocked step meets its deadline and an abort kills it, and that it
// leaves nothing running.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { privilegedOpts } from '../../helpers/privileged.js';
import { launch, execInContainer, nsexecPath, RuntimeStartError } from '../../../runtime/index.js';
import { NSEXEC_BUILT } from '../../../runtime/nsexec.js';
import type { ExecSpec, Process } from '../../../runtime/index.js';
import { overlayRootfs, baseSpec, guard, collect } from './helpers.js';
import { liveChildren } from '../../helpers/processes.js';

const execSpec = (args: string[], extra: Partial<ExecSpec> = {}): ExecSpec => ({
  args, env: [], cwd: '', user: '', tty: false, openStdin: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], cgroupProcs: [], ...extra,
});

type Outcome = { out: string; err: string; code: number } | { error: string; exitCode: number | undefined; step: string | undefined };

/** Runs `fn` with the helper (TSD_NSEXEC unset) and with the Node init (TSD_NSEXEC=0). */
async function both<T>(fn: () => Promise<T>): Promise<{ helper: T; node: T }> {
  const prev = process.env.TSD_NSEXEC;
  try {
    delete process.env.TSD_NSEXEC;
    const helper = await fn();
    process.env.TSD_NSEXEC = '0';
    const node = await fn();
    return { helper, node };
  } finally {
    if (prev === undefined) delete process.env.TSD_NSEXEC;
    else process.env.TSD_NSEXEC = prev;
  }
}


t.test('tsd-nsexec is built (scripts/deps.sh installs gcc and libc6-dev; npm run build makes it) and runs from a sealed memfd', async (t) => {
  const p = nsexecPath();
  t.ok(p, 'the helper is there: exec takes the fast path');
  t.match(p, /^\/proc\/self\/fd\/\d+$/, 'run from a memfd');
  t.match(fs.readlinkSync(p!), /^\/memfd:tsd-nsexec/, 'a memfd of its own, no host file');
  const seals = fs.readFileSync(`/proc/self/fdinfo/${p!.split('/').pop()}`, 'utf8');
  t.ok(parseInt(/^flags:\s+(\d+)$/m.exec(seals)?.[1] ?? '0', 8) & 0o2000000, 'close-on-exec: no child of the daemon inherits it');
  t.throws(() => fs.writeFileSync(p!, 'x'), 'sealed: cannot be written');
  t.match(execFileSync('file', [NSEXEC_BUILT], { encoding: 'utf8' }), /statically linked/, 'static: no loader or library resolved inside a container');
});

t.test('the helper and the Node init: same results for the same exec', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  // a FIFO as /etc/group (a hostile image's): reading it must neither block nor succeed
  fs.mkdirSync(path.join(rootfs, 'fifo/etc'), { recursive: true });
  execFileSync('mkfifo', [path.join(rootfs, 'fifo/etc/group')]);
  fs.writeFileSync(path.join(rootfs, 'noexec'), '#!/bin/sh\n', { mode: 0o644 });
  const ctr = guard(t, await launch(baseSpec(rootfs, ['sh', '-c', 'echo 1 > /tmp/up; exec sleep 1000'], { hostname: 'pathhost' })));
  for (let i = 0; i < 100 && !fs.existsSync(`${rootfs}/tmp/up`); i++) await new Promise((r) => setTimeout(r, 20));

  const ex = async (args: string[], extra: Partial<ExecSpec> = {}): Promise<Outcome> => {
    let task: Process;
    try {
      task = guard(t, await execInContainer(ctr.pid, execSpec(args, extra)));
    } catch (e) {
      if (!(e instanceof RuntimeStartError)) throw e;
      return { error: e.message, exitCode: e.exitCode, step: e.step };
    }
    const [out, err, x] = await Promise.all([collect(task.stdout), collect(task.stderr), task.exited]);
    return { out, err, code: x.exitCode };
  };
  const same = async (label: string, args: string[], extra: Partial<ExecSpec> = {}, expect?: (o: Outcome) => void) => {
    const r = await both(() => ex(args, extra));
    t.same(r.helper, r.node, `${label}: the same through both`);
    expect?.(r.helper);
  };
  const status = 'grep -E "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|SigIgn|SigBlk):" /proc/self/status';
  const ns = 'for n in ipc uts net cgroup mnt pid; do echo "$n $(readlink /proc/self/ns/$n) $(readlink /proc/1/ns/$n)"; done';
  await same('root, the container\'s namespaces and profile', ['sh', '-c', `id; pwd; echo "$HOME"; hostname; ${status}; ${ns}; cat /proc/self/oom_score_adj; ls /proc/self/fd`], {}, (o) => {
    t.ok('out' in o && o.code === 0, 'it ran');
    if (!('out' in o)) return;
    t.match(o.out, /^uid=0\(root\) gid=0\(root\)/);
    t.match(o.out, /\npathhost\n/);
    t.match(o.out, /CapEff:\t00000000a80425fb/);
    t.match(o.out, /Seccomp:\t2/);
    t.match(o.out, /SigIgn:\t0000000000000000/, 'no signal ignored');
    t.match(o.out, /SigBlk:\t0000000000000000/, 'none blocked');
    for (const l of o.out.split('\n').filter((x) => /^(ipc|uts|net|cgroup|mnt|pid) /.test(x))) {
      const [, mine, pid1] = l.split(' ');
      t.equal(mine, pid1, `${l.split(' ')[0]}: PID 1's namespace`);
    }
    t.match(o.out, /\n0\n1\n2\n3\n$/, 'fds 0-2 only (3 is ls\'s own directory)');
  });
  await same('a user, groups, cwd, env', ['sh', '-c', `id; pwd; echo "$HOME $X"; ${status}`], { user: '1000:1000', cwd: '/home/user', env: ['X=1'] }, (o) => {
    t.match('out' in o ? o.out : '', /^uid=1000\(user\) gid=1000\(user\) groups=1000\(user\)\n\/home\/user\n\/home\/user 1\n/);
  });
  await same('a named user with an added group', ['id'], { user: 'nobody', groupAdd: ['daemon'] });
  await same('capabilities dropped and added, no-new-privileges', ['sh', '-c', status], { capDrop: ['CHOWN', 'NET_RAW'], capAdd: ['SYS_ADMIN'], securityOpt: ['no-new-privileges'] }, (o) => {
    t.match('out' in o ? o.out : '', /NoNewPrivs:\t1/);
  });
  await same('seccomp unconfined', ['grep', 'Seccomp:', '/proc/self/status'], { securityOpt: ['seccomp=unconfined'] }, (o) => t.match('out' in o ? o.out : '', /Seccomp:\t0/));
  await same('privileged', ['sh', '-c', status], { privileged: true });
  await same('HOME kept when given', ['sh', '-c', 'echo $HOME'], { env: ['HOME=/given'] }, (o) => t.equal('out' in o ? o.out : '', '/given\n'));
  await same('an exit code', ['sh', '-c', 'exit 7'], {}, (o) => t.equal('code' in o ? o.code : -1, 7));
  await same('not found on PATH', ['nosuchcmd'], {}, (o) => t.same(o, { error: 'exec: "nosuchcmd": executable file not found in $PATH', exitCode: 127, step: 'exec' }));
  await same('no such file', ['/nosuch'], {}, (o) => t.match('error' in o ? o.error : '', /stat \/nosuch: no such file or directory/));
  await same('not executable', ['/noexec'], {}, (o) => t.same(o, { error: 'exec: "/noexec": permission denied', exitCode: 126, step: 'exec' }));
  await same('an unknown user', ['true'], { user: 'nosuchuser' }, (o) => t.match('error' in o ? o.error : '', /nosuchuser/));
  await same('a missing cwd (an exec does not create it)', ['true'], { cwd: '/nosuchdir' }, (o) => t.match('error' in o ? o.error : '', /chdir to cwd \("\/nosuchdir"\) set in config.json failed: no such file or directory/));
  await same('a cwd through an fd of the init (CVE-2024-21626)', ['true'], { cwd: '/proc/self/fd/3' }, (o) => t.match('error' in o ? o.error : '', /chdir to cwd/));
  await same('a cwd the user may not enter', ['true'], { user: '1000', cwd: '/root' }, (o) => t.match('error' in o ? o.error : '', /permission denied/));
  await fs.promises.rename(path.join(rootfs, 'etc/group'), path.join(rootfs, 'etc/group.real'));
  await fs.promises.rename(path.join(rootfs, 'fifo/etc/group'), path.join(rootfs, 'etc/group'));
  await same('a FIFO /etc/group', ['true'], { user: 'nobody' }, (o) => t.match('error' in o ? o.error : '', /unable to read \/etc\/group: \/etc\/group is not a regular file/));
  await fs.promises.unlink(path.join(rootfs, 'etc/group'));
  await fs.promises.rename(path.join(rootfs, 'etc/group.real'), path.join(rootfs, 'etc/group'));

  // a tty exec: the pty, its size, the controlling terminal
  const tty = async () => {
    const task = guard(t, await execInContainer(ctr.pid, execSpec(['sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo tty-yes; stty size'], { tty: true, consoleSize: [12, 34] })));
    let out = '';
    task.pty!.stream.on('data', (d: Buffer) => { out += d.toString(); });
    const x = await task.exited;
    for (let i = 0; i < 50 && !/12 34/.test(out); i++) await new Promise((r) => setTimeout(r, 20));
    return { out: out.split('\r\n').slice(0, 2).join('\n'), code: x.exitCode };
  };
  const tt = await both(tty);
  t.same(tt.helper, tt.node, 'tty: the same through both');
  t.same(tt.helper, { out: 'tty-yes\n12 34', code: 0 });

  // stdin: the exec reads what the client writes, and sees its end
  const stdin = async () => {
    const task = guard(t, await execInContainer(ctr.pid, execSpec(['sh', '-c', 'cat; echo done'], { openStdin: true })));
    task.stdin!.end('from the client\n');
    const [out, x] = await Promise.all([collect(task.stdout), task.exited]);
    return { out, code: x.exitCode };
  };
  const si = await both(stdin);
  t.same(si.helper, si.node, 'stdin: the same through both');
  t.same(si.helper, { out: 'from the client\ndone\n', code: 0 });
});

t.test('the helper: a blocked step meets its deadline, an abort kills it, nothing is left running', privilegedOpts(), async (t: Test) => {
  if (!nsexecPath()) { t.comment('tsd-nsexec not built'); return; }
  const { dir, rootfs } = overlayRootfs(t);
  const ctr = guard(t, await launch(baseSpec(rootfs, ['sleep', '1000'])));
  const fifo = path.join(dir, 'cgroup.procs');
  execFileSync('mkfifo', [fifo]);
  process.env.TSD_INIT_STEP_TIMEOUT_MS = '1500';
  t.teardown(() => { delete process.env.TSD_INIT_STEP_TIMEOUT_MS; });
  const t0 = Date.now();
  const err = await execInContainer(ctr.pid, execSpec(['true'], { cgroupProcs: [fifo] })).then(() => null, (e: Error) => e);
  t.match(err?.message, /step "cgroup" did not finish within 1500 ms/, 'the step that blocked is named');
  t.ok(Date.now() - t0 >= 1500, 'at its deadline');

  process.env.TSD_INIT_STEP_TIMEOUT_MS = '600000';
  const abort = new AbortController();
  const t1 = Date.now();
  const p = execInContainer(ctr.pid, execSpec(['true'], { cgroupProcs: [fifo] }), { signal: abort.signal }).then(() => null, (e: Error) => e);
  setTimeout(() => abort.abort(), 500);
  t.match((await p)?.message, /being removed/, 'an abort kills it');
  t.ok(Date.now() - t1 < 20_000, 'at once');

  ctr.kill('SIGKILL');
  await ctr.exited;
  for (let i = 0; i < 50 && liveChildren().length; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(liveChildren(), [], 'no helper left running');
});
