// Legacy links (HostConfig.Links, `docker run --link child:alias`), as moby's
// daemon/links: stored as `/child:/parent/alias`; at start the parent gets
// `<ALIAS>_NAME`, `<ALIAS>_PORT_<n>_<PROTO>*` and `<ALIAS>_ENV_*` variables
// and an /etc/hosts entry `ip alias child-hostname child-name` for each child
// running on the default bridge; `DELETE /containers/{parent}/{alias}?link=true`
// removes one.
import { conflict, invalidParameter, notFound } from '../../errors/index.js';
import type { Container } from './types.js';

export interface LinkRef {
  /** the child's name, without '/' */
  child: string;
  alias: string;
}

/** `child`, `child:alias` (what clients send) or `/child:/parent/alias` (what is stored). */
export function parseLink(s: string): LinkRef {
  const i = s.indexOf(':');
  const child = (i < 0 ? s : s.slice(0, i)).replace(/^\//, '');
  const rawAlias = i < 0 ? child : s.slice(i + 1);
  const alias = rawAlias.slice(rawAlias.lastIndexOf('/') + 1);
  if (!child || !alias) throw invalidParameter(`invalid link format: ${s}`);
  return { child, alias };
}

export const storedLink = (parent: string, l: LinkRef): string => `/${l.child}:/${parent}/${l.alias}`;

/**
 * At create: each link names an existing, running container (moby's registerLinks),
 * not with host networking; returns them in the stored form.
 */
export function resolveLinks(links: readonly string[], parentName: string, networkMode: string, get: (ref: string) => Container): string[] {
  if (!links.length) return [];
  if (networkMode === 'host') throw invalidParameter("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  return links.map((s) => {
    const l = parseLink(s);
    let child: Container;
    try {
      child = get(l.child);
    } catch {
      // moby: InvalidParameter (a 404 would make the CLI pull the image)
      throw invalidParameter(`could not get container for ${l.child}: No such container: ${l.child}`);
    }
    if (child.state !== 'running' && child.state !== 'paused') throw conflict(`Cannot link to a non running container: /${child.name} AS /${parentName}/${l.alias}`);
    return storedLink(parentName, { child: child.name, alias: l.alias });
  });
}

const envName = (alias: string): string => alias.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

/** A port key `80/tcp` → [80, 'tcp']. */
const portOf = (k: string): [number, string] => {
  const [p, proto = 'tcp'] = k.split('/');
  return [Number(p), proto.toLowerCase()];
};

/** moby's Link.ToEnv for one child. */
export function linkEnv(parentName: string, alias: string, child: { ip: string; exposedPorts: string[]; env: readonly string[] }): string[] {
  const a = envName(alias);
  // by number, TCP before other protocols (nat.Sort with TCP priority)
  const ports = child.exposedPorts.map(portOf).sort((x, y) => x[0] - y[0] || (x[1] === 'tcp' ? -1 : y[1] === 'tcp' ? 1 : x[1].localeCompare(y[1])));
  const env: string[] = [];
  const first = ports[0];
  if (first) env.push(`${a}_PORT=${first[1]}://${child.ip}:${first[0]}`);
  for (const [port, proto] of ports) {
    const p = `${a}_PORT_${port}_${proto.toUpperCase()}`;
    env.push(`${p}=${proto}://${child.ip}:${port}`, `${p}_ADDR=${child.ip}`, `${p}_PORT=${port}`, `${p}_PROTO=${proto}`);
  }
  env.push(`${a}_NAME=/${parentName}/${alias}`);
  for (const kv of child.env) {
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    const k = kv.slice(0, i);
    if (k === 'HOME' || k === 'PATH') continue; // as moby: set by builds, not the child's own
    env.push(`${a}_ENV_${k}=${kv.slice(i + 1)}`);
  }
  return env;
}

/** What a parent's start needs of its links: env and hosts entries, from children running on the default bridge. */
export function linkPlan(c: Container, get: (ref: string) => Container): { env: string[]; hosts: Array<{ ip: string; names: string[] }> } {
  const env: string[] = [];
  const hosts: Array<{ ip: string; names: string[] }> = [];
  for (const s of c.hostConfig.Links ?? []) {
    const l = parseLink(s);
    let child: Container;
    try {
      child = get(l.child);
    } catch {
      continue; // removed since: the link is dead, as in moby
    }
    if (child.state !== 'running' && child.state !== 'paused') throw conflict(`Cannot link to a non running container: /${child.name} AS /${c.name}/${l.alias}`);
    const ip = child.runtime.networks.bridge?.IPAddress;
    if (!ip) continue;
    env.push(...linkEnv(c.name, l.alias, { ip, exposedPorts: Object.keys(child.config.ExposedPorts ?? {}), env: child.config.Env ?? [] }));
    hosts.push({ ip, names: [...new Set([l.alias, child.config.Hostname, child.name].filter(Boolean))] });
  }
  return { env, hosts };
}

/** `DELETE /containers/{parent}/{alias}?link=true`: the parent's Links without that one. */
export function withoutLink(name: string, parent: Container): string[] | null {
  const [, alias] = /^\/?[^/]+\/(.+)$/.exec(name) ?? [];
  const links = parent.hostConfig.Links ?? [];
  const keep = links.filter((s) => parseLink(s).alias !== alias);
  if (!alias || keep.length === links.length) throw notFound(`No such container: ${name.replace(/^\//, '')}`, 'TSD_ERR_NO_SUCH_CONTAINER');
  return keep.length ? keep : null;
}
