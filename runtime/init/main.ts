// The init process: started by the launcher (PID 1 of a new PID namespace for
// containers), reads its plan on fd 3, executes it synchronously and execve's.
// Failures go back on fd 3 before exiting. Keep the imports small: load time is
// the container's start time.
import fs from 'node:fs';
import { LinuxSyscalls, preloadLibraries } from '../../sys/syscalls.js';
import { PROTOCOL_FD, encode } from '../protocol.js';
import type { ParentMessage, InitMessage } from '../protocol.js';
import { runSteps } from './steps.js';
import { InitError } from './context.js';
import type { InitContext } from './context.js';

function readLine(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
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
    if (n === 0) break;
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl >= 0) {
      chunks.push(Buffer.from(buf.subarray(0, nl)));
      break;
    }
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function report(m: InitMessage): void {
  try {
    fs.writeSync(PROTOCOL_FD, encode(m));
  } catch {
    // the parent is gone; nothing else to tell
  }
}

function main(): void {
  if (process.argv.includes('--warm')) {
    // pre-spawned: load everything now, say so, then wait for a plan
    preloadLibraries(false);
    report({ t: 'ready' });
  }
  const line = readLine(PROTOCOL_FD);
  if (!line) process.exit(1); // parent went away before sending a plan
  const msg = JSON.parse(line) as ParentMessage;
  preloadLibraries(msg.plan.seccomp !== null && !msg.plan.seccompBpf);
  const ctx: InitContext = { plan: msg.plan, sys: new LinuxSyscalls(), protocolFd: PROTOCOL_FD, env: [...msg.plan.env], uid: 0, gid: 0 };
  try {
    runSteps(ctx);
    report({ t: 'error', step: 'exec', message: 'execve returned', exitCode: 128 });
    process.exit(128);
  } catch (e) {
    const step = (e as { step?: string }).step ?? 'init';
    const exitCode = e instanceof InitError ? e.exitCode : 128;
    const errno = e instanceof InitError ? e.errno : (e as { errnoCode?: string }).errnoCode;
    report({ t: 'error', step, message: (e as Error).message, errno, exitCode });
    process.exit(exitCode);
  }
}

main();
