// The bridge driver's device and firewall setup (libnetwork's
// drivers/bridge/setup_*.go): the Linux bridge with its gateway address and
// fixed MAC, ip_forward, and the network's rule plan through the Firewaller.
import fs from 'node:fs';
import type { NetworkRecord } from '../store/index.js';
import type { NetCtx } from './context.js';
import { planBridgeRules, planPortChains, type RulePlan } from './iptables.js';
import { macFromIp, parseCidr } from './ipam.js';
import { planBridge } from './links.js';
import { v6Of } from './ipv6.js';

export const BRIDGE_NAME_OPT = 'com.docker.network.bridge.name';
export const MTU_OPT = 'com.docker.network.driver.mtu';
export const MASQ_OPT = 'com.docker.network.bridge.enable_ip_masquerade';

export const mtuOf = (n: NetworkRecord): number | undefined => (n.options[MTU_OPT] && n.options[MTU_OPT] !== '1500' ? Number(n.options[MTU_OPT]) : undefined);
export const masqueradeOf = (n: NetworkRecord): boolean => n.options[MASQ_OPT] !== 'false';

/** The bridge's own rules and its (empty) published-port chains: installed and removed together. */
const rulesOf = (n: NetworkRecord): RulePlan => {
  const a = planBridgeRules({ ...n, masquerade: masqueradeOf(n) });
  const b = planPortChains(n);
  return { chains: [...a.chains, ...b.chains], jumps: [...a.jumps, ...b.jumps] };
};

export function enableForwarding(ctx: NetCtx): void {
  if (ctx.enableForwarding) return ctx.enableForwarding();
  const f = '/proc/sys/net/ipv4/ip_forward';
  try {
    if (fs.readFileSync(f, 'utf8').trim() !== '1') fs.writeFileSync(f, '1');
  } catch (e) {
    ctx.log.warn({ err: e }, 'cannot enable ip_forward');
  }
}

/** The device (created if missing, else its address and state re-asserted) and the rules, flushed and re-filled. */
export async function setupBridge(ctx: NetCtx, n: NetworkRecord): Promise<void> {
  const prefixLen = parseCidr(n.subnet).prefix;
  const { subnet6, gateway6 } = v6Of(n);
  const lines = planBridge({ bridge: n.bridge, gateway: n.gateway, prefixLen, mac: macFromIp(n.gateway), mtu: mtuOf(n), ...(subnet6 ? { gateway6, prefixLen6: Number(subnet6.split('/')[1]) } : {}) });
  await ctx.ip.host(ctx.existsLink(n.bridge) ? lines.slice(1) : lines);
  await ctx.fw.setup(rulesOf(n));
}

export async function teardownBridge(ctx: NetCtx, n: NetworkRecord): Promise<void> {
  await ctx.fw.teardown(rulesOf(n));
  if (ctx.existsLink(n.bridge)) await ctx.ip.host([`link del ${n.bridge}`], true);
}

/** Re-creates a bridge that vanished; concurrent attaches share one attempt. */
export class BridgeHealer {
  private readonly healing = new Map<string, Promise<void>>();

  constructor(private readonly ctx: NetCtx) {}

  heal(n: NetworkRecord): Promise<void> {
    let p = this.healing.get(n.id);
    if (!p) {
      p = setupBridge(this.ctx, n).finally(() => this.healing.delete(n.id));
      this.healing.set(n.id, p);
    }
    return p;
  }
}
