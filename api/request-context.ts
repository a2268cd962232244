// Which request owns the code that is running: every HTTP request (and every
// upgraded connection) runs in an AsyncLocalStorage context, so callbacks,
// timers, stream events and promises started for it carry it along. The
// daemon's last-resort handler (an error nobody handled) asks `owningRequest()`
// and fails that request instead of the process.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { API_VERSION } from './version.js';
import { messageOf } from './errors.js';

export interface RequestOwner {
  /** "GET /images/get" (no query string: it may carry credentials) */
  readonly what: string;
  /** Ends the request with the error: a 500 if nothing was sent yet, else the connection is cut. */
  fail(err: unknown): void;
}

const owners = new AsyncLocalStorage<RequestOwner>();

const describe = (req: IncomingMessage): string => `${req.method ?? '?'} ${(req.url ?? '').split('?')[0]}`;

function httpOwner(req: IncomingMessage, res: ServerResponse): RequestOwner {
  return {
    what: describe(req),
    fail(err) {
      if (res.destroyed || res.writableEnded) return;
      if (!res.headersSent) {
        const body = JSON.stringify({ message: messageOf(err) }) + '\n';
        res.writeHead(500, { 'Api-Version': API_VERSION, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      } else res.destroy();
    },
  };
}

/** Wraps the server's request listener so that each request runs in its own context. */
export function withRequestContext(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  return (req: IncomingMessage, res: ServerResponse): void => owners.run(httpOwner(req, res), () => handler(req, res));
}

/** The same for an upgraded connection (attach, exec start): failing it closes the socket. */
export function runUpgrade(req: IncomingMessage, socket: Duplex, fn: () => void): void {
  owners.run({ what: describe(req), fail: () => socket.destroy() }, fn);
}

/** The request the running code belongs to, if any. */
export function owningRequest(): RequestOwner | undefined {
  return owners.getStore();
}
