import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { harness, recordingFirewaller, tornDown, type FwCall } from './fakes.js';

const C1 = 'a'.repeat(64);
const C2 = 'b'.repeat(64);
const C3 = 'c'.repeat(64);

t.test('init: predefined networks, default bridge, idempotent', async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.ctl.init();
  await h.ctl.init();
  const nets = h.ctl.list();
  t.same(nets.map((n) => `${n.name}/${n.driver}`).sort(), ['bridge/bridge', 'host/host', 'none/null']);
  const br = h.ctl.inspect('bridge');
  t.equal(br.subnet, '10.250.0.0/24');
  t.equal(br.gateway, '10.250.0.1');
  t.equal(br.bridge, 'tsdu0');
  t.equal(br.options['com.docker.network.bridge.name'], 'tsdu0');
  t.ok(br.predefined);
  t.match(br.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/, 'RFC 3339 with nanoseconds');
  t.same(h.ipLog[0]!.lines, ['link add name tsdu0 address 02:42:0a:fa:00:01 type bridge', 'addr replace 10.250.0.1/24 dev tsdu0', 'link set tsdu0 up']);
  t.ok(h.sys.calls.some((c) => c.call === 'mount'), 'netns dir made a private bind mount');
});

t.test('init with a changed --bridge/--bip moves the default network and removes the old device', async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.ctl.init();
  const id = h.ctl.inspect('bridge').id;
  const { createNetworkController } = await import('../../../netctl/index.js');
  const log: string[][] = [];
  const fwLog: FwCall[] = [];
  const ctl2 = createNetworkController(
    { db: h.db, execRoot: path.join(h.dir, 'run'), bridge: 'tsdu1', bip: '10.252.0.1/16' },
    {
      ip: { host: async (l) => void log.push(l), inNetns: async () => undefined, createNetns: async () => undefined },
      firewall: recordingFirewaller(fwLog),
      sys: h.sys,
      enableForwarding: () => undefined,
    },
  );
  await ctl2.init();
  const br = ctl2.inspect('bridge');
  t.equal(br.id, id, 'same network id');
  t.same([br.bridge, br.subnet, br.gateway], ['tsdu1', '10.252.0.0/16', '10.252.0.1']);
  t.ok(tornDown(fwLog).includes('filter/TSD-tsdu0'), 'old chains removed');
  t.ok(log.some((l) => l.includes('link add name tsdu1 address 02:42:0a:fc:00:01 type bridge')), 'new bridge created');
});

t.test('create: validation and Docker errors', async (t) => {
  const h = harness({ pools: [{ base: '10.251.0.0/23', size: 24 }] });
  t.teardown(h.cleanup);
  await h.ctl.init();
  const a = await h.ctl.create({ name: 'a', labels: { team: 'x' } });
  t.match(a.subnet, /^10\.251\.[01]\.0\/24$/);
  t.equal(a.gateway, a.subnet.replace('0/24', '1'));
  t.equal(a.bridge, `tsd-${a.id.slice(0, 11)}`);
  t.equal(a.id.length, 64);
  await t.rejects(h.ctl.create({ name: 'a' }), { kind: 'conflict', message: 'network with name a already exists' });
  await t.rejects(h.ctl.create({ name: 'bridge' }), { kind: 'conflict', message: /already exists/ });
  await t.rejects(h.ctl.create({ name: '' }), { kind: 'invalid-parameter', message: /required/ });
  await t.rejects(h.ctl.create({ name: '  ' }), { kind: 'invalid-parameter', message: /invalid network name/ }, 'a blank name (dockerd takes any other)');
  await t.rejects(h.ctl.create({ name: 'h', driver: 'host' }), { kind: 'forbidden', message: 'only one instance of "host" network is allowed' });
  await t.rejects(h.ctl.create({ name: 'o', driver: 'overlay' }), { kind: 'not-found', message: /plugin not found/ });
  await t.rejects(h.ctl.create({ name: 'ov', subnet: '10.250.0.128/25' }), { kind: 'forbidden', message: /overlaps/ });
  await t.rejects(h.ctl.create({ name: 'gw', subnet: '10.9.0.0/24', gateway: '10.8.0.1' }), { kind: 'invalid-parameter', message: /gateway/ });
  await t.rejects(h.ctl.create({ name: 'sn', subnet: '10.9.0.0/33' }), { kind: 'invalid-parameter', message: /CIDR/ });
  await t.rejects(h.ctl.create({ name: 'mtu', options: { 'com.docker.network.driver.mtu': 'big' } }), { kind: 'invalid-parameter', message: /MTU/ });
  const b = await h.ctl.create({ name: 'b', internal: true, options: { 'com.docker.network.bridge.name': 'mybr0' } });
  t.equal(b.bridge, 'mybr0');
  t.not(b.subnet, a.subnet, 'next subnet from the pool');
  await t.rejects(h.ctl.create({ name: 'c' }), { kind: 'unavailable', message: /non-overlapping/ }, 'pool exhausted');
  const fixed = await h.ctl.create({ name: 'fixed', subnet: '10.9.0.7/24', gateway: '10.9.0.254' });
  t.equal(fixed.subnet, '10.9.0.0/24');
  t.equal(fixed.gateway, '10.9.0.254');
  t.equal(h.ctl.list().length, 6, 'failed creates left no rows');
  t.equal(h.ctl.inspect(a.id.slice(0, 6)).name, 'a', 'id prefix lookup');
  t.throws(() => h.ctl.inspect('nosuch'), { kind: 'not-found', message: 'network nosuch not found' });
  t.same(h.ctl.list({ label: ['team=x'] }).map((n) => n.name), ['a']);
  t.same(h.ctl.list({ label: ['team=y'] }), []);
  t.same(h.ctl.list({ type: ['custom'] }).map((n) => n.name).sort(), ['a', 'b', 'fixed']);
  t.same(h.ctl.list({ driver: ['null'] }).map((n) => n.name), ['none']);
  t.same(h.ctl.list({ name: ['fix'] }).map((n) => n.name), ['fixed'], 'name filter matches substrings');
});

t.test('create: names and IPAM options dockerd takes', async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.ctl.init();
  const n = await h.ctl.create({ name: 'with a space', subnet: '10.60.0.0/24', ipRange: '10.60.0.128/26' });
  t.equal(h.ctl.inspect('with a space').id, n.id, 'a name with spaces, as libnetwork allows');
  t.equal(n.ipRange, '10.60.0.128/26');
  t.same(Object.keys(n.options), [], 'the range is not shown as an option');
  await t.rejects(h.ctl.create({ name: 'out', subnet: '10.61.0.0/24', ipRange: '10.62.0.0/25' }), { kind: 'invalid-parameter', message: /not within subnet/ });
  h.addContainer(C1, 'one');
  h.addContainer(C2, 'two');
  const e = await h.ctl.attach(C1, { network: n.id, hostname: 'one', mac: '02:42:AA:bb:cc:01' });
  t.equal(e.ip, '10.60.0.129', 'first address of the range');
  t.equal(e.mac, '02:42:aa:bb:cc:01', 'the requested MAC');
  await t.rejects(h.ctl.attach(C2, { network: n.id, hostname: 'two', mac: 'nope' }), { kind: 'invalid-parameter', message: /invalid MAC address/ });
});

t.test('attach/detach: IPAM through endpoints, plans, hosts refresh', async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.ctl.init();
  h.addContainer(C1, 'one');
  h.addContainer(C2, 'two');
  h.addContainer(C3, 'three');
  const n = await h.ctl.create({ name: 'app', subnet: '10.77.0.0/29' });
  h.ipLog.length = 0;
  const e1 = await h.ctl.attach(C1, { network: 'bridge', hostname: 'one' });
  t.equal(e1.ip, '10.250.0.2');
  t.equal(e1.mac, '02:42:0a:fa:00:02');
  t.equal(e1.ifname, 'eth0');
  t.same(h.ipLog.map((l) => l.where), [`unshare ${h.ctl.netnsPath(C1)}`, 'host'], 'new netns created and configured by one process, then the host end enslaved');
  t.ok(h.ipLog[0]!.lines.includes(`link add eth0 address 02:42:0a:fa:00:02 type veth peer name ${e1.hostVeth} netns /proc/${process.pid}/ns/net`));
  t.ok(h.ipLog[0]!.lines.includes('route replace default via 10.250.0.1 dev eth0'));
  t.same(h.ipLog[1]!.lines, [`link set ${e1.hostVeth} master tsdu0`, `link set ${e1.hostVeth} type bridge_slave hairpin on`, `link set ${e1.hostVeth} up`]);
  t.ok(fs.existsSync(h.ctl.netnsPath(C1)), 'netns file placeholder created');

  const e1b = await h.ctl.attach(C1, { network: 'app', hostname: 'one', aliases: ['web', 'web'] });
  t.equal(e1b.ifname, 'eth1', 'second network gets eth1');
  t.same(e1b.aliases, ['web']);
  t.notOk(h.ipLog.at(-2)!.lines.some((l) => l.includes('default')), 'only the first network sets the default route');
  await t.rejects(h.ctl.attach(C1, { network: 'app', hostname: 'one' }), { kind: 'forbidden', message: 'endpoint with name one already exists in network app' });

  const e2 = await h.ctl.attach(C2, { network: 'app', hostname: 'two', ipv4: '10.77.0.5' });
  t.equal(e2.ip, '10.77.0.5', 'requested address');
  await t.rejects(h.ctl.attach(C3, { network: 'app', hostname: 'x', ipv4: '10.77.0.5' }), { kind: 'invalid-parameter', message: /in use/ });
  await t.rejects(h.ctl.attach(C3, { network: 'host', hostname: 'x' }), { kind: 'forbidden', message: /host network/ });
  await t.rejects(h.ctl.attach('f'.repeat(64), { network: 'app', hostname: 'x' }), { kind: 'not-found', message: /No such container/ });
  const e3 = await h.ctl.attach(C3, { network: 'app', hostname: 'three' });
  t.equal(e3.ip, '10.77.0.3');
  // /29: .1 gateway, .2 .3 .5 used → .4 .6 left
  h.addContainer('d'.repeat(64), 'four');
  h.addContainer('e'.repeat(64), 'five');
  h.addContainer('9'.repeat(64), 'six');
  t.equal((await h.ctl.attach('d'.repeat(64), { network: 'app', hostname: 'four' })).ip, '10.77.0.4');
  t.equal((await h.ctl.attach('e'.repeat(64), { network: 'app', hostname: 'five' })).ip, '10.77.0.6');
  await t.rejects(h.ctl.attach('9'.repeat(64), { network: 'app', hostname: 'six' }), { kind: 'unavailable', message: /no available IPv4/ }, 'exhausted');
  t.same(h.ctl.endpoints('9'.repeat(64)), [], 'no row left by a failed attach');

  const d1 = path.join(h.dir, 'c1');
  const files = h.ctl.writeEtcFiles(d1, { hostname: 'one', domainname: 'example.com', endpoints: h.ctl.endpoints(C1), dnsSearch: ['s.test'] });
  let hosts = fs.readFileSync(files.hosts, 'utf8');
  t.match(hosts, '10.250.0.2\tone.example.com one\n');
  t.match(hosts, '10.77.0.2\tone.example.com one\n');
  t.match(hosts, `10.77.0.5\ttwo ${C2.slice(0, 12)}\n`, 'peer on app');
  t.equal(fs.readFileSync(files.resolvConf, 'utf8'), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch s.test\n');

  await h.ctl.detach(C2);
  t.ok(h.ipLog.at(-1)!.lines.includes(`link del ${e2.hostVeth}`), 'host veth deleted');
  const n0 = h.ipLog.length;
  await h.ctl.detach(C2);
  t.equal(h.ipLog.length, n0, 'a second detach does nothing');
  hosts = fs.readFileSync(files.hosts, 'utf8');
  t.notMatch(hosts, 'two', 'peer gone after detach');
  t.notOk(fs.existsSync(h.ctl.netnsPath(C2)), 'netns file removed');
  await h.ctl.detach(C1, 'app');
  t.equal(h.ctl.endpoints(C1).length, 1, 'still on bridge');
  t.notMatch(fs.readFileSync(files.hosts, 'utf8'), '10.77.0.2', 'own app address gone');
  t.ok(fs.existsSync(h.ctl.netnsPath(C1)), 'netns kept while other endpoints remain');
  await t.rejects(h.ctl.remove('app'), { kind: 'forbidden', message: /has active endpoints/ });
  await t.rejects(h.ctl.remove('bridge'), { kind: 'forbidden', message: 'bridge is a pre-defined network and cannot be removed' });
  await h.ctl.detach(C1, 'nosuchnet');
  t.equal(h.ctl.inspect(n.id).endpoints.length, 3);
});

t.test('prune and reconcile', async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.ctl.init();
  h.addContainer(C1, 'one');
  h.addContainer(C2, 'two');
  await h.ctl.create({ name: 'used' });
  await h.ctl.create({ name: 'unused', labels: { k: 'v' } });
  await h.ctl.create({ name: 'unused2' });
  await h.ctl.attach(C1, { network: 'used', hostname: 'one' });
  await h.ctl.attach(C2, { network: 'bridge', hostname: 'two' });
  t.same(await h.ctl.prune({ label: ['k=v'] }), ['unused']);
  t.same(await h.ctl.prune({ until: Date.parse('2000-01-01T00:00:00Z') }), [], 'until excludes newer networks');
  t.same(await h.ctl.prune(), ['unused2']);
  fs.writeFileSync(path.join(h.dir, 'run', 'netns', 'stale'), '');
  await h.ctl.reconcile(new Set([C2]));
  t.same(h.ctl.endpoints(C1), [], 'gone container detached');
  t.equal(h.ctl.endpoints(C2).length, 1, 'live container kept');
  t.notOk(fs.existsSync(path.join(h.dir, 'run', 'netns', 'stale')), 'stale netns file removed');
  t.ok(fs.existsSync(h.ctl.netnsPath(C2)));
  await h.ctl.shutdown({ removeBridge: true });
  t.same(h.ctl.endpoints(C2), [], 'shutdown(removeBridge) detaches everything');
  t.ok(tornDown(h.fwLog).includes('filter/TSD-tsdu0'), 'default bridge chains deleted');
});

t.test('detach of an exited container (deferUnlink): the veth goes in the background, its name and address wait', async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.ctl.init();
  h.addContainer(C1, 'one');
  h.addContainer(C2, 'two');
  const e1 = await h.ctl.attach(C1, { network: 'bridge', hostname: 'one' });
  const release = h.holdDeletes();
  const tick = () => new Promise((r) => setTimeout(r, 20));
  let detached = false;
  void h.ctl.detach(C1, undefined, { deferUnlink: true }).then(() => (detached = true));
  await tick();
  t.ok(detached, 'detach answers while the link deletion still runs');
  t.same(h.ctl.endpoints(C1), [], 'the endpoint row is gone');
  t.notOk(fs.existsSync(h.ctl.netnsPath(C1)), 'and the netns file');

  const e2 = await h.ctl.attach(C2, { network: 'bridge', hostname: 'two' });
  t.not(e2.ip, e1.ip, `an address whose veth is still being deleted is not given out (${e2.ip})`);

  let settled = false;
  void h.ctl.settle().then(() => (settled = true));
  let again = false;
  const reattach = h.ctl.attach(C1, { network: 'bridge', hostname: 'one' }).then((e) => { again = true; return e; });
  await tick();
  t.notOk(settled, 'settle() waits for the deletion');
  t.notOk(again, 'an attach that needs the same veth name waits for its deletion');
  release();
  const e1b = await reattach;
  await tick();
  t.ok(settled, 'settle() resolves once it is done');
  t.equal(e1b.hostVeth, e1.hostVeth, 'the same host veth name');
  const del = h.ipLog.findIndex((l) => l.lines.includes(`link del ${e1.hostVeth}`));
  const add = h.ipLog.map((l, i) => (l.lines.some((x) => x.includes(`peer name ${e1.hostVeth} `)) ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  t.ok(del >= 0 && add > del, 'the old veth was deleted before the new one was made');

  // without deferUnlink, detach answers after the deletion (rm, network disconnect)
  const release2 = h.holdDeletes();
  let done = false;
  const d = h.ctl.detach(C2).then(() => (done = true));
  await tick();
  t.notOk(done, 'a plain detach waits for the link deletion');
  release2();
  await d;
  t.ok(done);
});
