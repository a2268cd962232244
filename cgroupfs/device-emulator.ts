// The v1 devices cgroup's semantics as data (runc devices_emulator.go): replay
// a rule list the way the kernel's devices.allow/devices.deny would, and get
// back the minimal equivalent list. cgroup v2 has no devices controller, so the
// eBPF filter is compiled from this list: a container gets the same device
// policy on v2 as on v1, including v1's refusal to punch a hole into a wildcard.
import { invalidParameter } from '../errors/index.js';
import type { DeviceRule } from './types.js';

/** access bits as the kernel's BPF_DEVCG_ACC_* (mknod 1, read 2, write 4) */
export const ACC_MKNOD = 1;
export const ACC_READ = 2;
export const ACC_WRITE = 4;
export const ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE;

export function accessBits(access: string): number {
  let bits = 0;
  for (const ch of access) {
    if (ch === 'r') bits |= ACC_READ;
    else if (ch === 'w') bits |= ACC_WRITE;
    else if (ch === 'm') bits |= ACC_MKNOD;
    else throw invalidParameter(`invalid device access ${JSON.stringify(access)}`);
  }
  return bits;
}

/** "rwm" order, as devices.list prints it. */
export function accessString(bits: number): string {
  return `${bits & ACC_READ ? 'r' : ''}${bits & ACC_WRITE ? 'w' : ''}${bits & ACC_MKNOD ? 'm' : ''}`;
}

interface Entry { type: 'b' | 'c'; major: number; minor: number; bits: number }

const keyOf = (type: string, major: number, minor: number) => `${type} ${major}:${minor}`;
const wild = (n: number) => (n < 0 ? '*' : String(n));

export class DeviceEmulator {
  /** true: everything is allowed except `entries` (a deny list); false: only `entries` are allowed. */
  defaultAllow = false;
  private entries = new Map<string, Entry>();

  /** Replays `rules` on a cgroup that starts out as deny-all. */
  static from(rules: readonly DeviceRule[]): DeviceEmulator {
    const e = new DeviceEmulator();
    for (const r of rules) e.apply(r);
    return e;
  }

  /** Nothing filtered: no program is needed. */
  isAllowAll(): boolean {
    return this.defaultAllow && this.entries.size === 0;
  }

  apply(rule: DeviceRule): void {
    if (rule.type === 'a') {
      // "a" resets the cgroup: allow a = allow everything, deny a = deny everything.
      this.defaultAllow = rule.allow;
      this.entries.clear();
      return;
    }
    const entry: Entry = { type: rule.type, major: rule.major, minor: rule.minor, bits: accessBits(rule.access) };
    // An allow on an allow list (or a deny on a deny list) adds an exception; the opposite removes one.
    if (rule.allow !== this.defaultAllow) this.add(entry);
    else this.remove(entry, rule);
  }

  private add(e: Entry): void {
    const k = keyOf(e.type, e.major, e.minor);
    const old = this.entries.get(k);
    this.entries.set(k, { ...e, bits: e.bits | (old?.bits ?? 0) });
  }

  private remove(e: Entry, rule: DeviceRule): void {
    // v1 silently ignores removing part of a wildcard exception; runc refuses instead of
    // leaving the user believing a device is blocked. So do we.
    for (const [major, minor] of [[-1, e.minor], [e.major, -1], [-1, -1]] as const) {
      if (major === e.major && minor === e.minor) continue;
      const partial = this.entries.get(keyOf(e.type, major, minor));
      if (partial && (partial.bits & e.bits) !== 0) {
        throw invalidParameter(
          `device rule "${e.type} ${wild(e.major)}:${wild(e.minor)} ${rule.access}" cannot be ${rule.allow ? 'allowed' : 'denied'}: ` +
          `it punches a hole in the wildcard rule "${e.type} ${wild(major)}:${wild(minor)} ${accessString(partial.bits)}" (not supported by the devices cgroup)`,
        );
      }
    }
    const k = keyOf(e.type, e.major, e.minor);
    const old = this.entries.get(k);
    if (!old) return;
    const bits = old.bits & ~e.bits;
    if (bits === 0) this.entries.delete(k);
    else this.entries.set(k, { ...old, bits });
  }

  /**
   * The minimal rule list that turns a deny-all cgroup into this state: an
   * "allow a" first when this is a deny list, then the exceptions sorted by
   * (major, minor, type) with wildcards (-1) first, as runc orders them.
   */
  rules(): DeviceRule[] {
    const out: DeviceRule[] = [];
    if (this.defaultAllow) out.push({ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' });
    const sorted = [...this.entries.values()].sort((a, b) => a.major - b.major || a.minor - b.minor || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
    for (const e of sorted) out.push({ allow: !this.defaultAllow, type: e.type, major: e.major, minor: e.minor, access: accessString(e.bits) });
    return out;
  }
}
