// Docker network JSON <-> netctl's model (pure). The only place that knows the
// Docker shapes of networks, endpoint settings and port bindings.
import { invalidParameter, notImplemented } from '../../errors/index.js';
import { parsePortBinding } from '../../netctl/index.js';
import type { Endpoint, Network, NetworkCreateRequest, NetworkFilters, PortBinding, PublishedPort } from '../../netctl/index.js';

export interface DockerNetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

export interface DockerNetwork {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet: string; IPRange?: string; Gateway?: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, DockerNetworkContainer>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** The inspect shape; list responses pass withContainers=false (Docker sends "Containers":{} there). */
export function toDockerNetwork(n: Network, withContainers = true): DockerNetwork {
  const containers: Record<string, DockerNetworkContainer> = {};
  if (withContainers) {
    for (const e of n.endpoints) {
      containers[e.containerId] = { Name: e.containerName, EndpointID: e.endpointId, MacAddress: e.mac, IPv4Address: `${e.ip}/${e.prefixLen}`, IPv6Address: e.ip6 ? `${e.ip6}/${e.prefixLen6}` : '' };
    }
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: !!n.subnet6,
    IPAM: {
      Driver: 'default',
      Options: null,
      Config: [
        ...(n.subnet ? [{ Subnet: n.subnet, ...(n.ipRange ? { IPRange: n.ipRange } : {}), Gateway: n.gateway }] : []),
        ...(n.subnet6 ? [{ Subnet: n.subnet6, Gateway: n.gateway6 }] : []),
      ],
    },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.options,
    Labels: n.labels,
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const strMap = (v: unknown, what: string): Record<string, string> => {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw invalidParameter(`invalid ${what}: expected an object`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
};

/** POST /networks/create body → our request. */
export function fromDockerNetworkCreate(body: unknown): NetworkCreateRequest {
  if (!isObj(body)) throw invalidParameter('invalid network config: expected a JSON object');
  const name = body.Name;
  if (typeof name !== 'string' || name === '') throw invalidParameter('network name is required');
  if (body.ConfigOnly === true || (isObj(body.ConfigFrom) && body.ConfigFrom.Network)) throw notImplemented('config-only networks are not supported');
  if (body.Scope && body.Scope !== 'local') throw invalidParameter(`scope ${String(body.Scope)} is not supported`);
  const req: NetworkCreateRequest = {
    name,
    driver: typeof body.Driver === 'string' && body.Driver ? body.Driver : 'bridge',
    internal: body.Internal === true,
    ...(body.EnableIPv6 === true ? { enableIPv6: true } : {}),
    labels: strMap(body.Labels, 'Labels'),
    options: strMap(body.Options, 'Options'),
  };
  const ipam = body.IPAM;
  if (isObj(ipam)) {
    if (ipam.Driver && ipam.Driver !== 'default') throw notImplemented(`IPAM driver ${String(ipam.Driver)} is not supported`);
    const cfg = Array.isArray(ipam.Config) ? ipam.Config : [];
    const v4 = cfg.filter((c): c is Record<string, unknown> => isObj(c) && typeof c.Subnet === 'string' && !String(c.Subnet).includes(':'));
    const v6 = cfg.filter((c): c is Record<string, unknown> => isObj(c) && typeof c.Subnet === 'string' && String(c.Subnet).includes(':'));
    if (v6.length > 1) throw notImplemented('only one IPv6 subnet per network is supported');
    if (v6[0]) {
      if (body.EnableIPv6 !== true) throw invalidParameter('an IPv6 subnet needs EnableIPv6');
      req.subnet6 = String(v6[0].Subnet);
      if (v6[0].Gateway) req.gateway6 = String(v6[0].Gateway);
    }
    if (cfg.length > v4.length + v6.length) throw notImplemented('only one IPv4 subnet per network is supported');
    if (v4.length > 1) throw notImplemented('only one IPv4 subnet per network is supported');
    const c = v4[0];
    if (c) {
      req.subnet = String(c.Subnet);
      if (c.Gateway) req.gateway = String(c.Gateway);
      if (c.IPRange && c.IPRange !== c.Subnet) req.ipRange = String(c.IPRange);
    }
  }
  return req;
}

const NETWORK_FILTERS = new Set(['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);

/** GET /networks filters (already decoded to lists) → ours. scope=swarm/global matches nothing: returns null. */
export function fromDockerNetworkFilters(f: Record<string, string[]>): NetworkFilters | null {
  for (const k of Object.keys(f)) if (!NETWORK_FILTERS.has(k)) throw invalidParameter(`invalid filter '${k}'`);
  const out: NetworkFilters = {};
  if (f.name?.length) out.name = f.name;
  if (f.id?.length) out.id = f.id;
  if (f.driver?.length) out.driver = f.driver;
  if (f.label?.length) out.label = f.label;
  if (f.type?.length) {
    for (const t of f.type) if (t !== 'custom' && t !== 'builtin') throw invalidParameter(`invalid filter: 'type'='${t}'`);
    out.type = f.type;
  }
  if (f.dangling?.length) {
    const d = f.dangling[0]!.toLowerCase();
    if (d === 'true' || d === '1') out.dangling = true;
    else if (d === 'false' || d === '0') out.dangling = false;
    else throw invalidParameter(`invalid filter 'dangling=${f.dangling[0]}'`);
  }
  if (f.scope?.length && !f.scope.includes('local')) return null;
  return out;
}

/** Docker's `until` filter: unix seconds (fractional allowed), RFC 3339, or a Go duration before now. Returns ms since the epoch. */
export function parseUntil(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^(\d+(?:\.\d+)?(?:h|m|s|ms))+$/.test(v) ? [...v.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)] : null;
  if (dur) return now - dur.reduce((acc, [, n, u]) => acc + Number(n) * ({ h: 3600e3, m: 60e3, s: 1e3, ms: 1 } as Record<string, number>)[u!]!, 0);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidParameter(`invalid filter 'until=${v}'`);
  return t;
}

/** HostConfig.PortBindings → bindings for netctl. */
export function fromDockerPortBindings(pb: unknown): PortBinding[] {
  if (pb === undefined || pb === null) return [];
  if (!isObj(pb)) throw invalidParameter('invalid PortBindings: expected an object');
  const out: PortBinding[] = [];
  for (const [port, list] of Object.entries(pb)) {
    if (list === null || (Array.isArray(list) && list.length === 0)) {
      out.push(parsePortBinding(port, '', ''));
      continue;
    }
    if (!Array.isArray(list)) throw invalidParameter(`invalid PortBindings for ${port}`);
    for (const b of list) {
      const o = isObj(b) ? b : {};
      out.push(parsePortBinding(port, String(o.HostIp ?? ''), String(o.HostPort ?? '')));
    }
  }
  return out;
}

/**
 * NetworkSettings.Ports: every exposed port (null when unpublished) plus the
 * published ones, e.g. {"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}.
 */
export function toDockerPorts(published: PublishedPort[], exposed: string[] = []): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const e of exposed) out[e.includes('/') ? e : `${e}/tcp`] = null;
  for (const p of published) {
    const key = `${p.containerPort}/${p.protocol}`;
    const list = out[key] ?? [];
    list.push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
    out[key] = list;
  }
  return out;
}

export interface DockerEndpointSettings {
  IPAMConfig: { IPv4Address?: string } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  MacAddress: string;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DriverOpts: Record<string, string> | null;
  DNSNames: string[] | null;
}

/** One entry of NetworkSettings.Networks for a running container. */
export function toDockerEndpointSettings(e: Endpoint, requestedIp?: string): DockerEndpointSettings {
  const dnsNames = e.networkName === 'bridge' ? null : [...new Set([e.containerName, ...e.aliases, e.containerId.slice(0, 12)].filter(Boolean))];
  return {
    IPAMConfig: requestedIp ? { IPv4Address: requestedIp } : null,
    Links: null,
    Aliases: e.aliases.length ? e.aliases : null,
    MacAddress: e.mac,
    NetworkID: e.networkId,
    EndpointID: e.endpointId,
    Gateway: e.gateway,
    IPAddress: e.ip,
    IPPrefixLen: e.prefixLen,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: dnsNames,
  };
}

/** POST /networks/{id}/connect body → container ref and endpoint config. */
export function fromDockerConnect(body: unknown): { container: string; aliases: string[]; ipv4?: string; mac?: string; driverOpts?: Record<string, string> } {
  if (!isObj(body) || typeof body.Container !== 'string' || !body.Container) throw invalidParameter('container is required');
  const ec = isObj(body.EndpointConfig) ? body.EndpointConfig : {};
  const ipam = isObj(ec.IPAMConfig) ? ec.IPAMConfig : {};
  const aliases = Array.isArray(ec.Aliases) ? ec.Aliases.map(String) : [];
  const ipv4 = typeof ipam.IPv4Address === 'string' && ipam.IPv4Address ? ipam.IPv4Address : undefined;
  const out: ReturnType<typeof fromDockerConnect> = ipv4 ? { container: body.Container, aliases, ipv4 } : { container: body.Container, aliases };
  if (typeof ec.MacAddress === 'string' && ec.MacAddress) out.mac = ec.MacAddress;
  if (isObj(ec.DriverOpts)) out.driverOpts = strMap(ec.DriverOpts, 'DriverOpts');
  return out;
}

export function fromDockerDisconnect(body: unknown): { container: string; force: boolean } {
  if (!isObj(body) || typeof body.Container !== 'string' || !body.Container) throw invalidParameter('container is required');
  return { container: body.Container, force: body.Force === true };
}
