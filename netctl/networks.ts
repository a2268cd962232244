// Networks (libnetwork's network.go): the predefined rows, lookup, the Docker
// view of a record, create/remove with their Docker errors, list filters.
import { conflict, forbidden, invalidParameter, notFound, systemError, unavailable } from '../errors/index.js';
import type { EndpointRecord, NetworkRecord } from '../store/index.js';
import { resolveRef } from '../lib/index.js';
import { BRIDGE_NAME_OPT, MASQ_OPT, MTU_OPT, setupBridge, teardownBridge } from './bridge.js';
import { newId, nowRfc3339Nano, readOr, type NetCtx } from './context.js';
import { checkRequestedIp, cidrsOverlap, firstHost, intToIp, ipToInt, networkCidr, parseCidr, parseProcNetRoute, selectSubnet } from './ipam.js';
import { bigToV6, cidr6String, firstHost6, GATEWAY6_OPT, mirrorAddress, parseCidr6, SUBNET6_OPT, ulaSubnetFor, v6Of, v6ToBig, type Cidr6 } from './ipv6.js';

export { v6Of };

const overlaps6 = (a: Cidr6, b: Cidr6): boolean => {
  const p = BigInt(128 - Math.min(a.prefix, b.prefix));
  return a.network >> p === b.network >> p;
};
import { hostVethName, userBridgeName } from './links.js';
import type { Endpoint, Network, NetworkCreateRequest, NetworkDriver, NetworkFilters } from './types.js';

export const DEFAULT_POOLS = [{ base: '10.199.0.0/16', size: 24 }];
export const PREDEFINED = new Set(['bridge', 'host', 'none']);
/** Kept in the record's options, never shown as a Docker option. */
const IP_RANGE_OPT = 'tsd.ipam.ip-range';

const internalOpt = (k: string) => k.startsWith('tsd.ipam.');

/**
 * The predefined rows (none, host, and the default bridge from --bridge/--bip).
 * Returns the previous default bridge when --bridge/--bip changed: its device and rules must go.
 */
export function ensurePredefined(ctx: NetCtx): NetworkRecord | undefined {
  const { store, opts } = ctx;
  return store.transaction((): NetworkRecord | undefined => {
    for (const [name, driver] of [
      ['none', 'null'],
      ['host', 'host'],
    ] as const) {
      if (!store.getNetworkByName(name)) {
        store.insertNetwork({ id: newId(), name, driver, subnet: '', gateway: '', bridge: '', internal: false, options: {}, labels: {}, createdAt: nowRfc3339Nano() });
      }
    }
    const bip = parseCidr(opts.bip);
    const want = {
      subnet: networkCidr(opts.bip),
      gateway: intToIp(bip.addr),
      bridge: opts.bridge,
      options: {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
        [BRIDGE_NAME_OPT]: opts.bridge,
        'com.docker.network.driver.mtu': '1500',
      },
    };
    const cur = store.getNetworkByName('bridge');
    if (!cur) {
      store.insertNetwork({ id: newId(), name: 'bridge', driver: 'bridge', internal: false, labels: {}, createdAt: nowRfc3339Nano(), ...want });
    } else if (cur.subnet !== want.subnet || cur.gateway !== want.gateway || cur.bridge !== want.bridge) {
      store.updateNetwork({ ...cur, ...want });
      return cur; // --bridge/--bip changed: the old device and rules go
    }
    return undefined;
  });
}

/** The IPAM IPRange of a record, '' for the whole subnet. */
export const toNetworkRange = (r: NetworkRecord): string => r.options[IP_RANGE_OPT] ?? '';

export function toEndpoint(e: EndpointRecord, n: NetworkRecord): Endpoint {
  const { subnet6, gateway6 } = v6Of(n);
  const ip6 = subnet6 && e.ip ? mirrorAddress(subnet6, ipToInt(e.ip) - parseCidr(n.subnet).network) : '';
  return {
    ip6,
    prefixLen6: ip6 ? parseCidr6(subnet6).prefix : 0,
    gateway6: ip6 ? gateway6 : '',
    endpointId: e.endpointId,
    containerId: e.containerId,
    containerName: e.containerName,
    networkId: n.id,
    networkName: n.name,
    ip: e.ip,
    prefixLen: n.subnet ? parseCidr(n.subnet).prefix : 0,
    gateway: n.gateway,
    mac: e.mac,
    aliases: e.aliases,
    hostname: e.hostname,
    ifname: e.ifname,
    hostVeth: hostVethName(e.containerId, n.id),
    ports: e.ports,
  };
}

export function toNetwork(ctx: NetCtx, r: NetworkRecord, eps?: EndpointRecord[]): Network {
  const endpoints = (eps ?? ctx.store.listEndpoints({ networkId: r.id })).map((e) => toEndpoint(e, r));
  return {
    id: r.id,
    name: r.name,
    driver: r.driver as NetworkDriver,
    subnet: r.subnet,
    gateway: r.gateway,
    ipRange: r.options[IP_RANGE_OPT] ?? '',
    ...v6Of(r),
    bridge: r.bridge,
    internal: r.internal,
    labels: r.labels,
    options: Object.fromEntries(Object.entries(r.options).filter(([k]) => !internalOpt(k))),
    created: r.createdAt,
    predefined: PREDEFINED.has(r.name),
    endpoints,
  };
}

/** By id, name or unique id prefix. */
export function findNetwork(ctx: NetCtx, ref: string): NetworkRecord {
  const id = resolveRef(ref, {
    byId: (r) => ctx.store.getNetwork(r)?.id ?? null,
    byName: (r) => ctx.store.getNetworkByName(r)?.id ?? null,
    idsByPrefix: (p) => ctx.store.findNetworksByIdPrefix(p).map((n) => n.id),
  }, {
    // moby's FindNetwork: an ambiguous prefix is a not-found, saying how many matched
    ambiguous: (r, n) => notFound(`network ${r} is ambiguous (${n} matches found based on ID prefix)`, 'TSD_ERR_NO_SUCH_NETWORK'),
  });
  const rec = id ? ctx.store.getNetwork(id) : undefined;
  if (!rec) throw notFound(`network ${ref} not found`, 'TSD_ERR_NO_SUCH_NETWORK');
  return rec;
}

export function listNetworks(ctx: NetCtx, filters: NetworkFilters = {}): Network[] {
  const all = ctx.store.listEndpoints();
  return ctx.store
    .listNetworks()
    .map((r) => toNetwork(ctx, r, all.filter((e) => e.networkId === r.id)))
    .filter((n) => matchFilters(n, filters));
}

/** Validates a request as dockerd does, allocates a subnet, records the network and sets up its bridge. */
export async function createNetwork(ctx: NetCtx, req: NetworkCreateRequest): Promise<Network> {
  const { store } = ctx;
  const name = req.name ?? '';
  if (!name) throw invalidParameter('network name is required');
  // As libnetwork's IsValidName: any name but a blank one (spaces are fine).
  if (!name.trim()) throw invalidParameter(`invalid network name "${name}": a name must not be blank`);
  const driver = req.driver || 'bridge';
  if (driver === 'host' || driver === 'null') throw forbidden(`only one instance of "${driver}" network is allowed`);
  if (driver !== 'bridge') throw notFound(`could not find plugin ${driver} in v1 plugin registry: plugin not found`, 'TSD_ERR_NO_SUCH_DRIVER');
  if (store.getNetworkByName(name)) throw conflict(`network with name ${name} already exists`, 'TSD_ERR_NETWORK_EXISTS');
  const existing = store.listNetworks();
  const id0 = newId();
  const options = Object.fromEntries(Object.entries(req.options ?? {}).filter(([k]) => !internalOpt(k)));
  let subnet: string;
  if (req.subnet) {
    subnet = networkCidr(req.subnet);
    if (parseCidr(subnet).prefix > 30) throw invalidParameter(`invalid subnet ${req.subnet}: too small`);
    const clash = existing.find((n) => n.subnet && cidrsOverlap(n.subnet, subnet));
    if (clash) throw forbidden(`invalid pool request: Pool overlaps with other one on this address space`, 'TSD_ERR_POOL_OVERLAP');
  } else {
    if (req.gateway) throw invalidParameter('gateway requires a subnet');
    const routes = parseProcNetRoute(readOr('/proc/net/route', 'Iface\n'));
    const taken = [...existing.filter((n) => n.subnet).map((n) => n.subnet), ...routes];
    const s = selectSubnet(ctx.opts.pools ?? DEFAULT_POOLS, taken);
    if (!s) throw unavailable('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network', 'TSD_ERR_NO_POOL');
    subnet = s;
  }
  const gateway = req.gateway || firstHost(subnet);
  if (req.gateway) {
    const why = checkRequestedIp(subnet, req.gateway, []);
    if (why) throw invalidParameter(`invalid gateway ${req.gateway}: ${why}`);
  }
  if (req.ipRange) {
    const range = networkCidr(req.ipRange);
    const s = parseCidr(subnet);
    const r = parseCidr(range);
    if (r.network < s.network || r.broadcast > s.broadcast) throw invalidParameter(`invalid IP range ${req.ipRange}: not within subnet ${subnet}`);
    options[IP_RANGE_OPT] = range;
  }
  if (req.enableIPv6) {
    const v4 = parseCidr(subnet);
    const s6 = req.subnet6 ? parseCidr6(req.subnet6) : parseCidr6(ulaSubnetFor(id0));
    // an endpoint's IPv6 address mirrors its IPv4 host offset: the IPv6 subnet must hold as many
    if (128 - s6.prefix < 32 - v4.prefix) throw invalidParameter(`invalid IPv6 subnet ${cidr6String(s6)}: smaller than the IPv4 subnet ${subnet}`);
    const clash = existing.find((n) => v6Of(n).subnet6 && overlaps6(parseCidr6(v6Of(n).subnet6), s6));
    if (clash) throw forbidden(`invalid pool request: Pool overlaps with other one on this address space`, 'TSD_ERR_POOL_OVERLAP');
    options[SUBNET6_OPT] = cidr6String(s6);
    options[GATEWAY6_OPT] = req.gateway6 ? bigToV6(v6ToBig(req.gateway6)) : firstHost6(cidr6String(s6));
  }
  if (options[MTU_OPT] !== undefined && !(/^\d+$/.test(options[MTU_OPT]) && Number(options[MTU_OPT]) >= 68 && Number(options[MTU_OPT]) <= 65535)) {
    throw invalidParameter(`invalid MTU value: ${options[MTU_OPT]}`);
  }
  if (options[MASQ_OPT] !== undefined && !['true', 'false'].includes(options[MASQ_OPT])) throw invalidParameter(`invalid value for ${MASQ_OPT}: ${options[MASQ_OPT]}`);
  const id = id0;
  const bridge = options[BRIDGE_NAME_OPT] || userBridgeName(id);
  if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw invalidParameter(`invalid bridge name: ${bridge}`);
  if (existing.some((n) => n.bridge === bridge)) throw conflict(`bridge name ${bridge} is already used by another network`, 'TSD_ERR_BRIDGE_IN_USE');
  const rec: NetworkRecord = { id, name, driver: 'bridge', subnet, gateway, bridge, internal: !!req.internal, options, labels: { ...(req.labels ?? {}) }, createdAt: nowRfc3339Nano() };
  store.insertNetwork(rec);
  try {
    await setupBridge(ctx, rec);
  } catch (e) {
    await teardownBridge(ctx, rec).catch(() => undefined);
    store.deleteNetwork(id);
    throw systemError(`failed to create network ${name}: ${(e as Error).message}`, e);
  }
  ctx.log.info({ network: name, id, subnet, bridge }, 'network created');
  return toNetwork(ctx, rec, []);
}

export async function removeNetwork(ctx: NetCtx, n: NetworkRecord): Promise<void> {
  if (PREDEFINED.has(n.name)) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`, 'TSD_ERR_PREDEFINED_NETWORK');
  const eps = ctx.store.listEndpoints({ networkId: n.id });
  if (eps.length > 0) throw forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints`, 'TSD_ERR_NETWORK_IN_USE');
  await teardownBridge(ctx, n);
  ctx.store.deleteNetwork(n.id);
  ctx.log.info({ network: n.name, id: n.id }, 'network removed');
}

/** Docker's network list filters (name and id match substrings, driver exactly). */
export function matchFilters(n: Network, f: NetworkFilters): boolean {
  if (f.name?.length && !f.name.some((x) => n.name.includes(x))) return false;
  if (f.id?.length && !f.id.some((x) => n.id.includes(x))) return false;
  if (f.driver?.length && !f.driver.includes(n.driver)) return false;
  if (f.type?.length && !f.type.some((t) => (t === 'builtin') === n.predefined)) return false;
  if (f.dangling !== undefined && f.dangling !== (!n.predefined && n.endpoints.length === 0)) return false;
  if (f.label?.length) {
    for (const l of f.label) {
      const i = l.indexOf('=');
      const k = i < 0 ? l : l.slice(0, i);
      if (!(k in n.labels)) return false;
      if (i >= 0 && n.labels[k] !== l.slice(i + 1)) return false;
    }
  }
  return true;
}
