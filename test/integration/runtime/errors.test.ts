// Start failures: a clear error with Docker's exit code, and nothing left behind.
import t from 'tap';
import type { Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { privilegedOpts } from '../../helpers/privileged.js';
import { launch, RuntimeStartError } from '../../../runtime/index.js';
import type { RuntimeSpec } from '../../../runtime/index.js';
import { overlayRootfs, baseSpec } from './helpers.js';

// mounts under the rootfs (other tests may mount elsewhere on this host meanwhile)
const mountCount = (rootfs: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(rootfs)).length;
const childPids = () => {
  try {
    return fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
};

async function expectFailure(t: Test, spec: RuntimeSpec, code: number, message: string | RegExp, step?: string) {
  // moby's translateContainerdStartErr: 126/127 are the caller's fault (400), the rest ours (500)
  const kind = code === 128 ? 'system' : 'invalid-parameter';
  const mounts = mountCount(spec.rootfs);
  t.equal(mounts, 1, 'only the overlay itself');
  const err = await launch(spec).then(() => null, (e: unknown) => e);
  t.ok(err instanceof RuntimeStartError, 'a RuntimeStartError');
  const e = err as RuntimeStartError;
  t.equal(e.exitCode, code, 'exit code');
  if (typeof message === 'string') t.equal(e.message, message);
  else t.match(e.message, message);
  if (step) t.equal(e.step, step);
  t.equal(e.kind, kind);
  t.equal(mountCount(spec.rootfs), mounts, 'no mount left behind');
  t.same(childPids(), [], 'no process left behind');
}

t.test('missing executable: 127, Docker\'s message', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  await expectFailure(t, baseSpec(rootfs, ['nosuchcmd', 'x']), 127, 'exec: "nosuchcmd": executable file not found in $PATH', 'exec');
  await expectFailure(t, baseSpec(rootfs, ['/no/such']), 127, 'exec: "/no/such": stat /no/such: no such file or directory', 'exec');
});

t.test('not executable: 126, permission denied', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  await expectFailure(t, baseSpec(rootfs, ['/etc/passwd']), 126, 'exec: "/etc/passwd": permission denied', 'exec');
  await expectFailure(t, baseSpec(rootfs, ['/tmp']), 126, 'exec: "/tmp": permission denied', 'exec');
});

t.test('bad user or group', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  await expectFailure(t, baseSpec(rootfs, ['true'], { user: 'nobodyhere' }), 128, 'unable to find user nobodyhere: no matching entries in passwd file', 'user');
  await expectFailure(t, baseSpec(rootfs, ['true'], { user: 'user:nogrp' }), 128, 'unable to find group nogrp: no matching entries in group file', 'user');
});

t.test('bad working dir', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  await expectFailure(t, baseSpec(rootfs, ['true'], { cwd: '/etc/passwd' }), 127, /^chdir to cwd \("\/etc\/passwd"\) set in config.json failed: not a directory: Are you trying to mount/, 'cwd_user');
  await expectFailure(t, baseSpec(rootfs, ['true'], { cwd: '/root', user: '1000' }), 126, 'chdir to cwd ("/root") set in config.json failed: permission denied', 'cwd_user');
});

t.test('bad mount source names the mount', privilegedOpts(), async (t) => {
  const { dir, rootfs } = overlayRootfs(t);
  const missing = path.join(dir, 'nope');
  await expectFailure(t, baseSpec(rootfs, ['true'], { mounts: [{ type: 'bind', source: missing, destination: '/data', readonly: false }] }), 128,
    `invalid mount config for type "bind": bind source path does not exist: ${missing}`, 'mounts');
  await expectFailure(t, baseSpec(rootfs, ['true'], { network: { mode: 'netns', path: missing } }), 128, new RegExp(`failed to open network namespace ${missing}`), 'network');
  t.notOk(fs.existsSync(path.join(rootfs, 'data')) && fs.readdirSync(path.join(rootfs, 'data')).length > 0);
});

t.test('bad input is refused before anything runs', privilegedOpts(), async (t) => {
  const { rootfs } = overlayRootfs(t);
  await t.rejects(launch(baseSpec(rootfs, [])), { kind: 'invalid-parameter', message: 'no command specified' });
  await t.rejects(launch(baseSpec(rootfs, ['true'], { capAdd: ['NOPE'] })), { kind: 'invalid-parameter', message: 'invalid capability: CAP_NOPE' });
  await t.rejects(launch(baseSpec(rootfs, ['true'], { securityOpt: ['bogus=1'] })), { kind: 'invalid-parameter', message: 'invalid --security-opt 2: "bogus=1"' });
  await t.rejects(launch(baseSpec(rootfs, ['true'], { securityOpt: ['seccomp=/no/such/profile.json'] })), { kind: 'invalid-parameter', message: /opening seccomp profile \(\/no\/such\/profile.json\) failed/ });
  await t.rejects(launch(baseSpec(rootfs, ['true'], { ulimits: [{ name: 'bogus', soft: 1, hard: 1 }] })), { kind: 'invalid-parameter', message: 'invalid ulimit type: bogus' });
  t.same(childPids(), []);
});
