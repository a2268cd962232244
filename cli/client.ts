// The HTTP client of the tsd socket: tsctl is nothing more than this plus printing.
// node:http with a keep-alive agent: undici alone took longer to import than a
// whole tsctl call does without it (1.5 s of ~4 s on a loaded machine), and each
// tsctl call is a new process.
import http from 'node:http';
import { Readable, type Duplex } from 'node:stream';

/** Where the daemon is: --host, then TSD_HOST, then DOCKER_HOST, then the default socket. */
export function resolveHost(argHost: string | undefined, env: NodeJS.ProcessEnv = process.env): { url: string; socketPath?: string; display: string } {
  const h = argHost || env.TSD_HOST || env.DOCKER_HOST || 'unix:///var/run/tsd.sock';
  if (h.startsWith('unix://')) return { url: 'http://localhost', socketPath: h.slice('unix://'.length), display: h };
  if (h.startsWith('/')) return { url: 'http://localhost', socketPath: h, display: `unix://${h}` };
  const tcp = /^(?:tcp|http):\/\/([^/]+)\/?$/.exec(h);
  if (tcp) return { url: `http://${tcp[1]}`, display: h };
  throw new UsageError(`unsupported host "${h}": use unix:///path or tcp://host:port`);
}

/** Kept for callers of the old name: the socket path of a unix host. */
export function resolveSocket(argHost: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const r = resolveHost(argHost, env);
  if (!r.socketPath) throw new UsageError(`"${r.display}" is not a unix socket`);
  return r.socketPath;
}

/** An error answer of the daemon ({"message"}): printed as docker prints it. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A mistake in the command line: docker exits 125 for these. */
export class UsageError extends Error {}

/** An exit status to return without printing anything more (docker's cli.StatusError). */
export class StatusError extends Error {
  constructor(readonly code: number, message = '') {
    super(message);
  }
}

export const API = '/v1.44';

export interface RequestOptions {
  body?: unknown;
  /** a raw body (tar upload): sent as is with content-type application/x-tar unless headers say otherwise */
  raw?: Readable | Buffer;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined | null>;
}

export function qs(q: RequestOptions['query']): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === false || v === '') continue;
    p.set(k, v === true ? '1' : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** An answer: its status, headers, and body (a stream; text() reads it whole). */
type Answer = { statusCode: number; headers: http.IncomingHttpHeaders; body: http.IncomingMessage & { text(): Promise<string> } };

export class TsdClient {
  private readonly agent: http.Agent;
  private readonly target: { socketPath: string } | { host: string; port: number };
  readonly display: string;
  readonly socketPath: string | undefined;
  private readonly url: string;
  constructor(host: string | { url: string; socketPath?: string; display: string }) {
    const h = typeof host === 'string' ? resolveHost(host) : host;
    this.display = h.display;
    this.socketPath = h.socketPath;
    this.url = h.url;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.target = h.socketPath ? { socketPath: h.socketPath } : (() => { const u = new URL(h.url); return { host: u.hostname, port: Number(u.port) || 80 }; })();
  }

  private async check(res: { statusCode: number; body: { text(): Promise<string> } }): Promise<string> {
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      let msg = text;
      try { msg = (JSON.parse(text) as { message?: string }).message ?? text; } catch { /* not JSON */ }
      throw new ApiError(res.statusCode, msg.trim());
    }
    return text;
  }

  private send(method: string, path: string, o: RequestOptions = {}) {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    let body: string | Buffer | Readable | undefined;
    if (o.raw !== undefined) {
      body = o.raw;
      headers['content-type'] ??= 'application/x-tar';
    } else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    }
    if (typeof body === 'string' || Buffer.isBuffer(body)) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise<Answer>((resolve, reject) => {
      const req = http.request({ ...this.target, agent: this.agent, method, path: `${API}${path}${qs(o.query)}`, headers }, (res) => {
        const b = res as Answer['body'];
        b.text = async () => {
          const chunks: Buffer[] = [];
          for await (const c of res) chunks.push(c as Buffer);
          return Buffer.concat(chunks).toString('utf8');
        };
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: b });
      });
      req.once('error', reject);
      if (body instanceof Readable) {
        body.once('error', (e) => req.destroy(e));
        body.pipe(req);
      } else req.end(body);
    });
  }

  /** A JSON call; undefined for empty answers (204, 304). */
  async json<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, o);
    const text = await this.check(res);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** The status of a call whose answer has no body worth reading (start → 204 or 304). */
  async status(method: string, path: string, o: RequestOptions = {}): Promise<number> {
    const res = await this.send(method, path, o);
    await this.check(res);
    return res.statusCode;
  }

  /** A streaming response body (pull progress, logs, stats, events, archives). */
  async stream(method: string, path: string, o: RequestOptions = {}): Promise<Readable & { headers?: Record<string, unknown> }> {
    const res = await this.send(method, path, o);
    if (res.statusCode >= 400) await this.check(res);
    const body = res.body as unknown as Readable & { headers?: Record<string, unknown> };
    body.headers = res.headers as Record<string, unknown>;
    return body;
  }

  /**
   * An attach-style hijacked connection (HTTP 101), with an optional JSON body
   * (exec start sends one). node:http's upgrade event hands over the socket.
   */
  upgrade(path: string, o: RequestOptions = {}): Promise<Duplex> {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const headers: Record<string, string> = { ...(o.headers ?? {}), Connection: 'Upgrade', Upgrade: 'tcp' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ ...this.target, method: 'POST', path: `${API}${path}${qs(o.query)}`, headers });
      req.once('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.once('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.once('end', () => {
          let msg = text;
          try { msg = (JSON.parse(text) as { message?: string }).message ?? text; } catch { /* not JSON */ }
          reject(new ApiError(res.statusCode ?? 500, msg.trim()));
        });
      });
      req.once('error', reject);
      req.end(body);
    });
  }

  /** Lets idle connections go (the process may then exit). */
  async close(): Promise<void> {
    this.agent.destroy();
  }

  /** Drops connections still in use (a wait that a detach left pending). */
  async destroy(): Promise<void> {
    this.agent.destroy();
  }
}
