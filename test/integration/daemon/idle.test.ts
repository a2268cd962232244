// An idle daemon sleeps: with no container and no client, nothing in it should run
// on a short period. It used to wake every 20 ms (prom-client's event-loop delay
// histogram, sampled with a libuv timer at eventLoopMonitoringPrecision 20), 50 times a
// second whether anything scraped /metrics or not.
//
// Counted, not timed: every time a thread of the daemon blocks (epoll_wait with a
// timeout, a futex) the kernel counts a voluntary context switch, however loaded the
// machine is (load adds involuntary ones, and can only make a periodic timer fire less
// often). Over a 5 s idle window the 20 ms timer gives about 250; the daemon as it is
// now about 5 (its one 1 s sampling timer). The bound, 50 (10 a second), is far from both.
import t from 'tap';
import fs from 'node:fs';
import { startDaemon } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { sleep } from '../../helpers/processes.js';

const WINDOW_MS = 5000;
const BOUND = 50;

/** The voluntary context switches of every thread of `pid`. */
function voluntarySwitches(pid: number): number {
  let n = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      if (m) n += Number(m[1]);
    } catch { /* the thread ended */ }
  }
  return n;
}

t.test('an idle daemon does not wake up on a short period', privilegedOpts(), async (t) => {
  // live restore, the default: the holder's connection is idle too
  const d = await startDaemon(t, ['--live-restore']);
  const pid = d.proc.pid!;
  t.equal((await d.request('GET', '/_ping')).status, 200, 'the daemon answers');
  // the boot's last work (the warm pool's inits say they are ready) settles
  await sleep(4000);
  const before = voluntarySwitches(pid);
  await sleep(WINDOW_MS);
  const woke = voluntarySwitches(pid) - before;
  t.comment(`voluntary context switches over ${WINDOW_MS / 1000} s idle: ${woke}`);
  t.ok(woke < BOUND, `the idle daemon blocked ${woke} times in ${WINDOW_MS / 1000} s (bound ${BOUND}; a 20 ms timer makes ~250)`);
});
