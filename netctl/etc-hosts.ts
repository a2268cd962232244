// A container's /etc/hosts, /etc/hostname and /etc/resolv.conf on disk
// (libnetwork's sandbox_dns_unix.go over etchosts/ and resolvconf/): the one
// writer, for bridge containers (with their peers, refreshed in place as
// endpoints come and go) and for containers without a network (none).
import fs from 'node:fs';
import path from 'node:path';
import { readOr, type NetCtx } from './context.js';
import { HOSTS_MARKER, ownHostNames, parseExtraHosts, renderHostsHead, renderHostsTail, renderResolvConf, replaceHostsTail, type HostsEntry } from './etc-files.js';
import type { EtcFiles, EtcFilesOptions } from './types.js';
import type { EndpointRecord } from '../store/index.js';
import { toEndpoint } from './networks.js';

/**
 * Writes the three files into `dir`. `tail` is the managed part of hosts
 * (default: the container's own names on each endpoint's address).
 */
export function writeEtcFilesTo(dir: string, o: EtcFilesOptions, tail?: HostsEntry[], hostResolvConf = '/etc/resolv.conf'): EtcFiles {
  const hosts = path.join(dir, 'hosts');
  const hostname = path.join(dir, 'hostname');
  const resolvConf = path.join(dir, 'resolv.conf');
  const own = ownHostNames(o.hostname, o.domainname);
  const head = renderHostsHead([...parseExtraHosts(o.extraHosts ?? []), ...(o.links ?? [])]);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(hosts, head + renderHostsTail(tail ?? o.endpoints.map((e) => ({ ip: e.ip, names: own }))));
  fs.writeFileSync(hostname, o.hostname + '\n');
  fs.writeFileSync(resolvConf, renderResolvConf(readOr(hostResolvConf, ''), o));
  return { hosts, hostname, resolvConf };
}

/** hosts entries after the marker for one container: its own addresses, then peers on its user-defined networks. */
export function hostsTail(ctx: NetCtx, containerId: string, own?: string[]): HostsEntry[] {
  const { store } = ctx;
  const mine = store.listEndpoints({ containerId });
  const entries: HostsEntry[] = [];
  const v6 = (e: EndpointRecord) => {
    const n = store.getNetwork(e.networkId);
    return n ? toEndpoint(e, n).ip6 : '';
  };
  for (const e of mine) {
    const names = own ?? (e.hostname.includes('.') ? [e.hostname, e.hostname.split('.')[0]!] : [e.hostname]);
    entries.push({ ip: e.ip, names });
    const ip6 = v6(e);
    if (ip6) entries.push({ ip: ip6, names });
  }
  for (const e of mine) {
    const n = store.getNetwork(e.networkId);
    if (!n || n.name === 'bridge') continue; // the default bridge has no name resolution (Docker)
    for (const p of store.listEndpoints({ networkId: n.id })) {
      if (p.containerId === containerId) continue;
      const names = [p.containerName, ...p.aliases, p.containerId.slice(0, 12)];
      entries.push({ ip: p.ip, names });
      const ip6 = v6(p);
      if (ip6) entries.push({ ip: ip6, names });
    }
  }
  return entries;
}

/** Rewrites the managed tail of the hosts files of every container on `networkIds` (and of `extra`). */
export function refreshHosts(ctx: NetCtx, networkIds: string[], extra: string[]): void {
  const { store } = ctx;
  const cids = new Set(extra);
  for (const nid of new Set(networkIds)) {
    const n = store.getNetwork(nid);
    if (!n || n.name === 'bridge') continue; // no peer entries there: only the containers named in `extra` change
    for (const e of store.listEndpoints({ networkId: nid })) cids.add(e.containerId);
  }
  for (const cid of cids) {
    const file = store.getHostsFile(cid);
    if (!file) continue;
    try {
      const cur = fs.readFileSync(file, 'utf8');
      if (!cur.includes(HOSTS_MARKER)) continue; // not ours (user-provided)
      const next = replaceHostsTail(cur, renderHostsTail(hostsTail(ctx, cid)));
      // Write in place: the file is bind-mounted into the container, a rename would detach it.
      if (next !== cur) fs.writeFileSync(file, next);
    } catch (e) {
      ctx.log.warn({ err: e, container: cid, file }, 'cannot refresh hosts file');
    }
  }
}

/** The controller's writer: peers from the store, and the hosts file remembered for later refreshes. */
export function writeEtcFiles(ctx: NetCtx, containerDir: string, o: EtcFilesOptions): EtcFiles {
  const cid = o.containerId ?? o.endpoints[0]?.containerId;
  const tail = cid ? hostsTail(ctx, cid, ownHostNames(o.hostname, o.domainname)) : undefined;
  const files = writeEtcFilesTo(containerDir, o, tail, ctx.opts.hostResolvConf);
  if (cid) ctx.store.setHostsFile(cid, files.hosts);
  return files;
}
