// buildServer(deps): the Fastify app that speaks the Docker Engine API. It never
// listens by itself: daemon/main.ts listens on the unix socket (or systemd's fd).
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import http, { type IncomingMessage } from 'node:http';
import { registerErrorHandlers } from './errors.js';
import { runUpgrade, withRequestContext } from './request-context.js';
import { commonHeaders, stripVersion, type VersionedReq } from './version.js';
import { HijackRouter } from './stream/hijack-router.js';
import { invalidParameter } from '../errors/index.js';
import type { ApiDeps } from './deps.js';
import systemRoutes from './routes/system.js';
import swarmRoutes from './routes/swarm.js';
import { registerRoutes } from './routes/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    hijack: HijackRouter;
    deps: ApiDeps;
  }
}

export async function buildServer(deps: ApiDeps, opts: { logger?: FastifyServerOptions['loggerInstance'] } = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024 * 1024,
    forceCloseConnections: false,
    return503OnClosing: false,
    keepAliveTimeout: 60_000,
    // each request runs in its own async context: an error nobody handled fails that request, not the daemon
    serverFactory: (handler, options) => {
      // fastify's own HTTP/1 server (its options already defaulted), with the request listener wrapped
      const o = options as { http?: http.ServerOptions; keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket: number };
      const server = http.createServer(o.http ?? {}, withRequestContext(handler));
      server.keepAliveTimeout = o.keepAliveTimeout;
      server.requestTimeout = o.requestTimeout;
      server.setTimeout(o.connectionTimeout);
      if (o.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = o.maxRequestsPerSocket;
      return server;
    },
    rewriteUrl(req) {
      const v = stripVersion(req.url ?? '/');
      const r = req as VersionedReq;
      r.tsdApiVersion = v.version;
      if (v.error) r.tsdVersionError = v.error;
      return v.path;
    },
  });
  app.decorate('deps', deps);
  app.decorate('hijack', new HijackRouter());

  // Docker clients send JSON with or without a body; an empty body is {}.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const s = (body as string).trim();
    if (s === '') return done(null, {});
    try {
      done(null, JSON.parse(s));
    } catch (e) {
      done(invalidParameter(`invalid JSON: ${(e as Error).message}`), undefined);
    }
  });
  // Everything else (tar uploads, text/plain from attach) stays unread: routes consume req.raw.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  app.addHook('onRequest', async (req, reply) => {
    for (const [k, v] of Object.entries(commonHeaders)) reply.header(k, v);
    const err = (req.raw as VersionedReq).tsdVersionError;
    if (err) throw invalidParameter(err);
  });

  // Every answered request, by its route pattern (ids stay out of the labels); hijacked streams do not pass here.
  const metrics = deps.metrics as { observeRequest(route: string, method: string, status: number, seconds: number): void } | undefined;
  if (metrics) {
    app.addHook('onResponse', async (req, reply) => {
      metrics.observeRequest(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  registerErrorHandlers(app);
  app.server.on('upgrade', (req, socket, head) => runUpgrade(req, socket, () => app.hijack.dispatch(req, socket, head)));

  await app.register(systemRoutes);
  await app.register(swarmRoutes);
  await registerRoutes(app, deps);
  return app;
}
