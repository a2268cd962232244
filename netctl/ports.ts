// Published ports: parsing of port specs (pure) and the userland proxy that
// forwards host ports to a container address (docker-proxy's job): TCP through
// the tsd-portproxy helper where it is built (netctl/portproxy.ts), else in-process
// as UDP always is.
import dgram from 'node:dgram';
import net from 'node:net';
import { invalidParameter, conflict } from '../errors/index.js';
import { isIPv4 } from './ipam.js';
import { helperListen, portProxyAvailable } from './portproxy.js';
import type { PortBinding, Protocol, PublishedPort } from './types.js';

/**
 * Parse one binding: `port` is '80' or '80/tcp' (container side), hostPort
 * is '' / '0' (any), '8080', or a range '8000-8010'.
 */
export function parsePortBinding(port: string, hostIp = '', hostPort = ''): PortBinding {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(port.trim());
  if (!m) throw invalidParameter(`invalid port specification: "${port}"`);
  const containerPort = Number(m[1]);
  if (containerPort < 1 || containerPort > 65535) throw invalidParameter(`invalid port specification: "${port}"`);
  const protocol = (m[2]?.toLowerCase() ?? 'tcp') as Protocol;
  if (protocol === 'sctp') throw invalidParameter('sctp port publishing is not supported');
  const ip = hostIp.replace(/^\[(.*)\]$/, '$1');
  if (ip !== '' && !isIPv4(ip)) throw invalidParameter(`invalid host IP address: ${hostIp}`);
  const hp = hostPort.trim();
  if (hp === '' || hp === '0') return { containerPort, protocol, hostIp: ip, hostPort: 0 };
  const r = /^(\d+)(?:-(\d+))?$/.exec(hp);
  if (!r) throw invalidParameter(`invalid hostPort: ${hostPort}`);
  const lo = Number(r[1]);
  const hi = r[2] === undefined ? undefined : Number(r[2]);
  if (lo < 1 || lo > 65535 || (hi !== undefined && (hi < lo || hi > 65535))) throw invalidParameter(`invalid hostPort: ${hostPort}`);
  return hi === undefined || hi === lo ? { containerPort, protocol, hostIp: ip, hostPort: lo } : { containerPort, protocol, hostIp: ip, hostPort: lo, hostPortEnd: hi };
}

/** Host ports to try for a binding, in order ([0] = let the kernel choose). */
export function candidatePorts(b: PortBinding): number[] {
  if (b.hostPort === 0) return [0];
  const end = b.hostPortEnd ?? b.hostPort;
  const out: number[] = [];
  for (let p = b.hostPort; p <= end; p++) out.push(p);
  return out;
}

/** One listening proxy. close() stops listening and drops its connections. */
export interface PortProxy {
  published: PublishedPort;
  close(): Promise<void>;
}

const UDP_IDLE_MS = 90_000;

/**
 * One proxied TCP connection, as docker-proxy's: each direction is copied on
 * its own and its FIN is forwarded on its own (CloseWrite), so a peer that
 * half-closes still receives, and one that sent everything still gets its
 * reply. Both sockets allow half-open; the pair is destroyed when both
 * directions have finished, when either side fails or closes early, or by close().
 */
function splice(client: net.Socket, upstream: net.Socket, track: Set<net.Socket>): void {
  let finished = 0;
  const destroyBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  const sawFin = new Set<net.Socket>();
  const oneWay = (from: net.Socket, to: net.Socket) => {
    from.on('data', (d: Buffer) => {
      if (!to.write(d)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => {
      sawFin.add(from);
      // the FIN of this direction, after everything it carried: shutdown(SHUT_WR) on the other socket
      to.end(() => {
        if (++finished === 2) destroyBoth();
      });
    });
  };
  oneWay(client, upstream);
  oneWay(upstream, client);
  for (const s of [client, upstream]) {
    s.on('error', destroyBoth);
    s.on('close', (hadError: boolean) => {
      track.delete(s);
      // A reset, or a close before this side's FIN, ends the other side too; after a
      // clean FIN the other direction finishes on its own (the counter above).
      if (hadError || !sawFin.has(s)) destroyBoth();
    });
  }
}

async function listenTcp(hostIp: string, port: number, targetIp: string, targetPort: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: targetIp, port: targetPort, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    const early = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', early);
    upstream.once('error', early);
    client.once('close', () => sockets.delete(client));
    upstream.once('close', () => sockets.delete(upstream));
    upstream.once('connect', () => {
      client.off('error', early);
      upstream.off('error', early);
      splice(client, upstream, sockets);
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: hostIp || '0.0.0.0', port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    // Stops listening and destroys every connection at once: never waits on a peer.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        sockets.clear();
      }),
  };
}

async function listenUdp(hostIp: string, port: number, targetIp: string, targetPort: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  const flows = new Map<string, { up: dgram.Socket; timer: NodeJS.Timeout }>();
  const drop = (key: string) => {
    const f = flows.get(key);
    if (!f) return;
    clearTimeout(f.timer);
    f.up.close();
    flows.delete(key);
  };
  sock.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let f = flows.get(key);
    if (!f) {
      const up = dgram.createSocket('udp4');
      up.on('message', (reply) => sock.send(reply, rinfo.port, rinfo.address));
      up.on('error', () => drop(key));
      up.connect(targetPort, targetIp);
      f = { up, timer: setTimeout(() => drop(key), UDP_IDLE_MS) };
      flows.set(key, f);
      const flow = f;
      up.once('connect', () => flow.up.send(msg));
      return;
    }
    f.timer.refresh();
    try {
      f.up.send(msg);
    } catch {
      /* not connected yet: dropped like any lost datagram */
    }
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: hostIp || '0.0.0.0', port, exclusive: true }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return {
    port: sock.address().port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const k of [...flows.keys()]) drop(k);
        sock.close(() => resolve());
      }),
  };
}

/** Start a proxy for one binding to targetIp; tries each candidate host port. */
export async function startPortProxy(b: PortBinding, targetIp: string): Promise<PortProxy> {
  let lastErr: unknown;
  for (const port of candidatePorts(b)) {
    try {
      const l =
        b.protocol === 'udp'
          ? await listenUdp(b.hostIp, port, targetIp, b.containerPort)
          : portProxyAvailable()
            ? await helperListen(b.hostIp, port, targetIp, b.containerPort) // splice(2) in tsd-portproxy (netctl/portproxy.ts)
            : await listenTcp(b.hostIp, port, targetIp, b.containerPort);
      return { published: { containerPort: b.containerPort, protocol: b.protocol, hostIp: b.hostIp, hostPort: l.port }, close: l.close };
    } catch (e) {
      lastErr = e;
    }
  }
  const code = (lastErr as NodeJS.ErrnoException)?.code;
  const where = `${b.hostIp || '0.0.0.0'}:${b.hostPortEnd ? `${b.hostPort}-${b.hostPortEnd}` : b.hostPort}`;
  if (code === 'EADDRINUSE') throw conflict(`driver failed programming external connectivity: Bind for ${where} failed: port is already allocated`, 'TSD_ERR_PORT_ALLOCATED');
  throw invalidParameter(`driver failed programming external connectivity: listen ${b.protocol} ${where}: ${(lastErr as Error)?.message ?? lastErr}`);
}
