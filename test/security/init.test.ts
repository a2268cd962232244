// The container init against hostile images and containers (issue #9 items 3,
// 4, 8, 14), through the real docker CLI on a private daemon. Each attack ends
// with the host untouched (sentinels, /etc/shadow) and the daemon answering.
import t from 'tap';
import fs from 'node:fs';
import { nsexecPath } from '../../runtime/index.js';
import { NSEXEC_BUILT } from '../../runtime/nsexec.js';
import {
  secEnv, containerOpts, hostSnapshot, assertHostUntouched, makeSentinel, hostDir, loadCustomImage, HELPER_IMAGE, spawnDocker,
} from './helpers.js';

const devMajor = (dev: number) => Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
const devMinor = (dev: number) => Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));

t.test('the init against hostile images and containers', containerOpts(), async (t) => {
  const env = await secEnv(t);
  const { ok, docker, name } = env;
  const before = hostSnapshot();

  await t.test('item 3: an image whose /dev is a symlink to a host directory (CVE-2025-31133 class)', async (t) => {
    // before the fix the mask of /proc/keys bound `${rootfs}/dev/null`, i.e. the host's <dir>/null, read-write:
    // "overwritten" landed in the host file (and, through the second image, in the file its null links to)
    const dir = hostDir(env, 'dev-target');
    const plain = makeSentinel(dir, 'null', 'a host file an unprivileged user named null\n');
    const shadowLike = makeSentinel(hostDir(env, 'dev-target2'), 'victim', 'stands for /etc/shadow\n');
    const dir2 = hostDir(env, 'dev-target3');
    fs.symlinkSync(shadowLike.path, `${dir2}/null`);
    for (const [ref, target] of [['tsd-sec:devlink', dir], ['tsd-sec:devlink2', dir2]] as const) {
      await loadCustomImage(env, ref, [[{ name: 'dev', type: 'symlink', linkname: target }]]);
      const r = await docker(['run', '--rm', ref, 'sh', '-c',
        'echo overwritten > /proc/keys 2>/dev/null; cat /proc/keys; test -d /dev && test -c /dev/null && echo dev-ok; grep " /dev " /proc/mounts']);
      const out = r.out;
      t.equal(r.code, 0, `${ref}: the container runs ${r.err.trim()}`);
      t.match(out, /dev-ok/, `${ref}: /dev is a directory with a real null device`);
      t.match(out, /tmpfs \/dev tmpfs/, `${ref}: a fresh tmpfs on /dev`);
      t.notMatch(out, /overwritten/, `${ref}: /proc/keys is masked by the null device`);
    }
    await assertHostUntouched(t, env, before, [plain, shadowLike]);
  });

  await t.test('item 4: /proc/<init>/exe during docker exec is neither readable as a host binary (node, tsd-nsexec) nor writable', async (t) => {
    const id = (p: string) => {
      const st = fs.statSync(fs.realpathSync(p));
      return { id: `${devMajor(st.dev)}:${devMinor(st.dev)} ${st.ino}`, mtimeMs: st.mtimeMs };
    };
    // execs run through tsd-nsexec when it is built (runtime/nsexec.ts), else through a Node init
    // the helper runs from a sealed memfd copy (runtime/nsexec.ts): its built file is never any process's exe
    const bins = [{ what: 'node', path: process.execPath, ...id(process.execPath), never: false }, ...(nsexecPath() ? [{ what: 'tsd-nsexec', path: NSEXEC_BUILT, ...id(NSEXEC_BUILT), never: true }] : [])];
    const seen = async (c: string) => (await ok('exec', c, 'cat', '/tmp/seen')).split('\n').filter(Boolean);
    const EXECS = 15;
    for (const [label, extra] of [['default capabilities', []], ['with CAP_SYS_PTRACE', ['--cap-add', 'SYS_PTRACE']]] as const) {
      const c = name('exewatch');
      await ok('run', '-d', '--name', c, ...extra, HELPER_IMAGE, 'sh', '-c', 'touch /tmp/seen; exec sechelper exewatch /tmp/seen');
      for (let i = 0; i < EXECS; i++) await ok('exec', c, 'true');
      const lines = await seen(c);
      for (const b of bins) {
        const hits = lines.filter((l) => l.includes(` ${b.id} `));
        t.comment(`${label}: ${EXECS} execs, ${lines.length} opens of other processes' exe, ${hits.length} of ${b.what}`);
        t.same(hits.filter((l) => / w /.test(l)), [], `${label}: ${b.what} never opened for writing`);
        if (extra.length === 0 || b.never) t.same(hits, [], `${label}: the ${b.what} exe is not even reachable (${b.never ? 'a memfd copy runs' : 'non-dumpable'})`);
      }
      await ok('rm', '-f', c);
    }
    for (const b of bins) t.equal(fs.statSync(b.path).mtimeMs, b.mtimeMs, `the host ${b.what} binary is unchanged`);
    await assertHostUntouched(t, env, before);
  });

  await t.test('item 8: a cwd in /proc, an image WORKDIR like it, a FIFO /etc/passwd: fail fast, rm -f works', async (t) => {
    const quick = async (args: string[], what: RegExp, label: string) => {
      const c = name('wedge');
      const t0 = Date.now();
      const r = await docker(['run', '--name', c, ...args], { timeout: 60_000 });
      const ms = Date.now() - t0;
      t.not(r.code, 0, `${label}: the start fails`);
      t.match(r.err, what, `${label}: with a clear error`);
      t.ok(ms < 30_000, `${label}: within 30 s (${ms} ms)`);
      const t1 = Date.now();
      const rm = await docker(['rm', '-f', c], { timeout: 30_000 });
      t.equal(rm.code, 0, `${label}: docker rm -f works`);
      t.ok(Date.now() - t1 < 10_000, `${label}: and is quick`);
    };
    await quick(['-w', '/proc/self/fd/25', 'busybox:fixture', 'true'], /chdir to cwd \("\/proc\/self\/fd\/25"\)/, '-w /proc/self/fd/25');
    await loadCustomImage(env, 'tsd-sec:procwd', [], { workdir: '/proc/self/fd/25' });
    await quick(['tsd-sec:procwd', 'true'], /chdir to cwd/, 'WORKDIR /proc/self/fd/25');
    await loadCustomImage(env, 'tsd-sec:fifopasswd', [[{ name: 'etc/', type: 'directory' }, { name: 'etc/passwd', type: 'fifo' }]]);
    await quick(['--user', 'nobody', 'tsd-sec:fifopasswd', 'true'], /\/etc\/passwd.*not a regular file/, 'a FIFO /etc/passwd');
    // the numeric user needs no lookup of a name, but the file is read all the same: it must not block either
    await quick(['tsd-sec:fifopasswd', 'true'], /\/etc\/passwd.*not a regular file/, 'a FIFO /etc/passwd, root');
    await assertHostUntouched(t, env, before);
  });

  await t.test('item 14: /proc/interrupts is masked as in current moby', async (t) => {
    t.equal(await ok('run', '--rm', 'busybox:fixture', 'cat', '/proc/interrupts'), '', 'reads as empty');
    t.match(await ok('run', '--rm', '--privileged', 'busybox:fixture', 'head', '-1', '/proc/interrupts'), /CPU0/, 'unmasked when privileged');
    const cpus = fs.readdirSync('/sys/devices/system/cpu').filter((n) => /^cpu\d+$/.test(n) && fs.existsSync(`/sys/devices/system/cpu/${n}/thermal_throttle`));
    if (cpus.length) {
      const out = await ok('run', '--rm', 'busybox:fixture', 'sh', '-c', `ls /sys/devices/system/cpu/${cpus[0]}/thermal_throttle | wc -l`);
      t.equal(out.trim(), '0', 'thermal_throttle masked (an empty read-only tmpfs)');
    } else {
      t.comment('this host has no thermal_throttle: the planner test (test/unit/runtime/spec.test.ts) covers its masking');
    }
  });

  void spawnDocker;
});
