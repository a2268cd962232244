// IPv6 for dual-stack bridge networks (pure): CIDR parsing as BigInt, the
// canonical text form (RFC 5952), and the addresses of a network: its
// gateway (first host) and an endpoint's address, which mirrors the IPv4 one
// (host offset n in the IPv4 subnet → offset n in the IPv6 one), so the pair
// is reserved by the one IPv4 reservation and needs no second table.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { invalidParameter } from '../errors/index.js';
import type { NetworkRecord } from '../store/index.js';

/** Where a dual-stack network keeps its IPv6 subnet and gateway: internal options of its record. */
export const SUBNET6_OPT = 'tsd.ipam.subnet6';
export const GATEWAY6_OPT = 'tsd.ipam.gateway6';

/** A dual-stack network's IPv6 subnet and gateway ('' for IPv4 only). */
export const v6Of = (r: Pick<NetworkRecord, 'options'>): { subnet6: string; gateway6: string } => ({ subnet6: r.options[SUBNET6_OPT] ?? '', gateway6: r.options[GATEWAY6_OPT] ?? '' });

export function v6ToBig(ip: string): bigint {
  if (!net.isIPv6(ip) || ip.includes('.')) throw invalidParameter(`invalid IPv6 address: ${ip}`);
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function bigToV6(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt((7 - i) * 16)) & 0xffffn));
  // the longest run of two or more zero groups becomes '::'
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export interface Cidr6 { network: bigint; prefix: number }

export function parseCidr6(s: string): Cidr6 {
  const [ip, p, extra] = s.split('/');
  const prefix = Number(p);
  if (extra !== undefined || !/^\d{1,3}$/.test(p ?? '') || prefix > 128) throw invalidParameter(`invalid CIDR address: ${s}`);
  const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
  return { network: v6ToBig(ip!) & mask, prefix };
}

export const cidr6String = (c: Cidr6): string => `${bigToV6(c.network)}/${c.prefix}`;

/** A ULA /64 (fd00::/8) for a network that asked for IPv6 without a subnet, derived from its id. */
export function ulaSubnetFor(networkId: string): string {
  const h = createHash('sha256').update(networkId).digest();
  const global = (0xfdn << 56n) | (BigInt(h.readUIntBE(0, 5)) << 16n) | BigInt(h.readUInt16BE(5));
  return `${bigToV6(global << 64n)}/64`;
}

export const firstHost6 = (subnet: string): string => bigToV6(parseCidr6(subnet).network + 1n);

/** The endpoint's IPv6 address: the same host offset as its IPv4 address in the IPv4 subnet. */
export function mirrorAddress(subnet6: string, offset: number): string {
  const c = parseCidr6(subnet6);
  return bigToV6(c.network + BigInt(offset));
}
