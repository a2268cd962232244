// A child process started with posix_spawn (vfork: the daemon's page tables are
// not copied; see sys/spawn.ts), shaped as the part of Node's ChildProcess the
// launcher uses: pid, stdio streams over socketpairs (what Node's 'pipe' stdio
// is, so the program sees the same fds either way), exitCode/signalCode,
// kill(), and 'exit' / 'error' events. The daemon reaps it on SIGCHLD.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable, Duplex } from 'node:stream';
import { anyChildExited, posixSpawn, reapSpawned, socketPair, closeFd } from '../sys/index.js';

const live = new Map<number, VChild>();
let listening = false;
/**
 * While children live: a backstop poll, which also keeps the event loop alive as
 * Node's own child handles do (a SIGCHLD listener does not).
 */
let backstop: NodeJS.Timeout | null = null;

/** The backstop holds the event loop open while a child is ref'd (Node's own child handles do; the warm pool unrefs its idle inits). */
function updateBackstop(): void {
  if (!backstop) return;
  let any = false;
  for (const c of live.values()) if (c.refd) { any = true; break; }
  if (any) backstop.ref();
  else backstop.unref();
}

function reapAll(): void {
  // one waitid for all when none has exited (the backstop's ticks, the check after a spawn, a
  // SIGCHLD already handled): not one per live child, warm inits included
  if (live.size > 0 && !anyChildExited()) return;
  for (const [pid, c] of live) {
    let r;
    try {
      r = reapSpawned(pid);
    } catch {
      continue;
    }
    if (!r) continue;
    live.delete(pid);
    c.exited(r.exitCode, r.signal);
  }
  if (live.size === 0) stopListening();
  else updateBackstop();
}

function startListening(): void {
  if (listening) return;
  process.on('SIGCHLD', reapAll);
  backstop = setInterval(reapAll, 500);
  listening = true;
}

function stopListening(): void {
  if (!listening) return;
  process.removeListener('SIGCHLD', reapAll);
  if (backstop) clearInterval(backstop);
  backstop = null;
  listening = false;
}

const signalName = (n: number | null): NodeJS.Signals | null =>
  n === null ? null : ((Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0] ?? null) as NodeJS.Signals | null);

class VChild extends EventEmitter {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  stdio: Array<Duplex | null> = [];
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;

  exited(code: number | null, signal: number | null): void {
    this.exitCode = code;
    this.signalCode = signalName(signal);
    this.emit('exit', this.exitCode, this.signalCode);
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.pid === undefined || this.exitCode !== null || this.signalCode !== null) return false;
    try {
      // not reaped yet (reapAll runs on this thread): the pid is still this child's
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  refd = true;
  ref(): void {
    this.refd = true;
    updateBackstop();
  }
  unref(): void {
    this.refd = false;
    updateBackstop();
  }
}

/** Whether `c` was started by vspawn (its output stays in its sockets until read: no ChildProcess flushStdio). */
export const isVChild = (c: unknown): boolean => c instanceof VChild;

/**
 * Starts `file` with fds 0-2 and 3 as `stdio` says ('pipe': a socketpair whose
 * other end the caller gets as a stream; 'ignore': /dev/null, or nothing for fd
 * 3; 'stdout', for fd 2: the same socket as fd 1, whose stream then carries both),
 * an empty environment, cwd "/", in a new session. A failure to start is
 * thrown (Node's spawn reports it as an 'error' event instead).
 */
export function vspawn(file: string, args: string[], stdio: Array<'pipe' | 'ignore' | 'stdout'>): ChildProcess {
  const c = new VChild();
  const ours: Array<number | null> = [];
  const theirs: Array<number | null> = [];
  try {
    for (const [i, s] of stdio.entries()) {
      if (s === 'stdout') {
        if (i !== 2 || stdio[1] !== 'pipe') throw new Error("vspawn: 'stdout' is for fd 2, with fd 1 a pipe");
        ours.push(null);
        theirs.push(theirs[1]!);
      } else if (s === 'pipe') {
        const [a, b] = socketPair();
        ours.push(a);
        theirs.push(b);
      } else {
        ours.push(null);
        theirs.push(null);
      }
    }
    startListening();
    // fd 3 'ignore' is simply not given; 0-2 'ignore' are /dev/null
    const fds = theirs.slice(0, 3).concat(theirs.slice(3).filter((x) => x !== null));
    c.pid = posixSpawn(file, [file, ...args], [], fds);
    live.set(c.pid, c);
    updateBackstop();
  } catch (e) {
    for (const fd of new Set([...ours, ...theirs])) if (fd !== null) closeFd(fd);
    if (live.size === 0) stopListening();
    throw e;
  }
  for (const fd of new Set(theirs)) if (fd !== null) closeFd(fd);
  // the output sockets (1, 2) read nothing until their reader comes (manualStart, as Node's own
  // process.stdin): output stays in the socket until then, and its end is not seen (and 'end' and
  // 'close' emitted) before anyone listens, as Node's ChildProcess pipes behave while unread
  c.stdio = ours.map((fd, i) => (fd === null ? null : new net.Socket({ fd, readable: i !== 0, writable: i === 0 || i === 3, manualStart: i === 1 || i === 2 } as net.SocketConstructorOpts)));
  c.stdin = c.stdio[0] ?? null;
  c.stdout = c.stdio[1] ?? null;
  c.stderr = c.stdio[2] ?? null;
  // a child that exited before we listened: its SIGCHLD came already
  setImmediate(reapAll);
  // the launcher only uses what VChild has; Node's type is what it is written against
  return c as unknown as ChildProcess;
}
