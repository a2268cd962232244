// The HTTP client of the tsd socket: tsctl is nothing more than this plus printing.
import { Pool } from 'undici';
import type { Duplex, Readable } from 'node:stream';

export function resolveSocket(argHost: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const h = argHost ?? env.TSD_HOST ?? env.DOCKER_HOST ?? 'unix:///var/run/tsd.sock';
  if (h.startsWith('unix://')) return h.slice('unix://'.length);
  if (h.startsWith('/')) return h;
  throw new Error(`unsupported host "${h}": tsctl speaks to a unix socket (unix:///path)`);
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const API = '/v1.44';

export class TsdClient {
  private client: Pool;
  constructor(readonly socketPath: string) {
    this.client = new Pool('http://localhost', { socketPath, connections: 8, bodyTimeout: 0, headersTimeout: 0 });
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

  async json<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.client.request({
      method: method as 'GET',
      path: `${API}${path}`,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await this.check(res);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A streaming response body (pull progress, logs). */
  async stream(method: string, path: string): Promise<Readable> {
    const res = await this.client.request({ method: method as 'GET', path: `${API}${path}` });
    if (res.statusCode >= 400) await this.check(res);
    return res.body as unknown as Readable;
  }

  /** An attach-style hijacked connection (HTTP 101). */
  async upgrade(path: string): Promise<Duplex> {
    const { socket } = await this.client.upgrade({ method: 'POST', path: `${API}${path}`, protocol: 'tcp' });
    return socket;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
