// rtnetlink messages (pure): encoders for the requests netctl makes (links,
// addresses, routes) and decoders for the kernel's answers. The socket that
// carries them is netlink.ts. Layouts are linux/netlink.h, rtnetlink.h,
// if_link.h, if_addr.h and veth.h; every attribute is 4-byte aligned.

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;

const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
const IFF_UP = 0x1;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const IFLA_BRPORT_MODE = 4;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_F_NODAD = 0x02;
const RTA_GATEWAY = 5;
const RTA_OIF = 4;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;
const NLMSG_HDRLEN = 16;

const align = (n: number): number => (n + 3) & ~3;

/** One attribute: type, and a payload or nested attributes. */
export type Attr = { type: number; data: Buffer } | { type: number; nested: Attr[] };

export function encodeAttrs(attrs: Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const payload = 'data' in a ? a.data : encodeAttrs(a.nested);
    const hdr = Buffer.alloc(4);
    hdr.writeUInt16LE(4 + payload.length, 0);
    hdr.writeUInt16LE(a.type, 2);
    parts.push(hdr, payload, Buffer.alloc(align(payload.length) - payload.length));
  }
  return Buffer.concat(parts);
}

export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x3fff; // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
    if (len < 4 || off + len > buf.length) break;
    out.set(type, buf.subarray(off + 4, off + len));
    off += align(len);
  }
  return out;
}

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};
const str = (s: string): Buffer => Buffer.from(s + '\0');
const mac = (m: string): Buffer => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));

/** An IPv4 or IPv6 address as its network-order bytes. */
export function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    const [head, tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
    return b;
  }
  return Buffer.from(ip.split('.').map(Number));
}

function ifinfomsg(o: { index?: number; flags?: number; change?: number } = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(AF_UNSPEC, 0);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE(o.flags ?? 0, 8);
  b.writeUInt32LE(o.change ?? 0, 12);
  return b;
}

/** A whole request: header (length, type, flags, seq; pid 0 = the kernel fills it) and body. */
export function message(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(NLMSG_HDRLEN);
  h.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags | NLM_F_REQUEST, 6);
  h.writeUInt32LE(seq >>> 0, 8);
  return Buffer.concat([h, body]);
}

/** A request in the making: type, flags and body; the socket adds the header. */
export interface Request {
  type: number;
  flags: number;
  body: Buffer;
  /** what it does, for error messages (e.g. `link add tsd0 type bridge`) */
  what: string;
}

const ACK = NLM_F_ACK;

/** By name (index 0): the kernel looks the device up by IFLA_IFNAME. */
const byName = (name: string): Attr => ({ type: IFLA_IFNAME, data: str(name) });

export const rtnl = {
  addBridge(o: { name: string; mac: string; mtu?: number }): Request {
    const attrs: Attr[] = [byName(o.name), { type: IFLA_ADDRESS, data: mac(o.mac) }, ...(o.mtu ? [{ type: IFLA_MTU, data: u32(o.mtu) }] : []), { type: IFLA_LINKINFO, nested: [{ type: IFLA_INFO_KIND, data: str('bridge') }] }];
    return { type: RTM_NEWLINK, flags: ACK | NLM_F_CREATE | NLM_F_EXCL, body: Buffer.concat([ifinfomsg(), encodeAttrs(attrs)]), what: `link add ${o.name} type bridge` };
  },
  /** A veth pair: `name` here, `peer` born in the netns `peerNetnsFd` (no move, no RCU wait). */
  addVeth(o: { name: string; mac: string; mtu?: number; peer: string; peerMtu?: number; peerNetnsFd?: number }): Request {
    const peerAttrs: Attr[] = [byName(o.peer), ...(o.peerMtu ? [{ type: IFLA_MTU, data: u32(o.peerMtu) }] : []), ...(o.peerNetnsFd !== undefined ? [{ type: IFLA_NET_NS_FD, data: u32(o.peerNetnsFd) }] : [])];
    const peer = Buffer.concat([ifinfomsg(), encodeAttrs(peerAttrs)]);
    const attrs: Attr[] = [
      byName(o.name),
      { type: IFLA_ADDRESS, data: mac(o.mac) },
      ...(o.mtu ? [{ type: IFLA_MTU, data: u32(o.mtu) }] : []),
      { type: IFLA_LINKINFO, nested: [{ type: IFLA_INFO_KIND, data: str('veth') }, { type: IFLA_INFO_DATA, nested: [{ type: VETH_INFO_PEER, data: peer }] }] },
    ];
    return { type: RTM_NEWLINK, flags: ACK | NLM_F_CREATE | NLM_F_EXCL, body: Buffer.concat([ifinfomsg(), encodeAttrs(attrs)]), what: `link add ${o.name} type veth peer name ${o.peer}` };
  },
  setUp(name: string): Request {
    return { type: RTM_NEWLINK, flags: ACK, body: Buffer.concat([ifinfomsg({ flags: IFF_UP, change: IFF_UP }), encodeAttrs([byName(name)])]), what: `link set ${name} up` };
  },
  setMaster(name: string, masterIndex: number): Request {
    return { type: RTM_NEWLINK, flags: ACK, body: Buffer.concat([ifinfomsg(), encodeAttrs([byName(name), { type: IFLA_MASTER, data: u32(masterIndex) }])]), what: `link set ${name} master #${masterIndex}` };
  },
  /** Hairpin mode on a bridge port (ip link set NAME type bridge_slave hairpin on). */
  setHairpin(name: string): Request {
    const info: Attr = { type: IFLA_LINKINFO, nested: [{ type: IFLA_INFO_SLAVE_KIND, data: str('bridge') }, { type: IFLA_INFO_SLAVE_DATA, nested: [{ type: IFLA_BRPORT_MODE, data: Buffer.from([1]) }] }] };
    return { type: RTM_NEWLINK, flags: ACK, body: Buffer.concat([ifinfomsg(), encodeAttrs([byName(name), info])]), what: `link set ${name} type bridge_slave hairpin on` };
  },
  delLink(name: string): Request {
    return { type: RTM_DELLINK, flags: ACK, body: Buffer.concat([ifinfomsg(), encodeAttrs([byName(name)])]), what: `link del ${name}` };
  },
  getLink(name: string): Request {
    return { type: RTM_GETLINK, flags: 0, body: Buffer.concat([ifinfomsg(), encodeAttrs([byName(name)])]), what: `link show ${name}` };
  },
  /** `replace`: NLM_F_REPLACE (ip addr replace); else NLM_F_EXCL (ip addr add). */
  addAddr(o: { index: number; ip: string; prefixLen: number; replace?: boolean; nodad?: boolean }): Request {
    const family = o.ip.includes(':') ? AF_INET6 : AF_INET;
    const m = Buffer.alloc(8);
    m.writeUInt8(family, 0);
    m.writeUInt8(o.prefixLen, 1);
    m.writeUInt8(o.nodad ? IFA_F_NODAD : 0, 2);
    m.writeUInt8(RT_SCOPE_UNIVERSE, 3);
    m.writeUInt32LE(o.index, 4);
    const a = ipBytes(o.ip);
    const attrs: Attr[] = family === AF_INET ? [{ type: IFA_LOCAL, data: a }, { type: IFA_ADDRESS, data: a }] : [{ type: IFA_ADDRESS, data: a }];
    return { type: RTM_NEWADDR, flags: ACK | NLM_F_CREATE | (o.replace ? NLM_F_REPLACE : NLM_F_EXCL), body: Buffer.concat([m, encodeAttrs(attrs)]), what: `addr ${o.replace ? 'replace' : 'add'} ${o.ip}/${o.prefixLen} dev #${o.index}` };
  },
  /** The default route via `gateway` out of device `index` (ip route replace default via G dev D). */
  replaceDefaultRoute(o: { gateway: string; index: number }): Request {
    const family = o.gateway.includes(':') ? AF_INET6 : AF_INET;
    const m = Buffer.alloc(12);
    m.writeUInt8(family, 0);
    m.writeUInt8(0, 1); // dst_len: default
    m.writeUInt8(RT_TABLE_MAIN, 4);
    m.writeUInt8(RTPROT_BOOT, 5);
    m.writeUInt8(RT_SCOPE_UNIVERSE, 6);
    m.writeUInt8(RTN_UNICAST, 7);
    const attrs: Attr[] = [{ type: RTA_GATEWAY, data: ipBytes(o.gateway) }, { type: RTA_OIF, data: u32(o.index) }];
    return { type: RTM_NEWROUTE, flags: ACK | NLM_F_CREATE | NLM_F_REPLACE, body: Buffer.concat([m, encodeAttrs(attrs)]), what: `route replace default via ${o.gateway} dev #${o.index}` };
  },
};

/** One message of a reply buffer. */
export interface Reply {
  type: number;
  flags: number;
  seq: number;
  payload: Buffer;
}

export function parseMessages(buf: Buffer): Reply[] {
  const out: Reply[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6), seq: buf.readUInt32LE(off + 8), payload: buf.subarray(off + NLMSG_HDRLEN, off + len) });
    off += align(len);
  }
  return out;
}

/** NLMSG_ERROR's errno (0 is the ACK), as a positive number. */
export const errorOf = (r: Reply): number => -r.payload.readInt32LE(0);

/** The index and name of an RTM_NEWLINK answer. */
export function parseLink(r: Reply): { index: number; name: string } {
  const index = r.payload.readInt32LE(4);
  const attrs = parseAttrs(r.payload.subarray(16));
  const name = attrs.get(IFLA_IFNAME)?.toString('utf8').replace(/\0.*$/, '') ?? '';
  return { index, name };
}
