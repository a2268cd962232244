// What the controller's parts share: the store, the kernel executors and the
// options. Built once by the controller; each part (bridge.ts, networks.ts,
// endpoints.ts, etc-hosts.ts) is a set of functions over it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { NetworkStore } from '../store/index.js';
import type { Syscalls } from '../sys/index.js';
import type { Firewaller } from './firewall.js';
import type { IpExecutor } from './links.js';
import type { Logger, NetworkControllerOptions } from './types.js';

export interface NetCtx {
  readonly opts: NetworkControllerOptions;
  readonly store: NetworkStore;
  readonly sys: Syscalls;
  readonly ip: IpExecutor;
  readonly fw: Firewaller;
  readonly log: Logger;
  /** <execRoot>/netns */
  readonly netnsDir: string;
  /** Whether a host network device exists. */
  existsLink(name: string): boolean;
  /** Turns on IPv4 forwarding (tests replace it). */
  readonly enableForwarding?: () => void;
}

export const newId = (): string => randomBytes(32).toString('hex');
export const nowRfc3339Nano = (): string => new Date().toISOString().replace(/Z$/, '000000Z');

export function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

export function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
