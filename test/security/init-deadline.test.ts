// Issue #9 item 8, the backstop: whatever an init step blocks on, the launcher's
// per-step deadline kills the init and the start fails, and an abort (what
// `docker rm -f` sends to a start in progress) kills it at once. The step is
// made to block for real: its cgroup.procs "file" is a FIFO nobody reads, so
// the init's open() for writing never returns.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { privilegedOpts } from '../helpers/privileged.js';
import { launch } from '../../runtime/index.js';
import { overlayRootfs, baseSpec } from '../integration/runtime/helpers.js';
import { liveChildren } from '../helpers/processes.js';

const STEP_MS = 1500;


t.test('a blocked init step meets its deadline; an abort kills the init', privilegedOpts(), async (t) => {
  process.env.TSD_INIT_STEP_TIMEOUT_MS = String(STEP_MS);
  t.teardown(() => { delete process.env.TSD_INIT_STEP_TIMEOUT_MS; });
  const { dir, rootfs } = overlayRootfs(t);
  const fifo = path.join(dir, 'cgroup.procs');
  execFileSync('mkfifo', [fifo]);

  await t.test('deadline', async (t) => {
    const t0 = Date.now();
    const err = await launch(baseSpec(rootfs, ['/bin/true'], { cgroupProcs: [fifo] })).then(() => null, (e: Error) => e);
    const ms = Date.now() - t0;
    t.ok(err, 'the start fails');
    t.match(err?.message, /step "cgroup" did not finish within 1500 ms/);
    t.ok(ms >= STEP_MS && ms < STEP_MS + 20_000, `after the step's deadline (${ms} ms)`);
  });

  await t.test('abort (rm -f of a container whose start is in progress)', async (t) => {
    process.env.TSD_INIT_STEP_TIMEOUT_MS = '600000';
    const abort = new AbortController();
    const t0 = Date.now();
    const p = launch(baseSpec(rootfs, ['/bin/true'], { cgroupProcs: [fifo] }), null, { signal: abort.signal }).then(() => null, (e: Error) => e);
    setTimeout(() => abort.abort(), 1000);
    const err = await p;
    t.match(err?.message, /the container is being removed/);
    t.ok(Date.now() - t0 < 20_000, 'at once, not at a deadline');
  });

  for (let i = 0; i < 50 && liveChildren().length; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(liveChildren(), [], 'no init left running');
});
