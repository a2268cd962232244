// GET /metrics: Prometheus text exposition (as dockerd's --metrics-addr serves it).
import type { FastifyInstance } from 'fastify';
import type { MetricsBackend } from '../../daemon/index.js';

export type { MetricsBackend as MetricsPort };

export default async function metricsRoutes(app: FastifyInstance, opts: { metrics: MetricsBackend }): Promise<void> {
  const { metrics } = opts;
  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.render();
    return reply.type(metrics.contentType).send(body);
  });
}
