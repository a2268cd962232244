// Requests with `Connection: Upgrade` (attach, exec start) never reach Fastify
// routes: Node hands them to the server's 'upgrade' listener with the raw
// socket. This router matches them by method and (version-stripped) path.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { stripVersion, API_VERSION } from '../version.js';
import { statusOf, messageOf } from '../errors.js';

export type HijackHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, params: Record<string, string>, query: URLSearchParams) => void | Promise<void>;

interface Route { method: string; re: RegExp; keys: string[]; handler: HijackHandler }

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 409: 'Conflict', 500: 'Internal Server Error', 501: 'Not Implemented', 403: 'Forbidden', 401: 'Unauthorized', 503: 'Service Unavailable' };

/** Writes a complete plain HTTP error response on a raw socket and closes it. */
export function writeRawError(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message }) + '\n';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nApi-Version: ${API_VERSION}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export class HijackRouter {
  private routes: Route[] = [];

  /** pattern like '/containers/:id/attach' */
  add(method: string, pattern: string, handler: HijackHandler): void {
    const keys: string[] = [];
    const re = new RegExp('^' + pattern.replace(/:([a-zA-Z]+)/g, (_m, k: string) => { keys.push(k); return '([^/]+)'; }) + '/?$');
    this.routes.push({ method, re, keys, handler });
  }

  has(method: string, url: string): boolean {
    const { path } = stripVersion(url);
    const p = path.split('?')[0]!;
    return this.routes.some((r) => r.method === method && r.re.test(p));
  }

  dispatch(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const v = stripVersion(req.url ?? '/');
    if (v.error) return writeRawError(socket, 400, v.error);
    const u = new URL(v.path, 'http://tsd');
    for (const r of this.routes) {
      if (r.method !== req.method) continue;
      const m = r.re.exec(u.pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
      socket.on('error', () => { /* client went away */ });
      Promise.resolve()
        .then(() => r.handler(req, socket, head, params, u.searchParams))
        .catch((err) => {
          if (!socket.writable || (socket as { tsdUpgraded?: boolean }).tsdUpgraded) { socket.destroy(); return; }
          writeRawError(socket, statusOf(err), messageOf(err));
        });
      return;
    }
    writeRawError(socket, 404, 'page not found');
  }
}
