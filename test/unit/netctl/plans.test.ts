import t from 'tap';
import { planBridgeRules, setupCalls, teardownCalls } from '../../../netctl/iptables.js';
import { hostVethName, planBridge, planVeth, userBridgeName } from '../../../netctl/links.js';

t.test('iptables plan of a bridge network', async (t) => {
  const p = planBridgeRules({ bridge: 'tsd0', subnet: '172.31.0.0/16', internal: false });
  t.same(
    p.chains.map((c) => `${c.table}/${c.chain}`),
    ['filter/TSD-ISO-tsd0', 'filter/TSD-tsd0', 'nat/TSD-tsd0'],
    'chains named after the bridge',
  );
  t.same(p.chains[2]!.rules, [['-s', '172.31.0.0/16', '!', '-o', 'tsd0', '-j', 'MASQUERADE']]);
  t.same(p.chains[1]!.rules, [['-i', 'tsd0', '-j', 'ACCEPT'], ['-o', 'tsd0', '-j', 'ACCEPT']], 'explicit ACCEPT whatever the FORWARD policy');
  const iso = p.jumps.find((j) => j.args.includes('TSD-ISO-tsd0'))!;
  t.equal(iso.where, 'insert', 'isolation hooked at the top of FORWARD');
  t.ok(p.jumps.filter((j) => j.args.includes('TSD-tsd0') && j.table === 'filter').every((j) => j.where === 'append'), 'accept hooked at the end');
  const setup = setupCalls(p);
  t.ok(setup.every((c) => !c.args.includes('FORWARD') || c.checkFirst), 'jumps are only added when missing');
  t.notOk(setup.some((c) => c.args.some((a) => a === '-P' || a === '-X') || (c.args[2] === '-F' && !c.args[3]!.startsWith('TSD-'))), 'never flushes or changes foreign chains');
  const down = teardownCalls(p);
  t.ok(down.every((c) => c.ignoreFailure), 'teardown is idempotent');
  t.same(down.filter((c) => c.args.includes('-X')).map((c) => c.args[4] ?? c.args[3]), ['TSD-ISO-tsd0', 'TSD-tsd0', 'TSD-tsd0']);
  t.ok(down.filter((c) => c.args.includes('-D')).length === p.jumps.length, 'every jump removed');

  t.notOk(planBridgeRules({ bridge: 'b', subnet: '10.0.0.0/24', internal: false, masquerade: false }).chains.some((c) => c.table === 'nat'), 'enable_ip_masquerade=false');
  t.match(planBridge({ bridge: 'b', gateway: '10.0.0.1', prefixLen: 24, mac: 'm', mtu: 1400 })[0], / mtu 1400 type bridge$/);
  t.match(planVeth({ newNetns: false, ifname: 'eth0', hostVeth: 'v', hostNetns: 'n', bridge: 'b', ip: '1.1.1.2', prefixLen: 24, mac: 'm', gateway: 'g', defaultRoute: false, mtu: 1400 }).inside[0], /eth0 address m mtu 1400 type veth peer name v mtu 1400 netns n/);
  const internal = planBridgeRules({ bridge: 'br1', subnet: '10.0.0.0/24', internal: true });
  t.notOk(internal.chains.some((c) => c.table === 'nat'), 'internal: no NAT');
  t.same(internal.chains[0]!.rules, [['-i', 'br1', '!', '-o', 'br1', '-j', 'DROP'], ['-o', 'br1', '!', '-i', 'br1', '-j', 'DROP']]);
});

t.test('link plans', async (t) => {
  t.same(planBridge({ bridge: 'tsd0', gateway: '172.31.0.1', prefixLen: 16, mac: '02:42:ac:1f:00:01' }), ['link add name tsd0 address 02:42:ac:1f:00:01 type bridge', 'addr replace 172.31.0.1/16 dev tsd0', 'link set tsd0 up']);
  const v = planVeth({ newNetns: true, ifname: 'eth0', hostVeth: 'vethabc', hostNetns: '/proc/1/ns/net', bridge: 'tsd0', ip: '172.31.0.2', prefixLen: 16, mac: '02:42:ac:1f:00:02', gateway: '172.31.0.1', defaultRoute: true });
  t.same(v.inside, [
    'link set lo up',
    'link add eth0 address 02:42:ac:1f:00:02 type veth peer name vethabc netns /proc/1/ns/net',
    'addr add 172.31.0.2/16 dev eth0',
    'link set eth0 up',
    'route replace default via 172.31.0.1 dev eth0',
  ]);
  t.same(v.host, ['link set vethabc master tsd0', 'link set vethabc up']);
  const second = planVeth({ newNetns: false, ifname: 'eth1', hostVeth: 'v', hostNetns: 'n', bridge: 'b', ip: '1.1.1.2', prefixLen: 24, mac: 'm', gateway: '1.1.1.1', defaultRoute: false }).inside;
  t.notOk(second.some((l) => l.includes('default') || l.includes('lo up')), 'an existing netns: no lo, no second default route');
  const a = hostVethName('c1', 'n1');
  t.equal(a, hostVethName('c1', 'n1'), 'deterministic');
  t.not(a, hostVethName('c1', 'n2'));
  t.ok(a.length <= 15 && userBridgeName('f'.repeat(64)).length <= 15, 'fits IFNAMSIZ');
});
