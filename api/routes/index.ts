// Registers the route plugins of the services the daemon provides.
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';

export async function registerOptionalRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // Each subsystem's routes are added here as they land.
  if (deps.images) await app.register((await import('./images.js')).default);
  if (deps.volumes) await app.register((await import('./volumes.js')).default);
  if (deps.builder) await app.register((await import('./build.js')).default);
  if (deps.containers) {
    await app.register((await import('./containers.js')).default);
    await app.register((await import('./exec.js')).default);
  }
  if (deps.metrics) await app.register((await import('./metrics.js')).default);
  if (deps.primitives) await app.register((await import('./primitives.js')).default);
  if (deps.networks) {
    await app.register((await import('./networks.js')).default, {
      networks: deps.networks as never,
      events: deps.events,
      containers: deps.containers ? (deps.containers as { networkOps(): never }).networkOps() : undefined,
    });
  }
}
