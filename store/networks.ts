// Data access for networks, endpoints and the hosts-file registry. No policy:
// netctl decides, this module reads and writes rows and returns plain records.
import type { DB } from './db.js';

export interface NetworkRecord {
  id: string;
  name: string;
  driver: string;
  subnet: string;
  gateway: string;
  bridge: string;
  internal: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  createdAt: string;
}

export interface PublishedPortRecord {
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIp: string;
  hostPort: number;
}

export interface EndpointRecord {
  containerId: string;
  /** from the containers table, without a leading '/' */
  containerName: string;
  networkId: string;
  endpointId: string;
  ip: string;
  mac: string;
  aliases: string[];
  hostname: string;
  ifname: string;
  ports: PublishedPortRecord[];
}

interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  subnet: string;
  gateway: string;
  bridge: string;
  internal: number;
  options: string;
  labels: string;
  created_at: string;
}

interface EndpointRow {
  container_id: string;
  container_name: string | null;
  network_id: string;
  endpoint_id: string;
  ip: string;
  mac: string;
  aliases: string;
  hostname: string;
  ifname: string;
  ports: string;
}

const toNetwork = (r: NetworkRow): NetworkRecord => ({
  id: r.id,
  name: r.name,
  driver: r.driver,
  subnet: r.subnet,
  gateway: r.gateway,
  bridge: r.bridge,
  internal: r.internal !== 0,
  options: JSON.parse(r.options) as Record<string, string>,
  labels: JSON.parse(r.labels) as Record<string, string>,
  createdAt: r.created_at,
});

const toEndpoint = (r: EndpointRow): EndpointRecord => ({
  containerId: r.container_id,
  containerName: (r.container_name ?? '').replace(/^\//, ''),
  networkId: r.network_id,
  endpointId: r.endpoint_id,
  ip: r.ip,
  mac: r.mac,
  aliases: JSON.parse(r.aliases) as string[],
  hostname: r.hostname,
  ifname: r.ifname,
  ports: JSON.parse(r.ports) as PublishedPortRecord[],
});

const EP_SELECT = `SELECT e.container_id, c.name AS container_name, e.network_id, e.endpoint_id, e.ip, e.mac,
  e.aliases, e.hostname, e.ifname, e.ports FROM endpoints e LEFT JOIN containers c ON c.id = e.container_id`;

export interface NetworkStore {
  listNetworks(): NetworkRecord[];
  getNetwork(id: string): NetworkRecord | undefined;
  getNetworkByName(name: string): NetworkRecord | undefined;
  findNetworksByIdPrefix(prefix: string): NetworkRecord[];
  insertNetwork(n: NetworkRecord): void;
  updateNetwork(n: NetworkRecord): void;
  deleteNetwork(id: string): void;
  listEndpoints(where?: { networkId?: string; containerId?: string }): EndpointRecord[];
  /** The addresses of a network's endpoints, reading nothing else of them (address allocation, at every attach). */
  endpointIps(networkId: string): string[];
  getEndpoint(containerId: string, networkId: string): EndpointRecord | undefined;
  insertEndpoint(e: Omit<EndpointRecord, 'containerName'>): void;
  setEndpointPorts(containerId: string, networkId: string, ports: PublishedPortRecord[]): void;
  deleteEndpoint(containerId: string, networkId: string): void;
  /** Containers with at least one endpoint. */
  containersWithEndpoints(): string[];
  containerExists(id: string): boolean;
  setHostsFile(containerId: string, path: string): void;
  getHostsFile(containerId: string): string | undefined;
  deleteHostsFile(containerId: string): void;
  transaction<T>(fn: () => T): T;
}

export function createNetworkStore(db: DB): NetworkStore {
  const q = {
    list: db.prepare<[], NetworkRow>('SELECT * FROM networks ORDER BY created_at, name'),
    get: db.prepare<[string], NetworkRow>('SELECT * FROM networks WHERE id = ?'),
    byName: db.prepare<[string], NetworkRow>('SELECT * FROM networks WHERE name = ?'),
    byPrefix: db.prepare<[string], NetworkRow>("SELECT * FROM networks WHERE id LIKE ? || '%'"),
    insert: db.prepare(
      'INSERT INTO networks (id, name, driver, subnet, gateway, bridge, internal, options, labels, created_at) VALUES (@id, @name, @driver, @subnet, @gateway, @bridge, @internal, @options, @labels, @created_at)',
    ),
    update: db.prepare(
      'UPDATE networks SET name=@name, driver=@driver, subnet=@subnet, gateway=@gateway, bridge=@bridge, internal=@internal, options=@options, labels=@labels WHERE id=@id',
    ),
    del: db.prepare<[string]>('DELETE FROM networks WHERE id = ?'),
    epAll: db.prepare<[], EndpointRow>(`${EP_SELECT} ORDER BY e.rowid`),
    epByNet: db.prepare<[string], EndpointRow>(`${EP_SELECT} WHERE e.network_id = ? ORDER BY e.rowid`),
    epByCtr: db.prepare<[string], EndpointRow>(`${EP_SELECT} WHERE e.container_id = ? ORDER BY e.rowid`),
    epOne: db.prepare<[string, string], EndpointRow>(`${EP_SELECT} WHERE e.container_id = ? AND e.network_id = ?`),
    epInsert: db.prepare(
      'INSERT INTO endpoints (container_id, network_id, endpoint_id, ip, mac, aliases, hostname, ifname, ports) VALUES (@container_id, @network_id, @endpoint_id, @ip, @mac, @aliases, @hostname, @ifname, @ports)',
    ),
    epPorts: db.prepare<[string, string, string]>('UPDATE endpoints SET ports = ? WHERE container_id = ? AND network_id = ?'),
    epDel: db.prepare<[string, string]>('DELETE FROM endpoints WHERE container_id = ? AND network_id = ?'),
    epIps: db.prepare<[string], { ip: string }>('SELECT ip FROM endpoints WHERE network_id = ? ORDER BY rowid'),
    epCtrs: db.prepare<[], { container_id: string }>('SELECT DISTINCT container_id FROM endpoints'),
    ctrExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM containers WHERE id = ?'),
    hostsSet: db.prepare<[string, string]>('INSERT INTO net_hosts_files (container_id, path) VALUES (?, ?) ON CONFLICT(container_id) DO UPDATE SET path = excluded.path'),
    hostsGet: db.prepare<[string], { path: string }>('SELECT path FROM net_hosts_files WHERE container_id = ?'),
    hostsDel: db.prepare<[string]>('DELETE FROM net_hosts_files WHERE container_id = ?'),
  };
  const row = (n: NetworkRecord) => ({
    id: n.id,
    name: n.name,
    driver: n.driver,
    subnet: n.subnet,
    gateway: n.gateway,
    bridge: n.bridge,
    internal: n.internal ? 1 : 0,
    options: JSON.stringify(n.options),
    labels: JSON.stringify(n.labels),
    created_at: n.createdAt,
  });
  return {
    listNetworks: () => q.list.all().map(toNetwork),
    getNetwork: (id) => {
      const r = q.get.get(id);
      return r && toNetwork(r);
    },
    getNetworkByName: (name) => {
      const r = q.byName.get(name);
      return r && toNetwork(r);
    },
    findNetworksByIdPrefix: (prefix) => q.byPrefix.all(prefix).map(toNetwork),
    insertNetwork: (n) => void q.insert.run(row(n)),
    updateNetwork: (n) => void q.update.run(row(n)),
    deleteNetwork: (id) => void q.del.run(id),
    listEndpoints: (where = {}) =>
      (where.containerId && where.networkId
        ? [q.epOne.get(where.containerId, where.networkId)].filter((r): r is EndpointRow => !!r)
        : where.containerId
          ? q.epByCtr.all(where.containerId)
          : where.networkId
            ? q.epByNet.all(where.networkId)
            : q.epAll.all()
      ).map(toEndpoint),
    endpointIps: (nid) => q.epIps.all(nid).map((r) => r.ip),
    getEndpoint: (cid, nid) => {
      const r = q.epOne.get(cid, nid);
      return r && toEndpoint(r);
    },
    insertEndpoint: (e) =>
      void q.epInsert.run({
        container_id: e.containerId,
        network_id: e.networkId,
        endpoint_id: e.endpointId,
        ip: e.ip,
        mac: e.mac,
        aliases: JSON.stringify(e.aliases),
        hostname: e.hostname,
        ifname: e.ifname,
        ports: JSON.stringify(e.ports),
      }),
    setEndpointPorts: (cid, nid, ports) => void q.epPorts.run(JSON.stringify(ports), cid, nid),
    deleteEndpoint: (cid, nid) => void q.epDel.run(cid, nid),
    containersWithEndpoints: () => q.epCtrs.all().map((r) => r.container_id),
    containerExists: (id) => !!q.ctrExists.get(id),
    setHostsFile: (cid, path) => void q.hostsSet.run(cid, path),
    getHostsFile: (cid) => q.hostsGet.get(cid)?.path,
    deleteHostsFile: (cid) => void q.hostsDel.run(cid),
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
  };
}
