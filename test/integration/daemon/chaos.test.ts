// The chaos test (#13, "the whole boot is crash-safe"): one --live-restore daemon on
// one set of directories, several concurrent clients (raw API and the docker CLI)
// doing a random mix of create/start/stop/rm -f/run -p/exec/pause/unpause, network
// and volume create/rm and pulls from a loopback registry; the daemon is SIGKILLed
// at a random moment and started again on the same dirs, and then the invariants
// are checked against the kernel and the files: every container tsd says is up has
// its live process (pid, start time, cgroup); every process and cgroup under the
// cgroup parent belongs to one; no mount, netns file, veth, iptables rule, container
// dir, volume dir or layer dir without its owner, no layer row nothing uses; every object a client was told was
// created exists, and removed ones are gone. Then operations work again (run with a
// port, exec, stop, rm -f of an adopted container, network create/rm).
//
//   TSD_CHAOS_ROUNDS=200 (default 30)   TSD_CHAOS_SEED=<n> replays a run (printed first)
import t from 'tap';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Client } from 'undici';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { buildImage, busyboxSaveTar, layerFromTar, makeTar, pushBuilt } from '../../fixtures/images.js';
import { registryAvailable, startRegistry, type TestRegistry } from '../../fixtures/registry.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROUNDS = Number(process.env.TSD_CHAOS_ROUNDS) || 30;
const SEED = process.env.TSD_CHAOS_SEED ? Number(process.env.TSD_CHAOS_SEED) : crypto.randomInt(2 ** 31);
const CLIENTS = 3;
const MAX_CONTAINERS = 3; // per client
const IMAGE = 'busybox:fixture';
// stops at once on SIGTERM (a plain sleep as PID 1 ignores it and waits for the stop's SIGKILL)
const CMD = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'];
// user networks get bridges named by this prefix, so that one a crash left without its row is found too
const BRIDGE_PREFIX = `cx${process.pid % 100000}n`;
let bridgeNo = 0;

/** mulberry32: small, seedable, good enough to pick operations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the kernel's view -------------------------------------------------------

const CG = '/sys/fs/cgroup';
function cgroupRoots(parent: string): string[] {
  return fs.readdirSync(CG).map((c) => path.join(CG, c, parent)).filter((d) => fs.existsSync(d));
}
/** Every directory below `root` (deepest first), `root` last. */
function cgroupDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let es: fs.Dirent[] = [];
    try { es = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of es) if (e.isDirectory()) walk(path.join(d, e.name));
    out.push(d);
  };
  walk(root);
  return out;
}
const procsOf = (d: string): number[] => {
  try { return fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; }
};

/** Thaws, kills and removes every cgroup below `parent` (v1 controllers, or the v2 tree). */
function killCgroupTree(parent: string): void {
  const roots = cgroupRoots(parent);
  for (const r of roots) for (const d of cgroupDirs(r)) {
    try { if (fs.existsSync(path.join(d, 'freezer.state'))) fs.writeFileSync(path.join(d, 'freezer.state'), 'THAWED'); } catch { /* gone */ }
    try { if (fs.existsSync(path.join(d, 'cgroup.freeze'))) fs.writeFileSync(path.join(d, 'cgroup.freeze'), '0'); } catch { /* gone */ }
    for (const p of procsOf(d)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  const end = Date.now() + 5000;
  for (const r of roots) for (const d of cgroupDirs(r)) {
    for (;;) {
      try { fs.rmdirSync(d); break; } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || Date.now() > end) break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    }
  }
}

function statOf(pid: number): { start: string; state: string; ppid: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), start: f[19]! };
  } catch { return null; }
}

const hostVethName = (cid: string, nid: string) => 'veth' + crypto.createHash('sha256').update(`${cid}/${nid}`).digest('hex').slice(0, 11);
const listDir = (d: string): string[] => { try { return fs.readdirSync(d); } catch { return []; } };
const unescapeMount = (m: string) => m.replace(/\\040/g, ' ').replace(/\\011/g, '\t').replace(/\\012/g, '\n').replace(/\\134/g, '\\');

/** The nat and filter tables' lines, from one iptables-save. */
async function iptablesSave(): Promise<{ nat: string[]; filter: string[] }> {
  const { stdout } = await run('iptables-save', [], { maxBuffer: 64 * 1024 * 1024 });
  const out: Record<string, string[]> = { nat: [], filter: [] };
  let cur: string[] | null = null;
  for (const l of stdout.split('\n')) {
    if (l.startsWith('*')) cur = out[l.slice(1).trim()] ?? null;
    else cur?.push(l);
  }
  return { nat: out.nat!, filter: out.filter! };
}

interface DbView {
  containers: Array<{ id: string; name: string; state: string; pid: number; pidStart: string; cgroupName: string }>;
  networks: Array<{ id: string; name: string; bridge: string; driver: string; internal: boolean }>;
  endpoints: Array<{ containerId: string; networkId: string; ip: string; ports: Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: string }> }>;
  volumes: string[];
  layers: string[];
  /** layer rows no image lists, no container holds and no layer has as parent */
  unusedLayers: string[];
}
function readDb(dataRoot: string): DbView {
  const db = new Database(path.join(dataRoot, 'tsd.db'), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const containers = (db.prepare('SELECT id, name, state, pid, pid_start, runtime FROM containers').all() as Array<Record<string, any>>).map((r) => ({
      id: r.id, name: r.name, state: r.state, pid: r.pid, pidStart: r.pid_start, cgroupName: (JSON.parse(r.runtime || '{}').cgroupName as string | undefined) || r.id,
    }));
    const networks = (db.prepare('SELECT id, name, bridge, driver, internal FROM networks').all() as Array<Record<string, any>>).map((r) => ({ id: r.id, name: r.name, bridge: r.bridge, driver: r.driver, internal: !!r.internal }));
    const endpoints = (db.prepare('SELECT container_id, network_id, ip, ports FROM endpoints').all() as Array<Record<string, any>>).map((r) => ({ containerId: r.container_id, networkId: r.network_id, ip: r.ip, ports: JSON.parse(r.ports || '[]') }));
    const volumes = (db.prepare('SELECT name FROM volumes').all() as Array<{ name: string }>).map((r) => r.name);
    const layers = (db.prepare('SELECT chain_id FROM layers').all() as Array<{ chain_id: string }>).map((r) => r.chain_id.replace(/^sha256:/, ''));
    const unusedLayers = (db.prepare(`SELECT chain_id FROM layers l WHERE NOT EXISTS (SELECT 1 FROM image_layers il WHERE il.chain_id = l.chain_id)
      AND NOT EXISTS (SELECT 1 FROM containers k WHERE k.layer = l.chain_id) AND NOT EXISTS (SELECT 1 FROM layers c WHERE c.parent = l.chain_id)`).all() as Array<{ chain_id: string }>)
      .map((r) => r.chain_id.replace(/^sha256:/, ''));
    return { containers, networks, endpoints, volumes, layers, unusedLayers };
  } finally {
    db.close();
  }
}

/** Bridges ever seen (removed networks' ones must go with them). */
const seenBridges = new Set<string>();
/** (container, network) pairs ever seen: their host veth must not outlive the endpoint. */
const seenEndpoints = new Set<string>();

/** Checks the invariants; returns what is wrong (empty: all good). */
async function checkKernel(d: TestDaemon): Promise<string[]> {
  const bad: string[] = [];
  const v = readDb(d.dataRoot);
  const up = v.containers.filter((c) => ['running', 'paused', 'restarting'].includes(c.state));
  const upIds = new Set(up.map((c) => c.id));
  for (const n of v.networks) if (n.driver === 'bridge') seenBridges.add(n.bridge);
  for (const e of v.endpoints) seenEndpoints.add(`${e.containerId}/${e.networkId}`);
  for (const c of v.containers) if (c.state === 'removing') bad.push(`container ${c.name} still 'removing' after the boot`);

  // processes: each up container's pid is alive, the same process, in its cgroup
  const cgNames = new Map(up.map((c) => [c.cgroupName, c]));
  for (const c of up) {
    const s = statOf(c.pid);
    if (!s || s.state === 'Z' || s.state === 'X') { bad.push(`container ${c.name} is ${c.state} but pid ${c.pid} is gone`); continue; }
    if (s.start !== c.pidStart) bad.push(`container ${c.name}: pid ${c.pid} has start time ${s.start}, recorded ${c.pidStart}`);
    let cg = '';
    try { cg = fs.readFileSync(`/proc/${c.pid}/cgroup`, 'utf8'); } catch { /* gone */ }
    if (!cg.split('\n').some((l) => l.endsWith(`/${d.cgroupParent}/${c.cgroupName}`))) bad.push(`container ${c.name}: pid ${c.pid} is not in ${d.cgroupParent}/${c.cgroupName}`);
  }
  // cgroups and the processes in them: only up containers' (and the current daemon's warm inits)
  const strayCgroups = new Map<string, { controllers: string[]; procs: Set<number> }>();
  for (const root of cgroupRoots(d.cgroupParent)) {
    for (const dir of cgroupDirs(root)) {
      const rel = path.relative(root, dir);
      const procs = procsOf(dir);
      if (rel === '') {
        for (const p of procs) bad.push(`process ${p} directly in the cgroup parent ${dir}`);
        continue;
      }
      const top = rel.split('/')[0]!;
      if (/^warm-\d+$/.test(top)) {
        for (const p of procs) if (statOf(p)?.ppid !== d.proc.pid) bad.push(`process ${p} in ${dir} is no warm init of the running daemon`);
        continue;
      }
      if (cgNames.has(top)) continue;
      const e = strayCgroups.get(rel) ?? { controllers: [], procs: new Set<number>() };
      e.controllers.push(path.basename(path.dirname(root)));
      for (const p of procs) e.procs.add(p);
      strayCgroups.set(rel, e);
    }
  }
  for (const [rel, e] of strayCgroups) {
    const who = [...e.procs].slice(0, 4).map((p) => { try { return `${p} ${fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 60)}`; } catch { return `${p}`; } });
    const name = v.containers.find((c) => c.id === rel.split('/')[0])?.name;
    bad.push(`cgroup ${d.cgroupParent}/${rel}${name ? ` (of ${name}, not running)` : ''} in ${e.controllers.length} hierarchies with ${e.procs.size} processes [${who.join('; ')}] belongs to no running container`);
  }
  // mounts under the data and exec roots
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => unescapeMount(l.split(' ')[1] ?? ''))
    .filter((m) => m.startsWith(d.dir + '/'));
  const epIds = new Set(v.endpoints.map((e) => e.containerId));
  for (const m of mounts) {
    const rel = path.relative(d.dir, m);
    let ok = false;
    let x: RegExpMatchArray | null;
    if ((x = rel.match(/^data\/containers\/([0-9a-f]{64})\/rootfs$/))) ok = upIds.has(x[1]!);
    else if ((x = rel.match(/^run\/netns\/([0-9a-f]{64})$/))) ok = upIds.has(x[1]!);
    else if (rel === 'run/netns' || rel === 'run/init' || rel === 'run/init/node') ok = true; // the netns dir, the sealed init binary
    if (!ok) bad.push(`mount ${m} owned by nothing`);
  }
  for (const c of up) if (!mounts.includes(path.join(d.dataRoot, 'containers', c.id, 'rootfs'))) bad.push(`container ${c.name} is up without its rootfs mount`);
  // netns files
  for (const f of listDir(path.join(d.execRoot, 'netns'))) if (!upIds.has(f) || !epIds.has(f)) bad.push(`netns file ${f} owned by no running container with an endpoint`);
  // endpoints: rows, veths
  const nets = new Map(v.networks.map((n) => [n.id, n]));
  const expectedVeths = new Map<string, Set<string>>();
  for (const e of v.endpoints) {
    const c = v.containers.find((x) => x.id === e.containerId);
    if (!c || !upIds.has(c.id)) { bad.push(`endpoint row of ${c?.name ?? e.containerId} on ${nets.get(e.networkId)?.name ?? e.networkId} for a container not running`); continue; }
    const n = nets.get(e.networkId);
    if (!n) { bad.push(`endpoint of ${c.name} on a network that does not exist (${e.networkId})`); continue; }
    if (!expectedVeths.has(n.bridge)) expectedVeths.set(n.bridge, new Set());
    expectedVeths.get(n.bridge)!.add(hostVethName(e.containerId, e.networkId));
  }
  for (const n of v.networks) {
    if (n.driver !== 'bridge') continue;
    if (!fs.existsSync(`/sys/class/net/${n.bridge}`)) { bad.push(`network ${n.name}: bridge ${n.bridge} missing`); continue; }
    const has = new Set(listDir(`/sys/class/net/${n.bridge}/brif`));
    const want = expectedVeths.get(n.bridge) ?? new Set();
    for (const x of has) if (!want.has(x)) bad.push(`veth ${x} on ${n.bridge} owned by no endpoint`);
    for (const x of want) if (!has.has(x)) bad.push(`endpoint veth ${x} missing from ${n.bridge}`);
  }
  const liveBridges = new Set(v.networks.map((n) => n.bridge));
  for (const l of listDir('/sys/class/net')) if (l.startsWith(BRIDGE_PREFIX)) seenBridges.add(l);
  const { nat, filter } = await iptablesSave();
  for (const l of filter) for (const m of l.matchAll(new RegExp(`${BRIDGE_PREFIX}\\d+`, 'g'))) seenBridges.add(m[0]);
  for (const b of seenBridges) if (!liveBridges.has(b) && fs.existsSync(`/sys/class/net/${b}`)) bad.push(`bridge ${b} of a removed network still there`);
  const livePairs = new Set(v.endpoints.map((e) => `${e.containerId}/${e.networkId}`));
  for (const p of seenEndpoints) {
    if (livePairs.has(p)) continue;
    const [cid, nid] = p.split('/');
    const veth = hostVethName(cid!, nid!);
    if (fs.existsSync(`/sys/class/net/${veth}`)) bad.push(`veth ${veth} of a gone endpoint still there`);
  }
  // iptables: the chains of existing bridges only; published-port rules exactly once per port of a running container
  for (const b of seenBridges) {
    if (liveBridges.has(b)) continue;
    const stale = [...nat, ...filter].filter((l) => l.split(' ').some((w) => w === b || w.endsWith(`-${b}`)));
    if (stale.length) bad.push(`${stale.length} iptables lines for removed bridge ${b}: ${stale[0]}`);
  }
  for (const n of v.networks) {
    if (n.driver !== 'bridge') continue;
    const want: string[] = [];
    for (const e of v.endpoints) {
      if (e.networkId !== n.id || !upIds.has(e.containerId) || n.internal) continue;
      for (const p of e.ports) {
        if (/^127\./.test(p.hostIp) || p.hostIp === 'localhost') continue;
        want.push(`P ${p.protocol} ${p.hostPort} ${e.ip}:${p.containerPort}`, `H ${p.protocol} ${e.ip}:${p.containerPort}`);
      }
    }
    const have: string[] = [];
    for (const l of nat) {
      const w = l.split(' ');
      if (w[0] !== '-A') continue;
      const dport = w[w.indexOf('--dport') + 1];
      if (w[1] === `TSD-P-${n.bridge}`) have.push(`P ${w[w.indexOf('-p') + 1]} ${dport} ${w[w.indexOf('--to-destination') + 1]}`);
      if (w[1] === `TSD-H-${n.bridge}`) have.push(`H ${w[w.indexOf('-p') + 1]} ${w[w.indexOf('-s') + 1]!.replace(/\/32$/, '')}:${dport}`);
    }
    const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
    const h = count(have);
    const wnt = count(want);
    for (const [k, c] of h) if (c !== (wnt.get(k) ?? 0)) bad.push(`network ${n.name}: port rule "${k}" ${c} times, expected ${wnt.get(k) ?? 0}`);
    for (const [k, c] of wnt) if (!h.has(k)) bad.push(`network ${n.name}: port rule "${k}" missing (expected ${c})`);
  }
  // files: container dirs, volume dirs, layer dirs each with their row
  const ids = new Set(v.containers.map((c) => c.id));
  for (const f of listDir(path.join(d.dataRoot, 'containers'))) if (!ids.has(f)) bad.push(`container dir ${f} without its row`);
  for (const c of v.containers) if (!fs.existsSync(path.join(d.dataRoot, 'containers', c.id))) bad.push(`container ${c.name} without its dir`);
  const vols = new Set(v.volumes);
  for (const f of listDir(path.join(d.dataRoot, 'volumes'))) if (!vols.has(f) && fs.statSync(path.join(d.dataRoot, 'volumes', f)).isDirectory()) bad.push(`volume dir ${f} without its row`);
  for (const n of v.volumes) if (!fs.existsSync(path.join(d.dataRoot, 'volumes', n, '_data'))) bad.push(`volume ${n} without its dir`);
  const layers = new Set(v.layers);
  for (const f of listDir(path.join(d.dataRoot, 'layers'))) if (!layers.has(f)) bad.push(`layer dir ${f} without its row`);
  for (const l of v.layers) if (!fs.existsSync(path.join(d.dataRoot, 'layers', l, 'diff'))) bad.push(`layer row ${l} without its dir`);
  for (const l of v.unusedLayers) bad.push(`layer row ${l} that no image, container or layer uses`);
  for (const f of listDir(path.join(d.dataRoot, 'tmp'))) bad.push(`tmp/${f} left by an interrupted pull or load`);
  for (const f of listDir(path.join(d.dataRoot, 'l'))) {
    const target = path.resolve(path.join(d.dataRoot, 'l'), fs.readlinkSync(path.join(d.dataRoot, 'l', f)));
    if (!fs.existsSync(target)) bad.push(`layer link l/${f} to nothing`);
  }
  return bad;
}

// ---- the clients ----------------------------------------------------------------

type CState = 'created' | 'running' | 'paused' | 'exited' | 'gone';
interface Ctr { kind: 'container'; name: string; id: string; state: CState; maybe: Set<CState> | null; pid: number; net: string | null; ports: boolean; vol: string | null }
interface Obj { kind: 'network' | 'volume' | 'image'; name: string; id: string; state: 'exists' | 'gone'; maybe: Set<'exists' | 'gone'> | null }
interface Api { status: number; body: any; text: string }

class ChaosClient {
  ctrs: Ctr[] = [];
  objs: Obj[] = [];
  inflight = '';
  errors: string[] = [];
  private http: Client | null = null;
  private n = 0;
  constructor(readonly no: number, readonly rnd: () => number, readonly cli: boolean, readonly env: { d: TestDaemon; hostIp: string; images: string[] }) {}

  private async api(method: string, p: string, body?: unknown): Promise<Api> {
    this.http ??= new Client('http://localhost', { socketPath: this.env.d.socket, pipelining: 0 });
    const res = await this.http.request({ method: method as 'GET', path: p, headers: body !== undefined ? { 'content-type': 'application/json' } : {}, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    return { status: res.statusCode, body: parsed, text };
  }
  private async docker(...args: string[]): Promise<string> {
    return (await run('docker', args, { env: this.env.d.dockerEnv, timeout: 60_000 })).stdout;
  }
  close(): void { void this.http?.destroy().catch(() => {}); this.http = null; }

  private pick<T>(xs: T[]): T | undefined { return xs.length ? xs[Math.floor(this.rnd() * xs.length)] : undefined; }
  private ok(r: Api, what: string): void {
    if (r.status >= 400) throw Object.assign(new Error(`${what}: ${r.status} ${r.text.slice(0, 300)}`), { daemonSaid: true });
  }

  /** One random operation. Throws what the daemon answered (an error) or a transport error (killed). */
  async step(): Promise<void> {
    const live = this.ctrs.filter((c) => c.state !== 'gone');
    const nets = this.objs.filter((o) => o.kind === 'network' && o.state === 'exists');
    const vols = this.objs.filter((o) => o.kind === 'volume' && o.state === 'exists');
    const imgs = this.objs.filter((o) => o.kind === 'image' && o.state === 'exists');
    const choices: Array<[number, () => Promise<void>]> = [];
    const of = (s: CState) => live.filter((c) => c.state === s);
    if (live.length < MAX_CONTAINERS) { choices.push([3, () => this.create(false)]); choices.push([4, () => this.create(true)]); }
    if (of('created').length || of('exited').length) choices.push([3, () => this.startOne(this.pick([...of('created'), ...of('exited')])!)]);
    if (of('running').length) {
      choices.push([2, () => this.stopOne(this.pick(of('running'))!)]);
      choices.push([2, () => this.execOne(this.pick(of('running'))!)]);
      choices.push([1, () => this.pauseOne(this.pick(of('running'))!, true)]);
    }
    if (of('paused').length) choices.push([2, () => this.pauseOne(this.pick(of('paused'))!, false)]);
    if (live.length) choices.push([live.length >= MAX_CONTAINERS ? 4 : 2, () => this.rmOne(this.pick(live)!)]);
    if (nets.length < 2) choices.push([1, () => this.objCreate('network')]);
    const freeNets = nets.filter((n) => !live.some((c) => c.net === n.name));
    if (freeNets.length) choices.push([1, () => this.objRm(this.pick(freeNets)!)]);
    if (vols.length < 2) choices.push([1, () => this.objCreate('volume')]);
    const freeVols = vols.filter((n) => !this.ctrs.some((c) => c.vol === n.name && c.state !== 'gone'));
    if (freeVols.length) choices.push([1, () => this.objRm(this.pick(freeVols)!)]);
    if (this.env.images.length && this.no === 1) {
      choices.push([1, () => this.pull(this.pick(this.env.images)!)]);
      if (imgs.length) choices.push([1, () => this.objRm(this.pick(imgs)!)]);
    }
    const total = choices.reduce((s, [w]) => s + w, 0);
    let x = this.rnd() * total;
    for (const [w, f] of choices) { if ((x -= w) < 0) return f(); }
    return choices[choices.length - 1]![1]();
  }

  private async create(start: boolean): Promise<void> {
    const name = `chaos-${this.no}-${this.n++}`;
    const nets = this.objs.filter((o) => o.kind === 'network' && o.state === 'exists');
    const vols = this.objs.filter((o) => o.kind === 'volume' && o.state === 'exists');
    const net = nets.length && this.rnd() < 0.4 ? this.pick(nets)!.name : null;
    const vol = vols.length && this.rnd() < 0.3 ? this.pick(vols)!.name : null;
    const ports = this.rnd() < 0.5;
    const c: Ctr = { kind: 'container', name, id: '', state: 'gone', maybe: new Set(start ? ['gone', 'created', 'running', 'exited'] : ['gone', 'created']), pid: 0, net, ports, vol };
    this.ctrs.push(c);
    this.inflight = `${start ? 'run -d' : 'create'}${ports ? ' -p' : ''}${net ? ' --network' : ''} ${name}`;
    if (this.cli) {
      const args = [start ? 'run' : 'create', ...(start ? ['-d'] : []), '--name', name, ...(ports ? ['-p', `${this.env.hostIp}::80`, '-p', `${this.env.hostIp}::53/udp`] : []),
        ...(net ? ['--network', net] : []), ...(vol ? ['-v', `${vol}:/vol`] : []), IMAGE, ...CMD];
      c.id = (await this.docker(...args)).trim();
    } else {
      const r = await this.api('POST', `/containers/create?name=${name}`, {
        Image: IMAGE, Cmd: CMD, ...(ports ? { ExposedPorts: { '80/tcp': {}, '53/udp': {} } } : {}),
        HostConfig: { ...(net ? { NetworkMode: net } : {}), ...(vol ? { Binds: [`${vol}:/vol`] } : {}), ...(ports ? { PortBindings: { '80/tcp': [{ HostIp: this.env.hostIp, HostPort: '' }], '53/udp': [{ HostIp: this.env.hostIp, HostPort: '' }] } } : {}) },
      });
      this.ok(r, `create ${name}`);
      c.id = r.body.Id;
      c.state = 'created';
      if (start) {
        c.maybe = new Set(['created', 'running', 'exited']);
        this.ok(await this.api('POST', `/containers/${c.id}/start`), `start ${name}`);
      }
    }
    c.state = start ? 'running' : 'created';
    c.maybe = null;
    if (start) c.pid = (await this.api('GET', `/containers/${c.id}/json`)).body?.State?.Pid ?? 0;
  }
  private async startOne(c: Ctr): Promise<void> {
    this.inflight = `start ${c.name} (${c.state})`;
    // a start cut short may also leave it exited (its row said running before the holder held it)
    c.maybe = new Set([c.state, 'running', 'exited']);
    if (this.cli) await this.docker('start', c.id);
    else this.ok(await this.api('POST', `/containers/${c.id}/start`), `start ${c.name}`);
    c.state = 'running';
    c.maybe = null;
    c.pid = (await this.api('GET', `/containers/${c.id}/json`)).body?.State?.Pid ?? 0;
  }
  private async stopOne(c: Ctr): Promise<void> {
    this.inflight = `stop ${c.name}`;
    c.maybe = new Set(['running', 'exited']);
    if (this.cli) await this.docker('stop', '-t', '2', c.id);
    else this.ok(await this.api('POST', `/containers/${c.id}/stop?t=2`), `stop ${c.name}`);
    c.state = 'exited';
    c.maybe = null;
  }
  private async pauseOne(c: Ctr, pause: boolean): Promise<void> {
    this.inflight = `${pause ? 'pause' : 'unpause'} ${c.name}`;
    c.maybe = new Set(['running', 'paused']);
    if (this.cli) await this.docker(pause ? 'pause' : 'unpause', c.id);
    else this.ok(await this.api('POST', `/containers/${c.id}/${pause ? 'pause' : 'unpause'}`), `pause ${c.name}`);
    c.state = pause ? 'paused' : 'running';
    c.maybe = null;
  }
  private async rmOne(c: Ctr): Promise<void> {
    this.inflight = `rm -f ${c.name} (${c.state})`;
    c.maybe = new Set([c.state, 'gone']);
    if (c.state === 'running' || c.state === 'paused') c.maybe.add('exited');
    if (this.cli) await this.docker('rm', '-f', c.id);
    else this.ok(await this.api('DELETE', `/containers/${c.id}?force=1`), `rm -f ${c.name}`);
    c.state = 'gone';
    c.maybe = null;
  }
  private async execOne(c: Ctr): Promise<void> {
    this.inflight = `exec ${c.name}`;
    if (this.cli) {
      const out = await this.docker('exec', c.id, 'echo', 'exec-ok');
      if (!out.includes('exec-ok')) throw Object.assign(new Error(`exec ${c.name}: ${out}`), { daemonSaid: true });
      return;
    }
    const r = await this.api('POST', `/containers/${c.id}/exec`, { Cmd: ['echo', 'exec-ok'], AttachStdout: true, AttachStderr: true });
    this.ok(r, `exec create ${c.name}`);
    const s = await this.api('POST', `/exec/${r.body.Id}/start`, { Detach: false, Tty: false });
    this.ok(s, `exec start ${c.name}`);
    if (!s.text.includes('exec-ok')) throw Object.assign(new Error(`exec ${c.name}: no output (${JSON.stringify(s.text.slice(0, 100))})`), { daemonSaid: true });
  }
  private async objCreate(kind: 'network' | 'volume'): Promise<void> {
    const name = `chaos${kind === 'network' ? 'net' : 'vol'}-${this.no}-${this.n++}`;
    const o: Obj = { kind, name, id: '', state: 'gone', maybe: new Set(['gone', 'exists']) };
    this.objs.push(o);
    this.inflight = `${kind} create ${name}`;
    const br = `${BRIDGE_PREFIX}${bridgeNo++}`;
    if (this.cli) o.id = (await this.docker(kind, 'create', ...(kind === 'network' ? ['-o', `com.docker.network.bridge.name=${br}`] : []), name)).trim();
    else {
      const r = await this.api('POST', kind === 'network' ? '/networks/create' : '/volumes/create', { Name: name, ...(kind === 'network' ? { Options: { 'com.docker.network.bridge.name': br } } : {}) });
      this.ok(r, `${kind} create ${name}`);
      o.id = r.body.Id ?? r.body.Name;
    }
    o.state = 'exists';
    o.maybe = null;
  }
  private async objRm(o: Obj): Promise<void> {
    this.inflight = `${o.kind} rm ${o.name}`;
    o.maybe = new Set(['exists', 'gone']);
    if (o.kind === 'image') this.ok(await this.api('DELETE', `/images/${encodeURIComponent(o.name)}`), `rmi ${o.name}`);
    else if (this.cli) await this.docker(o.kind, 'rm', o.name);
    else this.ok(await this.api('DELETE', o.kind === 'network' ? `/networks/${o.name}` : `/volumes/${o.name}`), `${o.kind} rm ${o.name}`);
    o.state = 'gone';
    o.maybe = null;
  }
  private async pull(ref: string): Promise<void> {
    let o = this.objs.find((x) => x.kind === 'image' && x.name === ref);
    if (!o) this.objs.push(o = { kind: 'image', name: ref, id: '', state: 'gone', maybe: null });
    o.maybe = new Set([o.state, 'exists']);
    this.inflight = `pull ${ref}`;
    const [repo, tag] = [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)];
    const r = await this.api('POST', `/images/create?fromImage=${encodeURIComponent(repo)}&tag=${tag}`);
    this.ok(r, `pull ${ref}`);
    if (/errorDetail/.test(r.text)) throw Object.assign(new Error(`pull ${ref}: ${r.text.slice(-300)}`), { daemonSaid: true });
    o.state = 'exists';
    o.maybe = null;
  }

  /** Runs steps until `stop()` says so; an error the daemon answered is recorded, a dropped connection ends the loop. */
  async loop(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      try {
        await this.step();
        this.inflight = '';
      } catch (e) {
        if (stopped()) return; // the daemon was killed under this operation: it stays in flight
        this.errors.push(`${this.inflight}: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
        this.inflight = '';
        // what the object is now is asked again after the restart
        return;
      }
    }
  }
}

// ---- the test -----------------------------------------------------------------

t.setTimeout((ROUNDS * 30 + 120) * 1000);
t.test('chaos: SIGKILL at random moments under concurrent clients, restart, invariants', { ...privilegedOpts(), timeout: (ROUNDS * 30 + 120) * 1000 }, async (t) => {
  t.comment(`chaos seed ${SEED} (replay: TSD_CHAOS_SEED=${SEED}), ${ROUNDS} rounds`);
  const rnd = prng(SEED);
  const routes = (await run('ip', ['-4', 'route'])).stdout;
  let bip = '';
  for (;;) {
    const a = 100 + Math.floor(Math.random() * 150);
    const b = Math.floor(Math.random() * 250);
    if (!routes.includes(`10.${a}.${b}.`)) { bip = `10.${a}.${b}.1/24`; break; }
  }
  const hostIp = bip.replace(/\/24$/, '');
  const args = ['--live-restore', '--bip', bip, '--init-pool', '1'];
  let first: TestDaemon | null = null;
  let d: TestDaemon | null = null;
  let reg: TestRegistry | null = null;
  const alive = () => !!d && d.proc.exitCode === null && d.proc.signalCode === null;
  let cleaned = false;
  // in finally, and as the last teardown registered (tap runs them last first: before the helper's own, even on a timeout)
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    if (d && alive()) {
      const cs = await d.request('GET', '/containers/json?all=1').catch(() => null);
      for (const c of (cs?.body ?? []) as Array<{ Id: string }>) await d.request('DELETE', `/containers/${c.Id}?force=1`).catch(() => {});
      const ns = await d.request('GET', '/networks').catch(() => null);
      for (const n of (ns?.body ?? []) as Array<{ Id: string; Name: string }>) if (n.Name.startsWith('chaos')) await d.request('DELETE', `/networks/${n.Id}`).catch(() => {});
      await d.stop('SIGTERM');
    } else if (d) await d.stop('SIGKILL');
    if (first) {
      killCgroupTree(first.cgroupParent);
      const pidFile = path.join(first.execRoot, 'restore', 'holder.pid');
      try { process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL'); } catch { /* gone */ }
    }
    await reg?.stop().catch(() => {});
  };

  try {
    d = first = await startDaemon(t, args);
    t.teardown(cleanup);
    const { path: tar } = await busyboxSaveTar();
    await run('docker', ['load', '-i', tar], { env: d.dockerEnv });
    // a few small images in a loopback registry, each with a layer of its own (pulls write layer dirs and rows)
    const images: string[] = [];
    if (registryAvailable()) {
      reg = await startRegistry();
      for (let i = 0; i < 3; i++) {
        const layer = layerFromTar(await makeTar([{ name: 'data/', type: 'directory' }, { name: `data/f${i}`, content: crypto.randomBytes(200_000 + i) }]));
        const img = buildImage([layer], { cmd: ['true'] });
        await pushBuilt(reg.url, 'chaos', `v${i}`, img);
        images.push(`${reg.host}/chaos:v${i}`);
      }
    } else t.comment('no docker-registry: pulls left out of the mix');

    const clients = Array.from({ length: CLIENTS }, (_, i) => new ChaosClient(i, prng(SEED + 1 + i), i === 0, { d: d!, hostIp, images }));
    const started = Date.now();
    let failures = 0;
    const inflightKinds = new Map<string, number>();
    // a leftover stays until something removes it: each distinct finding is reported once, in the round it appeared
    const seen = new Set<string>();
    const failedRounds = new Set<number>();
    const fail = (round: number, what: string) => {
      if (seen.has(what)) return;
      seen.add(what);
      failures++;
      failedRounds.add(round);
      t.fail(`round ${round} (seed ${SEED}): ${what}`);
    };

    let rounds = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      rounds = round;
      const r0 = Date.now();
      for (const c of clients) c.env.d = d!;
      // the chaos: clients run until the daemon is killed
      let killed = false;
      const delay = 100 + Math.floor(rnd() * 1400);
      const loops = clients.map((c) => c.loop(() => killed));
      await sleep(delay);
      killed = true;
      const inflight = clients.map((c) => c.inflight).filter(Boolean);
      for (const f of inflight) inflightKinds.set(f.split(' ')[0]!, (inflightKinds.get(f.split(' ')[0]!) ?? 0) + 1);
      await d!.stop('SIGKILL');
      await Promise.all(loops);
      for (const c of clients) {
        c.close();
        for (const e of c.errors) fail(round, `operation failed before the kill: ${e}`);
        c.errors = [];
      }
      const k0 = Date.now();
      d = await startDaemon(t, args, {}, first);
      t.teardown(cleanup);
      for (const c of clients) c.env.d = d;
      const b0 = Date.now();

      // every object is what its client was told, or (if in flight) one of what it could be
      for (const cl of clients) {
        for (const c of cl.ctrs) {
          if (c.state === 'gone' && !c.maybe) continue;
          const r = await d.request('GET', `/containers/${c.name}/json`);
          const actual: CState = r.status === 404 ? 'gone' : r.body.State.Status;
          const allowed = c.maybe ?? new Set([c.state]);
          if (!allowed.has(actual)) fail(round, `container ${c.name}: ${actual}, expected ${[...allowed].join('|')}`);
          if (actual === 'running' && !c.maybe && c.state === 'running' && c.pid && r.body.State.Pid !== c.pid) fail(round, `container ${c.name}: pid ${r.body.State.Pid} after the restart, ${c.pid} before`);
          if (actual !== 'gone') {
            c.id = r.body.Id;
            c.pid = r.body.State.Pid;
          }
          c.state = actual;
          c.maybe = null;
        }
        for (const o of cl.objs) {
          if (o.state === 'gone' && !o.maybe) continue;
          const p = o.kind === 'network' ? `/networks/${o.name}` : o.kind === 'volume' ? `/volumes/${o.name}` : `/images/${encodeURIComponent(o.name)}/json`;
          const r = await d.request('GET', p);
          const actual = r.status === 404 ? 'gone' : r.status === 200 ? 'exists' : `status ${r.status}`;
          const allowed = o.maybe ?? new Set([o.state]);
          if (!allowed.has(actual as 'exists')) fail(round, `${o.kind} ${o.name}: ${actual}, expected ${[...allowed].join('|')}`);
          o.state = actual === 'exists' ? 'exists' : 'gone';
          o.maybe = null;
        }
      }
      const all = (await d.request('GET', '/containers/json?all=1')).body as Array<{ Names: string[] }>;
      const known = new Set(clients.flatMap((c) => c.ctrs.map((x) => x.name)));
      for (const c of all) if (!known.has(c.Names[0]!.slice(1))) fail(round, `container ${c.Names[0]} nobody created`);

      for (const b of await checkKernel(d)) fail(round, `after the boot: ${b}`);

      // operations work again: rm -f of an adopted container, and a fresh run with a port on a fresh network, exec, stop, rm -f, network rm
      const adopted = clients.flatMap((c) => c.ctrs).filter((c) => c.state === 'running' || c.state === 'paused').sort((a, b) => Number(b.ports) - Number(a.ports))[0];
      let step = '';
      // each operation named and given 60 s: one that hangs says which it was
      const call = (what: string, m: string, p: string, body?: unknown) => {
        step = what;
        let timer: NodeJS.Timeout | undefined;
        return Promise.race([d!.request(m, p, body), new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error('no answer in 60 s')), 60_000); })]).finally(() => clearTimeout(timer));
      };
      try {
        const docker = async (...a: string[]) => { step = `docker ${a.join(' ')}`; return (await run('docker', a, { env: d!.dockerEnv, timeout: 60_000 })).stdout.trim(); };
        const viaCli = round % 5 === 0;
        // every other round, so that others live on through several restarts
        if (adopted && round % 2 === 0) {
          if (viaCli) await docker('rm', '-f', adopted.id);
          else { const r = await call(`rm -f adopted ${adopted.name} (${adopted.state})`, 'DELETE', `/containers/${adopted.id}?force=1`); if (r.status !== 204) throw new Error(`rm -f ${adopted.name}: ${r.status} ${r.text}`); }
          adopted.state = 'gone';
          const s = statOf(adopted.pid);
          if (s && s.state !== 'Z') fail(round, `rm -f of adopted ${adopted.name}: its process ${adopted.pid} still runs`);
        }
        // the whole set every 5th round (and the last) keeps a round short
        if (round % 5 === 0 || round === ROUNDS) await freshContainer(round, viaCli);
      } catch (e) {
        const warns = d.output().split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-8).map((l) => l.slice(0, 400)).join('\n');
        fail(round, `operations after the restart: ${step}: ${(e as Error).message}\n${warns}`);
      }
      async function freshContainer(round: number, viaCli: boolean): Promise<void> {
        const docker = async (...a: string[]) => { step = `docker ${a.join(' ')}`; return (await run('docker', a, { env: d!.dockerEnv, timeout: 60_000 })).stdout.trim(); };
        const net = `check-${round}`;
        const nr = await call('network create', 'POST', '/networks/create', { Name: net, Options: { 'com.docker.network.bridge.name': `${BRIDGE_PREFIX}${bridgeNo++}` } });
        if (nr.status !== 201) throw new Error(`network create: ${nr.status} ${nr.text}`);
        const name = `check-${round}`;
        let id: string;
        if (viaCli) id = await docker('run', '-d', '--name', name, '--network', net, '-p', `${hostIp}::80`, IMAGE, ...CMD);
        else {
          const cr = await call('create', 'POST', `/containers/create?name=${name}`, { Image: IMAGE, Cmd: CMD, ExposedPorts: { '80/tcp': {} }, HostConfig: { NetworkMode: net, PortBindings: { '80/tcp': [{ HostIp: hostIp, HostPort: '' }] } } });
          if (cr.status !== 201) throw new Error(`create: ${cr.status} ${cr.text}`);
          id = cr.body.Id;
          const sr = await call('start', 'POST', `/containers/${id}/start`);
          if (sr.status !== 204) throw new Error(`start: ${sr.status} ${sr.text}`);
        }
        if (viaCli) { if ((await docker('exec', id, 'echo', 'exec-ok')) !== 'exec-ok') throw new Error('exec gave no output'); }
        else {
          const er = await call('exec create', 'POST', `/containers/${id}/exec`, { Cmd: ['echo', 'exec-ok'], AttachStdout: true });
          const es = await call('exec start', 'POST', `/exec/${er.body.Id}/start`, { Detach: false });
          if (!es.text.includes('exec-ok')) throw new Error(`exec: ${es.status} ${es.text.slice(0, 200)}`);
        }
        const st = await call('stop', 'POST', `/containers/${id}/stop?t=2`);
        if (st.status !== 204) throw new Error(`stop: ${st.status} ${st.text}`);
        const rm = await call('rm -f', 'DELETE', `/containers/${id}?force=1`);
        if (rm.status !== 204) throw new Error(`rm -f: ${rm.status} ${rm.text}`);
        const nd = await call('network rm', 'DELETE', `/networks/${net}`);
        if (nd.status !== 204) throw new Error(`network rm: ${nd.status} ${nd.text}`);
      }
      if (round % 2 === 0 || round % 5 === 0 || round === ROUNDS) for (const b of await checkKernel(d)) fail(round, `after the operations: ${b}`);
      const up = clients.flatMap((c) => c.ctrs).filter((c) => c.state === 'running' || c.state === 'paused').length;
      t.comment(`round ${round}: ${((Date.now() - r0) / 1000).toFixed(1)} s (chaos ${delay} ms, boot ${((b0 - k0) / 1000).toFixed(1)} s, checks ${((Date.now() - b0) / 1000).toFixed(1)} s); ${up} up; killed during: ${inflight.join('; ') || 'nothing'}`);
      if (failedRounds.size >= 5 && !process.env.TSD_CHAOS_ALL) { t.comment('5 rounds failed: stopping (TSD_CHAOS_ALL=1 runs on)'); break; }
    }
    const total = (Date.now() - started) / 1000;
    const kinds = [...inflightKinds].map(([k, n]) => `${k} ${n}`).join(', ');
    t.comment(`chaos summary: seed ${SEED}, ${rounds} rounds in ${total.toFixed(0)} s (${(total / rounds).toFixed(1)} s a round), ${failedRounds.size} rounds failed (${failures} findings); killed during: ${kinds}`);
    t.equal(failures, 0, `chaos: ${rounds} rounds, no invariant broken (seed ${SEED})`);
  } finally {
    await cleanup();
  }
});

t.test('live restore: a container the client was told started survives a SIGKILL right after the answer', privilegedOpts(), async (t) => {
  // The holder used to be told of a started container without the start waiting for it: a SIGKILL
  // before the holder had copied the fds out of the daemon (pidfd_getfd of a dead process fails)
  // left it not held, and the next boot killed it as one it could not re-attach to. The holder is
  // stopped (SIGSTOP) during the start to make that window as wide as it gets under load.
  let d = await startDaemon(t, ['--live-restore']);
  const first = d;
  const holderPidFile = path.join(first.execRoot, 'restore', 'holder.pid');
  const holder = () => Number(fs.readFileSync(holderPidFile, 'utf8'));
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    try { process.kill(holder(), 'SIGCONT'); } catch { /* gone */ }
    if (d.proc.exitCode === null && d.proc.signalCode === null) {
      for (const c of ((await d.request('GET', '/containers/json?all=1').catch(() => null))?.body ?? []) as Array<{ Id: string }>) await d.request('DELETE', `/containers/${c.Id}?force=1`).catch(() => {});
      await d.stop('SIGTERM');
    }
    killCgroupTree(first.cgroupParent);
    try { process.kill(holder(), 'SIGKILL'); } catch { /* gone */ }
  };
  t.teardown(cleanup);
  try {
    await run('docker', ['load', '-i', (await busyboxSaveTar()).path], { env: d.dockerEnv });
    for (const stopHolder of [true, false]) {
      const name = stopHolder ? 'held-late' : 'held';
      const cr = await d.request('POST', `/containers/create?name=${name}`, { Image: IMAGE, Cmd: CMD });
      t.equal(cr.status, 201, `create ${name}`);
      const hp = holder();
      if (stopHolder) process.kill(hp, 'SIGSTOP');
      const started = d.request('POST', `/containers/${cr.body.Id}/start`).then((r) => r.status, () => 0);
      const answer = await Promise.race([started, sleep(stopHolder ? 3000 : 60_000).then(() => -1)]);
      await d.stop('SIGKILL');
      if (stopHolder) process.kill(hp, 'SIGCONT');
      d = await startDaemon(t, ['--live-restore'], {}, first);
      t.teardown(cleanup);
      const s = (await d.request('GET', `/containers/${name}/json`)).body.State;
      if (answer === 204) t.equal(s.Status, 'running', `${name}: reported started${stopHolder ? ' while the holder was stopped' : ''}, and running after the restart (${s.Status} ${s.ExitCode} ${s.Error})`);
      else t.pass(`${name}: the start was not answered before the kill (${answer}): it is ${s.Status}`);
      if (!stopHolder) t.equal(answer, 204, 'the start is answered when the holder answers');
    }
  } finally {
    await cleanup();
  }
});

t.test('boot finishes what a crash cut short in create and volume create/rm (chaos rounds 4 and 60, seed 1391589602)', privilegedOpts(), async (t) => {
  const d = await startDaemon(t, []);
  t.equal((await d.request('POST', '/volumes/create', { Name: 'keepme' })).status, 201);
  t.equal((await d.request('POST', '/volumes/create', { Name: 'halfgone' })).status, 201);
  await d.stop('SIGKILL');
  // what each cut-short step leaves: a container dir made before its row, a volume dir made
  // before its row, a volume whose files were removed before its row
  const orphan = path.join(d.dataRoot, 'containers', 'a'.repeat(64));
  fs.mkdirSync(path.join(orphan, 'upper'), { recursive: true });
  fs.mkdirSync(path.join(d.dataRoot, 'volumes', 'norow', '_data'), { recursive: true });
  fs.rmSync(path.join(d.dataRoot, 'volumes', 'halfgone'), { recursive: true });
  const d2 = await startDaemon(t, [], {}, d);
  t.notOk(fs.existsSync(orphan), 'a container dir without its row is removed');
  t.notOk(fs.existsSync(path.join(d.dataRoot, 'volumes', 'norow')), 'an empty volume dir without its row is removed');
  t.equal((await d2.request('GET', '/volumes/halfgone')).status, 404, 'a volume row without its dir goes (the removal finished)');
  t.equal((await d2.request('GET', '/volumes/keepme')).status, 200, 'a whole volume stays');
  t.ok(fs.existsSync(path.join(d.dataRoot, 'volumes', 'keepme', '_data')), 'with its dir');
});
