// Two controllers side by side (two daemons), and a restart that reconciles what a previous run left.
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
const octet = (pid % 200) + 20;

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
const cid = (tag: string) => `${pid.toString(16).padStart(8, '0')}${tag}`.padEnd(64, '0');

function addContainer(db: DB, id: string, name: string): void {
  db.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created_at, state, config, host_config) VALUES (?, ?, 'i', 'r', 'now', 'running', '{}', '{}')`).run(id, '/' + name);
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (buf += d));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
  });
}

t.test('two daemons coexist; a restarted controller reconciles leftovers', privilegedOpts(), async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-netctl-rs-'));
  const mk = (tag: string, bridge: string, bip: string) => {
    const db = openDatabase(path.join(tmp, `${tag}.db`));
    const ctl = createNetworkController({ db, execRoot: path.join(tmp, tag), bridge, bip, pools: [{ base: `10.235.${octet}.0/24`, size: 26 }] });
    return { db, ctl };
  };
  const BRA = `tsnA${pid}`.slice(0, 15);
  const BRB = `tsnB${pid}`.slice(0, 15);
  const A = mk('a', BRA, `10.233.${octet}.1/24`);
  const B = mk('b', BRB, `10.234.${octet}.1/24`);
  const ctls: NetworkController[] = [A.ctl, B.ctl];
  const procs: ChildProcess[] = [];
  t.teardown(async () => {
    for (const p of procs) p.kill('SIGKILL');
    for (const c of ctls) await c.shutdown({ removeBridge: true }).catch(() => undefined);
    A.db.close();
    B.db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  await A.ctl.init();
  await B.ctl.init();
  addContainer(A.db, cid('a1'), 'a1');
  addContainer(A.db, cid('a2'), 'a2');
  addContainer(B.db, cid('b1'), 'b1');
  const a1 = await A.ctl.attach(cid('a1'), { network: 'bridge', hostname: 'a1' });
  const b1 = await B.ctl.attach(cid('b1'), { network: 'bridge', hostname: 'b1' });
  t.ok(reach(A.ctl.netnsPath(cid('a1')), a1.gateway), 'A container reaches its gateway');
  t.ok(reach(B.ctl.netnsPath(cid('b1')), b1.gateway), 'B container reaches its gateway');
  t.notOk(pingFrom(A.ctl.netnsPath(cid('a1')), b1.ip), "A's container cannot reach B's");

  await B.ctl.shutdown({ removeBridge: true });
  t.notOk(fs.existsSync(`/sys/class/net/${BRB}`), 'B bridge gone');
  t.match(sh('iptables', ['-S']).out, `TSD-${BRA}`, "A's rules untouched by B's teardown");
  t.match(sh('iptables', ['-t', 'nat', '-S']).out, `TSD-${BRA}`, "A's nat rules untouched");
  t.ok(reach(A.ctl.netnsPath(cid('a1')), a1.gateway), 'A still works');

  // a2 publishes a port; then the daemon stops without cleaning up (as on a crash or a live restart)
  const www = path.join(tmp, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'index.html'), `again-${pid}\n`);
  const a2 = await A.ctl.attach(cid('a2'), { network: 'bridge', hostname: 'a2', ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }] });
  procs.push(spawn('nsenter', [`--net=${A.ctl.netnsPath(cid('a2'))}`, BB, 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' }));
  const port = a2.ports[0]!.hostPort;
  await A.ctl.shutdown();
  await t.rejects(httpGet(port), 'proxy stopped with the daemon');
  t.ok(fs.existsSync(A.ctl.netnsPath(cid('a1'))), 'netns files survive a plain shutdown');

  const A2 = createNetworkController({ db: A.db, execRoot: path.join(tmp, 'a'), bridge: BRA, bip: `10.233.${octet}.1/24` });
  ctls.push(A2);
  await A2.init();
  await A2.reconcile(new Set([cid('a2')]));
  t.notOk(fs.existsSync(A2.netnsPath(cid('a1'))), 'netns of the gone container removed');
  t.notOk(fs.existsSync(`/sys/class/net/${a1.hostVeth}`), 'its veth removed');
  t.same(A2.endpoints(cid('a1')), [], 'its endpoint row removed');
  let body = '';
  for (let i = 0; i < 40 && !body.includes('again'); i++) {
    body = await httpGet(port).catch(() => '');
    if (!body) await new Promise((r) => setTimeout(r, 50));
  }
  t.match(body, `again-${pid}`, 'the live container is published again on the same port');
  t.equal(A2.inspect('bridge').id, A.ctl.inspect('bridge').id, 'network ids are stable across restarts');
  await A2.shutdown({ removeBridge: true });
  t.notOk(fs.existsSync(`/sys/class/net/${BRA}`), 'A bridge gone');
  t.notMatch(sh('iptables', ['-S']).out + sh('iptables', ['-t', 'nat', '-S']).out, new RegExp(`${BRA}|${BRB}`), 'no rules left');
  t.notMatch(fs.readFileSync('/proc/mounts', 'utf8'), tmp, 'no mounts left');
});
