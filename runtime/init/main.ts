// The init process: started by the launcher (PID 1 of a new PID namespace for
// containers), reads its plan on fd 3, executes it synchronously and execve's.
// Failures go back on fd 3 before exiting. Keep the imports small: load time is
// the container's start time.
import fs from 'node:fs';
import { LinuxSyscalls, preloadLibraries } from '../../sys/syscalls.js';
import { PR_SET_DUMPABLE, PR_SET_PDEATHSIG } from '../../sys/constants.js';
import { PROTOCOL_FD, encode } from '../protocol.js';
import type { ParentMessage, InitMessage } from '../protocol.js';
import { runSteps } from './steps.js';
import { InitError } from './context.js';
import type { InitContext } from './context.js';

let pending = Buffer.alloc(0);

/** Blocks for the next line on `fd` (sync: no event loop in the init); '' at EOF. */
function readLine(fd: number): string {
  const buf = Buffer.alloc(65536);
  for (;;) {
    const nl = pending.indexOf(10);
    if (nl >= 0) {
      const line = pending.subarray(0, nl).toString('utf8');
      pending = Buffer.from(pending.subarray(nl + 1));
      return line;
    }
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      throw e;
    }
    if (n === 0) return '';
    pending = Buffer.concat([pending, buf.subarray(0, n)]);
  }
}

const receive = (): ParentMessage | null => {
  const line = readLine(PROTOCOL_FD);
  return line ? (JSON.parse(line) as ParentMessage) : null;
};

function report(m: InitMessage): void {
  try {
    fs.writeSync(PROTOCOL_FD, encode(m));
  } catch {
    // the parent is gone; nothing else to tell
  }
}

function main(): void {
  // First act: not dumpable, so no process of the container (same uid, no CAP_SYS_PTRACE) can open
  // /proc/<this init>/exe, /cwd, /root, /fd or /mem while it sets up (CVE-2019-5736); execve resets it.
  new LinuxSyscalls().prctl(PR_SET_DUMPABLE, 0);
  // Die with the daemon (SIGKILL when the thread that spawned us exits): a pre-spawned init
  // waiting for a plan, or one half-way through it, has no use without the daemon. If the
  // daemon died before this, fd 3 is at EOF and receive() below exits. Cleared before execve.
  const SIGKILL = 9;
  try { new LinuxSyscalls().prctl(PR_SET_PDEATHSIG, SIGKILL); } catch { /* the EOF on fd 3 still ends us */ }
  if (process.argv.includes('--warm')) {
    // pre-spawned: load everything now, say so, then wait for a plan
    preloadLibraries(false);
    report({ t: 'ready' });
  }
  const msg = receive();
  if (msg?.t !== 'plan') process.exit(1); // parent went away before sending a plan
  preloadLibraries(msg.plan.seccomp !== null && !msg.plan.seccompBpf);
  const ctx: InitContext = { plan: msg.plan, sys: new LinuxSyscalls(), protocolFd: PROTOCOL_FD, env: [...msg.plan.env], uid: 0, gid: 0, send: report, receive };
  try {
    // each step announced: the launcher gives every step a deadline and kills an init that misses one
    runSteps(ctx, undefined, (name) => report({ t: 'step', step: name }));
    report({ t: 'error', step: 'exec', message: 'execve returned', exitCode: 128 });
    process.exit(128);
  } catch (e) {
    const step = (e as { step?: string }).step ?? 'init';
    const exitCode = e instanceof InitError ? e.exitCode : 128;
    // errno travels as data (the daemon classifies on it): ours, a syscall's, or a Node fs error's code
    const nodeCode = (e as NodeJS.ErrnoException).code;
    const errno = e instanceof InitError ? e.errno : (e as { errnoCode?: string }).errnoCode ?? (nodeCode && /^E[A-Z0-9]+$/.test(nodeCode) ? nodeCode : undefined);
    report({ t: 'error', step, message: (e as Error).message, errno, exitCode });
    process.exit(exitCode);
  }
}

main();
