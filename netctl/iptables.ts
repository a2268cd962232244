// iptables rules of one bridge network, computed as data (pure), then applied
// as one batch per table by the Firewaller (firewall.ts). Every chain is named
// after the bridge, so two daemons with different bridges never touch each
// other's rules, and teardown removes exactly what setup added. Layout (after Docker's):
//   filter TSD-ISO-<br>  jumped to from the TOP of FORWARD: drops new
//                        connections into the bridge from any other interface
//                        (other networks, other daemons' bridges, outside).
//   filter TSD-<br>      jumped to from the END of FORWARD: accepts traffic
//                        from and (then) to the bridge, whatever FORWARD's policy.
//   nat    TSD-<br>      jumped to from POSTROUTING: MASQUERADE the subnet when
//                        it leaves through another interface.
//   nat    TSD-P-<br>    jumped to from PREROUTING and OUTPUT for local destinations
//                        (OUTPUT: not 127.0.0.0/8): one DNAT rule per published
//                        port, to the container's address (portRules).
//   nat    TSD-H-<br>    jumped to from POSTROUTING out of the bridge: MASQUERADE a
//                        container reaching its own published port (hairpin).
// The isolation chain lets DNATed connections in: those are published ports
// (the DNAT rules are the per-port policy, as moby's per-port ACCEPT).
// Internal networks get no MASQUERADE and no published-port rules, and drop
// everything leaving the bridge.
import type { Protocol } from './types.js';
export type Table = 'filter' | 'nat';

export interface ChainSpec {
  table: Table;
  chain: string;
  rules: string[][];
}

export interface JumpSpec {
  table: Table;
  /** built-in chain to hook into */
  from: string;
  /** 'insert' = at position 1, 'append' = at the end */
  where: 'insert' | 'append';
  args: string[];
}

export interface RulePlan {
  chains: ChainSpec[];
  jumps: JumpSpec[];
}

export const chainNames = (bridge: string) => ({ accept: `TSD-${bridge}`, isolation: `TSD-ISO-${bridge}`, nat: `TSD-${bridge}`, dnat: `TSD-P-${bridge}`, hairpin: `TSD-H-${bridge}` });

/** `masquerade: false` is Docker's com.docker.network.bridge.enable_ip_masquerade=false. */
export function planBridgeRules(n: { bridge: string; subnet: string; internal: boolean; masquerade?: boolean }): RulePlan {
  const { bridge: br, subnet } = n;
  const c = chainNames(br);
  const isolation: string[][] = n.internal
    ? [
        ['-i', br, '!', '-o', br, '-j', 'DROP'],
        ['-o', br, '!', '-i', br, '-j', 'DROP'],
      ]
    : [['-o', br, '!', '-i', br, '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP']];
  const accept: string[][] = n.internal
    ? [['-i', br, '-o', br, '-j', 'ACCEPT']]
    : [
        ['-i', br, '-j', 'ACCEPT'],
        ['-o', br, '-j', 'ACCEPT'],
      ];
  const chains: ChainSpec[] = [
    { table: 'filter', chain: c.isolation, rules: isolation },
    { table: 'filter', chain: c.accept, rules: accept },
  ];
  const jumps: JumpSpec[] = [
    { table: 'filter', from: 'FORWARD', where: 'insert', args: ['-j', c.isolation] },
    { table: 'filter', from: 'FORWARD', where: 'append', args: ['-i', br, '-j', c.accept] },
    { table: 'filter', from: 'FORWARD', where: 'append', args: ['-o', br, '-j', c.accept] },
  ];
  if (!n.internal && n.masquerade !== false) {
    chains.push({ table: 'nat', chain: c.nat, rules: [['-s', subnet, '!', '-o', br, '-j', 'MASQUERADE']] });
    jumps.push({ table: 'nat', from: 'POSTROUTING', where: 'append', args: ['-s', subnet, '-j', c.nat] });
  }
  return { chains, jumps };
}

/** The published-port chains of a (non-internal) bridge network: empty until ports are published. */
export function planPortChains(n: { bridge: string; internal: boolean }): RulePlan {
  if (n.internal) return { chains: [], jumps: [] };
  const c = chainNames(n.bridge);
  return {
    chains: [
      { table: 'nat', chain: c.dnat, rules: [] },
      { table: 'nat', chain: c.hairpin, rules: [] },
    ],
    jumps: [
      { table: 'nat', from: 'PREROUTING', where: 'append', args: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat] },
      { table: 'nat', from: 'OUTPUT', where: 'append', args: ['!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat] },
      { table: 'nat', from: 'POSTROUTING', where: 'append', args: ['-o', n.bridge, '-j', c.hairpin] },
    ],
  };
}

/** A port published by the kernel (DNAT), not only by the userland proxy. */
export const kernelServes = (hostIp: string): boolean => !/^127\./.test(hostIp) && hostIp !== 'localhost';

/**
 * The rules of one endpoint's published ports (into the chains of planPortChains).
 * Loopback host addresses get none: the kernel cannot route 127.0.0.0/8 to a
 * bridge without route_localnet, so the userland proxy serves them (docker-proxy's role).
 */
export function portRules(bridge: string, ip: string, ports: Array<{ protocol: Protocol; hostIp: string; hostPort: number; containerPort: number }>): Array<{ table: 'nat'; chain: string; args: string[] }> {
  const c = chainNames(bridge);
  const out: Array<{ table: 'nat'; chain: string; args: string[] }> = [];
  for (const p of ports) {
    if (!kernelServes(p.hostIp)) continue;
    const dst = p.hostIp && p.hostIp !== '0.0.0.0' ? ['-d', `${p.hostIp}/32`] : [];
    out.push({ table: 'nat', chain: c.dnat, args: [...dst, '-p', p.protocol, '-m', p.protocol, '--dport', String(p.hostPort), '-j', 'DNAT', '--to-destination', `${ip}:${p.containerPort}`] });
    out.push({ table: 'nat', chain: c.hairpin, args: ['-s', `${ip}/32`, '-d', `${ip}/32`, '-p', p.protocol, '-m', p.protocol, '--dport', String(p.containerPort), '-j', 'MASQUERADE'] });
  }
  return out;
}
