// Networks: route table (Docker Engine API v1.44).
//   GET    /networks                 list (filters: dangling driver id label name scope type)
//   GET    /networks/:id             inspect (with Containers)
//   POST   /networks/create          201 {"Id","Warning":""}
//   DELETE /networks/:id             204; 403 for bridge/host/none and networks in use
//   POST   /networks/:id/connect     200; needs the container service (501 without it)
//   POST   /networks/:id/disconnect  200; idem
//   POST   /networks/prune           200 {"NetworksDeleted":[...]} (filters: label, until)
// connect/disconnect events are published by the container service (it also
// connects containers at start); this plugin publishes create and destroy.
import type { FastifyInstance } from 'fastify';
import { invalidParameter, notImplemented } from '../../errors/index.js';
import type { NetworkBackend as NetworkController, NetworkContainerOps } from '../../daemon/index.js';
import * as qp from '../translate/query.js';
import * as B from '../translate/body.js';
import {
  fromDockerConnect,
  fromDockerDisconnect,
  fromDockerNetworkCreate,
  fromDockerNetworkFilters,
  parseUntil,
  toDockerNetwork,
} from '../translate/network.js';

export type { NetworkContainerOps };

export interface NetworkRoutesOptions {
  networks: NetworkController;
  /** The daemon's EventBus (publish(type, action, id, attributes)). */
  events?: { publish(type: 'network', action: string, id: string, attributes?: Record<string, string>): unknown };
  containers?: NetworkContainerOps;
}

export default async function networkRoutes(app: FastifyInstance, opts: NetworkRoutesOptions): Promise<void> {
  const { networks, events, containers } = opts;
  const publish = (action: string, id: string, name: string, type: string) => events?.publish('network', action, id, { name, type });

  app.get<{ Querystring: qp.RawQuery & object }>('/networks', async (req) => {
    const f = fromDockerNetworkFilters(qp.filters(req.query));
    if (!f) return [];
    return networks.list(f).map((n) => toDockerNetwork(n, false));
  });

  app.get<{ Params: { id: string } }>('/networks/:id', async (req) => toDockerNetwork(networks.inspect(req.params.id), true));

  app.post('/networks/create', async (req, reply) => {
    const n = await networks.create(fromDockerNetworkCreate(B.decodeBody(req.body, B.NetworkCreate)));
    publish('create', n.id, n.name, n.driver);
    return reply.code(201).send({ Id: n.id, Warning: '' });
  });

  app.delete<{ Params: { id: string } }>('/networks/:id', async (req, reply) => {
    const n = networks.inspect(req.params.id);
    await networks.remove(n.id);
    publish('destroy', n.id, n.name, n.driver);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/networks/:id/connect', async (req, reply) => {
    const n = networks.inspect(req.params.id);
    const c = fromDockerConnect(B.decodeBody(req.body, B.NetworkConnect));
    if (!containers) throw notImplemented('network connect is not available');
    const { container, ...cfg } = c;
    await containers.connect(container, n.id, cfg);
    return reply.code(200).send();
  });

  app.post<{ Params: { id: string } }>('/networks/:id/disconnect', async (req, reply) => {
    const n = networks.inspect(req.params.id);
    const d = fromDockerDisconnect(B.decodeBody(req.body, B.NetworkDisconnect));
    if (!containers) throw notImplemented('network disconnect is not available');
    await containers.disconnect(d.container, n.id, d.force);
    return reply.code(200).send();
  });

  app.post<{ Querystring: qp.RawQuery & object }>('/networks/prune', async (req) => {
    const f = qp.filters(req.query);
    for (const k of Object.keys(f)) if (k !== 'label' && k !== 'until') throw invalidParameter(`invalid filter '${k}'`);
    const before = new Map(networks.list().map((n) => [n.name, n]));
    const until = f.until?.[0] !== undefined ? parseUntil(f.until[0]) : undefined;
    const deleted = await networks.prune(until !== undefined ? { label: f.label, until } : { label: f.label });
    for (const name of deleted) {
      const n = before.get(name);
      if (n) publish('destroy', n.id, n.name, n.driver);
    }
    return { NetworksDeleted: deleted };
  });
}
