// A wait with a deadline keeps the process alive until it is over. Each case runs in a bare
// Node process where nothing else holds the event loop (as the daemon once its API server
// closed, or a unit test): with an unref'd timer Node exits mid-wait and the step after the
// wait never runs ('stop: SIGKILL after the timeout' ended as "test unfinished" so).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../../', import.meta.url));

function run(body: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', body], { cwd: dist, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout.trim() + (r.status ? `\n${r.stderr}` : '') };
}

t.test('withDeadline: a promise that never settles is abandoned after the deadline, and the caller goes on', async (t) => {
  const r = run(`import { withDeadline } from './daemon/deadline.js';
    try { await withDeadline(new Promise(() => {}), 50, 'log close'); } catch (e) { console.log(e.name + ': ' + e.message); }
    console.log('after');`);
  t.equal(r.out, 'DeadlineError: log close did not finish within 50 ms\nafter');
  t.equal(r.code, 0);
});

t.test('within: the fallback after the time, and a wait that ends first clears its timer', async (t) => {
  const r = run(`import { within } from './daemon/deadline.js';
    console.log(await within(new Promise(() => {}), 50, 'timed out'));
    const t0 = Date.now();
    console.log(await within(Promise.resolve('first'), 60_000, 'timed out'));
    process.on('exit', () => console.log(Date.now() - t0 < 10_000 ? 'no timer left' : 'a timer held the process'));`);
  t.equal(r.out, 'timed out\nfirst\nno timer left');
  t.equal(r.code, 0);
});

t.test('stop with nothing else holding the loop: the SIGKILL after the timeout comes and the exit is recorded', async (t) => {
  const r = run(`import { harness } from './test/unit/daemon/containers/fakes.js';
    const h = harness();
    const id = await h.create();
    await h.svc.start(id);
    await h.svc.stop(id, { signal: 'SIGUSR1', timeout: 0 });
    console.log(JSON.stringify(h.tasks[0].signals), h.svc.get(id).exitCode);
    await h.cleanup();`);
  t.equal(r.out, '[10,"SIGKILL"] 137');
  t.equal(r.code, 0);
});
