// The HTTP client of the tsd socket: tsctl is nothing more than this plus printing.
import { Client } from 'undici';

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

export class TsdClient {
  private client: Client;
  constructor(readonly socketPath: string) {
    this.client = new Client('http://localhost', { socketPath });
  }
  async json<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.client.request({
      method: method as 'GET',
      path: `/v1.44${path}`,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    let parsed: unknown;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
    if (res.statusCode >= 400) {
      const msg = (parsed as { message?: string } | undefined)?.message ?? text;
      throw new ApiError(res.statusCode, msg);
    }
    return parsed as T;
  }
  close(): Promise<void> {
    return this.client.close();
  }
}
