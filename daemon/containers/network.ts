// A container's networks: attached at start (one endpoint per network, the
// /etc files written), and connected or disconnected while it exists
// (POST /networks/{id}/connect|disconnect). Endpoint JSON is made in one place.
import { conflict, invalidParameter, notFound } from '../../errors/index.js';
import type { RuntimeSpec } from '../../runtime/index.js';
import { writeEtcFilesTo, type Endpoint } from '../../netctl/index.js';
import { containerDir, updateRuntime, type ContainerContext } from './context.js';
import { portRequests } from './plan.js';
import { canJoin } from './state.js';
import { linkPlan } from './links.js';
import type { Container, EndpointState, RuntimeState } from './types.js';

type NetContext = Pick<ContainerContext, 'store' | 'config' | 'events' | 'network' | 'get'>;

/** What inspect shows of one attachment. */
export function toEndpointState(c: Pick<Container, 'id' | 'name'>, ep: Endpoint, ipam: EndpointState['IPAMConfig'], driverOpts?: Record<string, string> | null): EndpointState {
  const isDefault = ep.networkName === 'bridge';
  return {
    NetworkID: ep.networkId, EndpointID: ep.endpointId, Gateway: ep.gateway, IPAddress: ep.ip, IPPrefixLen: ep.prefixLen, MacAddress: ep.mac,
    Aliases: isDefault ? null : ep.aliases, IPAMConfig: ipam,
    DNSNames: isDefault ? null : [c.name, c.id.slice(0, 12), ...ep.aliases.filter((a) => a !== c.name && a !== c.id.slice(0, 12))],
    ...(driverOpts && Object.keys(driverOpts).length ? { DriverOpts: driverOpts } : {}),
    ...(ep.ip6 ? { GlobalIPv6Address: ep.ip6, GlobalIPv6PrefixLen: ep.prefixLen6, IPv6Gateway: ep.gateway6 } : {}),
  };
}

const EMPTY_ENDPOINT: EndpointState = { NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '', Aliases: null };

type NetworkStep = { spec: RuntimeSpec['network']; etc?: RuntimeSpec['etc']; /** legacy links' variables */ linkEnv?: string[] };

/**
 * The start path's network step: the host's network, another container's, none,
 * or one endpoint per network (the first carries the published ports). Pushes its undo.
 */
export async function attachNetworks(ctx: NetContext, c: Container, undo: Array<() => unknown>): Promise<NetworkStep> {
  const mode = c.hostConfig.NetworkMode;
  const dir = containerDir(ctx, c.id);
  const hostsExtra = c.hostConfig.ExtraHosts ?? [];
  if (mode === 'host') return { spec: { mode: 'host' } };
  if (mode.startsWith('container:')) {
    const other = ctx.get(mode.slice('container:'.length));
    canJoin(other, 'network');
    // As dockerd: a container sharing another's network takes its hostname too.
    c.config.Hostname = other.config.Hostname;
    c.config.Domainname = other.config.Domainname;
    ctx.store.update(c.id, { config: c.config });
    updateRuntime(ctx, c, { sandboxKey: `/proc/${other.pid}/ns/net`, hostsPath: other.runtime.hostsPath, resolvConfPath: other.runtime.resolvConfPath, hostnamePath: other.runtime.hostnamePath });
    return {
      spec: { mode: 'netns', path: `/proc/${other.pid}/ns/net` },
      etc: { hosts: other.runtime.hostsPath || undefined, resolvConf: other.runtime.resolvConfPath || undefined },
    };
  }
  const net = ctx.network;
  if (mode === 'none' || !net || c.config.NetworkDisabled) {
    const files = writeEtcFilesTo(dir, {
      hostname: c.config.Hostname, domainname: c.config.Domainname, endpoints: [], extraHosts: hostsExtra,
      dns: c.hostConfig.Dns, dnsSearch: c.hostConfig.DnsSearch, dnsOptions: c.hostConfig.DnsOptions,
    });
    updateRuntime(ctx, c, { hostsPath: files.hosts, hostnamePath: files.hostname, resolvConfPath: files.resolvConf, networks: mode === 'none' ? { none: EMPTY_ENDPOINT } : {} });
    return { spec: { mode: 'none' }, etc: { hosts: files.hosts, hostname: files.hostname, resolvConf: files.resolvConf } };
  }
  const names = mode === 'default' || mode === 'bridge' ? ['bridge'] : [mode];
  for (const extra of Object.keys(c.runtime.endpointsConfig ?? {})) if (!names.includes(extra) && extra !== mode && !(mode === 'default' && extra === 'bridge')) names.push(extra);
  undo.push(() => net.detach(c.id));
  const endpoints: Endpoint[] = [];
  const ports = portRequests(c);
  const published: RuntimeState['ports'] = {};
  for (const [i, name] of names.entries()) {
    const ec = c.runtime.endpointsConfig?.[name] ?? (mode === name ? c.runtime.endpointsConfig?.[mode] : undefined);
    const isUser = name !== 'bridge';
    const ep = await net.attach(c.id, {
      network: name,
      hostname: c.config.Hostname,
      domainname: c.config.Domainname,
      aliases: isUser ? [...(ec?.Aliases ?? []), c.name, c.id.slice(0, 12)] : [...(ec?.Aliases ?? [])],
      ipv4: ec?.IPAMConfig?.IPv4Address || undefined,
      // EndpointSettings.MacAddress; the deprecated container-wide Config.MacAddress is the primary network's (moby)
      mac: ec?.MacAddress || (i === 0 ? c.config.MacAddress || undefined : undefined),
      ports: i === 0 ? ports : [],
    });
    endpoints.push(ep);
    ctx.events.publish('network', 'connect', ep.networkId, { container: c.id, name: ep.networkName, type: 'bridge' });
    for (const p of ep.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      (published[key] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
    }
  }
  // legacy links: children on the default bridge (moby makes them for the default network only)
  const links = names.includes('bridge') ? linkPlan(c, ctx.get) : { env: [], hosts: [] };
  const etc = net.writeEtcFiles(dir, {
    containerId: c.id, hostname: c.config.Hostname, domainname: c.config.Domainname, endpoints, extraHosts: hostsExtra,
    dns: c.hostConfig.Dns, dnsSearch: c.hostConfig.DnsSearch, dnsOptions: c.hostConfig.DnsOptions, links: links.hosts,
  });
  const networks: Record<string, EndpointState> = {};
  for (const ep of endpoints) {
    const ec = c.runtime.endpointsConfig?.[ep.networkName];
    networks[ep.networkName] = toEndpointState(c, ep, ec?.IPAMConfig ?? null, ec?.DriverOpts);
  }
  const sandboxKey = net.netnsPath(c.id);
  updateRuntime(ctx, c, { networks, ports: published, sandboxKey, hostsPath: etc.hosts, hostnamePath: etc.hostname, resolvConfPath: etc.resolvConf });
  return { spec: { mode: 'netns', path: sandboxKey }, etc: { hosts: etc.hosts, hostname: etc.hostname, resolvConf: etc.resolvConf }, linkEnv: links.env };
}

type ConnectContext = NetContext & Pick<ContainerContext, 'live'>;

/** What POST /networks/{id}/connect asks for the endpoint. */
export interface ConnectConfig {
  aliases: string[];
  ipv4?: string;
  mac?: string;
  driverOpts?: Record<string, string>;
}

/** docker network connect: recorded at once; attached now when the container runs, else at its next start. */
export async function connect(ctx: ConnectContext, c: Container, networkId: string, cfg: ConnectConfig): Promise<void> {
  const net = ctx.network;
  if (!net) throw notFound('networking is not available');
  const n = net.inspect(networkId);
  if (c.hostConfig.NetworkMode === 'host' || c.hostConfig.NetworkMode === 'none' || c.hostConfig.NetworkMode.startsWith('container:')) {
    throw invalidParameter(`container cannot be disconnected from host network or connected to host network`);
  }
  if (c.runtime.networks[n.name]) throw conflict(`endpoint with name ${c.name} already exists in network ${n.name}`);
  // Not running and already configured for this network: moby keeps the first config ("avoid duplicate config").
  if (c.runtime.endpointsConfig[n.name] && !ctx.live.has(c.id)) return;
  const ipam = cfg.ipv4 ? { IPv4Address: cfg.ipv4 } : null;
  const extra = { ...(cfg.mac ? { MacAddress: cfg.mac } : {}), ...(cfg.driverOpts ? { DriverOpts: cfg.driverOpts } : {}) };
  updateRuntime(ctx, c, { endpointsConfig: { ...c.runtime.endpointsConfig, [n.name]: { Aliases: cfg.aliases, IPAMConfig: ipam, ...extra } } });
  if (ctx.live.has(c.id)) {
    const ep = await net.attach(c.id, { network: n.name, hostname: c.config.Hostname, domainname: c.config.Domainname, aliases: [...cfg.aliases, c.name, c.id.slice(0, 12)], ipv4: cfg.ipv4, mac: cfg.mac });
    // As before: DNSNames lead with the name and short id, then the requested aliases.
    updateRuntime(ctx, c, { networks: { ...c.runtime.networks, [n.name]: { ...toEndpointState(c, ep, ipam, cfg.driverOpts), Aliases: ep.aliases, DNSNames: [c.name, c.id.slice(0, 12), ...cfg.aliases] } } });
    net.writeEtcFiles(containerDir(ctx, c.id), { containerId: c.id, hostname: c.config.Hostname, domainname: c.config.Domainname, endpoints: net.endpoints(c.id), extraHosts: c.hostConfig.ExtraHosts ?? [], dns: c.hostConfig.Dns, dnsSearch: c.hostConfig.DnsSearch, dnsOptions: c.hostConfig.DnsOptions });
  }
  ctx.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
}

export async function disconnect(ctx: ConnectContext, c: Container, networkId: string): Promise<void> {
  const net = ctx.network;
  if (!net) throw notFound('networking is not available');
  const n = net.inspect(networkId);
  const was = c.runtime.networks[n.name] || c.runtime.endpointsConfig[n.name] || (n.name === 'bridge' && ['default', 'bridge'].includes(c.hostConfig.NetworkMode));
  if (!was) throw invalidParameter(`container ${c.id} is not connected to network ${n.name}`);
  const endpointsConfig = { ...c.runtime.endpointsConfig };
  delete endpointsConfig[n.name];
  const networks = { ...c.runtime.networks };
  delete networks[n.name];
  updateRuntime(ctx, c, { endpointsConfig, networks });
  if (ctx.live.has(c.id)) await net.detach(c.id, n.name);
  ctx.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
}

/** The exit path: disconnect events for the networks the container was on. */
export function publishDisconnects(ctx: Pick<ContainerContext, 'events' | 'network'>, c: Container): void {
  if (!ctx.network || !Object.keys(c.runtime.networks).length) return;
  for (const [name, ep] of Object.entries(c.runtime.networks)) {
    if (name !== 'none') ctx.events.publish('network', 'disconnect', ep.NetworkID, { container: c.id, name, type: 'bridge' });
  }
}
