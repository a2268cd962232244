// The bridge network controller: policy over the store's rows, with the
// kernel work delegated to plans (links.ts, iptables.ts) and their executors.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DaemonError, conflict, forbidden, invalidParameter, notFound, systemError, unavailable } from '../errors/index.js';
import { createNetworkStore, type EndpointRecord, type NetworkRecord, type NetworkStore } from '../store/networks.js';
import { LinuxSyscalls, type Syscalls } from '../sys/index.js';
import { HOSTS_MARKER, ownHostNames, parseExtraHosts, renderHostsHead, renderHostsTail, renderResolvConf, replaceHostsTail, type HostsEntry } from './etc-files.js';
import { createIptablesExecutor, planBridgeRules, setupCalls, teardownCalls, type IptablesExecutor } from './iptables.js';
import { allocateIp, checkRequestedIp, cidrsOverlap, firstHost, intToIp, macFromIp, networkCidr, parseCidr, parseProcNetRoute, selectSubnet } from './ipam.js';
import { createIpExecutor, hostVethName, planBridge, planVeth, userBridgeName, type IpExecutor } from './links.js';
import { KeyedMutex, RwLock } from './locks.js';
import { ensureNetnsDir, isBoundNetns, removeNetnsDir, removeNetnsFile } from './netns.js';
import { startPortProxy, type PortProxy } from './ports.js';
import type {
  AttachRequest,
  Endpoint,
  EtcFiles,
  EtcFilesOptions,
  Logger,
  Network,
  NetworkController,
  NetworkControllerOptions,
  NetworkCreateRequest,
  NetworkDriver,
  NetworkFilters,
  PublishedPort,
} from './types.js';

export const DEFAULT_POOLS = [{ base: '10.199.0.0/16', size: 24 }];
const PREDEFINED = new Set(['bridge', 'host', 'none']);
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const BRIDGE_NAME_OPT = 'com.docker.network.bridge.name';

const nullLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const newId = () => randomBytes(32).toString('hex');
const nowRfc3339Nano = () => new Date().toISOString().replace(/Z$/, '000000Z');
const sysfsLinkExists = (name: string) => fs.existsSync(`/sys/class/net/${name}`);

export interface ControllerDeps {
  sys?: Syscalls;
  ip?: IpExecutor;
  iptables?: IptablesExecutor;
  /** Whether a host network device exists (default: /sys/class/net/<name>). */
  linkExists?: (name: string) => boolean;
  /** Turns on IPv4 forwarding (default: writes /proc/sys/net/ipv4/ip_forward). */
  enableForwarding?: () => void;
}

export class BridgeNetworkController implements NetworkController {
  private readonly store: NetworkStore;
  private readonly sys: Syscalls;
  private readonly ip: IpExecutor;
  private readonly ipt: IptablesExecutor;
  private readonly log: Logger;
  private readonly netnsDir: string;
  private readonly proxies = new Map<string, PortProxy[]>();
  private readonly lock = new RwLock();
  private readonly perContainer = new KeyedMutex();
  private readonly healing = new Map<string, Promise<void>>();
  private readonly forwarding?: () => void;
  private netnsDirReady = false;
  private readonly existsLink: (name: string) => boolean;

  constructor(private readonly opts: NetworkControllerOptions, deps: ControllerDeps = {}) {
    this.store = createNetworkStore(opts.db);
    this.sys = deps.sys ?? new LinuxSyscalls();
    this.ip = deps.ip ?? createIpExecutor();
    this.ipt = deps.iptables ?? createIptablesExecutor();
    this.log = opts.log ?? nullLog;
    this.forwarding = deps.enableForwarding;
    this.existsLink = deps.linkExists ?? sysfsLinkExists;
    this.netnsDir = path.join(opts.execRoot, 'netns');
    if (opts.bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(opts.bridge)) throw invalidParameter(`invalid bridge name: ${opts.bridge}`);
    parseCidr(opts.bip);
  }

  // ---- lifecycle -------------------------------------------------------

  init(): Promise<void> {
    return this.lock.write(async () => {
      ensureNetnsDir(this.sys, this.netnsDir);
      this.netnsDirReady = true;
      const stale = this.store.transaction((): NetworkRecord | undefined => {
        for (const [name, driver] of [
          ['none', 'null'],
          ['host', 'host'],
        ] as const) {
          if (!this.store.getNetworkByName(name)) {
            this.store.insertNetwork({ id: newId(), name, driver, subnet: '', gateway: '', bridge: '', internal: false, options: {}, labels: {}, createdAt: nowRfc3339Nano() });
          }
        }
        const bip = parseCidr(this.opts.bip);
        const want = {
          subnet: networkCidr(this.opts.bip),
          gateway: intToIp(bip.addr),
          bridge: this.opts.bridge,
          options: {
            'com.docker.network.bridge.default_bridge': 'true',
            'com.docker.network.bridge.enable_icc': 'true',
            'com.docker.network.bridge.enable_ip_masquerade': 'true',
            'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
            [BRIDGE_NAME_OPT]: this.opts.bridge,
            'com.docker.network.driver.mtu': '1500',
          },
        };
        const cur = this.store.getNetworkByName('bridge');
        if (!cur) {
          this.store.insertNetwork({ id: newId(), name: 'bridge', driver: 'bridge', internal: false, labels: {}, createdAt: nowRfc3339Nano(), ...want });
        } else if (cur.subnet !== want.subnet || cur.gateway !== want.gateway || cur.bridge !== want.bridge) {
          this.store.updateNetwork({ ...cur, ...want });
          return cur; // --bridge/--bip changed: the old device and rules go
        }
        return undefined;
      });
      if (stale) await this.teardownBridge(stale).catch((err) => this.log.warn({ err, bridge: stale.bridge }, 'cannot remove the previous default bridge'));
      this.enableForwarding();
      for (const n of this.store.listNetworks()) {
        if (n.driver === 'bridge') await this.setupBridge(n);
      }
    });
  }

  private enableForwarding(): void {
    if (this.forwarding) return this.forwarding();
    const f = '/proc/sys/net/ipv4/ip_forward';
    try {
      if (fs.readFileSync(f, 'utf8').trim() !== '1') fs.writeFileSync(f, '1');
    } catch (e) {
      this.log.warn({ err: e }, 'cannot enable ip_forward');
    }
  }

  private async setupBridge(n: NetworkRecord): Promise<void> {
    const prefixLen = parseCidr(n.subnet).prefix;
    const lines = planBridge({ bridge: n.bridge, gateway: n.gateway, prefixLen, mac: macFromIp(n.gateway), mtu: mtuOf(n) });
    await this.ip.host(this.existsLink(n.bridge) ? lines.slice(1) : lines);
    await this.ipt.apply(setupCalls(planBridgeRules({ ...n, masquerade: masqueradeOf(n) })));
  }

  /** Re-create a bridge that vanished; concurrent attaches share one attempt. */
  private healBridge(n: NetworkRecord): Promise<void> {
    let p = this.healing.get(n.id);
    if (!p) {
      p = this.setupBridge(n).finally(() => this.healing.delete(n.id));
      this.healing.set(n.id, p);
    }
    return p;
  }

  private async teardownBridge(n: NetworkRecord): Promise<void> {
    await this.ipt.apply(teardownCalls(planBridgeRules({ ...n, masquerade: masqueradeOf(n) })));
    if (this.existsLink(n.bridge)) await this.ip.host([`link del ${n.bridge}`], true);
  }

  // ---- networks --------------------------------------------------------

  private toNetwork(r: NetworkRecord, eps?: EndpointRecord[]): Network {
    const endpoints = (eps ?? this.store.listEndpoints({ networkId: r.id })).map((e) => this.toEndpoint(e, r));
    return {
      id: r.id,
      name: r.name,
      driver: r.driver as NetworkDriver,
      subnet: r.subnet,
      gateway: r.gateway,
      bridge: r.bridge,
      internal: r.internal,
      labels: r.labels,
      options: r.options,
      created: r.createdAt,
      predefined: PREDEFINED.has(r.name),
      endpoints,
    };
  }

  private toEndpoint(e: EndpointRecord, n: NetworkRecord): Endpoint {
    return {
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

  private find(ref: string): NetworkRecord {
    const r = this.store.getNetwork(ref) ?? this.store.getNetworkByName(ref);
    if (r) return r;
    if (/^[0-9a-f]+$/.test(ref)) {
      const m = this.store.findNetworksByIdPrefix(ref);
      if (m.length === 1) return m[0]!;
      if (m.length > 1) throw notFound(`network ${ref} is ambiguous (${m.length} matches found based on ID prefix)`, 'TSD_ERR_NO_SUCH_NETWORK');
    }
    throw notFound(`network ${ref} not found`, 'TSD_ERR_NO_SUCH_NETWORK');
  }

  inspect(idOrName: string): Network {
    return this.toNetwork(this.find(idOrName));
  }

  list(filters: NetworkFilters = {}): Network[] {
    const all = this.store.listEndpoints();
    return this.store
      .listNetworks()
      .map((r) => this.toNetwork(r, all.filter((e) => e.networkId === r.id)))
      .filter((n) => matchFilters(n, filters));
  }

  create(req: NetworkCreateRequest): Promise<Network> {
    return this.lock.write(async () => {
      const name = req.name ?? '';
      if (!name) throw invalidParameter('network name is required');
      if (!NAME_RE.test(name)) throw invalidParameter(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const driver = req.driver || 'bridge';
      if (driver === 'host' || driver === 'null') throw forbidden(`only one instance of "${driver}" network is allowed`);
      if (driver !== 'bridge') throw notFound(`could not find plugin ${driver} in v1 plugin registry: plugin not found`, 'TSD_ERR_NO_SUCH_DRIVER');
      if (this.store.getNetworkByName(name)) throw conflict(`network with name ${name} already exists`, 'TSD_ERR_NETWORK_EXISTS');
      const existing = this.store.listNetworks();
      const options = { ...(req.options ?? {}) };
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
        const s = selectSubnet(this.opts.pools ?? DEFAULT_POOLS, taken);
        if (!s) throw unavailable('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network', 'TSD_ERR_NO_POOL');
        subnet = s;
      }
      const gateway = req.gateway || firstHost(subnet);
      if (req.gateway) {
        const why = checkRequestedIp(subnet, req.gateway, []);
        if (why) throw invalidParameter(`invalid gateway ${req.gateway}: ${why}`);
      }
      if (options[MTU_OPT] !== undefined && !(/^\d+$/.test(options[MTU_OPT]) && Number(options[MTU_OPT]) >= 68 && Number(options[MTU_OPT]) <= 65535)) {
        throw invalidParameter(`invalid MTU value: ${options[MTU_OPT]}`);
      }
      if (options[MASQ_OPT] !== undefined && !['true', 'false'].includes(options[MASQ_OPT])) throw invalidParameter(`invalid value for ${MASQ_OPT}: ${options[MASQ_OPT]}`);
      const id = newId();
      const bridge = options[BRIDGE_NAME_OPT] || userBridgeName(id);
      if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw invalidParameter(`invalid bridge name: ${bridge}`);
      if (existing.some((n) => n.bridge === bridge)) throw conflict(`bridge name ${bridge} is already used by another network`, 'TSD_ERR_BRIDGE_IN_USE');
      const rec: NetworkRecord = { id, name, driver: 'bridge', subnet, gateway, bridge, internal: !!req.internal, options, labels: { ...(req.labels ?? {}) }, createdAt: nowRfc3339Nano() };
      this.store.insertNetwork(rec);
      try {
        await this.setupBridge(rec);
      } catch (e) {
        await this.teardownBridge(rec).catch(() => undefined);
        this.store.deleteNetwork(id);
        throw systemError(`failed to create network ${name}: ${(e as Error).message}`, e);
      }
      this.log.info({ network: name, id, subnet, bridge }, 'network created');
      return this.toNetwork(rec, []);
    });
  }

  remove(idOrName: string): Promise<void> {
    return this.lock.write(() => this.removeLocked(this.find(idOrName)));
  }

  private async removeLocked(n: NetworkRecord): Promise<void> {
    if (PREDEFINED.has(n.name)) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`, 'TSD_ERR_PREDEFINED_NETWORK');
    const eps = this.store.listEndpoints({ networkId: n.id });
    if (eps.length > 0) throw forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints`, 'TSD_ERR_NETWORK_IN_USE');
    await this.teardownBridge(n);
    this.store.deleteNetwork(n.id);
    this.log.info({ network: n.name, id: n.id }, 'network removed');
  }

  prune(filters: { label?: string[]; until?: number } = {}): Promise<string[]> {
    return this.lock.write(async () => {
      const removed: string[] = [];
      for (const n of this.list({ label: filters.label })) {
        if (n.predefined || n.endpoints.length > 0) continue;
        if (filters.until !== undefined && Date.parse(n.created) >= filters.until) continue;
        await this.removeLocked(this.find(n.id));
        removed.push(n.name);
      }
      return removed;
    });
  }

  // ---- endpoints -------------------------------------------------------

  netnsPath(containerId: string): string {
    return path.join(this.netnsDir, containerId);
  }

  endpoints(containerId: string): Endpoint[] {
    return this.store.listEndpoints({ containerId }).map((e) => this.toEndpoint(e, this.store.getNetwork(e.networkId)!));
  }

  attach(containerId: string, req: AttachRequest): Promise<Endpoint> {
    return this.lock.read(() => this.perContainer.run(containerId, () => this.attachLocked(containerId, req)));
  }

  private async attachLocked(containerId: string, req: AttachRequest): Promise<Endpoint> {
    const n = this.find(req.network);
    if (n.driver !== 'bridge') throw forbidden(`container cannot be disconnected from host network or connected to host network`, 'TSD_ERR_NOT_BRIDGE');
    if (!this.store.containerExists(containerId)) throw notFound(`No such container: ${containerId}`, 'TSD_ERR_NO_SUCH_CONTAINER');
    const prev = this.store.getEndpoint(containerId, n.id);
    if (prev) throw forbidden(`endpoint with name ${prev.containerName || containerId} already exists in network ${n.name}`, 'TSD_ERR_ENDPOINT_EXISTS');
    const hostname = req.domainname ? `${req.hostname}.${req.domainname}` : req.hostname;

    // Reserve the address and interface name synchronously (the row is the reservation).
    const rec = this.store.transaction(() => {
      const used = [n.gateway, ...this.store.listEndpoints({ networkId: n.id }).map((e) => e.ip)];
      let ip: string | null;
      if (req.ipv4) {
        const why = checkRequestedIp(n.subnet, req.ipv4, used);
        if (why) throw invalidParameter(why);
        ip = req.ipv4;
      } else {
        ip = allocateIp(n.subnet, used);
        if (!ip) throw unavailable(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`, 'TSD_ERR_IPAM_EXHAUSTED');
      }
      const mine = this.store.listEndpoints({ containerId });
      const ifs = new Set(mine.map((e) => e.ifname));
      let i = 0;
      while (ifs.has(`eth${i}`)) i++;
      const r: Omit<EndpointRecord, 'containerName'> = {
        containerId,
        networkId: n.id,
        endpointId: newId(),
        ip,
        mac: macFromIp(ip),
        aliases: [...new Set(req.aliases ?? [])],
        hostname,
        ifname: `eth${i}`,
        ports: [],
      };
      this.store.insertEndpoint(r);
      return { r, first: mine.length === 0 };
    });

    const { r, first } = rec;
    const file = this.netnsPath(containerId);
    const hostVeth = hostVethName(containerId, n.id);
    const prefixLen = parseCidr(n.subnet).prefix;
    const created = !isBoundNetns(file);
    const proxies: PortProxy[] = [];
    try {
      if (!this.existsLink(n.bridge)) await this.healBridge(n); // removed behind our back
      if (this.existsLink(hostVeth)) await this.ip.host([`link del ${hostVeth}`], true);
      const plan = planVeth({
        newNetns: created,
        ifname: r.ifname,
        hostVeth,
        hostNetns: `/proc/${process.pid}/ns/net`,
        bridge: n.bridge,
        ip: r.ip,
        prefixLen,
        mac: r.mac,
        gateway: n.gateway,
        defaultRoute: first && !n.internal,
        mtu: mtuOf(n),
      });
      if (created) {
        if (!this.netnsDirReady) ensureNetnsDir(this.sys, this.netnsDir);
        this.netnsDirReady = true;
        fs.writeFileSync(file, '');
        await this.ip.createNetns(file, plan.inside);
      } else {
        await this.ip.inNetns(file, plan.inside);
      }
      await this.ip.host(plan.host);
      for (const b of req.ports ?? []) proxies.push(await startPortProxy(b, r.ip));
    } catch (e) {
      await Promise.all(proxies.map((p) => p.close()));
      if (this.existsLink(hostVeth)) await this.ip.host([`link del ${hostVeth}`], true).catch(() => undefined);
      this.store.deleteEndpoint(containerId, n.id);
      if (created) removeNetnsFile(this.sys, file);
      if (e instanceof DaemonError) throw e;
      throw systemError(`failed to attach container ${containerId} to network ${n.name}: ${(e as Error).message}`, e);
    }
    const ports: PublishedPort[] = proxies.map((p) => p.published);
    if (ports.length) {
      this.proxies.set(`${containerId}/${n.id}`, proxies);
      this.store.setEndpointPorts(containerId, n.id, ports);
    }
    this.refreshHosts([n.id], [containerId]);
    this.log.debug({ container: containerId, network: n.name, ip: r.ip }, 'endpoint attached');
    return this.toEndpoint(this.store.getEndpoint(containerId, n.id)!, n);
  }

  detach(containerId: string, network?: string): Promise<void> {
    return this.lock.read(() => this.perContainer.run(containerId, () => this.detachLocked(containerId, network)));
  }

  private async detachLocked(containerId: string, network?: string): Promise<void> {
    let eps = this.store.listEndpoints({ containerId });
    if (network !== undefined) {
      let n: NetworkRecord;
      try {
        n = this.find(network);
      } catch {
        return;
      }
      eps = eps.filter((e) => e.networkId === n.id);
    }
    for (const e of eps) await this.closeProxies(`${containerId}/${e.networkId}`);
    const dels = eps.map((e) => hostVethName(containerId, e.networkId)).filter((v) => this.existsLink(v));
    if (dels.length) await this.ip.host(dels.map((v) => `link del ${v}`), true);
    this.store.transaction(() => {
      for (const e of eps) this.store.deleteEndpoint(containerId, e.networkId);
    });
    const remaining = this.store.listEndpoints({ containerId });
    if (network === undefined || remaining.length === 0) {
      removeNetnsFile(this.sys, this.netnsPath(containerId));
    }
    this.refreshHosts(
      eps.map((e) => e.networkId),
      network === undefined ? [] : [containerId],
    );
    if (network === undefined) this.store.deleteHostsFile(containerId);
  }

  private async closeProxies(key: string): Promise<void> {
    const ps = this.proxies.get(key);
    if (!ps) return;
    this.proxies.delete(key);
    await Promise.all(ps.map((p) => p.close()));
  }

  // ---- /etc files ------------------------------------------------------

  /** hosts entries after the marker for one container: its own addresses, then peers on its user-defined networks. */
  private hostsTail(containerId: string, own?: string[]): HostsEntry[] {
    const mine = this.store.listEndpoints({ containerId });
    const entries: HostsEntry[] = [];
    for (const e of mine) {
      const names = own ?? (e.hostname.includes('.') ? [e.hostname, e.hostname.split('.')[0]!] : [e.hostname]);
      entries.push({ ip: e.ip, names });
    }
    for (const e of mine) {
      const n = this.store.getNetwork(e.networkId);
      if (!n || n.name === 'bridge') continue; // the default bridge has no name resolution (Docker)
      for (const p of this.store.listEndpoints({ networkId: n.id })) {
        if (p.containerId === containerId) continue;
        entries.push({ ip: p.ip, names: [p.containerName, ...p.aliases, p.containerId.slice(0, 12)] });
      }
    }
    return entries;
  }

  private refreshHosts(networkIds: string[], extra: string[]): void {
    const cids = new Set(extra);
    for (const nid of new Set(networkIds)) {
      const n = this.store.getNetwork(nid);
      if (!n || n.name === 'bridge') continue; // no peer entries there: only the containers named in `extra` change
      for (const e of this.store.listEndpoints({ networkId: nid })) cids.add(e.containerId);
    }
    for (const cid of cids) {
      const file = this.store.getHostsFile(cid);
      if (!file) continue;
      try {
        const cur = fs.readFileSync(file, 'utf8');
        if (!cur.includes(HOSTS_MARKER)) continue; // not ours (user-provided)
        const next = replaceHostsTail(cur, renderHostsTail(this.hostsTail(cid)));
        // Write in place: the file is bind-mounted into the container, a rename would detach it.
        if (next !== cur) fs.writeFileSync(file, next);
      } catch (e) {
        this.log.warn({ err: e, container: cid, file }, 'cannot refresh hosts file');
      }
    }
  }

  writeEtcFiles(containerDir: string, o: EtcFilesOptions): EtcFiles {
    const cid = o.containerId ?? o.endpoints[0]?.containerId;
    const hosts = path.join(containerDir, 'hosts');
    const hostname = path.join(containerDir, 'hostname');
    const resolvConf = path.join(containerDir, 'resolv.conf');
    const own = ownHostNames(o.hostname, o.domainname);
    const head = renderHostsHead(parseExtraHosts(o.extraHosts ?? []));
    const tail = cid
      ? this.hostsTail(cid, own)
      : o.endpoints.map((e) => ({ ip: e.ip, names: own }));
    fs.mkdirSync(containerDir, { recursive: true });
    fs.writeFileSync(hosts, head + renderHostsTail(tail));
    fs.writeFileSync(hostname, o.hostname + '\n');
    fs.writeFileSync(resolvConf, renderResolvConf(readOr(this.opts.hostResolvConf ?? '/etc/resolv.conf', ''), o));
    if (cid) this.store.setHostsFile(cid, hosts);
    return { hosts, hostname, resolvConf };
  }

  // ---- boot and shutdown -----------------------------------------------

  reconcile(live: Set<string>): Promise<void> {
    return this.lock.write(async () => {
      for (const cid of this.store.containersWithEndpoints()) {
        if (!live.has(cid)) await this.detachLocked(cid);
      }
      for (const f of safeReaddir(this.netnsDir)) {
        if (!live.has(f)) removeNetnsFile(this.sys, path.join(this.netnsDir, f));
      }
      // veths on our bridges that no live endpoint owns
      const expected = new Set(this.store.listEndpoints().map((e) => hostVethName(e.containerId, e.networkId)));
      const stray: string[] = [];
      for (const n of this.store.listNetworks()) {
        if (n.driver !== 'bridge') continue;
        for (const v of safeReaddir(`/sys/class/net/${n.bridge}/brif`)) if (!expected.has(v)) stray.push(v);
      }
      if (stray.length) await this.ip.host(stray.map((v) => `link del ${v}`), true);
      // restart the port proxies of live containers on the ports they had
      for (const e of this.store.listEndpoints()) {
        const key = `${e.containerId}/${e.networkId}`;
        if (!e.ports.length || this.proxies.has(key)) continue;
        const ps: PortProxy[] = [];
        for (const p of e.ports) {
          try {
            ps.push(await startPortProxy({ containerPort: p.containerPort, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort }, e.ip));
          } catch (err) {
            this.log.warn({ err, container: e.containerId, port: p }, 'cannot re-publish port');
          }
        }
        this.proxies.set(key, ps);
      }
    });
  }

  shutdown(o: { removeBridge?: boolean } = {}): Promise<void> {
    return this.lock.write(async () => {
      for (const key of [...this.proxies.keys()]) await this.closeProxies(key);
      if (!o.removeBridge) return;
      for (const cid of this.store.containersWithEndpoints()) await this.detachLocked(cid);
      for (const f of safeReaddir(this.netnsDir)) removeNetnsFile(this.sys, path.join(this.netnsDir, f));
      for (const n of this.store.listNetworks()) if (n.driver === 'bridge') await this.teardownBridge(n);
      removeNetnsDir(this.sys, this.netnsDir);
      this.netnsDirReady = false;
    });
  }
}

const MTU_OPT = 'com.docker.network.driver.mtu';
const MASQ_OPT = 'com.docker.network.bridge.enable_ip_masquerade';
const mtuOf = (n: NetworkRecord): number | undefined => (n.options[MTU_OPT] && n.options[MTU_OPT] !== '1500' ? Number(n.options[MTU_OPT]) : undefined);
const masqueradeOf = (n: NetworkRecord): boolean => n.options[MASQ_OPT] !== 'false';

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
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

