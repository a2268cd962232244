// The create fast path: a container's init is tsd-nsexec (runtime/nsexec/nsexec.c
// running encodeCreatePlan's frame) unless TSD_NSEXEC=0 or the helper is not built,
// when it is the Node init (runtime/init/main.ts). Both run the same plan: every case
// here runs through both and must give the same result (the container's view of its
// mounts, devices, limits and identity; the error message, step and exit code of a
// start that fails), and each run proves which init it had (/proc/<init>/exe before
// the plan is sent), so a test cannot pass on the Node init by accident.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { privilegedOpts } from '../../helpers/privileged.js';
import { launch, warmPool, nsexecPath, RuntimeStartError } from '../../../runtime/index.js';
import type { RuntimeSpec } from '../../../runtime/index.js';
import { overlayRootfs, baseSpec, guard, collect } from './helpers.js';
import { liveChildren } from '../../helpers/processes.js';

type Outcome = { out: string; err: string; code: number } | { error: string; exitCode: number | undefined; step: string | undefined };

const HELPER_EXE = /^\/memfd:tsd-nsexec/;

/** Launches cold (no warm pool), noting the init's executable before it gets its plan. */
async function start(t: Test, spec: RuntimeSpec): Promise<{ exe: string; outcome: Outcome }> {
  let exe = '';
  let task;
  try {
    task = await launch(spec, null, { spawned: async (pid) => { exe = fs.readlinkSync(`/proc/${pid}/exe`); } });
  } catch (e) {
    if (!(e instanceof RuntimeStartError)) throw e;
    return { exe, outcome: { error: e.message, exitCode: e.exitCode, step: e.step } };
  }
  guard(t, task);
  let out = '';
  if (task.pty) task.pty.stream.on('data', (d: Buffer) => { out += d.toString(); });
  const [o, err, x] = await Promise.all([task.pty ? Promise.resolve('') : collect(task.stdout), collect(task.stderr), task.exited]);
  if (task.pty) for (let i = 0; i < 50 && !out.includes('END'); i++) await new Promise((r) => setTimeout(r, 20));
  return { exe, outcome: { out: task.pty ? out : o, err, code: x.exitCode } };
}

/** The same spec through the helper and through the Node init (TSD_NSEXEC=0): the same outcome, each from the init it should have had. */
async function both(t: Test, label: string, spec: () => RuntimeSpec): Promise<Outcome> {
  const prev = process.env.TSD_NSEXEC;
  try {
    delete process.env.TSD_NSEXEC;
    const helper = await start(t, spec());
    process.env.TSD_NSEXEC = '0';
    const node = await start(t, spec());
    t.match(helper.exe, HELPER_EXE, `${label}: the helper ran the start`);
    t.notMatch(node.exe, HELPER_EXE, `${label}: the Node init ran the start with TSD_NSEXEC=0`);
    t.same(helper.outcome, node.outcome, `${label}: the same through both`);
    if (process.env.TSD_TEST_DEBUG) t.comment(label, JSON.stringify(helper.outcome).slice(0, 400));
    return helper.outcome;
  } finally {
    if (prev === undefined) delete process.env.TSD_NSEXEC;
    else process.env.TSD_NSEXEC = prev;
  }
}

// the container's view: every mount (point, options, type, source, super options), /dev, limits, identity, names
const VIEW = [
  'awk \'{ s = ""; for (i = 1; $(i) != "-"; i++) ; print $5, $6, $(i+1), $(i+2), $(i+3) }\' /proc/self/mountinfo',
  'ls -ln /dev | awk \'{ print $1, $3, $4, $5, $6, $NF }\'',
  'ulimit -n; ulimit -Hn; id; hostname; cat /proc/sys/kernel/domainname; pwd',
  'grep -E "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|SigIgn|SigBlk):" /proc/self/status',
  'cat /proc/self/oom_score_adj; ls /proc/self/fd; ls /sys/class/net; readlink /proc/1/exe',
  'echo END',
].join('; ');

t.test('tsd-nsexec is built and takes container starts', privilegedOpts(), async (t) => {
  t.ok(nsexecPath(), 'the helper is there: starts take the fast path');
});

t.test('the helper and the Node init: the same container for the same spec', privilegedOpts(), async (t) => {
  const { dir, rootfs } = overlayRootfs(t);
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  fs.writeFileSync(path.join(data, 'f'), 'bound\n');
  const hostsFile = path.join(dir, 'hosts');
  fs.writeFileSync(hostsFile, '127.0.0.1 localhost\n');
  fs.mkdirSync(path.join(rootfs, 'home/u'), { recursive: true });
  const sh = (extra: Partial<RuntimeSpec>, cmd = VIEW) => () => baseSpec(rootfs, ['sh', '-c', cmd], extra);
  let o = await both(t, 'defaults', sh({}));
  t.ok('out' in o && o.code === 0, 'it ran');
  t.match('out' in o ? o.out : '', /^\/proc rw,nosuid,nodev,noexec,relatime proc proc rw$/m, 'its own /proc');
  t.match('out' in o ? o.out : '', /^\/(proc|sys)\/\S+ \S+ tmpfs /m, 'the masks (which paths exist depends on the kernel)');
  o = await both(t, 'binds, tmpfs, /etc files, sysctls, ulimits, user, cwd, read-only rootfs', sh({
    mounts: [
      { type: 'bind', source: data, destination: '/data', readonly: true },
      { type: 'bind', source: path.join(data, 'f'), destination: '/new/dir/f', readonly: false },
      { type: 'tmpfs', destination: '/scratch', options: 'size=1m,mode=1777' },
    ],
    etc: { hosts: hostsFile },
    sysctls: { 'net.ipv4.ip_forward': '1' },
    ulimits: [{ name: 'nofile', soft: 512, hard: 1024 }],
    user: '1000:1000', groupAdd: ['10'], cwd: '/home/u', readonlyRootfs: true,
    hostname: 'named', domainname: 'example.org', oomScoreAdj: 300,
  }, `${VIEW}; cat /data/f /new/dir/f /etc/hosts /proc/sys/net/ipv4/ip_forward; touch /x 2>&1; touch /scratch/ok && echo scratch-ok`));
  t.match('out' in o ? o.out : '', /bound\nbound\n127\.0\.0\.1 localhost\n1\n.*Read-only file system\nscratch-ok/s, 'binds, /etc/hosts, the sysctl, the read-only rootfs, the tmpfs');
  o = await both(t, 'privileged, host devices, capabilities', sh({ privileged: true }));
  t.ok('out' in o && o.code === 0, 'it ran');
  o = await both(t, 'cap-add, cap-drop, no-new-privileges, a host device', sh({
    capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], securityOpt: ['no-new-privileges'],
    devices: [{ path: '/dev/mydev', type: 'c', major: 1, minor: 5, mode: 0o640, uid: 0, gid: 5 }],
  }, `${VIEW}; head -c 3 /dev/mydev | od -An -tx1`));
  t.match('out' in o ? o.out : '', /crw-r----- 0 5 1, 5 mydev/, 'the device with its mode and owner');
  o = await both(t, 'a tty, /dev/console', sh({ tty: true, consoleSize: [20, 70] }, 'stty size; tty; ls -ln /dev/console | awk \'{ print $1, $5, $6 }\'; echo END'));
  t.match('out' in o ? o.out : '', /20 70\r\n\/dev\/pts\/0\r\ncrw--w---- 136, 0\r\nEND/, 'the pty on /dev/console');
});

t.test('failures: the same message, step and exit code through both', privilegedOpts(), async (t) => {
  const { dir, rootfs } = overlayRootfs(t);
  const file = path.join(dir, 'afile');
  fs.writeFileSync(file, 'x');
  fs.mkdirSync(path.join(rootfs, 'etc/hosts.d'), { recursive: true });
  const cases: Array<[string, Partial<RuntimeSpec>, RegExp | string, string]> = [
    ['a missing bind source', { mounts: [{ type: 'bind', source: path.join(dir, 'nope'), destination: '/data', readonly: false }] },
      `invalid mount config for type "bind": bind source path does not exist: ${path.join(dir, 'nope')}`, 'mounts'],
    ['a missing network namespace', { network: { mode: 'netns', path: path.join(dir, 'nons') } },
      `failed to open network namespace ${path.join(dir, 'nons')}: ENOENT: no such file or directory, open '${path.join(dir, 'nons')}'`, 'network'],
    ['a file bound onto a directory', { mounts: [{ type: 'bind', source: file, destination: '/etc', readonly: false }] },
      `error mounting bind mount ${file} to /etc: move_mount: EINVAL`, 'mounts'],
    ['a tmpfs option the kernel refuses', { mounts: [{ type: 'tmpfs', destination: '/t', options: 'mode=zz' }] },
      /^error mounting tmpfs mount on \/t: fsconfig tmpfs \(mode=zz\): E[A-Z]+$/, 'mounts'],
    ['a sysctl the kernel lacks', { sysctls: { 'net.ipv4.tsd_nope': '1' } }, 'open /proc/sys/net/ipv4/tsd_nope: no such file or directory', 'sysctl'],
    ['a file bound over /dev/null, then masks', { mounts: [{ type: 'bind', source: file, destination: '/dev/null', readonly: false }] },
      'cannot mask paths: /dev/null is not the null device (file 0:0)', 'mounts'],
    ['a directory bound over /dev/null', { mounts: [{ type: 'bind', source: dir, destination: '/dev/null', readonly: false }] },
      `error mounting bind mount ${dir} to /dev/null: move_mount: EINVAL`, 'mounts'],
    ['a directory where /etc/hosts is bound', { etc: { hosts: file } }, 'hosts is a directory, a file is mounted there', 'mounts'],
    ['a missing user', { user: 'nobodyhere' }, 'unable to find user nobodyhere: no matching entries in passwd file', 'user'],
    ['a missing program', {}, 'exec: "nosuchcmd": executable file not found in $PATH', 'exec'],
  ];
  for (const [label, extra, message, step] of cases) {
    const spec = () => {
      // the /etc/hosts case: a directory there in the image
      if (label.includes('/etc/hosts')) {
        fs.rmSync(path.join(rootfs, 'etc/hosts'), { force: true, recursive: true });
        fs.mkdirSync(path.join(rootfs, 'etc/hosts'));
      }
      return baseSpec(rootfs, label === 'a missing program' ? ['nosuchcmd'] : ['true'], extra);
    };
    const o = await both(t, label, spec);
    t.ok('error' in o, `${label}: the start fails`);
    if (!('error' in o)) continue;
    if (typeof message === 'string') t.equal(o.error, message, `${label}: the message`);
    else t.match(o.error, message, `${label}: the message`);
    t.equal(o.step, step, `${label}: the step`);
    if (label.includes('/etc/hosts')) fs.rmSync(path.join(rootfs, 'etc/hosts'), { recursive: true, force: true });
  }
  t.same(liveChildren(), [], 'nothing left running');
});

t.test('a hostile symlink destination stays inside the rootfs on the helper\'s path', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-escape-'));
  t.teardown(() => fs.rmSync(outside, { recursive: true, force: true }));
  // absolute and relative links out of the rootfs, and a link where an init-layer directory goes
  fs.symlinkSync(outside, path.join(rootfs, 'abs'));
  fs.symlinkSync(`../../../../../../../../..${outside}`, path.join(rootfs, 'rel'));
  fs.rmSync(path.join(rootfs, 'dev'), { recursive: true, force: true });
  fs.symlinkSync(outside, path.join(rootfs, 'dev'));
  const r = await start(t, baseSpec(rootfs, ['sh', '-c', 'grep -c " /abs/sub \\| /rel/sub \\| /dev " /proc/self/mountinfo; ls -d /dev/null; ls /proc/1/root/abs /proc/1/root/rel'], {
    mounts: [{ type: 'tmpfs', destination: '/abs/sub' }, { type: 'tmpfs', destination: '/rel/sub' }],
  }));
  t.match(r.exe, HELPER_EXE, 'the helper ran it');
  t.ok('out' in r.outcome && r.outcome.code === 0, 'it ran');
  t.same(fs.readdirSync(outside), [], 'nothing made or mounted in the host directory the links name');
  t.ok(fs.existsSync(path.join(rootfs, outside, 'sub')), 'the mounts went where the links lead inside the rootfs');
  t.ok(fs.lstatSync(path.join(rootfs, 'dev')).isDirectory(), '/dev replaced by a real directory');
  t.notMatch(fs.readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(`${outside}/sub`), 'no mount on the host path');
});

t.test('warm pool: pre-spawned inits are the helper (a few hundred KiB, no Node)', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  warmPool.enable(1);
  t.teardown(() => warmPool.disable());
  await warmPool.ready();
  const w = warmPool.take();
  t.ok(w, 'one is ready');
  t.match(fs.readlinkSync(`/proc/${w!.pid}/exe`), HELPER_EXE, 'the warm init is tsd-nsexec');
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${w!.pid}/status`, 'utf8'))?.[1] ?? 0);
  t.ok(rss > 0 && rss < 4096, `waiting, it holds ${rss} KiB`);
  const task = guard(t, await launch(baseSpec(rootfs, ['sh', '-c', 'echo $$; read x || echo stdin-eof']), w));
  const [out, x] = await Promise.all([collect(task.stdout), task.exited]);
  t.equal(x.exitCode, 0);
  t.equal(out, '1\nstdin-eof\n', 'PID 1, stdin /dev/null');
  await warmPool.ready();
  const err = await launch(baseSpec(rootfs, ['true'], { mounts: [{ type: 'bind', source: '/nonexistent-tsd', destination: '/x', readonly: false }] })).then(() => null, (e: unknown) => e);
  t.ok(err instanceof RuntimeStartError, 'a warm helper\'s failure');
  t.equal((err as RuntimeStartError).message, 'invalid mount config for type "bind": bind source path does not exist: /nonexistent-tsd');
  execFileSync('true');
});
