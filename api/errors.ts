// The one place that maps error kinds to HTTP statuses and {"message"} bodies
// (moby httpstatus.FromError in spirit).
import type { FastifyError, FastifyInstance } from 'fastify';
import { DaemonError, type ErrorKind } from '../errors/index.js';

export const statusByKind: Record<ErrorKind, number> = {
  'not-found': 404,
  'invalid-parameter': 400,
  conflict: 409,
  'not-modified': 304,
  forbidden: 403,
  unauthorized: 401,
  unavailable: 503,
  'not-implemented': 501,
  system: 500,
};

export function statusOf(err: unknown): number {
  if (err instanceof DaemonError) return statusByKind[err.kind];
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe?.validation) return 400;
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return fe.statusCode;
  return 500;
}

export function messageOf(err: unknown): string {
  const e = err as Partial<FastifyError>;
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported Content-Type header';
  return (err as Error)?.message || 'internal server error';
}

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const status = statusOf(err);
    if (status >= 500) req.log.error({ err, route: req.routeOptions?.url }, 'request failed');
    else req.log.debug({ err: { message: messageOf(err), code: (err as DaemonError).code } }, 'request error');
    if (reply.sent || reply.raw.headersSent) {
      // A streaming response already started: the route writes in-band errors itself.
      reply.raw.destroy();
      return;
    }
    // Exactly "application/json": the docker CLI decodes an error body only for that literal type.
    void reply.code(status).header('content-type', 'application/json').send(Buffer.from(JSON.stringify({ message: messageOf(err) }) + '\n'));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).header('content-type', 'application/json').send(Buffer.from(JSON.stringify({ message: 'page not found' }) + '\n'));
  });
}
