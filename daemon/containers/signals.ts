// Signal names and numbers as `docker kill -s` and StopSignal give them.
import { constants } from 'node:os';
import { invalidParameter } from '../../errors/index.js';

const BY_NAME = constants.signals as Record<string, number>;

/** "KILL", "SIGKILL", "kill", "9", "SIGRTMIN+3" → number; Docker's error otherwise. */
export function signalNumber(sig: string | number): number {
  if (typeof sig === 'number') return sig;
  const s = sig.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw invalidParameter(`Invalid signal: ${sig}`);
    return n;
  }
  let name = s.toUpperCase();
  if (!name.startsWith('SIG')) name = `SIG${name}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    const n = name.startsWith('SIGRTMIN') ? 34 + off : 64 - off;
    if (n < 34 || n > 64) throw invalidParameter(`Invalid signal: ${sig}`);
    return n;
  }
  const n = BY_NAME[name];
  if (n === undefined) throw invalidParameter(`Invalid signal: ${sig}`);
  return n;
}
