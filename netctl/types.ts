// Contracts of the network controller. Vocabulary:
// - network: a named L2 segment; driver `bridge` (a Linux bridge with its own
//   subnet, gateway on the bridge, NAT out), or the predefined `host` / `null`
//   (`none`), which exist as rows only (the daemon handles those modes itself).
// - endpoint: one container's attachment to one bridge network: a veth pair
//   (host end on the bridge, peer `ethN` in the container's netns), an address
//   from the network's subnet, a MAC derived from it, aliases, published ports.
// - netns file: `<execRoot>/netns/<containerId>`, a bind mount of the
//   container's network namespace. Created by the first attach, removed by the
//   last detach. The runtime's init joins it (setns); nothing else creates it.
// Lifecycle: init() at boot → reconcile(live) → attach()/writeEtcFiles() at
// container start → detach() at container exit → shutdown() at daemon exit.
import type { DB } from '../store/index.js';

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** A port the container exposes, and where on the host to publish it. */
export interface PortBinding {
  containerPort: number;
  protocol: Protocol;
  /** '' means all IPv4 addresses (0.0.0.0). */
  hostIp: string;
  /** 0 means "pick a free ephemeral port". */
  hostPort: number;
  /** Inclusive end of a host port range (hostPort..hostPortEnd); absent for a single port. */
  hostPortEnd?: number;
}

/** A binding as actually published: hostPort is the port chosen. */
export interface PublishedPort {
  containerPort: number;
  protocol: Protocol;
  hostIp: string;
  hostPort: number;
}

export type NetworkDriver = 'bridge' | 'host' | 'null';

export interface Network {
  id: string;
  name: string;
  driver: NetworkDriver;
  /** CIDR, '' for host/null. */
  subnet: string;
  gateway: string;
  /** IPAM IPRange, '' when the whole subnet is used. */
  ipRange: string;
  /** IPv6 subnet and gateway of a dual-stack network, '' otherwise. */
  subnet6: string;
  gateway6: string;
  /** Linux bridge device name, '' for host/null. */
  bridge: string;
  internal: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** RFC 3339 with nanoseconds. */
  created: string;
  /** bridge, host and none: cannot be created or removed. */
  predefined: boolean;
  /** Endpoints currently attached (running containers). */
  endpoints: Endpoint[];
}

export interface Endpoint {
  endpointId: string;
  containerId: string;
  /** Container name without the leading '/', '' if unknown. */
  containerName: string;
  networkId: string;
  networkName: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  /** IPv6 address (dual-stack networks), '' otherwise; prefixLen6 and gateway6 alike. */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  mac: string;
  aliases: string[];
  hostname: string;
  /** Interface name inside the container (eth0, eth1, ...). */
  ifname: string;
  /** Host end of the veth pair. */
  hostVeth: string;
  ports: PublishedPort[];
}

export interface NetworkCreateRequest {
  name: string;
  driver?: string;
  subnet?: string;
  gateway?: string;
  /** IPAM IPRange: containers get addresses from this part of the subnet only. */
  ipRange?: string;
  /** EnableIPv6: dual stack; subnet6 defaults to a ULA /64, gateway6 to its first host. */
  enableIPv6?: boolean;
  subnet6?: string;
  gateway6?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

export interface NetworkFilters {
  name?: string[];
  id?: string[];
  driver?: string[];
  /** 'key' or 'key=value' */
  label?: string[];
  /** 'custom' | 'builtin' */
  type?: string[];
  dangling?: boolean;
}

export interface AttachRequest {
  /** Network name, id or unique id prefix. */
  network: string;
  hostname: string;
  /** Written as hostname.domainname in peers' hosts files. */
  domainname?: string;
  aliases?: string[];
  /** A fixed address inside the network's subnet. */
  ipv4?: string;
  /** A fixed MAC address (default: 02:42 and the IPv4 address, as Docker's). */
  mac?: string;
  ports?: PortBinding[];
}

export interface EtcFilesOptions {
  /** Used to refresh this container's hosts file when peers come and go. Defaults to endpoints[0].containerId. */
  containerId?: string;
  hostname: string;
  domainname?: string;
  endpoints: Endpoint[];
  /** 'name:ip' (Docker's ExtraHosts). */
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** legacy links: `ip alias child-hostname child-name` lines after ExtraHosts */
  links?: Array<{ ip: string; names: string[] }>;
}

export interface EtcFiles {
  hosts: string;
  hostname: string;
  resolvConf: string;
}

/** An IPv4 pool from which user-defined networks get their subnets. */
export interface AddressPool {
  base: string;
  size: number;
}

export interface Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface NetworkControllerOptions {
  db: DB;
  /** netns files live in <execRoot>/netns. */
  execRoot: string;
  /** Default bridge device name (daemon flag --bridge). */
  bridge: string;
  /** Default bridge address in CIDR form, e.g. 172.31.0.1/16 (daemon flag --bip). */
  bip: string;
  /** Pools for user-defined networks; default [{ base: '10.199.0.0/16', size: 24 }]. */
  pools?: AddressPool[];
  /** Host resolv.conf to derive containers' from; default /etc/resolv.conf. */
  hostResolvConf?: string;
  log?: Logger;
}

export interface NetworkController {
  /** Ensure the predefined rows, the default bridge device, NAT/forward rules, ip_forward, and the devices of user networks. */
  init(): Promise<void>;
  create(req: NetworkCreateRequest): Promise<Network>;
  list(filters?: NetworkFilters): Network[];
  inspect(idOrName: string): Network;
  remove(idOrName: string): Promise<void>;
  /** Removes unused user-defined networks (label: 'k' or 'k=v'; until: created before, ms since epoch); returns their names. */
  prune(filters?: { label?: string[]; until?: number }): Promise<string[]>;
  /** Attach a container to a bridge network: netns file (if new), veth, address, routes, published ports. */
  attach(containerId: string, req: AttachRequest): Promise<Endpoint>;
  /** Path of the container's netns file (exists only while attached). */
  netnsPath(containerId: string): string;
  /** Endpoints of a container (all its networks). */
  endpoints(containerId: string): Endpoint[];
  /**
   * Undo attach for one network, or for all (then the netns file goes too). Idempotent. deferUnlink (the
   * exit of a container): the host veths are deleted in the background, and settle() waits for them.
   */
  detach(containerId: string, network?: string, opts?: { deferUnlink?: boolean }): Promise<void>;
  /** Resolves once no veth deletion runs in the background (rm and the like answer after it). */
  settle(): Promise<void>;
  /** Write hosts, hostname and resolv.conf into containerDir; returns their paths. */
  writeEtcFiles(containerDir: string, opts: EtcFilesOptions): EtcFiles;
  /** At boot: collect everything of containers not in the set; restart port proxies of live ones. */
  reconcile(liveContainerIds: Set<string>): Promise<void>;
  /** Stop proxies. removeBridge: also detach everything, delete bridges, iptables chains, and the netns dir mount. */
  shutdown(opts?: { removeBridge?: boolean }): Promise<void>;
}
