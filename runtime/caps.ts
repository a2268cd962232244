// Capability names and Docker's rules for CapAdd/CapDrop/Privileged (pure).
import { DaemonError } from '../errors/index.js';

export const CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** Docker's default set (moby oci/caps/defaults.go): CapEff 00000000a80425fb. */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

const normalize = (c: string): string => {
  const u = c.trim().toUpperCase();
  return u === 'ALL' ? 'ALL' : u.startsWith('CAP_') ? u : `CAP_${u}`;
};

/** Names of all capabilities this kernel knows (up to lastCap). */
export const allCaps = (lastCap: number): string[] => CAPS.slice(0, lastCap + 1);

/** Docker's TweakCapabilities: the resulting set of names, sorted by number. */
export function resolveCaps(capAdd: string[], capDrop: string[], privileged: boolean, lastCap: number): string[] {
  const all = allCaps(lastCap);
  if (privileged) return all;
  const add = capAdd.map(normalize);
  const drop = capDrop.map(normalize);
  for (const c of [...add, ...drop]) {
    if (c !== 'ALL' && !(CAPS as readonly string[]).includes(c)) {
      throw new DaemonError('invalid-parameter', 'TSD_ERR_INVALID_CAPABILITY', `invalid capability: ${c}`);
    }
  }
  // moby oci/caps TweakCapabilities
  let set: Set<string>;
  if (add.includes('ALL')) set = new Set(all.filter((c) => !drop.includes(c)));
  else if (drop.includes('ALL')) set = new Set(add);
  else set = new Set([...DEFAULT_CAPS.filter((c) => !drop.includes(c)), ...add]);
  return all.filter((c) => set.has(c));
}

export const capNumber = (name: string): number => (CAPS as readonly string[]).indexOf(name);
export const capMask = (nums: number[]): bigint => nums.reduce((m, n) => m | (1n << BigInt(n)), 0n);
