// Real kernel: bridges, netns files, veths, iptables and the port proxy, through the public API.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type DB } from '../../../store/index.js';
import { createNetworkController, type NetworkController } from '../../../netctl/index.js';
import { privilegedOpts } from '../../helpers/privileged.js';

const BB = '/bin/busybox';
const pid = process.pid;
const octet = pid % 200 + 20;
const BRIDGE = `tsnb${pid}`.slice(0, 15);
const BIP = `10.231.${octet}.1/24`;
const POOL = `10.232.${octet}.0/24`;

function addContainer(db: DB, id: string, name: string): void {
  db.prepare(
    `INSERT INTO containers (id, name, image_id, image_ref, created_at, state, config, host_config) VALUES (?, ?, 'img', 'busybox', '2026-01-01T00:00:00Z', 'running', '{}', '{}')`,
  ).run(id, '/' + name);
}

const cid = (n: number) => `${pid.toString(16).padStart(8, '0')}${'c'.repeat(55)}${n}`;

const sh = (cmd: string, args: string[]) => {
  try {
    return { ok: true, out: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    return { ok: false, out: String((e as { stdout?: string }).stdout ?? '') };
  }
};
/** One ping, 1 s timeout: for asserting that something is NOT reachable. */
const pingFrom = (nsFile: string, ip: string) => sh('nsenter', [`--net=${nsFile}`, BB, 'ping', '-c', '1', '-W', '1', ip]).ok;
/** Up to 3 tries: for asserting reachability on a busy machine. */
const reach = (nsFile: string, ip: string) => [0, 1, 2].some(() => pingFrom(nsFile, ip));

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n'));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (buf += d));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

t.test('bridge networking on a real kernel', privilegedOpts(), async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-netctl-'));
  const execRoot = path.join(tmp, 'run');
  const db = openDatabase(path.join(tmp, 'tsd.db'));
  const ctl: NetworkController = createNetworkController({ db, execRoot, bridge: BRIDGE, bip: BIP, pools: [{ base: POOL, size: 26 }] });
  const procs: ChildProcess[] = [];
  t.teardown(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await ctl.shutdown({ removeBridge: true }).catch(() => undefined);
    db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  for (let i = 1; i <= 6; i++) addContainer(db, cid(i), `ctr${i}-${pid}`);
  // remember every host veth made, to check they are all gone at the end
  const veths = new Set<string>();
  const attach = ctl.attach.bind(ctl);
  ctl.attach = async (c, r) => {
    const e = await attach(c, r);
    veths.add(e.hostVeth);
    return e;
  };

  await ctl.init();
  t.ok(fs.existsSync(`/sys/class/net/${BRIDGE}`), 'default bridge device exists');
  const names = ctl.list().map((n) => n.name).sort();
  t.same(names, ['bridge', 'host', 'none'], 'predefined networks');

  await t.test('two containers on the default bridge reach each other and the gateway', async (t) => {
    const t0 = performance.now();
    const e1 = await ctl.attach(cid(1), { network: 'bridge', hostname: 'one' });
    const t1 = performance.now();
    const e2 = await ctl.attach(cid(2), { network: 'bridge', hostname: 'two' });
    t.comment(`attach (new netns): ${(t1 - t0).toFixed(1)} ms, ${(performance.now() - t1).toFixed(1)} ms`);
    t.equal(e1.ip, `10.231.${octet}.2`);
    t.equal(e2.ip, `10.231.${octet}.3`);
    t.equal(e1.mac, `02:42:0a:e7:${octet.toString(16).padStart(2, '0')}:02`);
    t.equal(e1.gateway, `10.231.${octet}.1`);
    t.equal(e1.prefixLen, 24);
    t.ok(fs.existsSync(ctl.netnsPath(cid(1))), 'netns file exists');
    t.ok(reach(ctl.netnsPath(cid(1)), e1.gateway), 'c1 → gateway');
    t.ok(reach(ctl.netnsPath(cid(1)), e2.ip), 'c1 → c2');
    t.ok(reach(ctl.netnsPath(cid(2)), e1.ip), 'c2 → c1');
    const addr = sh('nsenter', [`--net=${ctl.netnsPath(cid(1))}`, 'ip', '-o', 'addr', 'show', 'eth0']).out;
    t.match(addr, `${e1.ip}/24`, 'eth0 has the address');
    const route = sh('nsenter', [`--net=${ctl.netnsPath(cid(1))}`, 'ip', 'route', 'show', 'default']).out;
    t.match(route, `default via ${e1.gateway}`, 'default route via the gateway');
    const inspect = ctl.inspect('bridge');
    t.equal(inspect.endpoints.length, 2, 'inspect lists both endpoints');
    t.equal(inspect.endpoints[0]!.containerName, `ctr1-${pid}`);
  });

  await t.test('published ports are reachable on 127.0.0.1 (fixed and ephemeral)', async (t) => {
    const www = path.join(tmp, 'www');
    fs.mkdirSync(www);
    fs.writeFileSync(path.join(www, 'index.html'), `hello-${pid}\n`);
    const e3port = await freePort();
    const e3 = await ctl.attach(cid(3), { network: 'bridge', hostname: 'three', ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: e3port }] });
    const e4 = await ctl.attach(cid(4), { network: 'bridge', hostname: 'four', ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }] });
    t.equal(e3.ports[0]!.hostPort, e3port, 'fixed host port kept');
    t.ok(e4.ports[0]!.hostPort > 0 && e4.ports[0]!.hostPort !== e3port, `ephemeral host port chosen: ${e4.ports[0]!.hostPort}`);
    for (const c of [3, 4]) {
      const p = spawn('nsenter', [`--net=${ctl.netnsPath(cid(c))}`, BB, 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
      procs.push(p);
    }
    let body = '';
    for (let i = 0; i < 50 && !body.includes('hello'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      body = await httpGet(e3port).catch(() => '');
    }
    t.match(body, `hello-${pid}`, 'served through the fixed port');
    // the second httpd may not listen yet either (the proxy then closes the connection at once)
    let body4 = '';
    for (let i = 0; i < 50 && !body4.includes('hello'); i++) {
      body4 = await httpGet(e4.ports[0]!.hostPort).catch(() => '');
      if (!body4.includes('hello')) await new Promise((r) => setTimeout(r, 50));
    }
    t.match(body4, `hello-${pid}`, 'served through the ephemeral port');
    await t.rejects(ctl.attach(cid(5), { network: 'bridge', hostname: 'five', ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: e3port }] }), { kind: 'conflict', message: /port is already allocated/ });
    t.notOk(fs.existsSync(ctl.netnsPath(cid(5))), 'failed attach left no netns file');
    t.same(ctl.endpoints(cid(5)), [], 'failed attach left no endpoint');
    for (const p of procs.splice(0)) p.kill('SIGKILL');
    await ctl.detach(cid(3));
    await ctl.detach(cid(4));
    await t.rejects(httpGet(e3port), 'proxy closed on detach');
  });

  await t.test('user networks: isolation, hosts entries, name clash', async (t) => {
    const a = await ctl.create({ name: `neta-${pid}`, labels: { l: 'a' } });
    const b = await ctl.create({ name: `netb-${pid}` });
    t.equal(a.subnet, `10.232.${octet}.0/26`);
    t.equal(b.subnet, `10.232.${octet}.64/26`);
    await t.rejects(ctl.create({ name: `neta-${pid}` }), { kind: 'conflict', message: `network with name neta-${pid} already exists` });
    await t.rejects(ctl.create({ name: `netc-${pid}`, subnet: `10.232.${octet}.0/25` }), { kind: 'forbidden', message: /./ });
    const ea = await ctl.attach(cid(3), { network: a.name, hostname: 'three', aliases: ['web'] });
    const ea2 = await ctl.attach(cid(5), { network: a.id.slice(0, 12), hostname: 'five' });
    const eb = await ctl.attach(cid(6), { network: b.name, hostname: 'six' });
    t.ok(reach(ctl.netnsPath(cid(3)), ea2.ip), 'same network: reachable');
    t.notOk(pingFrom(ctl.netnsPath(cid(3)), eb.ip), 'network A cannot reach network B');
    t.notOk(pingFrom(ctl.netnsPath(cid(6)), ea.ip), 'network B cannot reach network A');
    t.notOk(pingFrom(ctl.netnsPath(cid(1)), ea.ip), 'default bridge cannot reach network A');
    // a second network in an existing netns: eth1, reachable from both sides
    const eb2 = await ctl.attach(cid(6), { network: a.name, hostname: 'six' });
    t.equal(eb2.ifname, 'eth1');
    const addrs = sh('nsenter', [`--net=${ctl.netnsPath(cid(6))}`, 'ip', '-o', '-4', 'addr']).out;
    t.match(addrs, new RegExp(`eth0\\s+inet ${eb.ip.replace(/\./g, '\\.')}/26`));
    t.match(addrs, new RegExp(`eth1\\s+inet ${eb2.ip.replace(/\./g, '\\.')}/26`));
    t.ok(reach(ctl.netnsPath(cid(6)), ea.ip), 'connected to A too: reaches A');
    await ctl.detach(cid(6), a.name);
    t.notMatch(sh('nsenter', [`--net=${ctl.netnsPath(cid(6))}`, 'ip', '-o', 'link']).out, 'eth1', 'eth1 gone after disconnect');
    t.ok(reach(ctl.netnsPath(cid(6)), eb.gateway), 'still on B');

    const d3 = path.join(tmp, 'c3');
    const d5 = path.join(tmp, 'c5');
    const f3 = ctl.writeEtcFiles(d3, { hostname: 'three', endpoints: ctl.endpoints(cid(3)), extraHosts: ['db:10.9.9.9'], dns: ['10.0.0.53'] });
    ctl.writeEtcFiles(d5, { hostname: 'five', endpoints: ctl.endpoints(cid(5)) });
    const h3 = fs.readFileSync(f3.hosts, 'utf8');
    t.match(h3, `${ea.ip}\tthree`, 'own entry');
    t.match(h3, `${ea2.ip}\tctr5-${pid}`, 'peer by name');
    t.match(h3, '10.9.9.9\tdb', 'extra host');
    t.notMatch(h3, eb.ip, 'no entry for the other network');
    t.match(fs.readFileSync(path.join(d5, 'hosts'), 'utf8'), new RegExp(`${ea.ip.replace(/\./g, '\\.')}\\tctr3-${pid} web`), 'peer alias');
    t.equal(fs.readFileSync(f3.resolvConf, 'utf8').match(/^nameserver .*$/gm)?.join(','), 'nameserver 10.0.0.53');
    t.equal(fs.readFileSync(f3.hostname, 'utf8'), 'three\n');

    const ino = fs.statSync(f3.hosts).ino;
    await ctl.detach(cid(5), a.name);
    t.notMatch(fs.readFileSync(f3.hosts, 'utf8'), `ctr5-${pid}`, 'peer removed on disconnect');
    t.equal(fs.statSync(f3.hosts).ino, ino, 'hosts file rewritten in place');
    await ctl.attach(cid(5), { network: a.name, hostname: 'five' });
    t.match(fs.readFileSync(f3.hosts, 'utf8'), `ctr5-${pid}`, 'peer added on connect');

    await t.rejects(ctl.remove(a.name), { kind: 'forbidden', message: /./ });
    await t.rejects(ctl.remove('bridge'), { kind: 'forbidden', message: 'bridge is a pre-defined network and cannot be removed' });
    const t0 = performance.now();
    await ctl.detach(cid(3));
    t.comment(`detach (last endpoint): ${(performance.now() - t0).toFixed(1)} ms`);
    await ctl.detach(cid(5));
    await ctl.detach(cid(6));
    t.notOk(fs.existsSync(`/sys/class/net/${ea.hostVeth}`), 'veth gone');
    t.same(await ctl.prune(), [`neta-${pid}`, `netb-${pid}`].sort().filter(() => true), 'prune removes unused networks');
    t.notOk(fs.existsSync(`/sys/class/net/${a.bridge}`), 'user bridge gone');
    t.notMatch(sh('iptables', ['-S']).out, `TSD-${a.bridge}`, 'user network filter chains gone');
  });

  await t.test('a bridge deleted behind our back is re-created on attach', async (t) => {
    await ctl.detach(cid(1));
    await ctl.detach(cid(2));
    execFileSync('ip', ['link', 'del', BRIDGE]);
    const e = await ctl.attach(cid(2), { network: 'bridge', hostname: 'two' });
    t.ok(fs.existsSync(`/sys/class/net/${BRIDGE}`), 'bridge back');
    t.ok(reach(ctl.netnsPath(cid(2)), e.gateway), 'gateway reachable again');
    await ctl.detach(cid(2));
  });

  await t.test('concurrent attaches get distinct addresses and all work', async (t) => {
    const ids = [1, 2, 3, 4, 5].map(cid);
    const t0 = performance.now();
    const eps = await Promise.all(ids.map((c, i) => ctl.attach(c, { network: 'bridge', hostname: `p${i}` })));
    t.comment(`5 concurrent attaches: ${(performance.now() - t0).toFixed(1)} ms`);
    t.equal(new Set(eps.map((e) => e.ip)).size, 5, 'distinct addresses');
    for (const [i, e] of eps.entries()) t.ok(reach(ctl.netnsPath(ids[i]!), e.gateway), `${e.ip} reaches the gateway`);
    const t1 = performance.now();
    await Promise.all(ids.map((c) => ctl.detach(c)));
    t.comment(`5 concurrent detaches: ${(performance.now() - t1).toFixed(1)} ms`);
    t.same(ctl.inspect('bridge').endpoints, []);
  });

  await t.test('attach timing', async (t) => {
    const times: number[] = [];
    const dtimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await ctl.attach(cid(6), { network: 'bridge', hostname: 'six' });
      const t1 = performance.now();
      await ctl.detach(cid(6));
      dtimes.push(performance.now() - t1);
      times.push(t1 - t0);
    }
    times.sort((x, y) => x - y);
    dtimes.sort((x, y) => x - y);
    t.comment(`attach median ${times[2]!.toFixed(1)} ms, detach median ${dtimes[2]!.toFixed(1)} ms`);
    t.ok(times[2]! < 500, 'attach is fast');
  });

  await t.test('shutdown leaves nothing behind', async (t) => {
    await ctl.attach(cid(1), { network: 'bridge', hostname: 'one' }).catch(() => undefined);
    await ctl.shutdown({ removeBridge: true });
    t.notOk(fs.existsSync(`/sys/class/net/${BRIDGE}`), 'bridge removed');
    t.notMatch(fs.readFileSync('/proc/mounts', 'utf8'), execRoot, 'no mounts under exec root');
    t.notOk(fs.existsSync(path.join(execRoot, 'netns')), 'netns dir removed');
    t.notMatch(sh('iptables', ['-S']).out, BRIDGE, 'no filter rules');
    t.notMatch(sh('iptables', ['-t', 'nat', '-S']).out, BRIDGE, 'no nat rules');
    t.ok(veths.size > 5, `${veths.size} veths were made`);
    t.same([...veths].filter((v) => fs.existsSync(`/sys/class/net/${v}`)), [], 'none of them is left');
  });
});
