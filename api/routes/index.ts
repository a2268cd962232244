// Registers the route plugins of the services the daemon provides, each with
// its backend (a test may serve only some of them).
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import imageRoutes from './images.js';
import volumeRoutes from './volumes.js';
import containerRoutes from './containers.js';
import execRoutes from './exec.js';
import networkRoutes from './networks.js';
import metricsRoutes from './metrics.js';
import primitivesRoutes from './primitives.js';
import buildRoutes from './build.js';

export async function registerRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { images, volumes, containers, networks, metrics, primitives } = deps;
  if (images) await app.register(imageRoutes, { images });
  if (volumes) await app.register(volumeRoutes, { volumes });
  if (deps.builder && deps.buildCache) await app.register(buildRoutes, { builder: deps.builder, cache: deps.buildCache, cgroupMode: deps.cgroupMode });
  if (containers) {
    await app.register(containerRoutes, { containers, images, cgroupMode: deps.cgroupMode });
    await app.register(execRoutes, { containers });
  }
  if (metrics) await app.register(metricsRoutes, { metrics });
  if (primitives) await app.register(primitivesRoutes, { primitives });
  if (networks) await app.register(networkRoutes, { networks, events: deps.events, containers: containers?.networkOps() });
}
