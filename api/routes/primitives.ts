// GET /containers/{id}/primitives: tsd's own extension (not in the Docker API).
// The container as the process, namespaces, cgroup, veths and mounts it is made
// of, read from the kernel at request time; ?window=S (0-10, default 1) samples
// cpu.stat over S seconds for the throttled share. Documented in the README.
import type { FastifyInstance } from 'fastify';
import { invalidParameter } from '../../errors/index.js';
import type { PrimitivesBackend } from '../../daemon/index.js';

export type { PrimitivesBackend as PrimitivesPort };

export default async function primitivesRoutes(app: FastifyInstance, opts: { primitives: PrimitivesBackend }): Promise<void> {
  const { primitives } = opts;
  app.get<{ Params: { id: string }; Querystring: { window?: string } }>('/containers/:id/primitives', async (req) => {
    const w = req.query.window === undefined || req.query.window === '' ? 1 : Number(req.query.window);
    if (!Number.isFinite(w) || w < 0 || w > 10) throw invalidParameter(`invalid window: ${req.query.window} (seconds, 0 to 10)`);
    return primitives.read(req.params.id, { windowSeconds: w });
  });
}
