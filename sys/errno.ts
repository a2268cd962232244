// errno numbers and names, and the one check of a libc return value: a
// negative result throws a SyscallError naming the call, the path and errno.
import { constants as osc } from 'node:os';
import { SyscallError } from '../errors/index.js';
import { errno } from './libc.js';

const errnoNames: Record<number, string> = Object.fromEntries(
  Object.entries(osc.errno).map(([name, n]) => [n, name]),
);
export const errnoName = (n: number): string => errnoNames[n] ?? `errno ${n}`;

export function check(rc: number | bigint, call: string, path?: string, detail?: string): number {
  const n = Number(rc);
  if (n < 0) {
    const e = errno();
    throw new SyscallError(call, e, errnoName(e), path, detail);
  }
  return n;
}
