// The bridge network controller (libnetwork's controller.go): the locks and
// the lifecycle (init, reconcile, shutdown) over its parts: bridge.ts (devices
// and firewall), networks.ts (records and Docker's rules for them),
// endpoints.ts (attach/detach) and etc-hosts.ts (the /etc files).
import fs from 'node:fs';
import path from 'node:path';
import { invalidParameter } from '../errors/index.js';
import { createNetworkStore } from '../store/index.js';
import { LinuxSyscalls, type Syscalls } from '../sys/index.js';
import { BridgeHealer, enableForwarding, setupBridge, teardownBridge } from './bridge.js';
import { safeReaddir, type NetCtx } from './context.js';
import { Endpoints } from './endpoints.js';
import { writeEtcFiles } from './etc-hosts.js';
import { createIptablesFirewaller, type Firewaller } from './firewall.js';
import { parseCidr } from './ipam.js';
import { createNetlinkExecutor, type IpExecutor } from './links.js';
import { KeyedLock } from '../lib/index.js';
import { RwLock } from './locks.js';
import { removeNetnsDir, removeNetnsFile } from './netns.js';
import { createNetwork, ensurePredefined, findNetwork, listNetworks, removeNetwork, toNetwork } from './networks.js';
import type { AttachRequest, Endpoint, EtcFiles, EtcFilesOptions, Logger, Network, NetworkController, NetworkControllerOptions, NetworkCreateRequest, NetworkFilters } from './types.js';

export { DEFAULT_POOLS, matchFilters } from './networks.js';

const nullLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const sysfsLinkExists = (name: string) => fs.existsSync(`/sys/class/net/${name}`);

export interface ControllerDeps {
  sys?: Syscalls;
  ip?: IpExecutor;
  firewall?: Firewaller;
  /** Whether a host network device exists (default: /sys/class/net/<name>). */
  linkExists?: (name: string) => boolean;
  /** Turns on IPv4 forwarding (default: writes /proc/sys/net/ipv4/ip_forward). */
  enableForwarding?: () => void;
}

export class BridgeNetworkController implements NetworkController {
  private readonly ctx: NetCtx;
  private readonly eps: Endpoints;
  /** Network-wide operations are exclusive; attach/detach of different containers run concurrently. */
  private readonly lock = new RwLock();
  private readonly perContainer = new KeyedLock();

  constructor(opts: NetworkControllerOptions, deps: ControllerDeps = {}) {
    if (opts.bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(opts.bridge)) throw invalidParameter(`invalid bridge name: ${opts.bridge}`);
    parseCidr(opts.bip);
    this.ctx = {
      opts,
      store: createNetworkStore(opts.db),
      sys: deps.sys ?? new LinuxSyscalls(),
      ip: deps.ip ?? createNetlinkExecutor(),
      fw: deps.firewall ?? createIptablesFirewaller(),
      log: opts.log ?? nullLog,
      netnsDir: path.join(opts.execRoot, 'netns'),
      existsLink: deps.linkExists ?? sysfsLinkExists,
      enableForwarding: deps.enableForwarding,
    };
    this.eps = new Endpoints(this.ctx, new BridgeHealer(this.ctx));
  }

  // ---- lifecycle -------------------------------------------------------

  init(): Promise<void> {
    return this.lock.write(async () => {
      const { ctx } = this;
      this.eps.ensureNetnsDir(true);
      const stale = ensurePredefined(ctx);
      if (stale) await teardownBridge(ctx, stale).catch((err) => ctx.log.warn({ err, bridge: stale.bridge }, 'cannot remove the previous default bridge'));
      enableForwarding(ctx);
      for (const n of ctx.store.listNetworks()) {
        if (n.driver === 'bridge') await setupBridge(ctx, n);
      }
    });
  }

  reconcile(live: Set<string>): Promise<void> {
    return this.lock.write(async () => {
      const { ctx } = this;
      await this.eps.settle();
      for (const cid of ctx.store.containersWithEndpoints()) {
        if (!live.has(cid)) await this.eps.detach(cid);
      }
      for (const f of safeReaddir(ctx.netnsDir)) {
        if (!live.has(f)) removeNetnsFile(ctx.sys, path.join(ctx.netnsDir, f));
      }
      await this.eps.removeStrayVeths();
      await this.eps.republish();
    });
  }

  shutdown(o: { removeBridge?: boolean } = {}): Promise<void> {
    return this.lock.write(async () => {
      const { ctx } = this;
      await this.eps.closeAllProxies();
      await this.eps.settle();
      if (!o.removeBridge) return;
      for (const cid of ctx.store.containersWithEndpoints()) await this.eps.detach(cid);
      for (const f of safeReaddir(ctx.netnsDir)) removeNetnsFile(ctx.sys, path.join(ctx.netnsDir, f));
      for (const n of ctx.store.listNetworks()) if (n.driver === 'bridge') await teardownBridge(ctx, n);
      removeNetnsDir(ctx.sys, ctx.netnsDir);
      this.eps.netnsDirGone();
    });
  }

  // ---- networks --------------------------------------------------------

  inspect(idOrName: string): Network {
    return toNetwork(this.ctx, findNetwork(this.ctx, idOrName));
  }

  list(filters: NetworkFilters = {}): Network[] {
    return listNetworks(this.ctx, filters);
  }

  create(req: NetworkCreateRequest): Promise<Network> {
    return this.lock.write(() => createNetwork(this.ctx, req));
  }

  remove(idOrName: string): Promise<void> {
    return this.lock.write(async () => {
      const n = findNetwork(this.ctx, idOrName);
      await this.eps.settle(); // no port of its bridge still being deleted
      await removeNetwork(this.ctx, n);
    });
  }

  prune(filters: { label?: string[]; until?: number } = {}): Promise<string[]> {
    return this.lock.write(async () => {
      await this.eps.settle();
      const removed: string[] = [];
      for (const n of this.list({ label: filters.label })) {
        if (n.predefined || n.endpoints.length > 0) continue;
        if (filters.until !== undefined && Date.parse(n.created) >= filters.until) continue;
        await removeNetwork(this.ctx, findNetwork(this.ctx, n.id));
        removed.push(n.name);
      }
      return removed;
    });
  }

  // ---- endpoints -------------------------------------------------------

  netnsPath(containerId: string): string {
    return this.eps.netnsPath(containerId);
  }

  endpoints(containerId: string): Endpoint[] {
    return this.eps.list(containerId);
  }

  attach(containerId: string, req: AttachRequest): Promise<Endpoint> {
    return this.lock.read(() => this.perContainer.run(containerId, () => this.eps.attach(containerId, req)));
  }

  detach(containerId: string, network?: string, opts?: { deferUnlink?: boolean }): Promise<void> {
    return this.lock.read(() => this.perContainer.run(containerId, () => this.eps.detach(containerId, network, opts)));
  }

  settle(): Promise<void> {
    return this.eps.settle();
  }

  // ---- /etc files ------------------------------------------------------

  writeEtcFiles(containerDir: string, o: EtcFilesOptions): EtcFiles {
    return writeEtcFiles(this.ctx, containerDir, o);
  }
}
