// Device rules shared by v1 (devices.allow/deny) and the translation layer.
import type { DeviceRule } from './types.js';

const ANY = -1;
const rule = (type: 'a' | 'b' | 'c', major: number, minor: number, access = 'rwm'): DeviceRule =>
  ({ allow: true, type, major, minor, access });

/** Docker's default allow list (mknod of anything, plus the standard /dev nodes). */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceRule[] = Object.freeze([
  rule('c', ANY, ANY, 'm'),
  rule('b', ANY, ANY, 'm'),
  rule('c', 1, 3), // /dev/null
  rule('c', 1, 5), // /dev/zero
  rule('c', 1, 7), // /dev/full
  rule('c', 1, 8), // /dev/random
  rule('c', 1, 9), // /dev/urandom
  rule('c', 5, 0), // /dev/tty
  rule('c', 5, 1), // /dev/console
  rule('c', 5, 2), // /dev/ptmx
  rule('c', 136, ANY), // /dev/pts/*
  rule('c', 10, 200), // /dev/net/tun
]);

const num = (n: number): string => (n < 0 ? '*' : String(n));

/** "c 1:3 rwm" (the devices.allow/deny line format); type 'a' is just "a". */
export function formatDeviceRule(r: DeviceRule): string {
  if (r.type === 'a') return 'a';
  return `${r.type} ${num(r.major)}:${num(r.minor)} ${r.access}`;
}

const RULE_RE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** Parse a Docker DeviceCgroupRules entry ("c 1:3 mr"); null if malformed. */
export function parseDeviceRule(s: string, allow = true): DeviceRule | null {
  const m = RULE_RE.exec(s.trim());
  if (!m) {
    if (s.trim() === 'a') return { allow, type: 'a', major: ANY, minor: ANY, access: 'rwm' };
    return null;
  }
  const access = m[4]!;
  if (new Set(access).size !== access.length) return null;
  return {
    allow,
    type: m[1] as 'a' | 'b' | 'c',
    major: m[2] === '*' ? ANY : Number(m[2]),
    minor: m[3] === '*' ? ANY : Number(m[3]),
    access,
  };
}
