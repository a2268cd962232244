// Link/address/route work as plans (pure: lines in `ip -batch` syntax, so a
// plan reads as the commands it stands for), run by an executor. The default
// one speaks rtnetlink through sys/ (createNetlinkExecutor: no processes; a new
// netns is made by the daemon's main thread stepping into it for one synchronous
// call, see sys/netlink.ts); the `ip` one (createIpExecutor: `ip` on the host,
// `unshare --net=<file> ip` for a new netns, `nsenter --net=<file> ip` for an
// existing one) is kept for comparison in bench/.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { LinuxSyscalls, type NetlinkError, RtnlSocket, rtnl, type RtnlRequest as Request } from '../sys/index.js';

const libcForNetns = () => (sysCalls ??= new LinuxSyscalls());
let sysCalls: LinuxSyscalls | undefined;

const run = promisify(execFile);

/** Host end of a container's veth on a network: deterministic, so cleanup needs no state. */
export function hostVethName(containerId: string, networkId: string): string {
  return 'veth' + createHash('sha256').update(`${containerId}/${networkId}`).digest('hex').slice(0, 11);
}

/** Default device name of a user-defined network's bridge. */
export const userBridgeName = (networkId: string): string => `tsd-${networkId.slice(0, 11)}`;

/**
 * The bridge gets a fixed MAC (else it takes the lowest of its ports' and
 * changes as containers come and go, staling their ARP entries for the gateway).
 */
export function planBridge(n: { bridge: string; gateway: string; prefixLen: number; mac: string; mtu?: number; gateway6?: string; prefixLen6?: number }): string[] {
  return [
    `link add name ${n.bridge} address ${n.mac}${n.mtu ? ` mtu ${n.mtu}` : ''} type bridge`,
    `addr replace ${n.gateway}/${n.prefixLen} dev ${n.bridge}`,
    // dual stack: no duplicate address detection (the address is ours by construction; DAD would delay it ~1 s)
    ...(n.gateway6 ? [`addr replace ${n.gateway6}/${n.prefixLen6} dev ${n.bridge} nodad`] : []),
    `link set ${n.bridge} up`,
  ];
}

export interface VethPlan {
  /** inside the container's netns (run by `unshare` for a new netns, `nsenter` otherwise) */
  inside: string[];
  /** in the host netns, after `inside` */
  host: string[];
}

/**
 * Create the pair from inside the container's netns with the host end born
 * directly in the daemon's netns (`peer ... netns /proc/<pid>/ns/net`): one
 * process creates the netns and configures it. Measured here: 7 ms median for a
 * new netns (2 processes), against 10 ms creating the pair from the host
 * (3 processes) and 20-40 ms creating both ends inside and moving one out
 * (`link set ... netns` waits for an RCU grace period).
 */
export function planVeth(e: {
  newNetns: boolean;
  ifname: string;
  hostVeth: string;
  /** the daemon's netns, e.g. /proc/<pid>/ns/net */
  hostNetns: string;
  bridge: string;
  ip: string;
  prefixLen: number;
  mac: string;
  gateway: string;
  defaultRoute: boolean;
  mtu?: number;
  /** dual stack */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
}): VethPlan {
  const mtu = e.mtu ? ` mtu ${e.mtu}` : '';
  return {
    inside: [
      ...(e.newNetns ? ['link set lo up'] : []),
      `link add ${e.ifname} address ${e.mac}${mtu} type veth peer name ${e.hostVeth}${mtu} netns ${e.hostNetns}`,
      `addr add ${e.ip}/${e.prefixLen} dev ${e.ifname}`,
      ...(e.ip6 ? [`addr add ${e.ip6}/${e.prefixLen6} dev ${e.ifname} nodad`] : []),
      `link set ${e.ifname} up`,
      ...(e.defaultRoute ? [`route replace default via ${e.gateway} dev ${e.ifname}`] : []),
      ...(e.defaultRoute && e.ip6 && e.gateway6 ? [`route replace default via ${e.gateway6} dev ${e.ifname}`] : []),
    ],
    // hairpin: a container reaching its own published port has its packet DNATed back out of
    // the port it came in by (moby sets it too when the kernel, not docker-proxy, does hairpin NAT)
    host: [`link set ${e.hostVeth} master ${e.bridge}`, `link set ${e.hostVeth} type bridge_slave hairpin on`, `link set ${e.hostVeth} up`],
  };
}

export interface IpExecutor {
  /** Run a batch in the host netns. force: keep going after a failing line. */
  host(lines: string[], force?: boolean): Promise<void>;
  /** Run a batch inside an existing netns file. */
  inNetns(file: string, lines: string[]): Promise<void>;
  /** Create a netns bound at `file` (must exist as an empty file) and run a batch inside it. */
  createNetns(file: string, lines: string[]): Promise<void>;
}

/** One line of a plan, as the executor understands it (the subset of `ip` syntax the planners write). */
export type LinkOp =
  | { op: 'bridge'; name: string; mac: string; mtu?: number }
  | { op: 'veth'; name: string; mac: string; mtu?: number; peer: string; peerMtu?: number; peerNetns: string }
  | { op: 'addr'; ip: string; prefixLen: number; dev: string; replace: boolean; nodad?: boolean }
  | { op: 'up'; dev: string }
  | { op: 'master'; dev: string; master: string }
  | { op: 'hairpin'; dev: string }
  | { op: 'default-route'; gateway: string; dev: string }
  | { op: 'del'; dev: string };

/** Parses a plan line; anything else is a programming error (the planners are ours). */
export function parseLinkOp(line: string): LinkOp {
  const w = line.trim().split(/\s+/);
  const opt = (k: string, from = 0): string | undefined => {
    const i = w.indexOf(k, from);
    return i < 0 ? undefined : w[i + 1];
  };
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const bad = () => new Error(`not a link plan line: ${line}`);
  if (w[0] === 'link' && w[1] === 'add' && w.at(-1) === 'bridge' && w[2] === 'name') return { op: 'bridge', name: w[3]!, mac: opt('address')!, mtu: num(opt('mtu')) };
  if (w[0] === 'link' && w[1] === 'add' && w.includes('veth')) {
    const p = w.indexOf('peer');
    if (p < 0 || w[p + 1] !== 'name' || !opt('netns', p)) throw bad();
    const mtuAt = w.indexOf('mtu');
    return { op: 'veth', name: w[2]!, mac: opt('address')!, mtu: mtuAt >= 0 && mtuAt < p ? num(w[mtuAt + 1]) : undefined, peer: w[p + 2]!, peerMtu: num(opt('mtu', p)), peerNetns: opt('netns', p)! };
  }
  if (w[0] === 'addr' && (w[1] === 'add' || w[1] === 'replace') && w[3] === 'dev') {
    const [ip, len] = w[2]!.split('/');
    if (w.length > 6 || (w.length === 6 && w[5] !== 'nodad')) throw bad();
    return { op: 'addr', ip: ip!, prefixLen: Number(len), dev: w[4]!, replace: w[1] === 'replace', ...(w[5] === 'nodad' ? { nodad: true } : {}) };
  }
  if (w[0] === 'link' && w[1] === 'set' && w[3] === 'up' && w.length === 4) return { op: 'up', dev: w[2]! };
  if (w[0] === 'link' && w[1] === 'set' && w[3] === 'master' && w.length === 5) return { op: 'master', dev: w[2]!, master: w[4]! };
  if (w[0] === 'link' && w[1] === 'set' && w[3] === 'type' && w[4] === 'bridge_slave' && w[5] === 'hairpin' && w[6] === 'on') return { op: 'hairpin', dev: w[2]! };
  if (w[0] === 'route' && w[1] === 'replace' && w[2] === 'default' && w[3] === 'via' && w[5] === 'dev') return { op: 'default-route', gateway: w[4]!, dev: w[6]! };
  if (w[0] === 'link' && w[1] === 'del' && w.length === 3) return { op: 'del', dev: w[2]! };
  throw bad();
}

/**
 * Runs plan lines over an rtnetlink socket of the namespace they are for. Lines go to the kernel in
 * batches (one send for all of them up to the next one that needs a device's index first); the kernel
 * runs a batch's requests in order, the rest of a batch even after one fails. force: every line is
 * tried and the first error thrown at the end; else the first error is thrown once its batch is done.
 */
async function runOps(sock: RtnlSocket, lines: string[], force: boolean): Promise<void> {
  const sys = libcForNetns();
  let first: unknown;
  const index = new Map<string, number>();
  let batch: Array<{ req: Request; ignore?: string; done?: () => void }> = [];
  const failed = (e: unknown) => {
    if (!force) throw e;
    first ??= e;
  };
  const flush = async () => {
    if (!batch.length) return;
    const b = batch;
    batch = [];
    let results: Array<NetlinkError | null>;
    try {
      results = await sock.batch(b.map((x) => x.req));
    } finally {
      for (const x of b) x.done?.();
    }
    results.forEach((e, i) => {
      if (e && e.code !== b[i]!.ignore) failed(e);
    });
  };
  const idx = async (dev: string) => {
    let i = index.get(dev);
    if (i === undefined) {
      await flush(); // the device may be made by a line of this batch
      index.set(dev, (i = await sock.linkIndex(dev)));
    }
    return i;
  };
  for (const line of lines) {
    const o = parseLinkOp(line);
    try {
      switch (o.op) {
        case 'bridge':
          batch.push({ req: rtnl.addBridge(o) });
          break;
        case 'veth': {
          const nsFd = sys.open(o.peerNetns, 0o2000000, 0);
          batch.push({ req: rtnl.addVeth({ name: o.name, mac: o.mac, mtu: o.mtu, peer: o.peer, peerMtu: o.peerMtu, peerNetnsFd: nsFd }), done: () => sys.close(nsFd) });
          break;
        }
        case 'addr': {
          // the index first: idx() may flush, and `batch` is then a new array
          const index = await idx(o.dev);
          batch.push({ req: rtnl.addAddr({ index, ip: o.ip, prefixLen: o.prefixLen, replace: o.replace, nodad: o.nodad }) });
          break;
        }
        case 'up':
          batch.push({ req: rtnl.setUp(o.dev) });
          break;
        case 'master': {
          const master = await idx(o.master);
          batch.push({ req: rtnl.setMaster(o.dev, master) });
          break;
        }
        case 'hairpin':
          batch.push({ req: rtnl.setHairpin(o.dev) });
          break;
        case 'default-route': {
          const index = await idx(o.dev);
          batch.push({ req: rtnl.replaceDefaultRoute({ gateway: o.gateway, index }) });
          break;
        }
        case 'del':
          index.delete(o.dev);
          batch.push({ req: rtnl.delLink(o.dev), ignore: 'ENODEV' }); // already gone: done
          break;
      }
    } catch (e) {
      failed(e);
    }
  }
  await flush();
  if (first) throw first;
}

/** The rtnetlink executor: no processes; each batch gets its own socket (concurrent batches never queue behind each other). */
export function createNetlinkExecutor(): IpExecutor {
  const withSock = async (open: () => RtnlSocket, lines: string[], force = false) => {
    const sock = open();
    try {
      await runOps(sock, lines, force);
    } finally {
      sock.close();
    }
  };
  return {
    host: (lines, force = false) => withSock(() => RtnlSocket.host(), lines, force),
    inNetns: (file, lines) => withSock(() => RtnlSocket.inNetns(file), lines),
    createNetns: (file, lines) => withSock(() => RtnlSocket.createNetns(file), lines),
  };
}

function runWithInput(cmd: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000, killSignal: 'SIGKILL' });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${signal ? `killed (${signal}) after 10 s` : `exit ${code}`}: ${err.trim()}`))));
    p.stdin.on('error', () => undefined); // EPIPE when the child exits early: its exit code tells
    p.stdin.end(input);
  });
}

export function createIpExecutor(): IpExecutor {
  const script = (lines: string[]) => lines.join('\n') + '\n';
  return {
    host: (lines, force = false) => runWithInput('ip', [...(force ? ['-force'] : []), '-batch', '-'], script(lines)),
    inNetns: (file, lines) => runWithInput('nsenter', [`--net=${file}`, 'ip', '-batch', '-'], script(lines)),
    createNetns: (file, lines) => runWithInput('unshare', [`--net=${file}`, 'ip', '-batch', '-'], script(lines)),
  };
}

/** `ip` one-liners whose output we need. */
export async function ipOutput(args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}
