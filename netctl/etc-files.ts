// Rendering of a container's /etc/hosts, /etc/hostname and /etc/resolv.conf (pure).
// The hosts file has a fixed head (localhost, ExtraHosts) and a managed tail
// after HOSTS_MARKER (own addresses, peers on user-defined networks) that is
// rewritten in place when containers connect to or leave those networks.
import { invalidParameter } from '../errors/index.js';
import { isIPv4 } from './ipam.js';

export const HOSTS_MARKER = '# tsd: entries below are managed by tsd';

export interface HostsEntry {
  ip: string;
  names: string[];
}

/** Parse Docker's ExtraHosts entries ('name:ip', ip may be IPv6 with colons). */
export function parseExtraHosts(extra: string[]): HostsEntry[] {
  return extra.map((e) => {
    const i = e.indexOf(':');
    const name = e.slice(0, i);
    const ip = e.slice(i + 1).replace(/^\[(.*)\]$/, '$1');
    if (i <= 0 || !ip) throw invalidParameter(`invalid IP address in add-host: "${e.slice(i + 1)}"`);
    if (!isIPv4(ip) && !/^[0-9a-fA-F:.]+$/.test(ip) && ip !== 'host-gateway') throw invalidParameter(`invalid IP address in add-host: "${ip}"`);
    return { ip, names: [name] };
  });
}

export function renderHostsHead(extraHosts: HostsEntry[]): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    ...extraHosts.map((h) => `${h.ip}\t${h.names.join(' ')}`),
    HOSTS_MARKER,
  ];
  return lines.join('\n') + '\n';
}

export function renderHostsTail(entries: HostsEntry[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of entries) {
    const names = [...new Set(e.names.filter((n) => n))];
    if (!e.ip || names.length === 0) continue;
    const line = `${e.ip}\t${names.join(' ')}`;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(line);
  }
  return out.map((l) => l + '\n').join('');
}

/** Replace the managed tail of an existing hosts file (keeps the head as written). */
export function replaceHostsTail(current: string, tail: string): string {
  const i = current.indexOf(HOSTS_MARKER + '\n');
  const head = i < 0 ? current + (current.endsWith('\n') || current === '' ? '' : '\n') + HOSTS_MARKER + '\n' : current.slice(0, i + HOSTS_MARKER.length + 1);
  return head + tail;
}

/** The container's own names for an address: fqdn first, then the short hostname. */
export function ownHostNames(hostname: string, domainname?: string): string[] {
  return domainname ? [`${hostname}.${domainname}`, hostname] : [hostname];
}

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
  /** other lines (comments, sortlist...) kept as they are */
  other: string[];
}

export function parseResolvConf(content: string): ResolvConf {
  const r: ResolvConf = { nameservers: [], search: [], options: [], other: [] };
  for (const raw of content.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) r.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') r.search = rest;
    else if (key === 'options') r.options.push(...rest);
    else if (!line.startsWith('#') && !line.startsWith(';')) r.other.push(line);
  }
  return r;
}

const isLocalhostNs = (ns: string): boolean => /^127\./.test(ns) || ns === '::1' || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(ns);

export const DEFAULT_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

/**
 * Docker's rule: the host's resolv.conf without localhost nameservers (they
 * don't exist in the container's netns), falling back to Google's public DNS;
 * dns/dnsSearch/dnsOptions, when given, replace the respective parts.
 */
export function renderResolvConf(hostContent: string, o: { dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] }): string {
  const host = parseResolvConf(hostContent);
  let ns = o.dns && o.dns.length ? o.dns : host.nameservers.filter((n) => !isLocalhostNs(n));
  if (ns.length === 0) ns = DEFAULT_NAMESERVERS;
  const search = o.dnsSearch && o.dnsSearch.length ? o.dnsSearch.filter((s) => s !== '.') : host.search;
  const options = o.dnsOptions && o.dnsOptions.length ? o.dnsOptions : host.options;
  const lines = [
    ...host.other,
    ...ns.map((n) => `nameserver ${n}`),
    ...(search.length ? [`search ${search.join(' ')}`] : []),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
  ];
  return lines.join('\n') + '\n';
}
