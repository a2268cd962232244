// Endpoints (libnetwork's endpoint.go and sandbox.go): one container's
// attachment to one bridge network: the address reserved in the store, the
// netns file, the veth pair, published ports; and detach, its exact undo.
import fs from 'node:fs';
import path from 'node:path';
import { DaemonError, forbidden, invalidParameter, notFound, systemError, unavailable } from '../errors/index.js';
import type { EndpointRecord, NetworkRecord } from '../store/index.js';
import { mtuOf, type BridgeHealer } from './bridge.js';
import { newId, safeReaddir, type NetCtx } from './context.js';
import { refreshHosts } from './etc-hosts.js';
import { allocateIp, allocateIpIn, checkRequestedIp, isMac, macFromIp, parseCidr } from './ipam.js';
import { portRules } from './iptables.js';
import { hostVethName, planVeth } from './links.js';
import { ensureNetnsDir, isBoundNetns, removeNetnsFile } from './netns.js';
import { findNetwork, toEndpoint, toNetworkRange } from './networks.js';
import { startPortProxy, type PortProxy } from './ports.js';
import type { AttachRequest, Endpoint, PublishedPort } from './types.js';

export class Endpoints {
  /** Port proxies by `${containerId}/${networkId}`. */
  private readonly proxies = new Map<string, PortProxy[]>();
  /**
   * Host veths whose deletion runs in the background (a container's exit: the kernel takes ~20 ms, an
   * RCU grace period or two, to delete a link, and `docker run --rm` waited for it), with the network
   * and address they were for. An attach waits for the deletion of a veth of the same name, and never
   * takes an address still on its way out; rm, network rm and shutdown wait for them all (settle()).
   */
  private readonly unlinking = new Map<string, { done: Promise<void>; networkId: string; ip: string }>();
  private netnsDirReady = false;

  constructor(
    private readonly ctx: NetCtx,
    private readonly healer: BridgeHealer,
  ) {}

  netnsPath(containerId: string): string {
    return path.join(this.ctx.netnsDir, containerId);
  }

  /** The netns dir is a private bind mount of itself (init, or the first attach). */
  ensureNetnsDir(force = false): void {
    if (this.netnsDirReady && !force) return;
    ensureNetnsDir(this.ctx.sys, this.ctx.netnsDir);
    this.netnsDirReady = true;
  }

  netnsDirGone(): void {
    this.netnsDirReady = false;
  }

  list(containerId: string): Endpoint[] {
    const { store } = this.ctx;
    return store.listEndpoints({ containerId }).map((e) => toEndpoint(e, store.getNetwork(e.networkId)!));
  }

  /** Under the container's lock. */
  async attach(containerId: string, req: AttachRequest): Promise<Endpoint> {
    const { ctx } = this;
    const { store } = ctx;
    const n = findNetwork(ctx, req.network);
    if (n.driver !== 'bridge') throw forbidden(`container cannot be disconnected from host network or connected to host network`, 'TSD_ERR_NOT_BRIDGE');
    if (!store.containerExists(containerId)) throw notFound(`No such container: ${containerId}`, 'TSD_ERR_NO_SUCH_CONTAINER');
    const prev = store.getEndpoint(containerId, n.id);
    if (prev) throw forbidden(`endpoint with name ${prev.containerName || containerId} already exists in network ${n.name}`, 'TSD_ERR_ENDPOINT_EXISTS');
    const hostname = req.domainname ? `${req.hostname}.${req.domainname}` : req.hostname;
    if (req.mac && !isMac(req.mac)) throw invalidParameter(`invalid MAC address: ${req.mac}`);
    const ipRange = toNetworkRange(n);
    // a veth of this name, or the address asked for, still on its way out: wait for it
    const hostVeth = hostVethName(containerId, n.id);
    for (const [name, u] of this.unlinking) if (name === hostVeth || (u.networkId === n.id && u.ip === req.ipv4)) await u.done;

    // Reserve the address and interface name synchronously (the row is the reservation).
    const { r, first } = store.transaction(() => {
      const leaving = [...this.unlinking.values()].filter((u) => u.networkId === n.id).map((u) => u.ip);
      const used = [n.gateway, ...store.endpointIps(n.id), ...leaving];
      let ip: string | null;
      if (req.ipv4) {
        const why = checkRequestedIp(n.subnet, req.ipv4, used);
        if (why) throw invalidParameter(why);
        ip = req.ipv4;
      } else {
        ip = ipRange ? allocateIpIn(n.subnet, ipRange, used) : allocateIp(n.subnet, used);
        if (!ip) throw unavailable(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`, 'TSD_ERR_IPAM_EXHAUSTED');
      }
      const mine = store.listEndpoints({ containerId });
      const ifs = new Set(mine.map((e) => e.ifname));
      let i = 0;
      while (ifs.has(`eth${i}`)) i++;
      const rec: Omit<EndpointRecord, 'containerName'> = {
        containerId,
        networkId: n.id,
        endpointId: newId(),
        ip,
        mac: req.mac ? req.mac.toLowerCase().replace(/-/g, ':') : macFromIp(ip),
        aliases: [...new Set(req.aliases ?? [])],
        hostname,
        ifname: `eth${i}`,
        ports: [],
      };
      store.insertEndpoint(rec);
      return { r: rec, first: mine.length === 0 };
    });

    const file = this.netnsPath(containerId);
    const prefixLen = parseCidr(n.subnet).prefix;
    const created = !isBoundNetns(file);
    const proxies: PortProxy[] = [];
    try {
      if (!ctx.existsLink(n.bridge)) await this.healer.heal(n); // removed behind our back
      if (ctx.existsLink(hostVeth)) await ctx.ip.host([`link del ${hostVeth}`], true);
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
        ...(() => {
          const e6 = toEndpoint({ ...r, containerName: '' }, n);
          return e6.ip6 ? { ip6: e6.ip6, prefixLen6: e6.prefixLen6, gateway6: e6.gateway6 } : {};
        })(),
      });
      if (created) {
        this.ensureNetnsDir();
        fs.writeFileSync(file, '');
        await ctx.ip.createNetns(file, plan.inside);
      } else {
        await ctx.ip.inNetns(file, plan.inside);
      }
      await ctx.ip.host(plan.host);
      for (const b of req.ports ?? []) proxies.push(await startPortProxy(b, r.ip));
      // The kernel serves the published ports (DNAT, the client's address kept, hairpin);
      // the proxies hold the host ports and serve what the kernel cannot route (loopback).
      if (!n.internal) await ctx.fw.append(portRules(n.bridge, r.ip, proxies.map((p) => p.published)));
    } catch (e) {
      await Promise.all(proxies.map((p) => p.close()));
      if (ctx.existsLink(hostVeth)) await ctx.ip.host([`link del ${hostVeth}`], true).catch(() => undefined);
      store.deleteEndpoint(containerId, n.id);
      if (created) removeNetnsFile(ctx.sys, file);
      if (e instanceof DaemonError) throw e;
      throw systemError(`failed to attach container ${containerId} to network ${n.name}: ${(e as Error).message}`, e);
    }
    const ports: PublishedPort[] = proxies.map((p) => p.published);
    if (ports.length) {
      this.proxies.set(`${containerId}/${n.id}`, proxies);
      store.setEndpointPorts(containerId, n.id, ports);
    }
    refreshHosts(ctx, [n.id], [containerId]);
    ctx.log.debug({ container: containerId, network: n.name, ip: r.ip }, 'endpoint attached');
    return toEndpoint(store.getEndpoint(containerId, n.id)!, n);
  }

  /**
   * Under the container's lock. Undoes attach for one network, or for all (then the netns file goes too).
   * deferUnlink (a container that exited): the host veths are deleted in the background (see unlinking).
   */
  async detach(containerId: string, network?: string, opts: { deferUnlink?: boolean } = {}): Promise<void> {
    const { ctx } = this;
    const { store } = ctx;
    let eps = store.listEndpoints({ containerId });
    if (network !== undefined) {
      let n: NetworkRecord;
      try {
        n = findNetwork(ctx, network);
      } catch {
        return;
      }
      eps = eps.filter((e) => e.networkId === n.id);
    }
    for (const e of eps) await this.closeProxies(`${containerId}/${e.networkId}`);
    const rules = eps.flatMap((e) => {
      const n = store.getNetwork(e.networkId);
      return n && !n.internal ? portRules(n.bridge, e.ip, e.ports) : [];
    });
    if (rules.length) await ctx.fw.delete(rules).catch((err) => ctx.log.warn({ err, container: containerId }, 'cannot delete published-port rules'));
    const dels = eps.map((e) => ({ veth: hostVethName(containerId, e.networkId), e })).filter((d) => ctx.existsLink(d.veth));
    if (dels.length) {
      const deleting = ctx.ip.host(dels.map((d) => `link del ${d.veth}`), true);
      if (opts.deferUnlink) {
        const done: Promise<void> = deleting
          .catch((err) => ctx.log.warn({ err, container: containerId }, 'cannot delete the veth of an exited container'))
          .finally(() => { for (const d of dels) if (this.unlinking.get(d.veth)?.done === done) this.unlinking.delete(d.veth); });
        for (const d of dels) this.unlinking.set(d.veth, { done, networkId: d.e.networkId, ip: d.e.ip });
      } else {
        await deleting;
      }
    }
    store.transaction(() => {
      for (const e of eps) store.deleteEndpoint(containerId, e.networkId);
    });
    const remaining = store.listEndpoints({ containerId });
    if (network === undefined || remaining.length === 0) {
      removeNetnsFile(ctx.sys, this.netnsPath(containerId));
    }
    refreshHosts(
      ctx,
      eps.map((e) => e.networkId),
      network === undefined ? [] : [containerId],
    );
    if (network === undefined) store.deleteHostsFile(containerId);
  }

  /** Resolves once every background veth deletion has ended. */
  async settle(): Promise<void> {
    while (this.unlinking.size) await Promise.all([...this.unlinking.values()].map((u) => u.done));
  }

  async closeProxies(key: string): Promise<void> {
    const ps = this.proxies.get(key);
    if (!ps) return;
    this.proxies.delete(key);
    await Promise.all(ps.map((p) => p.close()));
  }

  async closeAllProxies(): Promise<void> {
    for (const key of [...this.proxies.keys()]) await this.closeProxies(key);
  }

  /** At boot: host veths on our bridges that no live endpoint owns. */
  async removeStrayVeths(): Promise<void> {
    const { ctx } = this;
    const expected = new Set(ctx.store.listEndpoints().map((e) => hostVethName(e.containerId, e.networkId)));
    const stray: string[] = [];
    for (const n of ctx.store.listNetworks()) {
      if (n.driver !== 'bridge') continue;
      for (const v of safeReaddir(`/sys/class/net/${n.bridge}/brif`)) if (!expected.has(v)) stray.push(v);
    }
    if (stray.length) await ctx.ip.host(stray.map((v) => `link del ${v}`), true);
  }

  /** At boot: the port proxies of live containers, on the ports they had. */
  async republish(): Promise<void> {
    const { ctx } = this;
    for (const e of ctx.store.listEndpoints()) {
      const key = `${e.containerId}/${e.networkId}`;
      if (!e.ports.length || this.proxies.has(key)) continue;
      const ps: PortProxy[] = [];
      for (const p of e.ports) {
        try {
          ps.push(await startPortProxy({ containerPort: p.containerPort, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort }, e.ip));
        } catch (err) {
          ctx.log.warn({ err, container: e.containerId, port: p }, 'cannot re-publish port');
        }
      }
      this.proxies.set(key, ps);
      const n = ctx.store.getNetwork(e.networkId);
      if (n && !n.internal) {
        await ctx.fw.append(portRules(n.bridge, e.ip, e.ports)).catch((err) => ctx.log.warn({ err, container: e.containerId }, 'cannot re-install published-port rules'));
      }
    }
  }
}
