// Docker's JSON-message progress stream (pull, push, load, import): one JSON
// object per line, each terminated by \r\n; headers flushed at once; failures
// after the headers are an in-band {"errorDetail":{"message"},"error"} line.
import type { ServerResponse } from 'node:http';
import { commonHeaders } from '../version.js';

export interface ProgressLike {
  id?: string;
  status: string;
  current?: number;
  total?: number;
  aux?: Record<string, unknown>;
}

/** Go's units.HumanSize: decimal units, 4 significant digits. */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** The preformatted bar Docker puts in `progress`. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return humanSize(current);
  let pct = Math.floor((Math.min(current, total) / total) * 100 / 2);
  if (pct > 50) pct = 50;
  const bar = `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] `;
  return `${bar}${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** Translates an internal progress event to Docker's JSON message. */
export function toJsonMessage(e: ProgressLike): Record<string, unknown> {
  if (e.aux) return { progressDetail: {}, aux: e.aux };
  const m: Record<string, unknown> = { status: e.status };
  if (e.id !== undefined) {
    if (e.current !== undefined) {
      m.progressDetail = { current: e.current, ...(e.total !== undefined ? { total: e.total } : {}) };
      if (e.total !== undefined) m.progress = progressBar(e.current, e.total);
    } else m.progressDetail = {};
    m.id = e.id;
  }
  return m;
}

export function errorMessage(message: string): Record<string, unknown> {
  return { errorDetail: { message }, error: message };
}

/** Writes a progress stream on a hijacked response. */
export class ProgressWriter {
  private started = false;
  constructor(private readonly res: ServerResponse) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, { ...commonHeaders, 'Content-Type': 'application/json' });
    this.res.flushHeaders();
  }

  raw(obj: Record<string, unknown>): void {
    this.start();
    if (!this.res.writableEnded && !this.res.destroyed) this.res.write(JSON.stringify(obj) + '\r\n');
  }

  write(e: ProgressLike): void {
    this.raw(toJsonMessage(e));
  }

  error(err: unknown): void {
    this.raw(errorMessage((err as Error)?.message ?? String(err)));
  }

  end(): void {
    this.start();
    if (!this.res.writableEnded) this.res.end();
  }
}
