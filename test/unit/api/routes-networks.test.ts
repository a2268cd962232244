// api/routes/networks.ts through fastify.inject, with a controller on recording fakes.
import t, { type Test } from 'tap';
import Fastify from 'fastify';
import { registerErrorHandlers } from '../../../api/errors.js';
import networkRoutes, { type NetworkContainerOps } from '../../../api/routes/networks.js';
import { harness } from '../netctl/fakes.js';

async function build(t: Test, containers?: NetworkContainerOps) {
  const h = harness();
  await h.ctl.init();
  const events: { type: string; action: string; id: string; attributes?: Record<string, string> }[] = [];
  const app = Fastify();
  registerErrorHandlers(app);
  await app.register(networkRoutes, { networks: h.ctl, events: { publish: (type, action, id, attributes) => events.push({ type, action, id, attributes }) }, containers });
  t.teardown(async () => {
    await app.close();
    h.cleanup();
  });
  return { app, h, events };
}

t.test('list, create, inspect, delete with Docker shapes and errors', async (t) => {
  const { app, events } = await build(t);
  let r = await app.inject({ method: 'GET', url: '/networks' });
  t.equal(r.statusCode, 200);
  const list = r.json() as Record<string, unknown>[];
  t.same(list.map((n) => `${n.Name}/${n.Driver}/${n.Scope}`).sort(), ['bridge/bridge/local', 'host/host/local', 'none/null/local']);
  const bridge = list.find((n) => n.Name === 'bridge')!;
  t.same(bridge.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: '10.250.0.0/24', Gateway: '10.250.0.1' }] });
  t.same(bridge.Containers, {});
  t.equal((bridge.Options as Record<string, string>)['com.docker.network.bridge.default_bridge'], 'true');

  const body = { Driver: 'bridge', Scope: '', IPAM: { Driver: 'default', Options: {}, Config: [] }, Internal: false, Attachable: false, Ingress: false, ConfigOnly: false, ConfigFrom: null, Options: {}, Labels: { a: 'b' }, Name: 'n1', CheckDuplicate: true };
  r = await app.inject({ method: 'POST', url: '/networks/create', payload: body });
  t.equal(r.statusCode, 201);
  const id = r.json().Id as string;
  t.match(r.json(), { Id: /^[0-9a-f]{64}$/, Warning: '' });
  t.same(events.at(-1), { type: 'network', action: 'create', id, attributes: { name: 'n1', type: 'bridge' } });
  r = await app.inject({ method: 'POST', url: '/networks/create', payload: body });
  t.equal(r.statusCode, 409);
  t.same(r.json(), { message: 'network with name n1 already exists' });
  r = await app.inject({ method: 'POST', url: '/networks/create', payload: { Name: 'n2', IPAM: { Config: [{ Subnet: '10.66.0.0/24', Gateway: '10.66.0.1' }] } } });
  t.equal(r.statusCode, 201);
  r = await app.inject({ method: 'POST', url: '/networks/create', payload: { Name: 'n3', EnableIPv6: true } });
  t.equal(r.statusCode, 201, 'EnableIPv6: dual stack (this kernel has IPv6), no longer a 501');
  const n3 = (await app.inject({ method: 'GET', url: '/networks/n3' })).json();
  t.equal(n3.EnableIPv6, true);
  t.match(n3.IPAM.Config[1], { Subnet: /^fd[0-9a-f]{2}:[0-9a-f:]+::\/64$/, Gateway: /^fd[0-9a-f:]+::1$/ }, 'a ULA /64 allocated and reported');
  t.equal((await app.inject({ method: 'DELETE', url: '/networks/n3' })).statusCode, 204);
  r = await app.inject({ method: 'POST', url: '/networks/create', payload: { Name: 'n4', IPAM: { Config: [{ Subnet: 'fd00:1::/64' }] } } });
  t.equal(r.statusCode, 400, 'an IPv6 subnet without EnableIPv6');
  r = await app.inject({ method: 'POST', url: '/networks/create', payload: {} });
  t.equal(r.statusCode, 400);

  r = await app.inject({ method: 'GET', url: '/networks/n1' });
  t.equal(r.statusCode, 200);
  t.match(r.json(), { Name: 'n1', Id: id, Driver: 'bridge', Internal: false, Labels: { a: 'b' }, Containers: {}, ConfigFrom: { Network: '' } });
  r = await app.inject({ method: 'GET', url: '/networks/nosuchthing' });
  t.equal(r.statusCode, 404);
  t.same(r.json(), { message: 'network nosuchthing not found' });

  r = await app.inject({ method: 'GET', url: `/networks?filters=${encodeURIComponent(JSON.stringify({ label: { 'a=b': true } }))}` });
  t.same((r.json() as { Name: string }[]).map((n) => n.Name), ['n1']);
  r = await app.inject({ method: 'GET', url: `/networks?filters=${encodeURIComponent(JSON.stringify({ type: ['builtin'] }))}` });
  t.same((r.json() as { Name: string }[]).map((n) => n.Name).sort(), ['bridge', 'host', 'none']);
  r = await app.inject({ method: 'GET', url: `/networks?filters=${encodeURIComponent(JSON.stringify({ bogus: ['x'] }))}` });
  t.equal(r.statusCode, 400);

  for (const pre of ['bridge', 'host', 'none']) {
    r = await app.inject({ method: 'DELETE', url: `/networks/${pre}` });
    t.equal(r.statusCode, 403);
    t.same(r.json(), { message: `${pre} is a pre-defined network and cannot be removed` });
  }
  r = await app.inject({ method: 'DELETE', url: `/networks/${id.slice(0, 12)}` });
  t.equal(r.statusCode, 204);
  t.equal(events.at(-1)!.action, 'destroy');
  r = await app.inject({ method: 'DELETE', url: '/networks/n1' });
  t.equal(r.statusCode, 404);

  r = await app.inject({ method: 'POST', url: '/networks/n2/connect', payload: { Container: 'x' } });
  t.equal(r.statusCode, 501, 'connect needs the container service');
  r = await app.inject({ method: 'POST', url: '/networks/prune' });
  t.same(r.json(), { NetworksDeleted: ['n2'] });
});

t.test('connect/disconnect delegate to the container service', async (t) => {
  const calls: unknown[] = [];
  const { app, h } = await build(t, {
    connect: async (c, n, cfg) => void calls.push(['connect', c, n, cfg]),
    disconnect: async (c, n, f) => void calls.push(['disconnect', c, n, f]),
  });
  const net = await h.ctl.create({ name: 'n' });
  let r = await app.inject({ method: 'POST', url: '/networks/n/connect', payload: { Container: 'tnc', EndpointConfig: { IPAMConfig: { IPv4Address: '10.251.0.9' }, Aliases: ['a'] } } });
  t.equal(r.statusCode, 200);
  r = await app.inject({ method: 'POST', url: '/networks/n/disconnect', payload: { Container: 'tnc', Force: true } });
  t.equal(r.statusCode, 200);
  t.same(calls, [
    ['connect', 'tnc', net.id, { aliases: ['a'], ipv4: '10.251.0.9' }],
    ['disconnect', 'tnc', net.id, true],
  ]);
  r = await app.inject({ method: 'POST', url: '/networks/n/connect', payload: {} });
  t.equal(r.statusCode, 400);
});
