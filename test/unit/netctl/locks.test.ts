import t from 'tap';
import { RwLock } from '../../../netctl/locks.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

t.test('readers share, writers exclude, FIFO', async (t) => {
  const l = new RwLock();
  const log: string[] = [];
  const job = (name: string, ms: number) => async () => {
    log.push(`+${name}`);
    await tick(ms);
    log.push(`-${name}`);
  };
  await Promise.all([l.read(job('r1', 10)), l.read(job('r2', 10)), l.write(job('w', 5)), l.read(job('r3', 1))]);
  t.same(log.slice(0, 2), ['+r1', '+r2'], 'two readers at once');
  const w = log.indexOf('+w');
  t.ok(w > log.indexOf('-r1') && w > log.indexOf('-r2'), 'writer waits for readers');
  t.equal(log[w + 1], '-w', 'nothing runs during the writer');
  t.ok(log.indexOf('+r3') > w, 'a reader queued after a writer waits for it');
  await t.rejects(l.write(async () => { throw new Error('boom'); }), /boom/);
  t.equal(await l.read(async () => 42), 42, 'a failure releases the lock');
});
