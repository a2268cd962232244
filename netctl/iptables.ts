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
// Internal networks get no MASQUERADE and drop everything leaving the bridge.
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

export const chainNames = (bridge: string) => ({ accept: `TSD-${bridge}`, isolation: `TSD-ISO-${bridge}`, nat: `TSD-${bridge}` });

/** `masquerade: false` is Docker's com.docker.network.bridge.enable_ip_masquerade=false. */
export function planBridgeRules(n: { bridge: string; subnet: string; internal: boolean; masquerade?: boolean }): RulePlan {
  const { bridge: br, subnet } = n;
  const c = chainNames(br);
  const isolation: string[][] = n.internal
    ? [
        ['-i', br, '!', '-o', br, '-j', 'DROP'],
        ['-o', br, '!', '-i', br, '-j', 'DROP'],
      ]
    : [['-o', br, '!', '-i', br, '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'DROP']];
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
