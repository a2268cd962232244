// The one keyed lock (daemon's per-container lock, netctl's per-container endpoint lock).
import t from 'tap';
import { KeyedLock } from '../../../lib/index.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

t.test('keyed mutex serializes per key only', async (t) => {
  const m = new KeyedLock();
  const log: string[] = [];
  const job = (name: string) => async () => {
    log.push(`+${name}`);
    await tick();
    log.push(`-${name}`);
  };
  await Promise.all([m.run('a', job('a1')), m.run('a', job('a2')), m.run('b', job('b1'))]);
  t.ok(log.indexOf('+a2') > log.indexOf('-a1'), 'same key in order');
  t.ok(log.indexOf('+b1') < log.indexOf('-a1'), 'other keys in parallel');
});

t.test('a failure releases the key; a synchronous function is fine', async (t) => {
  const m = new KeyedLock();
  await t.rejects(m.run('a', async () => { await tick(); throw new Error('boom'); }), /boom/);
  t.equal(await m.run('a', () => 42), 42);
});
