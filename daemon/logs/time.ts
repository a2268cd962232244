// Nanosecond wall-clock time and Docker's fixed-width RFC 3339 format
// (RFC3339NanoFixed: always 9 fractional digits).
import { invalidParameter } from '../../errors/index.js';

const startWallNs = BigInt(Date.now()) * 1_000_000n;
const startMono = process.hrtime.bigint();
let last = 0n;

/** Wall-clock nanoseconds since the epoch, strictly increasing within this process. */
export function nowNs(): bigint {
  let t = startWallNs + (process.hrtime.bigint() - startMono);
  if (t <= last) t = last + 1n;
  last = t;
  return t;
}

/** 2026-11-29T18:01:54.737022340Z */
export function formatRfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString(); // 2026-11-29T18:01:54.737Z
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}

/** Parses RFC 3339 (any fraction length, Z or ±hh:mm) into nanoseconds; NaN-safe: throws on garbage. */
export function parseRfc3339Nano(s: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw new Error(`invalid RFC 3339 time: ${s}`);
  const secMs = Date.parse(`${m[1]}${m[3] === 'Z' ? 'Z' : m[3]}`);
  if (Number.isNaN(secMs)) throw new Error(`invalid RFC 3339 time: ${s}`);
  const frac = BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  return BigInt(secMs) * 1_000_000n + frac;
}

/**
 * The API's `since`/`until` query values: unix seconds with an optional
 * fraction ("1723456789", "1723456789.123", "1723456789.000000001") or an
 * RFC 3339 time. "" and "0" mean unset (0n). Anything else: invalid-parameter.
 */
export function parseTimestampParam(v: string | null | undefined): bigint {
  if (v === undefined || v === null || v === '' || v === '0') return 0n;
  const m = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  try {
    return parseRfc3339Nano(v);
  } catch {
    throw invalidParameter(`failed to parse value as time or duration: "${v}"`);
  }
}
