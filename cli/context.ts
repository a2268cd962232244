// What every verb gets: the (lazily opened) client and a way to set the exit status.
import type { Command } from 'commander';
import { TsdClient, resolveHost } from './client.js';

export class Ctx {
  code = 0;
  private c: TsdClient | undefined;
  host: string | undefined;

  client(): TsdClient {
    this.c ??= new TsdClient(resolveHost(this.host));
    return this.c;
  }

  get opened(): TsdClient | undefined {
    return this.c;
  }

  /** The host as printed in "Cannot connect" errors. */
  display(): string {
    try { return resolveHost(this.host).display; } catch { return String(this.host); }
  }
}

/** Wraps an async verb so its returned number becomes the exit status. */
export function act<A extends unknown[]>(ctx: Ctx, fn: (...a: A) => Promise<number | void>): (...a: A) => Promise<void> {
  return async (...a: A) => {
    const r = await fn(...a);
    if (typeof r === 'number') ctx.code = r;
  };
}

export type Register = (program: Command, ctx: Ctx) => void;

/** Encodes a container/image/network reference for a path segment. */
export const ref = (s: string): string => encodeURIComponent(s);
