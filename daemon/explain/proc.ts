// What /proc/<pid> says about a process: its command, its children, its
// namespaces (the inode behind each /proc/<pid>/ns link), its credentials,
// capabilities, seccomp and no_new_privs (/proc/<pid>/status), its cgroups
// (/proc/<pid>/cgroup) and the mounts it sees (/proc/<pid>/mountinfo).
// Parsers are pure; readers take a HostView.
import { join, type HostView } from './host.js';

export const NAMESPACE_TYPES = ['pid', 'mnt', 'net', 'uts', 'ipc', 'user', 'cgroup', 'time'] as const;
export type NamespaceType = typeof NAMESPACE_TYPES[number];

/** Capability numbers → names, as linux/capability.h (0..40). */
export const CAP_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** A hex capability mask (CapEff: 00000000a80425fb) → names, lowest bit first. */
export function decodeCaps(hex: string): string[] {
  const v = BigInt(`0x${hex.trim() || '0'}`);
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if ((v >> BigInt(i)) & 1n) out.push(CAP_NAMES[i] ?? `CAP_${i}`);
  return out;
}

export function parseStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export interface Credentials {
  /** real, effective, saved, filesystem */
  uid: number[];
  gid: number[];
  groups: number[];
}

export interface SecurityFacts {
  capabilities: { effective: string[]; permitted: string[]; inheritable: string[]; bounding: string[]; ambient: string[] };
  /** the raw masks, as /proc shows them */
  masks: { CapEff: string; CapPrm: string; CapInh: string; CapBnd: string; CapAmb: string };
  seccomp: { mode: 'disabled' | 'strict' | 'filter'; filters: number };
  noNewPrivs: boolean;
  credentials: Credentials;
}

export function securityFromStatus(s: Record<string, string>): SecurityFacts {
  const nums = (v: string | undefined) => (v ?? '').split(/\s+/).filter(Boolean).map(Number);
  const masks = { CapEff: s.CapEff ?? '0', CapPrm: s.CapPrm ?? '0', CapInh: s.CapInh ?? '0', CapBnd: s.CapBnd ?? '0', CapAmb: s.CapAmb ?? '0' };
  return {
    capabilities: {
      effective: decodeCaps(masks.CapEff), permitted: decodeCaps(masks.CapPrm), inheritable: decodeCaps(masks.CapInh),
      bounding: decodeCaps(masks.CapBnd), ambient: decodeCaps(masks.CapAmb),
    },
    masks,
    seccomp: { mode: (['disabled', 'strict', 'filter'] as const)[Number(s.Seccomp ?? 0)] ?? 'disabled', filters: Number(s.Seccomp_filters ?? 0) },
    noNewPrivs: s.NoNewPrivs === '1',
    credentials: { uid: nums(s.Uid), gid: nums(s.Gid), groups: nums(s.Groups) },
  };
}

export function readStatus(h: HostView, pid: number): Record<string, string> | null {
  const t = h.read(join(h.proc, String(pid), 'status'));
  return t === null ? null : parseStatus(t);
}

export function readCmdline(h: HostView, pid: number): string[] {
  const t = h.read(join(h.proc, String(pid), 'cmdline'));
  return t ? t.replace(/\0$/, '').split('\0') : [];
}

/** "net:[4026531992]" → 4026531992 */
export function nsInode(link: string | null): number | null {
  const m = link && /\[(\d+)\]/.exec(link);
  return m ? Number(m[1]) : null;
}

export function readNamespaces(h: HostView, pid: number | 'self'): Record<NamespaceType, number | null> {
  const out = {} as Record<NamespaceType, number | null>;
  for (const t of NAMESPACE_TYPES) out[t] = nsInode(h.readlink(join(h.proc, String(pid), 'ns', t)));
  return out;
}

export interface ProcessNode {
  pid: number;
  /** the pid in each namespace, outermost first (NSpid) */
  nspid: number[];
  command: string[];
  children: ProcessNode[];
}

/** The process and its descendants, from /proc/<pid>/task/<tid>/children. */
export function readProcessTree(h: HostView, pid: number, depth = 0): ProcessNode | null {
  const st = readStatus(h, pid);
  if (!st) return null;
  const kids = new Set<number>();
  for (const tid of h.list(join(h.proc, String(pid), 'task'))) {
    for (const c of (h.read(join(h.proc, String(pid), 'task', tid, 'children')) ?? '').split(/\s+/).filter(Boolean)) kids.add(Number(c));
  }
  return {
    pid,
    nspid: (st.NSpid ?? String(pid)).split(/\s+/).filter(Boolean).map(Number),
    command: readCmdline(h, pid),
    children: depth > 8 ? [] : [...kids].sort((a, b) => a - b).map((k) => readProcessTree(h, k, depth + 1)).filter((x): x is ProcessNode => !!x),
  };
}

/** /proc/<pid>/cgroup: hierarchy controllers → path ("" key for the v2 unified line). */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === '') out[''] = m[3]!;
    for (const c of m[2]!.split(',')) if (c) out[c.replace(/^name=/, 'name=')] = m[3]!;
  }
  return out;
}

export interface MountEntry {
  id: number;
  parent: number;
  /** major:minor */
  dev: string;
  /** the path inside the source filesystem that is mounted (bind mounts show it) */
  root: string;
  target: string;
  options: string;
  propagation: string;
  fstype: string;
  source: string;
  superOptions: string;
}

const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [pre, post] = line.split(' - ');
    const a = pre!.split(' ');
    const b = (post ?? '').split(' ');
    out.push({
      id: Number(a[0]), parent: Number(a[1]), dev: a[2]!, root: unescape(a[3]!), target: unescape(a[4]!), options: a[5]!,
      propagation: a.slice(6).join(' '), fstype: b[0]!, source: unescape(b[1] ?? ''), superOptions: b.slice(2).join(' '),
    });
  }
  return out;
}

export function readMountinfo(h: HostView, pid: number): MountEntry[] {
  const t = h.read(join(h.proc, String(pid), 'mountinfo'));
  return t ? parseMountinfo(t) : [];
}

/** overlay super options → lowerdir list (top first, as the kernel lists them), upperdir, workdir. */
export function parseOverlayOptions(superOptions: string): { lowerdirs: string[]; upperdir: string; workdir: string } {
  const get = (k: string) => new RegExp(`(?:^|,)${k}=([^,]*)`).exec(superOptions)?.[1] ?? '';
  return { lowerdirs: get('lowerdir').split(':').filter(Boolean), upperdir: get('upperdir'), workdir: get('workdir') };
}
