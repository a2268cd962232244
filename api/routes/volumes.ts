// Volume endpoints.
import type { FastifyInstance } from 'fastify';
import type { Volume, VolumeBackend } from '../../daemon/index.js';
import * as qp from '../translate/query.js';
import * as B from '../translate/body.js';

const toDocker = (v: Volume) => ({
  CreatedAt: v.createdAt, Driver: v.driver, Labels: v.labels, Mountpoint: v.mountpoint, Name: v.name, Options: v.options, Scope: 'local',
});

export default async function volumeRoutes(app: FastifyInstance, opts: { volumes: VolumeBackend }): Promise<void> {
  const { volumes } = opts;
  app.get<{ Querystring: qp.RawQuery & object }>('/volumes', async (req) => ({
    Volumes: volumes.list(qp.filters(req.query)).map(toDocker),
    Warnings: [],
  }));
  app.post<{ Body: { Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> } }>('/volumes/create', async (req, reply) => {
    const b = B.decodeBody(req.body, B.VolumeCreate) as { Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> };
    const v = volumes.create({ name: b.Name, driver: b.Driver, labels: b.Labels ?? undefined, options: b.DriverOpts ?? undefined });
    return reply.code(201).send(toDocker(v));
  });
  app.get<{ Params: { name: string } }>('/volumes/:name', async (req) => toDocker(volumes.inspect(req.params.name)));
  app.delete<{ Params: { name: string }; Querystring: qp.RawQuery & object }>('/volumes/:name', async (req, reply) => {
    volumes.remove(req.params.name, qp.bool(req.query, 'force'));
    return reply.code(204).send();
  });
  app.post<{ Querystring: qp.RawQuery & object }>('/volumes/prune', async (req) => {
    const r = volumes.prune(qp.filters(req.query));
    return { VolumesDeleted: r.deleted, SpaceReclaimed: r.reclaimed };
  });
}
