// Published ports served by the kernel (DNAT), seen from another network
// namespace this test creates (a "client" netns behind its own veth pair):
// the container sees the client's own address, half-closed connections work
// in both directions, a container reaches another's published port and its own
// (hairpin), and detach removes the rules. Loopback stays the proxy's (its own
// tests are in test/security/port-proxy.test.ts and test/unit/netctl/ports.test.ts).
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
const octet = (pid % 200) + 30;
const BRIDGE = `tsnp${pid}`.slice(0, 15);
const BIP = `10.238.${octet}.1/24`;
const CLIENT_HOST = `10.239.${octet}.1`; // the host end of the client's veth
const CLIENT = `10.239.${octet}.2`;
const HOSTVETH = `tsnc${pid}`.slice(0, 15);
const cid = (n: number) => `${pid.toString(16).padStart(8, '0')}${'d'.repeat(55)}${n}`;

const sh = (cmd: string, args: string[], input?: string, timeout = 20_000): string => execFileSync(cmd, args, { encoding: 'utf8', input, timeout, stdio: ['pipe', 'pipe', 'pipe'] });

function addContainer(db: DB, id: string, name: string): void {
  db.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created_at, state, config, host_config) VALUES (?, ?, 'img', 'busybox', '2026-01-01T00:00:00Z', 'running', '{}', '{}')`).run(id, '/' + name);
}

/** HTTP/1.0 GET of the peer-address CGI through busybox nc in netns `ns`; retries while the server starts. */
async function peerSeen(ns: string, host: string, port: number): Promise<string> {
  let last = '';
  for (let i = 0; i < 40; i++) {
    try {
      last = sh('nsenter', [`--net=${ns}`, BB, 'nc', '-w', '3', host, String(port)], 'GET /cgi-bin/addr HTTP/1.0\r\n\r\n', 10_000);
      const m = /peer=(\S+)/.exec(last);
      if (m) return m[1]!.replace(/^\[?(::ffff:)?/, '').replace(/\]$/, '');
    } catch (e) {
      last = String((e as Error).message);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return `none (${last.slice(0, 200)})`;
}

/** Runs a node TCP client inside netns `ns` (a script on stdin); resolves with its stdout. */
function nodeIn(ns: string, script: string, timeout = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('nsenter', [`--net=${ns}`, process.execPath, '--input-type=module', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`client exited ${code}: ${err}`));
    });
    p.stdin.end(script);
  });
}

t.test('published ports through the kernel, from another netns', privilegedOpts(), async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-netctl-dnat-'));
  const db = openDatabase(path.join(tmp, 'tsd.db'));
  const ctl: NetworkController = createNetworkController({ db, execRoot: path.join(tmp, 'run'), bridge: BRIDGE, bip: BIP, pools: [{ base: `10.240.${octet}.0/24`, size: 26 }] });
  const clientNs = path.join(tmp, 'client-ns');
  const procs: ChildProcess[] = [];
  t.teardown(async () => {
    for (const p of procs) p.kill('SIGKILL');
    try { execFileSync('ip', ['link', 'del', HOSTVETH], { stdio: 'ignore' }); } catch { /* gone */ }
    try { execFileSync('umount', ['-l', clientNs], { stdio: 'ignore' }); } catch { /* not mounted */ }
    await ctl.shutdown({ removeBridge: true }).catch(() => undefined);
    db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  for (let i = 1; i <= 3; i++) addContainer(db, cid(i), `pp${i}-${pid}`);
  await ctl.init();

  // the client: its own netns behind a veth pair, routed through the host
  fs.writeFileSync(clientNs, '');
  sh('unshare', [`--net=${clientNs}`, 'ip', 'link', 'set', 'lo', 'up']);
  sh('ip', ['link', 'add', HOSTVETH, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', clientNs]);
  sh('ip', ['addr', 'add', `${CLIENT_HOST}/30`, 'dev', HOSTVETH]);
  sh('ip', ['link', 'set', HOSTVETH, 'up']);
  sh('nsenter', [`--net=${clientNs}`, 'sh', '-c', `ip addr add ${CLIENT}/30 dev eth0 && ip link set eth0 up && ip route add default via ${CLIENT_HOST}`]);

  // a web server in container 1 that tells who connected; nc servers for the half-close cases
  const www = path.join(tmp, 'www');
  fs.mkdirSync(path.join(www, 'cgi-bin'), { recursive: true });
  fs.writeFileSync(path.join(www, 'cgi-bin', 'addr'), '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "peer=$REMOTE_ADDR"\n', { mode: 0o755 });
  const any = (containerPort: number) => ({ containerPort, protocol: 'tcp' as const, hostIp: '', hostPort: 0 });
  const e1 = await ctl.attach(cid(1), { network: 'bridge', hostname: 'one', ports: [any(80), any(81), any(82), { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }] });
  const e2 = await ctl.attach(cid(2), { network: 'bridge', hostname: 'two' });
  const [web, echoCount, sink, webLo] = e1.ports.map((p) => p.hostPort) as [number, number, number, number];
  const ns1 = ctl.netnsPath(cid(1));
  const sinkOut = path.join(tmp, 'sink-count');
  procs.push(spawn('nsenter', [`--net=${ns1}`, BB, 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' }));
  procs.push(spawn('nsenter', [`--net=${ns1}`, BB, 'nc', '-ll', '-p', '81', '-e', 'wc', '-c'], { stdio: 'ignore' }));
  procs.push(spawn('nsenter', [`--net=${ns1}`, 'sh', '-c', `${BB} nc -l -p 82 </dev/null | wc -c > ${sinkOut}`], { stdio: 'ignore' }));

  await t.test("the container sees the client's own address", async (t) => {
    t.equal(await peerSeen(clientNs, CLIENT_HOST, web), CLIENT, 'DNAT keeps the source (the proxy would show the host)');
    const rules = sh('iptables', ['-t', 'nat', '-S', `TSD-P-${BRIDGE}`]);
    t.match(rules, `--dport ${web} -j DNAT --to-destination ${e1.ip}:80`, 'one DNAT rule per published port');
  });

  await t.test('hairpin: a container reaches another container’s and its own published port', async (t) => {
    t.equal(await peerSeen(ctl.netnsPath(cid(2)), e2.gateway, web), e2.ip, 'container 2 → host:port → container 1, its address kept');
    t.equal(await peerSeen(ns1, e1.gateway, web), e1.gateway, 'container 1 → its own published port (masqueraded so the answer comes back)');
  });

  await t.test('half-closed connections through the DNAT path', async (t) => {
    // the client sends 3 MB, shuts down its write side, and reads the count the server answers after that FIN
    const reply = await nodeIn(clientNs, `
      import net from 'node:net';
      for (let i = 0; i < 40; i++) {
        const got = await new Promise((resolve) => {
          let buf = '';
          const s = net.connect({ host: '${CLIENT_HOST}', port: ${echoCount}, allowHalfOpen: true }, () => s.end(Buffer.alloc(3 << 20)));
          s.on('data', (d) => (buf += d)).on('end', () => resolve(buf)).on('error', () => resolve(''));
        });
        if (got.trim()) { console.log(got.trim()); process.exit(0); }
        await new Promise((r) => setTimeout(r, 100));
      }
      process.exit(1);`);
    t.equal(reply, String(3 << 20), 'reply after the client FIN');
    // the server half-closes first (its stdin is /dev/null); the client uploads 64 MB after that FIN
    const sent = await nodeIn(clientNs, `
      import net from 'node:net';
      const s = net.connect({ host: '${CLIENT_HOST}', port: ${sink}, allowHalfOpen: true });
      s.on('data', () => {});
      s.on('end', () => {
        const chunk = Buffer.alloc(1 << 20);
        let n = 0;
        const pump = () => { while (n < 64) { n++; if (!s.write(chunk)) return void s.once('drain', pump); } s.end(() => console.log(n << 20)); };
        pump();
      });
      s.on('error', (e) => { console.error(e.message); process.exit(1); });`);
    t.equal(sent, String(64 << 20), 'the upload went on after the server FIN');
    let count = '';
    for (let i = 0; i < 100 && !count; i++) {
      count = fs.existsSync(sinkOut) ? fs.readFileSync(sinkOut, 'utf8').trim() : '';
      if (!count) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(count, String(64 << 20), 'the server received all of it');
  });

  await t.test('the proxy: a host-network client reaches a port published on 127.0.0.1, half-closed too; a bridge does not', async (t) => {
    // the host's netns is where a --network host container talks from
    t.equal(await peerSeen(`/proc/${process.pid}/ns/net`, '127.0.0.1', webLo), e1.gateway, 'through the proxy: the container sees the bridge side of the host');
    t.notMatch(sh('iptables', ['-t', 'nat', '-S', `TSD-P-${BRIDGE}`]), `--dport ${webLo} `, 'no DNAT rule for a loopback binding');
    const reply = await nodeIn(`/proc/${process.pid}/ns/net`, `
      import net from 'node:net';
      for (let i = 0; i < 40; i++) {
        const got = await new Promise((resolve) => {
          let buf = '';
          const s = net.connect({ host: '127.0.0.1', port: ${echoCount}, allowHalfOpen: true }, () => s.end(Buffer.alloc(3 << 20)));
          s.on('data', (d) => (buf += d)).on('end', () => resolve(buf)).on('error', () => resolve(''));
        });
        if (got.trim()) { console.log(got.trim()); process.exit(0); }
        await new Promise((r) => setTimeout(r, 100));
      }
      process.exit(1);`);
    t.equal(reply, String(3 << 20), 'through the proxy: the reply after the client FIN');
    const refused = sh('nsenter', [`--net=${ctl.netnsPath(cid(2))}`, 'sh', '-c', `${BB} nc -w 2 ${e2.gateway} ${webLo} </dev/null >/dev/null 2>&1; echo $?`]).trim();
    t.not(refused, '0', 'a loopback binding is not reachable from a bridge (as dockerd)');
  });

  await t.test('loopback is the proxy’s; detach removes the rules', async (t) => {
    const viaLo = await new Promise<string>((resolve) => {
      let buf = '';
      const s = net.connect({ host: '127.0.0.1', port: web }, () => s.write('GET /cgi-bin/addr HTTP/1.0\r\n\r\n'));
      s.on('data', (d) => (buf += d)).on('end', () => resolve(buf)).on('error', (e) => resolve(e.message));
    });
    t.match(viaLo, new RegExp(`peer=\\[?(::ffff:)?${e1.gateway.replace(/\./g, '\\.')}\\]?\\s`), '127.0.0.1 through the userland proxy (the kernel cannot DNAT loopback)');
    await ctl.detach(cid(1));
    await ctl.detach(cid(2));
    t.notMatch(sh('iptables', ['-t', 'nat', '-S']), `--to-destination ${e1.ip}:`, 'no DNAT rule left');
    t.notMatch(sh('iptables', ['-t', 'nat', '-S', `TSD-H-${BRIDGE}`]), 'MASQUERADE', 'no hairpin rule left');
  });
});
