// IPv4 address management: pure functions over CIDRs, no state of their own.
// The store's endpoint rows are the allocation table; callers pass what is in use.
import { invalidParameter } from '../errors/index.js';
import type { AddressPool } from './types.js';

export interface Cidr {
  /** the address as written (may have host bits, e.g. a --bip of 10.0.0.1/24) */
  addr: number;
  prefix: number;
  network: number;
  broadcast: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIPv4(s: string): boolean {
  const m = IPV4.exec(s);
  return !!m && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

export function ipToInt(s: string): number {
  if (!isIPv4(s)) throw invalidParameter(`invalid IPv4 address: ${s}`);
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

export function parseCidr(s: string): Cidr {
  const [ip, p, extra] = s.split('/');
  const prefix = Number(p);
  if (extra !== undefined || p === undefined || !/^\d{1,2}$/.test(p) || prefix > 32 || !isIPv4(ip ?? '')) {
    throw invalidParameter(`invalid CIDR address: ${s}`);
  }
  const addr = ipToInt(ip!);
  const mask = maskOf(prefix);
  const network = (addr & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  return { addr, prefix, network, broadcast };
}

/** Canonical network CIDR (host bits cleared): 10.0.0.1/24 → 10.0.0.0/24. */
export function networkCidr(s: string): string {
  const c = parseCidr(s);
  return `${intToIp(c.network)}/${c.prefix}`;
}

export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const n = ipToInt(ip);
  return n >= c.network && n <= c.broadcast;
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.network <= y.broadcast && y.network <= x.broadcast;
}

/** First usable host of a subnet (the conventional gateway). */
export function firstHost(cidr: string): string {
  const c = parseCidr(cidr);
  return intToIp(c.prefix >= 31 ? c.network : c.network + 1);
}

/**
 * Lowest free host address in `subnet`, skipping the network and broadcast
 * addresses (for prefixes up to /30) and everything in `inUse` (gateway included).
 * Returns null when the subnet is exhausted.
 */
export function allocateIp(subnet: string, inUse: Iterable<string>): string | null {
  const c = parseCidr(subnet);
  const used = new Set<number>();
  for (const ip of inUse) if (ip) used.add(ipToInt(ip));
  const lo = c.prefix >= 31 ? c.network : c.network + 1;
  const hi = c.prefix >= 31 ? c.broadcast : c.broadcast - 1;
  for (let n = lo; n <= hi; n++) if (!used.has(n)) return intToIp(n);
  return null;
}

/** allocateIp limited to `range` (Docker's IPAM IPRange), still never the subnet's network or broadcast address. */
export function allocateIpIn(subnet: string, range: string, inUse: Iterable<string>): string | null {
  const s = parseCidr(subnet);
  const r = parseCidr(range);
  const used = new Set<number>();
  for (const ip of inUse) if (ip) used.add(ipToInt(ip));
  // the range's own network address is skipped too (dockerd's first address in 10.0.0.128/25 is .129)
  const lo = Math.max(r.prefix >= 31 ? r.network : r.network + 1, s.prefix >= 31 ? s.network : s.network + 1);
  const hi = Math.min(r.broadcast, s.prefix >= 31 ? s.broadcast : s.broadcast - 1);
  for (let n = lo; n <= hi; n++) if (!used.has(n)) return intToIp(n);
  return null;
}

export const isMac = (m: string): boolean => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(m);

/** Why a requested address cannot be used, or null if it can. */
export function checkRequestedIp(subnet: string, ip: string, inUse: Iterable<string>): string | null {
  if (!isIPv4(ip)) return `invalid IPv4 address: ${ip}`;
  const c = parseCidr(subnet);
  const n = ipToInt(ip);
  if (n < c.network || n > c.broadcast) return `no configured subnet contains IP address ${ip}`;
  if (c.prefix < 31 && (n === c.network || n === c.broadcast)) return `Address ${ip} is not available: network or broadcast address`;
  for (const u of inUse) if (u === ip) return `Address already in use`;
  return null;
}

/** Docker's MAC for an IPv4 endpoint: 02:42 followed by the four address bytes. */
export function macFromIp(ip: string): string {
  const n = ipToInt(ip);
  const b = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * The first subnet of size `pool.size` carved from the pools, in order, that
 * overlaps none of `taken` (existing networks' subnets and host routes).
 */
export function selectSubnet(pools: AddressPool[], taken: string[]): string | null {
  const takenC = taken.map(parseCidr);
  for (const pool of pools) {
    const base = parseCidr(pool.base);
    if (pool.size < base.prefix || pool.size > 30) throw invalidParameter(`invalid address pool ${pool.base} size ${pool.size}`);
    const step = 2 ** (32 - pool.size);
    for (let n = base.network; n + step - 1 <= base.broadcast; n += step) {
      const lo = n;
      const hi = n + step - 1;
      if (!takenC.some((t) => t.network <= hi && lo <= t.broadcast)) return `${intToIp(n)}/${pool.size}`;
    }
  }
  return null;
}

/**
 * IPv4 routes of the host from /proc/net/route content, as CIDRs, excluding
 * the default route (0.0.0.0/0) and routes through `ignoreDevices`.
 */
export function parseProcNetRoute(content: string, ignoreDevices: string[] = []): string[] {
  const out: string[] = [];
  for (const line of content.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , , , , , mask] = f;
    if (ignoreDevices.includes(iface!)) continue;
    const le = (hex: string): number => {
      const v = parseInt(hex, 16);
      return (((v & 255) << 24) | (((v >>> 8) & 255) << 16) | (((v >>> 16) & 255) << 8) | ((v >>> 24) & 255)) >>> 0;
    };
    const m = le(mask!);
    if (m === 0) continue;
    const prefix = 32 - Math.log2((~m >>> 0) + 1);
    if (!Number.isInteger(prefix)) continue;
    out.push(`${intToIp(le(dest!))}/${prefix}`);
  }
  return out;
}
