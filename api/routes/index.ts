// Registers the route plugins of the services the daemon provides.
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';

export async function registerOptionalRoutes(_app: FastifyInstance, _deps: ApiDeps): Promise<void> {
  // Each subsystem's routes are added here as they land.
}
