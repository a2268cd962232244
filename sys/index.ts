export * from './constants.js';
export { LinuxSyscalls, errnoName } from './syscalls.js';
export type { Syscalls, Rlimit, CapSets } from './syscalls.js';
export { FakeSyscalls } from './fake.js';
