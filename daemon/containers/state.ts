// The container state machine: the states, the one table of transitions, the
// questions a verb asks before it acts (can*()), and the waiters of `docker wait`.
//
//   created ──start──▶ running ◀──unpause── paused
//      │                 │  └────pause────────▲ │
//      │                 └──exit──▶ exited ◀──exit┘
//      │                            │  ▲ │
//      │                     policy │  │ └──start──▶ running
//      │                            ▼  │ stop/kill/failed restart
//      │                        restarting ──timer──▶ running
//      └──────rm──▶ removing ◀──rm── exited | restarting | dead
//
// Every write of a container's `state` goes through transition(), which refuses
// an edge the table does not have; every state question of the daemon goes
// through the predicates below, so "what may happen now" is answered in one place.
import { ContainerNotRunningError, conflict, systemError } from '../../errors/index.js';

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing';

export const STATES: readonly ContainerState[] = ['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing'];

/** From each state, the states a container may move to (and the verb or event that moves it). */
export const TRANSITIONS: { readonly [S in ContainerState]: readonly ContainerState[] } = {
  created: ['running', 'removing'], // start; rm
  running: ['paused', 'exited'], // pause; the task exits (stop, kill, crash)
  paused: ['running', 'exited'], // unpause; the task exits (kill, stop thaws first)
  exited: ['running', 'restarting', 'removing'], // start; the restart policy; rm
  restarting: ['running', 'exited', 'removing'], // the restart timer; stop/kill or a failed restart; rm -f
  dead: ['removing'], // rm
  removing: ['removing'], // an interrupted removal resumed at boot
};

export function canTransition(from: ContainerState, to: ContainerState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The check of the one writer of `state`: an edge outside the table is a bug, never silently written. */
export function transition(id: string, from: ContainerState, to: ContainerState): ContainerState {
  if (!canTransition(from, to)) throw systemError(`container ${id}: no transition from ${from} to ${to}`, undefined, 'TSD_ERR_BAD_TRANSITION');
  return to;
}

// ------------------------------------------------------------ predicates

/** Docker's State.Running: a process exists, or will again (ps lists it by default; it uses its image). */
export const isUp = (s: ContainerState): boolean => s === 'running' || s === 'paused' || s === 'restarting';

/** Its task exists: namespaces can be joined, ports are published. */
export const hasProcess = (s: ContainerState): boolean => s === 'running' || s === 'paused';

/** Its task is frozen: thawed before a signal can reach it. */
export const isPaused = (s: ContainerState): boolean => s === 'paused';

/** An interrupted removal (the daemon died in rm) is finished at boot. */
export const isRemoving = (s: ContainerState): boolean => s === 'removing';

/** `docker container prune` takes it. */
export const canPrune = (s: ContainerState): boolean => s === 'exited' || s === 'created' || s === 'dead';

/** Health probes run (and are rescheduled) in these states. */
export const probesHealth = (s: ContainerState): boolean => s === 'running';
export const keepsHealthTimer = (s: ContainerState): boolean => s === 'running' || s === 'paused';

// ------------------------------------------------------------ the verbs' questions
// Each answers for one verb, with the state and whether a task is live: true =
// go ahead, false = nothing to do (the API's 304), a thrown DaemonError = refused
// with dockerd's message.

interface Subject { id: string; state: ContainerState }

const notRunning = (id: string, msg?: string) => new ContainerNotRunningError(id, msg);

export function canStart(c: Subject): boolean {
  if (c.state === 'running' || c.state === 'restarting') return false;
  if (c.state === 'paused') throw conflict('cannot start a paused container, try unpause instead');
  if (c.state === 'removing' || c.state === 'dead') throw conflict(`container ${c.id} is marked for removal and cannot be started`);
  return true;
}

/** Between restarts there is no task: stop and kill cancel the pending restart instead. */
export const isBetweenRestarts = (c: Subject): boolean => c.state === 'restarting';

/** stop: false (304) when no task runs. */
export function canStop(_c: Subject, hasTask: boolean): boolean {
  return hasTask;
}

export function canKill(c: Subject, hasTask: boolean, ref: string): true {
  if (!hasTask || !hasProcess(c.state)) throw notRunning(c.id, `Cannot kill container: ${ref}: Container ${c.id} is not running`);
  return true;
}

export function canPause(c: Subject, hasTask: boolean): true {
  if (c.state === 'paused') throw conflict(`Container ${c.id} is already paused`);
  if (!hasTask || c.state !== 'running') throw notRunning(c.id);
  return true;
}

export function canUnpause(c: Subject, hasTask: boolean): true {
  if (c.state !== 'paused' || !hasTask) throw conflict(`Container ${c.id} is not paused`);
  return true;
}

export function canRemove(c: Subject & { name: string }, hasTask: boolean, force: boolean): true {
  if (c.state === 'removing') throw conflict(`removal of container ${c.id} is already in progress`);
  if ((hasTask || c.state === 'restarting') && !force) {
    const what = c.state === 'paused' ? 'paused' : c.state === 'restarting' ? 'restarting' : 'running';
    throw conflict(`cannot remove container "/${c.name}": container is ${what}: stop the container before removing or force remove`);
  }
  return true;
}

export function canExec(c: Subject, hasTask: boolean): true {
  if (c.state === 'paused') throw conflict(`Container ${c.id} is paused, unpause the container before exec`);
  if (!hasTask || c.state !== 'running') throw notRunning(c.id);
  return true;
}

/** top: the processes of a running or paused container. */
export function canTop(c: Subject, hasTask: boolean): true {
  if (!hasTask || !hasProcess(c.state)) throw notRunning(c.id);
  return true;
}

export function canResize(c: Subject, hasTask: boolean): true {
  if (!hasTask) throw notRunning(c.id);
  return true;
}

/** attach: to a live task, or early to a container not started yet (docker run -i). */
export function canAttach(c: Subject): true {
  if (c.state === 'paused') throw conflict(`You cannot attach to a paused container, unpause it first`);
  return true;
}

/** --network/--ipc/--pid container:<x>: the other container must have a process to join. */
export function canJoin(other: Subject, what: string): true {
  if (!hasProcess(other.state)) throw conflict(`cannot join ${what} of a non running container: ${other.id}`);
  return true;
}

// ------------------------------------------------------------ waiters

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
export interface WaitResult { StatusCode: number; Error: { Message: string } | null }

export function parseWaitCondition(condition: string): WaitCondition | null {
  if (condition === '') return 'not-running';
  return condition === 'not-running' || condition === 'next-exit' || condition === 'removed' ? condition : null;
}

interface Waiter { condition: WaitCondition; resolve: (r: WaitResult) => void }

/** How long a wait on an auto-removed container still answers with its exit code (see Waiters.autoRemoved). */
export const AUTO_REMOVED_WAIT_MS = 30_000;

/** `docker wait` and the CLI's wait-before-start: one list per container, resolved on exit or removal. */
export class Waiters {
  private readonly byId = new Map<string, Waiter[]>();
  /**
   * Containers an AutoRemove took away lately, by id and by name: their exit code. docker-py's
   * `containers.run(detach=True, auto_remove=True).wait()` asks for the wait after the start has
   * answered; dockerd takes 100 ms and more from the exit to the removal, so the wait finds the
   * container, where tsd may have removed it already (it would answer 404). A wait on one of these
   * answers at once with its exit code, whatever the condition.
   */
  private readonly removed = new Map<string, { exitCode: number; at: number }>();

  /** An AutoRemove removed container `id` (named `name`) that exited with `exitCode`. */
  autoRemoved(id: string, name: string, exitCode: number, now = Date.now()): void {
    for (const [k, v] of this.removed) if (now - v.at > AUTO_REMOVED_WAIT_MS) this.removed.delete(k); else break;
    const rec = { exitCode, at: now };
    this.removed.delete(id);
    this.removed.set(id, rec);
    if (name) {
      this.removed.delete(name);
      this.removed.set(name, rec);
    }
  }

  /** The wait of a container that an AutoRemove took away lately (by full id or name), or null. */
  waitRemoved(ref: string, now = Date.now()): { result: Promise<WaitResult>; cancel(): void } | null {
    const r = this.removed.get(ref) ?? this.removed.get(ref.replace(/^\//, ''));
    if (!r || now - r.at > AUTO_REMOVED_WAIT_MS) return null;
    return { result: Promise.resolve({ StatusCode: r.exitCode, Error: null }), cancel: () => {} };
  }

  /**
   * A wait on container `c`. `not-running` on a container that is not up answers at
   * once with its last exit code; the others wait for the next exit or the removal.
   */
  wait(c: { id: string; state: ContainerState; exitCode: number }, condition: WaitCondition): { result: Promise<WaitResult>; cancel(): void } {
    if (condition === 'not-running' && !isUp(c.state)) return { result: Promise.resolve({ StatusCode: c.exitCode, Error: null }), cancel: () => {} };
    let waiter!: Waiter;
    const result = new Promise<WaitResult>((resolve) => {
      waiter = { condition, resolve };
      const list = this.byId.get(c.id) ?? [];
      list.push(waiter);
      this.byId.set(c.id, list);
    });
    const cancel = () => this.keep(c.id, (w) => w !== waiter);
    return { result, cancel };
  }

  /** Resolves the waiters of `id` whose condition is among `conditions`. */
  notify(id: string, conditions: WaitCondition[], exitCode: number, error: string | null = null): void {
    const list = this.byId.get(id);
    if (!list) return;
    for (const w of list) if (conditions.includes(w.condition)) w.resolve({ StatusCode: exitCode, Error: error ? { Message: error } : null });
    this.keep(id, (w) => !conditions.includes(w.condition));
  }

  private keep(id: string, pred: (w: Waiter) => boolean): void {
    const rest = (this.byId.get(id) ?? []).filter(pred);
    if (rest.length) this.byId.set(id, rest);
    else this.byId.delete(id);
  }
}
