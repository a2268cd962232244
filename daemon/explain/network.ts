// A container's network as the kernel has it: each veth pair (the host end's
// ifindex, its peer's, the bridge it is enslaved to), the container's
// interfaces with their addresses and MACs (`ip -j addr` inside its netns),
// its default route, and the NAT rules that mention its address.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { kernelServes, portRules, type PublishedPort } from '../../netctl/index.js';
import { join, type HostView } from './host.js';

const run = promisify(execFile);

export interface HostVeth { name: string; ifindex: number | null; peerIfindex: number | null; bridge: string | null; present: boolean }

export function readHostVeth(h: HostView, name: string): HostVeth {
  const dir = join(h.sys, 'class', 'net', name);
  const n = (f: string) => { const t = h.read(join(dir, f)); return t === null ? null : Number(t.trim()); };
  const master = h.readlink(join(dir, 'master'));
  const ifindex = n('ifindex');
  return { name, ifindex, peerIfindex: n('iflink'), bridge: master ? master.split('/').pop()! : null, present: ifindex !== null };
}

export interface NsInterface { ifname: string; ifindex: number; linkIndex: number | null; mac: string; mtu: number; state: string; addresses: string[] }

/** `ip -j addr` JSON → interfaces. */
export function parseIpAddr(json: string): NsInterface[] {
  const list = JSON.parse(json) as Array<Record<string, any>>;
  return list.map((l) => ({
    ifname: l.ifname, ifindex: l.ifindex, linkIndex: l.link_index ?? null, mac: l.address ?? '', mtu: l.mtu ?? 0, state: l.operstate ?? '',
    addresses: ((l.addr_info ?? []) as Array<Record<string, any>>).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
  }));
}

/** The interfaces of the netns of `pid` (nothing when it cannot be entered). */
export async function readNsInterfaces(pid: number, procRoot = '/proc'): Promise<NsInterface[]> {
  try {
    const { stdout } = await run('nsenter', [`--net=${procRoot}/${pid}/ns/net`, '--', 'ip', '-j', 'addr', 'show'], { timeout: 5000 });
    return parseIpAddr(stdout);
  } catch {
    return [];
  }
}

/** /proc/<pid>/net/route → the default gateway (dotted), if any. */
export function defaultGateway(routeTable: string | null): { gateway: string; ifname: string } | null {
  for (const line of (routeTable ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === '00000000' && f[2] && f[2] !== '00000000') {
      const hex = f[2];
      const ip = [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
      return { gateway: ip, ifname: f[0]! };
    }
  }
  return null;
}

/** Rules of `iptables-save` (nat and filter) that mention one of the addresses. */
export async function rulesMentioning(addresses: string[]): Promise<string[]> {
  if (!addresses.length) return [];
  const out: string[] = [];
  for (const table of ['nat', 'filter']) {
    let text = '';
    try { text = (await run('iptables-save', ['-t', table], { timeout: 5000 })).stdout; } catch { continue; }
    for (const line of text.split('\n')) {
      if (!line.startsWith('-A ')) continue;
      if (addresses.some((a) => new RegExp(`(^|[\\s:/])${a.replace(/\./g, '\\.')}([\\s:/]|$)`).test(line))) out.push(`-t ${table} ${line}`);
    }
  }
  return out;
}

export interface PublishedFact {
  container: string;
  hostIp: string;
  hostPort: string;
  /** the kernel's DNAT rules, or tsd's userland proxy (loopback addresses: the kernel does not route 127/8 to a bridge) */
  servedBy: 'kernel DNAT' | 'userland proxy';
  /** the rules netctl installs for it, each checked against `iptables-save -t nat` */
  rules: Array<{ rule: string; installed: boolean }>;
}

/** iptables-save's words of a rule, for comparing a planned rule with a saved one whatever the spacing. */
const norm = (s: string) => s.trim().split(/\s+/).join(' ');

/**
 * The published ports of one endpoint (on `bridge`, at `ip`), with the NAT rules
 * netctl installs for each (portRules) and whether `natSave` (iptables-save -t nat) holds them.
 */
export function publishedPorts(bridge: string, ip: string, ports: PublishedPort[], natSave: string): PublishedFact[] {
  const saved = new Set(natSave.split('\n').filter((l) => l.startsWith('-A ')).map(norm));
  return ports.map((p) => ({
    container: `${p.containerPort}/${p.protocol}`, hostIp: p.hostIp || '0.0.0.0', hostPort: String(p.hostPort),
    servedBy: kernelServes(p.hostIp) ? 'kernel DNAT' as const : 'userland proxy' as const,
    rules: bridge && ip ? portRules(bridge, ip, [p]).map((r) => {
      const line = norm(`-A ${r.chain} ${r.args.join(' ')}`);
      return { rule: `-t nat ${line}`, installed: saved.has(line) };
    }) : [],
  }));
}

export async function natRules(): Promise<string> {
  try { return (await run('iptables-save', ['-t', 'nat'], { timeout: 5000 })).stdout; } catch { return ''; }
}
