// tar-stream decodes and encodes PAX records as UTF-8 text, which mangles
// binary xattr values (security.capability). This module, imported for its
// effect by unpack.ts and archive.ts, makes SCHILY.xattr.* values byte strings
// (one char per byte, "latin1") both ways and counts record lengths in bytes.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const headersPath = path.join(path.dirname(require.resolve('tar-stream')), 'headers.js');
const headers = require(headersPath) as {
  decodePax(buf: Buffer): Record<string, string>;
  encodePax(opts: { name?: string; linkname?: string; pax?: Record<string, string> }): Buffer;
  __tsdPatched?: boolean;
};

const XATTR = 'SCHILY.xattr.';

function record(key: string, value: string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), Buffer.from(value, key.startsWith(XATTR) ? 'latin1' : 'utf8'), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

export function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let b = buf;
  while (b.length) {
    let i = 0;
    while (i < b.length && b[i] !== 0x20) i++;
    const len = parseInt(b.subarray(0, i).toString('ascii'), 10);
    if (!len || len > b.length) return result;
    const rec = b.subarray(i + 1, len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq === -1) return result;
    const key = rec.subarray(0, eq).toString('utf8');
    result[key] = rec.subarray(eq + 1).toString(key.startsWith(XATTR) ? 'latin1' : 'utf8');
    b = b.subarray(len);
  }
  return result;
}

export function encodePax(opts: { name?: string; linkname?: string; pax?: Record<string, string> }): Buffer {
  const parts: Buffer[] = [];
  if (opts.name) parts.push(record('path', opts.name));
  if (opts.linkname) parts.push(record('linkpath', opts.linkname));
  for (const [k, v] of Object.entries(opts.pax ?? {})) parts.push(record(k, v));
  return Buffer.concat(parts);
}

if (!headers.__tsdPatched) {
  headers.decodePax = decodePax;
  headers.encodePax = encodePax;
  headers.__tsdPatched = true;
}

/** xattr value (bytes) <-> PAX value string */
export const paxToBytes = (v: string): Buffer => Buffer.from(v, 'latin1');
export const bytesToPax = (b: Buffer): string => b.toString('latin1');
