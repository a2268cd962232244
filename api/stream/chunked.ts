// Long-lived chunked responses (wait, logs, events, stats, progress streams):
// headers go out at once, the body follows whenever there is something to say.
// The docker CLI sends `start` only after the `wait` headers arrived
// (reference/docker-cli-wire-trace.md §1.2), so flushing early is mandatory.
import type { FastifyReply } from 'fastify';
import { commonHeaders } from '../version.js';

export interface ChunkedStream {
  /** Writes one HTTP chunk. Returns false when buffered (or when the client is gone). */
  write(data: Buffer | string): boolean;
  /** Ends the body (terminating chunk). Idempotent. */
  end(): void;
  /** Called once when the connection closes: the client went away or after end() finished. */
  onClose(fn: () => void): void;
  /** True when the client disconnected before end(). */
  readonly aborted: boolean;
  /** True once end() was called or the client is gone. */
  readonly closed: boolean;
  /** Called when buffered output drained. */
  onDrain(fn: () => void): void;
}

export interface StartStreamOptions {
  /** Content-Type; null or undefined sends none (logs, stats?stream=1 have none). */
  contentType?: string | null;
  status?: number;
  headers?: Record<string, string>;
}

/** Hijacks a Fastify reply and starts a chunked 200 with headers flushed immediately. */
export function startStream(reply: FastifyReply, opts: StartStreamOptions = {}): ChunkedStream {
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string> = { ...commonHeaders, ...(opts.headers ?? {}), 'Transfer-Encoding': 'chunked' };
  if (opts.contentType) headers['Content-Type'] = opts.contentType;
  res.writeHead(opts.status ?? 200, headers);
  res.flushHeaders();
  res.socket?.setNoDelay?.(true);
  // a long-lived response must not be cut by the server's idle timeout
  res.socket?.setTimeout?.(0);

  let ended = false;
  let aborted = false;
  const closeFns: Array<() => void> = [];
  let closeFired = false;
  const fireClose = (): void => {
    if (closeFired) return;
    closeFired = true;
    for (const fn of closeFns.splice(0)) fn();
  };
  res.on('error', () => { /* EPIPE: the client is gone; 'close' follows */ });
  res.once('close', () => {
    if (!res.writableFinished) aborted = true;
    fireClose();
  });

  return {
    write(data) {
      if (ended || aborted || res.destroyed) return false;
      const b = typeof data === 'string' ? Buffer.from(data) : data;
      if (b.length === 0) return true; // an empty chunk would terminate the body
      return res.write(b);
    },
    end() {
      if (ended) return;
      ended = true;
      if (!res.destroyed) res.end();
    },
    onClose(fn) {
      if (closeFired) queueMicrotask(fn);
      else closeFns.push(fn);
    },
    onDrain(fn) { res.once('drain', fn); },
    get aborted() { return aborted; },
    get closed() { return ended || aborted || res.destroyed; },
  };
}
