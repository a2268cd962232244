// GET /containers/{id}/primitives: a container as what it is made of — a
// process, its namespaces, its cgroup, its veths and its mounts — read from
// the kernel (/proc, the cgroup files, sysfs, the netns, the kernel log) at the
// moment of the request, next to what the container record asked for.
// `verdicts` says in one line each what is wrong, if anything.
import type { Container } from '../containers/types.js';
import { readCgroup, throttleWindow, type CgroupView } from './cgroup.js';
import { hostView, type HostView } from './host.js';
import { bootTimeMs, parseKmsgOom, readKmsg, type OomRecord } from './kmsg.js';
import {
  defaultGateway, natRules, publishedPorts, readHostVeth, readNsInterfaces, rulesMentioning, type HostVeth, type NsInterface, type PublishedFact,
} from './network.js';
import {
  NAMESPACE_TYPES, parseOverlayOptions, parseProcCgroup, readMountinfo, readNamespaces, readProcessTree, readStatus,
  securityFromStatus, type MountEntry, type NamespaceType, type ProcessNode, type SecurityFacts,
} from './proc.js';
import { kernelServes } from '../../netctl/index.js';

/** What the reader needs from the rest of the daemon. */
export interface PrimitivesDeps {
  get(ref: string): Container;
  list(): Container[];
  cgroupVersion: 'v1' | 'v2';
  /** --exec-opt native.cgroupdriver (default cgroupfs) */
  cgroupDriver?: 'cgroupfs' | 'systemd';
  /** the cgroup path (relative to the hierarchy roots) a container has or had */
  cgroupPath(c: Container): string;
  /** the network attachments of a running container, with their host veth names */
  endpoints(id: string): Array<{
    networkName: string; ifname: string; hostVeth: string; ip: string; prefixLen: number; gateway: string; mac: string; bridge: string;
    ports: Array<{ containerPort: number; protocol: 'tcp' | 'udp' | 'sctp'; hostIp: string; hostPort: number }>;
  }>;
  /** the image's layer directories, bottom first (for a container whose overlay is not mounted) */
  layerDirs(imageId: string): string[];
  /** <data-root>/containers/<id> */
  containerDir(id: string): string;
  /** the masked and read-only paths the runtime applies by default */
  maskedPaths: string[];
  readonlyPaths: string[];
  host?: HostView;
  /** /dev/kmsg records; tests pass their own */
  kmsg?: () => string[];
}

export interface NamespaceFact {
  type: NamespaceType;
  inode: number | null;
  /** /proc/<pid>/ns/<type> */
  path: string;
  /** 'private' (its own), 'host' (the daemon's), or 'container' (another container's) */
  sharing: 'private' | 'host' | 'container' | 'unknown';
  /** the container it is shared with, by name */
  with: string | null;
  /** the docker run flag that made it so */
  flag: string | null;
  note?: string;
}

export interface Primitives {
  id: string;
  name: string;
  image: string;
  state: string;
  readAt: string;
  verdicts: string[];
  process: (ProcessNode & { hostPid: number; containerPid: number }) | null;
  namespaces: NamespaceFact[];
  cgroup: CgroupView & { throttling: ReturnType<typeof throttleWindow> | null; oomKillsLogged: OomRecord[] };
  network: {
    mode: string;
    interfaces: Array<{
      network: string; bridge: string | null; hostVeth: HostVeth; ifname: string; ifindex: number | null; peerIfindex: number | null;
      mac: string; address: string; gateway: string;
    }>;
    /** every interface in the netns, as `ip addr` shows it */
    seen: NsInterface[];
    defaultRoute: { gateway: string; ifname: string } | null;
    /** each published port, how it is served, and the NAT rules that publish it (checked against iptables-save) */
    ports: PublishedFact[];
    /** iptables rules that mention the container's addresses */
    rules: string[];
  };
  filesystem: {
    rootfs: string;
    mounted: boolean;
    lowerdirs: Array<{ chainId: string | null; path: string }>;
    upperdir: string;
    workdir: string;
    mounts: MountEntry[];
    /** applied: true (mounted over), false (not), 'absent' (no such path on this kernel), null (not running) */
    masked: Array<{ path: string; applied: boolean | 'absent' | null }>;
    readonly: Array<{ path: string; applied: boolean | 'absent' | null }>;
  };
  security: (SecurityFacts & { seccompProfile: string; privileged: boolean; readonlyRootfs: boolean; user: string }) | { seccompProfile: string; privileged: boolean; readonlyRootfs: boolean; user: string };
  access: { nsenter: string | null; files: Array<{ what: string; path: string }> };
  /** for a container that is not running: what it had that is gone now */
  gone: string[];
  /** for a container that is not running: its cgroup as the files read at its last exit (null: never ran, or exited before tsd kept them) */
  atExit: { exitedAt: string; pid: number; cgroup: CgroupView } | null;
  exit: { code: number; oomKilled: boolean; finishedAt: string; error: string } | null;
  /** what the container was asked to run: enough to build it again by hand (tsctl explain --script) */
  spec: {
    argv: string[]; env: string[]; cwd: string; user: string; hostname: string; readonlyRootfs: boolean; privileged: boolean;
    capAdd: string[]; capDrop: string[]; noNewPrivileges: boolean; seccomp: string;
    mounts: Array<{ type: string; source: string; destination: string; readonly: boolean }>;
    networkMode: string; pidMode: string; ipcMode: string; utsMode: string;
    memory: number; memorySwap: number; nanoCpus: number; cpuQuota: number; cpuPeriod: number; cpuShares: number; cpusetCpus: string; pidsLimit: number | null;
  };
}

const NS_FLAGS: Record<NamespaceType, string> = { pid: '--pid', mnt: '--mount', net: '--net', uts: '--uts', ipc: '--ipc', user: '--user', cgroup: '--cgroup', time: '--time' };

function modeFlag(type: NamespaceType, c: Container): string | null {
  const h = c.hostConfig;
  const m = (v: string | undefined, flag: string) => (v && v !== 'private' && v !== 'shareable' && v !== '' && v !== 'default' && v !== 'bridge' ? `${flag} ${v}` : null);
  switch (type) {
    case 'net': {
      const n = h.NetworkMode ?? '';
      return n === 'host' || n === 'none' || n.startsWith('container:') ? `--network ${n}` : null;
    }
    case 'pid': return m(h.PidMode, '--pid');
    case 'ipc': return m(h.IpcMode, '--ipc');
    case 'uts': return m(h.UTSMode, '--uts') ?? (h.NetworkMode === 'host' ? '--network host' : null);
    case 'cgroup': return m(h.CgroupnsMode, '--cgroupns');
    default: return null;
  }
}

/** Everything but the verdicts (explain/index.ts's readPrimitives adds them: verdict.ts reads this module's types). */
export async function readFacts(d: PrimitivesDeps, ref: string, opts: { windowSeconds?: number } = {}): Promise<Primitives> {
  const h = d.host ?? hostView();
  const c = d.get(ref);
  const running = (c.state === 'running' || c.state === 'paused') && c.pid > 0 && h.read(`${h.proc}/${c.pid}/status`) !== null;
  const pid = running ? c.pid : 0;
  const name = c.name.replace(/^\//, '');

  // process
  const tree = running ? readProcessTree(h, pid) : null;
  const process = tree ? { ...tree, hostPid: pid, containerPid: tree.nspid[tree.nspid.length - 1] ?? 1 } : null;

  // namespaces: compare with the daemon's own and with every other running container's
  const self = readNamespaces(h, 'self');
  const mine = running ? readNamespaces(h, pid) : null;
  const others: Array<{ name: string; ns: Record<NamespaceType, number | null> }> = [];
  if (mine) {
    for (const o of d.list()) {
      if (o.id === c.id || o.pid <= 0 || (o.state !== 'running' && o.state !== 'paused')) continue;
      others.push({ name: o.name.replace(/^\//, ''), ns: readNamespaces(h, o.pid) });
    }
  }
  const namespaces: NamespaceFact[] = NAMESPACE_TYPES.map((type) => {
    const inode = mine?.[type] ?? null;
    const flag = modeFlag(type, c);
    const fact: NamespaceFact = { type, inode, path: running ? `${h.proc}/${pid}/ns/${type}` : '', sharing: 'unknown', with: null, flag };
    if (inode === null) return fact;
    if (inode === self[type]) fact.sharing = 'host';
    else {
      const o = others.find((x) => x.ns[type] === inode);
      fact.sharing = o ? 'container' : 'private';
      fact.with = o?.name ?? null;
    }
    if (type === 'user' && fact.sharing === 'host') fact.note = 'tsd does not remap users: uid 0 inside is uid 0 outside (no --userns-remap)';
    if (type === 'time' && fact.sharing === 'host') fact.note = 'no engine gives containers their own clocks';
    if (type === 'cgroup' && fact.sharing === 'host' && !fact.flag) fact.note = 'cgroup namespace not unshared';
    if (fact.sharing === 'private') fact.flag = type === 'net' && c.hostConfig.NetworkMode === 'none' ? '--network none' : null;
    return fact;
  });

  // cgroup: the path the process is in (the kernel's word), else the one it had
  let cgPath = d.cgroupPath(c);
  if (running) {
    const pc = parseProcCgroup(h.read(`${h.proc}/${pid}/cgroup`) ?? '');
    const p = d.cgroupVersion === 'v2' ? pc[''] : pc.memory ?? pc.pids;
    if (p) cgPath = p.replace(/^\//, '');
  }
  const driver = d.cgroupDriver ?? 'cgroupfs';
  const cg0 = { ...readCgroup(h, d.cgroupVersion, cgPath), driver };
  let throttling: ReturnType<typeof throttleWindow> | null = null;
  let cg = cg0;
  const win = Math.max(0, Math.min(10, opts.windowSeconds ?? 1));
  if (running && cg0.present && win > 0) {
    await new Promise((r) => setTimeout(r, win * 1000));
    cg = { ...readCgroup(h, d.cgroupVersion, cgPath), driver };
    throttling = throttleWindow(cg0.cpu.stat, cg.cpu.stat, win);
  }
  const oomKillsLogged = (cg.memory.oomKills > 0 || c.oomKilled || (c.runtime.lastRun?.cgroup.memory.oomKills ?? 0) > 0)
    ? parseKmsgOom((d.kmsg ?? readKmsg)(), bootTimeMs(h.proc), `/${cgPath}`)
    : [];

  // network
  // --network container:<x> shares x's netns: its veths are x's
  const netOwner = c.hostConfig.NetworkMode?.startsWith('container:') ? (() => { try { return d.get(c.hostConfig.NetworkMode.slice('container:'.length)).id; } catch { return c.id; } })() : c.id;
  const eps = running ? d.endpoints(netOwner) : [];
  const seen = running && !['host'].includes(c.hostConfig.NetworkMode) ? await readNsInterfaces(pid, h.proc) : [];
  const interfaces = eps.map((e) => {
    const veth = readHostVeth(h, e.hostVeth);
    const inner = seen.find((s) => s.ifname === e.ifname);
    return {
      network: e.networkName, bridge: veth.bridge ?? e.bridge, hostVeth: veth, ifname: e.ifname, ifindex: inner?.ifindex ?? veth.peerIfindex,
      peerIfindex: inner?.linkIndex ?? veth.ifindex, mac: inner?.mac ?? e.mac, address: inner?.addresses[0] ?? `${e.ip}/${e.prefixLen}`, gateway: e.gateway,
    };
  });
  const addresses = interfaces.map((i) => i.address.split('/')[0]!).filter(Boolean);
  // running: the endpoints' own published ports and their rules; stopped: what the record says it had
  const nat = eps.some((e) => e.ports?.length) ? await natRules() : '';
  const ports: PublishedFact[] = running
    ? eps.flatMap((e) => publishedPorts(e.bridge, e.ip, e.ports ?? [], nat))
    : Object.entries(c.runtime.ports ?? {}).flatMap(([k, v]) => (v ?? []).map((b) => ({
      container: k, hostIp: b.HostIp || '0.0.0.0', hostPort: b.HostPort, servedBy: kernelServes(b.HostIp) ? 'kernel DNAT' as const : 'userland proxy' as const, rules: [],
    })));
  const network = {
    mode: c.hostConfig.NetworkMode, interfaces, seen,
    defaultRoute: running ? defaultGateway(h.read(`${h.proc}/${pid}/net/route`)) : null,
    ports, rules: running ? await rulesMentioning(addresses) : [],
  };

  // filesystem
  const mounts = running ? readMountinfo(h, pid) : [];
  const rootMount = mounts.find((m) => m.target === '/');
  const dir = d.containerDir(c.id);
  const ov = rootMount?.fstype === 'overlay' ? parseOverlayOptions(rootMount.superOptions) : null;
  const lower = ov ? ov.lowerdirs : [...d.layerDirs(c.imageId)].reverse();
  const chainRe = /([0-9a-f]{64})(?:\/diff)?\/?$/;
  // short links (<data-root>/l/<short> → ../layers/<chain-id>/diff) keep the overlay options under a page
  const chainOf = (p: string) => chainRe.exec(p)?.[1] ?? chainRe.exec(h.readlink(p.startsWith('/') ? p : `${dir}/../../${p}`) ?? '')?.[1] ?? null;
  // whether a masked path exists at all in the container: /proc and /sys are the kernel's own mounts there
  // (never the image's files), so listing their directories through /proc/<pid>/root reads only kernel trees
  const existsInside = (p: string): boolean | null => {
    if (!/^\/(proc|sys)\//.test(p)) return null;
    const slash = p.lastIndexOf('/');
    const names = h.list(`${h.proc}/${pid}/root${p.slice(0, slash)}`);
    return names.length ? names.includes(p.slice(slash + 1)) : null;
  };
  const has = (p: string, pred: (m: MountEntry) => boolean): boolean | 'absent' | null => {
    if (!running) return null;
    if (mounts.some((m) => m.target === p && pred(m))) return true;
    return existsInside(p) === false ? 'absent' : false;
  };
  const masked = (c.hostConfig.Privileged ? [] : c.hostConfig.MaskedPaths ?? d.maskedPaths).map((p) => ({ path: p, applied: has(p, () => true) }));
  const ro = (c.hostConfig.Privileged ? [] : c.hostConfig.ReadonlyPaths ?? d.readonlyPaths).map((p) => ({ path: p, applied: has(p, (m) => /(^|,)ro(,|$)/.test(m.options)) }));
  const filesystem = {
    rootfs: `${dir}/rootfs`, mounted: !!rootMount, lowerdirs: lower.map((p) => ({ chainId: chainOf(p) ? `sha256:${chainOf(p)}` : null, path: p })),
    upperdir: ov?.upperdir || `${dir}/upper`, workdir: ov?.workdir || `${dir}/work`, mounts, masked, readonly: ro,
  };

  // security
  const so = c.hostConfig.SecurityOpt ?? [];
  const seccompOpt = so.find((s) => /^seccomp[=:]/.test(s))?.slice(8);
  const seccompProfile = c.hostConfig.Privileged ? 'unconfined (--privileged)' : !seccompOpt ? 'builtin (Docker\'s default profile)' : seccompOpt === 'unconfined' ? 'unconfined' : 'custom (--security-opt seccomp=<file>)';
  const status = running ? readStatus(h, pid) : null;
  const base = { seccompProfile, privileged: !!c.hostConfig.Privileged, readonlyRootfs: !!c.hostConfig.ReadonlyRootfs, user: c.config.User || 'root (0:0)' };
  const security = status ? { ...securityFromStatus(status), ...base } : base;

  // how to get in
  const enter = namespaces.filter((n) => n.sharing !== 'host' && n.inode !== null && n.type !== 'user' && n.type !== 'time').map((n) => NS_FLAGS[n.type]);
  const files: Array<{ what: string; path: string }> = [];
  for (const x of cg.controllers) {
    if (!x.present) continue;
    for (const f of x.figures) {
      const file = f.file.split(' ')[0]!;
      if (!files.some((y) => y.path === `${x.dir}/${file}`)) files.push({ what: `${x.name}: ${f.what}`, path: `${x.dir}/${file}` });
    }
  }
  if (running) {
    for (const [what, f] of [['credentials, capabilities, seccomp', 'status'], ['mounts', 'mountinfo'], ['cgroups', 'cgroup'], ['environment', 'environ']]) files.push({ what: what!, path: `${h.proc}/${pid}/${f}` });
  }
  const access = {
    nsenter: running ? `nsenter --target ${pid} ${enter.join(' ')} -- /bin/sh` : null,
    files,
  };

  const gone: string[] = [];
  const atExit = !running && !cg.present ? c.runtime.lastRun ?? null : null;
  if (!running) {
    const oncePid = c.pid > 0 ? c.pid : atExit?.pid ?? 0;
    const ran = !!c.startedAt && !c.startedAt.startsWith('0001');
    gone.push(oncePid > 0 ? `the process (host pid ${oncePid} once)` : ran ? 'the process' : 'the process (it never ran)');
    if (ran) gone.push('its namespaces (they lived as long as its processes)');
    if (atExit) gone.push(`the cgroup ${atExit.cgroup.path} (removed at exit; its files as read at ${atExit.exitedAt} are shown)`);
    else gone.push(`the cgroup ${cgPath} (removed at exit${ran ? '; its counters were not kept' : ''})`);
    for (const [n, ep] of Object.entries(c.runtime.networks ?? {})) if (n !== 'none' && n !== 'host') gone.push(`the veth pair and address ${ep.IPAddress || '?'} on ${n}`);
    gone.push(`the overlay mount at ${dir}/rootfs (the upper dir ${dir}/upper is kept)`);
  }
  const exit = !running && c.finishedAt && !c.finishedAt.startsWith('0001') ? { code: c.exitCode, oomKilled: c.oomKilled, finishedAt: c.finishedAt, error: c.error } : null;

  const h0 = c.hostConfig;
  const spec = {
    argv: [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])], env: c.config.Env ?? [], cwd: c.config.WorkingDir || '/', user: c.config.User || '',
    hostname: c.config.Hostname, readonlyRootfs: !!h0.ReadonlyRootfs, privileged: !!h0.Privileged, capAdd: h0.CapAdd ?? [], capDrop: h0.CapDrop ?? [],
    noNewPrivileges: so.some((s) => /^no-new-privileges(:true|=true)?$/.test(s)), seccomp: seccompProfile,
    mounts: (c.runtime.mounts ?? []).map((m) => ({ type: m.Type, source: m.Source, destination: m.Destination, readonly: !m.RW })),
    networkMode: h0.NetworkMode, pidMode: h0.PidMode, ipcMode: h0.IpcMode, utsMode: h0.UTSMode,
    memory: h0.Memory, memorySwap: h0.MemorySwap, nanoCpus: h0.NanoCpus, cpuQuota: h0.CpuQuota, cpuPeriod: h0.CpuPeriod, cpuShares: h0.CpuShares,
    cpusetCpus: h0.CpusetCpus, pidsLimit: h0.PidsLimit,
  };

  const p: Primitives = {
    id: c.id, name, image: c.config.Image, state: running ? c.state : c.state === 'running' ? 'exited' : c.state, readAt: new Date().toISOString(),
    verdicts: [], process, namespaces, cgroup: { ...cg, throttling, oomKillsLogged }, network, filesystem, security, access, gone, atExit, exit, spec,
  };
  return p;
}
