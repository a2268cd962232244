import t from 'tap';
import { allocateIp, checkRequestedIp, cidrsOverlap, firstHost, macFromIp, networkCidr, parseCidr, parseProcNetRoute, selectSubnet } from '../../../netctl/ipam.js';

t.test('parseCidr and networkCidr', async (t) => {
  t.equal(networkCidr('172.31.0.1/16'), '172.31.0.0/16');
  t.equal(networkCidr('10.213.5.1/24'), '10.213.5.0/24');
  const c = parseCidr('10.0.0.0/30');
  t.equal(c.broadcast - c.network, 3);
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0/24', '300.0.0.0/8', '10.0.0.0/24/1', 'x/8']) {
    t.throws(() => parseCidr(bad), { kind: 'invalid-parameter', message: /./ }, bad);
  }
});

t.test('allocation skips network, gateway and broadcast; release frees', async (t) => {
  const used = ['10.1.0.1'];
  t.equal(allocateIp('10.1.0.0/24', used), '10.1.0.2');
  const all: string[] = [...used];
  for (let i = 0; i < 253; i++) {
    const ip = allocateIp('10.1.0.0/24', all);
    t.ok(ip, 'allocated');
    all.push(ip!);
  }
  t.notOk(all.includes('10.1.0.0'), 'network address never handed out');
  t.notOk(all.includes('10.1.0.255'), 'broadcast never handed out');
  t.equal(allocateIp('10.1.0.0/24', all), null, 'exhausted');
  const released = all.filter((x) => x !== '10.1.0.77');
  t.equal(allocateIp('10.1.0.0/24', released), '10.1.0.77', 'a released address is reused');
  t.equal(allocateIp('10.2.0.0/30', ['10.2.0.1']), '10.2.0.2');
  t.equal(allocateIp('10.2.0.0/30', ['10.2.0.1', '10.2.0.2']), null, '/30 has two hosts');
});

t.test('requested addresses', async (t) => {
  t.equal(checkRequestedIp('10.1.0.0/24', '10.1.0.9', ['10.1.0.1']), null);
  t.match(checkRequestedIp('10.1.0.0/24', '10.2.0.9', []), /no configured subnet/);
  t.match(checkRequestedIp('10.1.0.0/24', '10.1.0.1', ['10.1.0.1']), /in use/);
  t.match(checkRequestedIp('10.1.0.0/24', '10.1.0.255', []), /broadcast/);
  t.match(checkRequestedIp('10.1.0.0/24', 'nope', []), /invalid/);
});

t.test('MAC derivation follows Docker', async (t) => {
  t.equal(macFromIp('172.17.0.2'), '02:42:ac:11:00:02');
  t.equal(macFromIp('10.213.5.255'), '02:42:0a:d5:05:ff');
});

t.test('subnet pool selection avoids taken ranges', async (t) => {
  const pools = [{ base: '10.199.0.0/16', size: 24 }];
  t.equal(selectSubnet(pools, []), '10.199.0.0/24');
  t.equal(selectSubnet(pools, ['10.199.0.0/24', '10.199.1.0/24']), '10.199.2.0/24');
  t.equal(selectSubnet(pools, ['10.199.0.0/23']), '10.199.2.0/24', 'a wider route covers several');
  t.equal(selectSubnet(pools, ['10.199.0.128/25']), '10.199.1.0/24', 'a narrower route inside one');
  t.equal(selectSubnet(pools, ['10.0.0.0/8']), null, 'pool fully taken');
  t.equal(selectSubnet([{ base: '10.5.0.0/24', size: 26 }, { base: '10.6.0.0/24', size: 24 }], ['10.5.0.0/24']), '10.6.0.0/24', 'next pool');
  t.throws(() => selectSubnet([{ base: '10.5.0.0/24', size: 16 }], []), { kind: 'invalid-parameter', message: /./ });
  t.ok(cidrsOverlap('10.0.0.0/8', '10.1.2.0/24'));
  t.notOk(cidrsOverlap('10.0.0.0/24', '10.0.1.0/24'));
  t.equal(firstHost('10.1.0.0/24'), '10.1.0.1');
});

t.test('host routes from /proc/net/route', async (t) => {
  const content = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'br0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  t.same(parseProcNetRoute(content), ['192.168.1.0/24', '172.17.0.0/16'], 'default route skipped, little-endian decoded');
  t.same(parseProcNetRoute(content, ['br0']), ['192.168.1.0/24']);
});
