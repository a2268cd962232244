// Link/address/route work as `ip -batch` scripts (pure plans), run by a thin
// executor: `ip` on the host, `unshare --net=<file> ip` to create a container's
// netns (bound at <file>) and configure it in the same process, or
// `nsenter --net=<file> ip` to configure an existing one. The daemon's own
// netns never changes.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';

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
export function planBridge(n: { bridge: string; gateway: string; prefixLen: number; mac: string; mtu?: number }): string[] {
  return [
    `link add name ${n.bridge} address ${n.mac}${n.mtu ? ` mtu ${n.mtu}` : ''} type bridge`,
    `addr replace ${n.gateway}/${n.prefixLen} dev ${n.bridge}`,
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
}): VethPlan {
  const mtu = e.mtu ? ` mtu ${e.mtu}` : '';
  return {
    inside: [
      ...(e.newNetns ? ['link set lo up'] : []),
      `link add ${e.ifname} address ${e.mac}${mtu} type veth peer name ${e.hostVeth}${mtu} netns ${e.hostNetns}`,
      `addr add ${e.ip}/${e.prefixLen} dev ${e.ifname}`,
      `link set ${e.ifname} up`,
      ...(e.defaultRoute ? [`route replace default via ${e.gateway} dev ${e.ifname}`] : []),
    ],
    host: [`link set ${e.hostVeth} master ${e.bridge}`, `link set ${e.hostVeth} up`],
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
