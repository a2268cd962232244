import t from 'tap';
import { DaemonError } from '../../../../errors/index.js';
import {
  STATES, TRANSITIONS, Waiters, canAttach, canExec, canKill, canPause, canRemove, canStart, canTransition, canUnpause, isUp,
  parseWaitCondition, transition, type ContainerState,
} from '../../../../daemon/containers/state.js';

const c = (state: ContainerState) => ({ id: 'abc', name: 'web', state });
const refusal = (fn: () => unknown): DaemonError | null => {
  try { fn(); return null; } catch (e) { return e as DaemonError; }
};

t.test('the transition table is exactly the lifecycle tsd implements', async (t) => {
  const edges = STATES.flatMap((from) => TRANSITIONS[from].map((to) => `${from}->${to}`)).sort();
  t.same(edges, [
    'created->removing', 'created->running',
    'dead->removing',
    'exited->removing', 'exited->restarting', 'exited->running',
    'paused->exited', 'paused->running',
    'removing->removing',
    'restarting->exited', 'restarting->removing', 'restarting->running',
    'running->exited', 'running->paused',
  ]);
  // From any state, removal is reachable: rm -f always works.
  for (const s of STATES) {
    const seen = new Set<ContainerState>([s]);
    const queue = [s];
    while (queue.length) for (const n of TRANSITIONS[queue.shift()!]) if (!seen.has(n)) { seen.add(n); queue.push(n); }
    t.ok(seen.has('removing'), `removing is reachable from ${s}`);
  }
  t.ok(canTransition('running', 'paused'));
  t.notOk(canTransition('created', 'paused'), 'a created container has no task to freeze');
  t.notOk(canTransition('paused', 'restarting'), 'a paused task exits before any restart');
  t.equal(transition('x', 'exited', 'running'), 'running');
  const err = refusal(() => transition('x', 'created', 'exited'));
  t.equal(err?.code, 'TSD_ERR_BAD_TRANSITION');
  t.equal(err?.kind, 'system');
});

t.test('canStart: 304 for a running container, refusals for paused and removed ones', async (t) => {
  t.equal(canStart(c('created')), true);
  t.equal(canStart(c('exited')), true);
  t.equal(canStart(c('running')), false);
  t.equal(canStart(c('restarting')), false);
  t.match(refusal(() => canStart(c('paused'))), { kind: 'conflict', message: 'cannot start a paused container, try unpause instead' });
  t.match(refusal(() => canStart(c('removing'))), { kind: 'conflict', message: 'container abc is marked for removal and cannot be started' });
  t.match(refusal(() => canStart(c('dead'))), { kind: 'conflict' });
});

t.test('the other verbs ask the state and whether a task is live', async (t) => {
  t.equal(canPause(c('running'), true), true);
  t.match(refusal(() => canPause(c('paused'), true)), { message: 'Container abc is already paused' });
  t.match(refusal(() => canPause(c('running'), false)), { code: 'TSD_ERR_NOT_RUNNING' }, 'state and task must agree');
  t.equal(canUnpause(c('paused'), true), true);
  t.match(refusal(() => canUnpause(c('running'), true)), { message: 'Container abc is not paused' });
  t.equal(canKill(c('paused'), true, 'web'), true);
  t.match(refusal(() => canKill(c('exited'), false, 'web')), { code: 'TSD_ERR_NOT_RUNNING', message: 'Cannot kill container: web: Container abc is not running' });
  t.equal(canRemove(c('exited'), false, false), true);
  t.equal(canRemove(c('running'), true, true), true, 'rm -f');
  t.match(refusal(() => canRemove(c('running'), true, false)), { message: 'cannot remove container "/web": container is running: stop the container before removing or force remove' });
  t.match(refusal(() => canRemove(c('restarting'), false, false)), { message: /container is restarting/ });
  t.match(refusal(() => canRemove(c('removing'), false, true)), { message: 'removal of container abc is already in progress' });
  t.match(refusal(() => canExec(c('paused'), true)), { message: 'Container abc is paused, unpause the container before exec' });
  t.match(refusal(() => canExec(c('created'), false)), { code: 'TSD_ERR_NOT_RUNNING' });
  t.match(refusal(() => canAttach(c('paused'))), { message: 'You cannot attach to a paused container, unpause it first' });
  t.same(STATES.filter(isUp), ['running', 'paused', 'restarting'], "Docker's State.Running");
});

t.test('waiters: not-running answers at once when down; next-exit and removed wait', async (t) => {
  const w = new Waiters();
  t.same(await w.wait({ id: 'a', state: 'exited', exitCode: 3 }, 'not-running').result, { StatusCode: 3, Error: null });
  const next = w.wait({ id: 'a', state: 'exited', exitCode: 3 }, 'next-exit');
  const gone = w.wait({ id: 'a', state: 'running', exitCode: 0 }, 'removed');
  const cancelled = w.wait({ id: 'a', state: 'running', exitCode: 0 }, 'not-running');
  cancelled.cancel();
  let removedYet = false;
  void gone.result.then(() => { removedYet = true; });
  w.notify('a', ['not-running', 'next-exit'], 7);
  t.same(await next.result, { StatusCode: 7, Error: null });
  await new Promise((r) => setImmediate(r));
  t.notOk(removedYet, 'an exit does not answer a wait for removal');
  w.notify('a', ['removed'], 7, 'gone');
  t.same(await gone.result, { StatusCode: 7, Error: { Message: 'gone' } });
  t.equal(parseWaitCondition(''), 'not-running');
  t.equal(parseWaitCondition('bogus'), null);
});
