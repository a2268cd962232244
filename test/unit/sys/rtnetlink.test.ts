import t from 'tap';
import { encodeAttrs, errorOf, ipBytes, message, parseAttrs, parseLink, parseMessages, rtnl, NLMSG_ERROR, RTM_NEWLINK } from '../../../sys/rtnetlink.js';
import { parseLinkOp } from '../../../netctl/links.js';

t.test('rtnetlink requests as the kernel reads them', async (t) => {
  const up = rtnl.setUp('eth0');
  const m = message(up.type, up.flags, 7, up.body);
  t.equal(m.readUInt32LE(0), m.length, 'nlmsg_len is the whole message');
  t.equal(m.readUInt16LE(4), RTM_NEWLINK);
  t.equal(m.readUInt16LE(6), 0x1 | 0x4, 'NLM_F_REQUEST | NLM_F_ACK');
  t.equal(m.readUInt32LE(8), 7, 'sequence number');
  t.equal(m.readUInt32LE(16 + 8), 1, 'ifi_flags IFF_UP');
  t.equal(m.readUInt32LE(16 + 12), 1, 'ifi_change IFF_UP');
  t.equal(parseAttrs(m.subarray(32)).get(3)?.toString(), 'eth0\0', 'IFLA_IFNAME, NUL-terminated');
  t.equal(m.length % 4, 0, 'aligned');

  const veth = rtnl.addVeth({ name: 'eth0', mac: '02:42:0a:00:00:02', mtu: 1400, peer: 'vethabc', peerNetnsFd: 9 });
  t.equal(veth.flags & 0x600, 0x600, 'NLM_F_CREATE | NLM_F_EXCL');
  const attrs = parseAttrs(veth.body.subarray(16));
  t.same([...attrs.get(1)!], [2, 0x42, 10, 0, 0, 2], 'IFLA_ADDRESS');
  t.equal(attrs.get(4)!.readUInt32LE(0), 1400, 'IFLA_MTU');
  const info = parseAttrs(attrs.get(18)!);
  t.equal(info.get(1)!.toString(), 'veth\0', 'IFLA_INFO_KIND');
  const peer = parseAttrs(info.get(2)!).get(1)!; // VETH_INFO_PEER: an ifinfomsg, then attributes
  const peerAttrs = parseAttrs(peer.subarray(16));
  t.equal(peerAttrs.get(3)!.toString(), 'vethabc\0', 'peer name');
  t.equal(peerAttrs.get(28)!.readUInt32LE(0), 9, 'peer born in the netns of fd 9 (IFLA_NET_NS_FD)');

  const addr = rtnl.addAddr({ index: 5, ip: '10.1.2.3', prefixLen: 24 });
  t.same([addr.body[0], addr.body[1], addr.body.readUInt32LE(4)], [2, 24, 5], 'ifaddrmsg: AF_INET, /24, index 5');
  t.same([...parseAttrs(addr.body.subarray(8)).get(2)!], [10, 1, 2, 3], 'IFA_LOCAL');
  const route = rtnl.replaceDefaultRoute({ gateway: '10.1.2.1', index: 5 });
  t.same([route.body[1], route.body[4]], [0, 254], 'default (dst_len 0), main table');
  t.same([...ipBytes('fd00::1')], [0xfd, 0, ...Array(13).fill(0), 1]);
  const hp = parseAttrs(parseAttrs(rtnl.setHairpin('v').body.subarray(16)).get(18)!);
  t.equal(hp.get(4)!.toString(), 'bridge\0', 'IFLA_INFO_SLAVE_KIND bridge');
  t.same([...parseAttrs(hp.get(5)!).get(4)!], [1], 'IFLA_BRPORT_MODE on');
  t.same(encodeAttrs([{ type: 1, data: Buffer.from([1]) }]).length, 8, 'padded to 4');
});

t.test('answers', async (t) => {
  const ack = Buffer.alloc(36);
  ack.writeUInt32LE(36, 0);
  ack.writeUInt16LE(NLMSG_ERROR, 4);
  ack.writeUInt32LE(3, 8);
  ack.writeInt32LE(-17, 16); // EEXIST
  const [r] = parseMessages(ack);
  t.equal(r!.seq, 3);
  t.equal(errorOf(r!), 17);
  const link = message(RTM_NEWLINK, 0, 4, Buffer.concat([Buffer.from([0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), encodeAttrs([{ type: 3, data: Buffer.from('tsd0\0') }])]));
  t.same(parseLink(parseMessages(link)[0]!), { index: 12, name: 'tsd0' });
});

t.test('plan lines the netlink executor understands', async (t) => {
  t.same(parseLinkOp('link add name tsd0 address 02:42:ac:1f:00:01 mtu 1400 type bridge'), { op: 'bridge', name: 'tsd0', mac: '02:42:ac:1f:00:01', mtu: 1400 });
  t.same(parseLinkOp('link add eth0 address m mtu 1400 type veth peer name v mtu 1400 netns /proc/1/ns/net'), { op: 'veth', name: 'eth0', mac: 'm', mtu: 1400, peer: 'v', peerMtu: 1400, peerNetns: '/proc/1/ns/net' });
  t.same(parseLinkOp('link add eth0 address m type veth peer name v netns /n'), { op: 'veth', name: 'eth0', mac: 'm', mtu: undefined, peer: 'v', peerMtu: undefined, peerNetns: '/n' });
  t.same(parseLinkOp('addr replace 10.0.0.1/24 dev tsd0'), { op: 'addr', ip: '10.0.0.1', prefixLen: 24, dev: 'tsd0', replace: true });
  t.same(parseLinkOp('route replace default via 10.0.0.1 dev eth0'), { op: 'default-route', gateway: '10.0.0.1', dev: 'eth0' });
  t.same(parseLinkOp('link set v type bridge_slave hairpin on'), { op: 'hairpin', dev: 'v' });
  t.same(parseLinkOp('link del v'), { op: 'del', dev: 'v' });
  t.throws(() => parseLinkOp('link set v nomaster'), /not a link plan line/);
});
