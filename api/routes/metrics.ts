// GET /metrics: Prometheus text exposition (as dockerd's --metrics-addr serves it).
import type { FastifyInstance } from 'fastify';

export interface MetricsPort {
  contentType: string;
  render(): Promise<string>;
}

export default async function metricsRoutes(app: FastifyInstance): Promise<void> {
  const metrics = app.deps.metrics as MetricsPort;
  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.render();
    return reply.type(metrics.contentType).send(body);
  });
}
