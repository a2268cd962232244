// Which sysctls a container may set, as runc's libcontainer/configs/validate
// (sysctl): /proc/sys is only partly namespaced, so a key is allowed only when
// the namespace it belongs to is the container's own. Pure: the plan carries the
// /proc/sys paths the init writes (runtime/init/steps/sysctl.ts).
import { DaemonError } from '../errors/index.js';

/** IPC-namespaced sysctls besides fs.mqueue.* (runc's validSysctlMap). */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** What the namespaces of the container are, as far as sysctls care. */
export interface SysctlNamespaces {
  /** a network namespace of its own (new, or another container's unless that is the host's, as runc's isHostNetNS) */
  net: boolean;
  /** an IPC namespace of its own (new, or another container's) */
  ipc: boolean;
  /** a UTS namespace of its own */
  uts: boolean;
}

/**
 * sysctl(8)'s two spellings: "net.ipv4.conf.eth0.rp_filter" or with '/' separators,
 * where the other character stands inside a name ("net/ipv4/conf/eno2.100/rp_filter"
 * is "net.ipv4.conf.eno2/100.rp_filter"). Returns the dotted form (runc's
 * convertSysctlVariableToDotsSeparator).
 */
export function dottedSysctl(key: string): string {
  const i = key.search(/[./]/);
  if (i < 0 || key[i] === '.') return key;
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/** The /proc/sys path of a dotted key: '.' separates, '/' stands for a '.' inside a name. */
export function sysctlPath(dotted: string): string {
  const parts = dotted.split('.').map((p) => p.replace(/\//g, '.'));
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    throw new DaemonError('invalid-parameter', 'TSD_ERR_SYSCTL', `invalid sysctl name ${JSON.stringify(dotted)}`);
  }
  return `/proc/sys/${parts.join('/')}`;
}

// dockerd creates the container and fails its start with runc's message, a 500 (State.Error, ExitCode 128)
const refuse = (msg: string): never => {
  throw new DaemonError('system', 'TSD_ERR_SYSCTL', msg);
};

/** Validates every key against the container's namespaces (runc's messages); returns what the init writes. */
export function planSysctls(sysctls: Readonly<Record<string, string>> | undefined, ns: SysctlNamespaces): Array<{ key: string; path: string; value: string }> {
  const out: Array<{ key: string; path: string; value: string }> = [];
  for (const [key, value] of Object.entries(sysctls ?? {})) {
    const s = dottedSysctl(key);
    if (IPC_SYSCTLS.has(s) || s.startsWith('fs.mqueue.')) {
      if (!ns.ipc) refuse(`sysctl ${JSON.stringify(s)} is not allowed in the hosts ipc namespace`);
    } else if (s.startsWith('net.')) {
      if (!ns.net) refuse(`sysctl ${JSON.stringify(s)} not allowed in host network namespace`);
    } else if (ns.uts && s === 'kernel.domainname') {
      // namespaced, and no dedicated field for it
    } else if (ns.uts && s === 'kernel.hostname') {
      refuse(`sysctl ${JSON.stringify(s)} is not allowed as it conflicts with the OCI "hostname" field`);
    } else if (s.startsWith('user.')) {
      // no user namespaces here: ucounts would be the host's
      refuse(`setting ucounts without a user namespace not allowed: ${s}`);
    } else {
      refuse(`sysctl ${JSON.stringify(s)} is not in a separate kernel namespace`);
    }
    out.push({ key: s, path: sysctlPath(s), value: String(value) });
  }
  return out;
}
