// Registers the route plugins of the services the daemon provides.
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';

export async function registerOptionalRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // Each subsystem's routes are added here as they land.
  if (deps.images) await app.register((await import('./images.js')).default);
}
