// netctl: bridge networks, network namespaces, veth, IPAM, NAT, published
// ports, /etc/hosts and resolv.conf. See types.ts for the contracts.
import { BridgeNetworkController, type ControllerDeps } from './controller.js';
import type { NetworkController, NetworkControllerOptions } from './types.js';

export function createNetworkController(opts: NetworkControllerOptions, deps?: ControllerDeps): NetworkController {
  return new BridgeNetworkController(opts, deps);
}

export type * from './types.js';
export { DEFAULT_POOLS, matchFilters, type ControllerDeps } from './controller.js';
export { parsePortBinding, candidatePorts } from './ports.js';
export { macFromIp, allocateIp, selectSubnet, parseCidr, networkCidr, cidrsOverlap } from './ipam.js';
export { renderResolvConf, parseExtraHosts } from './etc-files.js';
export { writeEtcFilesTo } from './etc-hosts.js';
export type { Firewaller, Rule } from './firewall.js';
/** the kernel rules that publish an endpoint's ports (tsctl explain shows them and checks they are installed) */
export { portRules, kernelServes } from './iptables.js';
export { parseNetDev, interfaceStats, type InterfaceStats } from './stats.js';
