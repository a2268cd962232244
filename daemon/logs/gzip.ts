// Compressed rotated json-file logs, as moby's loggerutils: `x.log.1` becomes
// `x.log.1.gz`, a gzip member whose header Extra field carries
// {"lastTime":"<RFC 3339 of the file's last record>"} (Go's gzip.Header.Extra
// bytes, so a reader can skip a whole file older than `since` without
// inflating it). Written with Node's raw deflate between a hand-made header
// and the CRC-32/size trailer, streamed (a rotated file is never held in memory).
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const FEXTRA = 0x04;
const OS_UNKNOWN = 0xff; // what Go's compress/gzip writes

function header(extra: Buffer | null): Buffer {
  const h = Buffer.alloc(10 + (extra ? 2 + extra.length : 0));
  h[0] = 0x1f;
  h[1] = 0x8b;
  h[2] = 8; // deflate
  h[3] = extra ? FEXTRA : 0;
  // mtime 0 (bytes 4-7), xfl 0
  h[9] = OS_UNKNOWN;
  if (extra) {
    h.writeUInt16LE(extra.length, 10);
    extra.copy(h, 12);
  }
  return h;
}

function trailer(crc: number, size: number): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(size >>> 0, 4); // ISIZE is the size mod 2^32
  return t;
}

const metadata = (lastTime: string | null): Buffer | null => (lastTime ? Buffer.from(JSON.stringify({ lastTime })) : null);

/** Compresses `src` into `dst` (streamed). Rejects on error or when `signal` aborts; the caller removes a partial `dst`. */
export async function gzipFile(src: string, dst: string, lastTime: string | null, signal?: AbortSignal): Promise<void> {
  let crc = 0;
  let size = 0;
  const sum = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      crc = zlib.crc32(chunk, crc);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  let started = false;
  const frame = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!started) {
        started = true;
        this.push(header(metadata(lastTime)));
      }
      cb(null, chunk);
    },
    flush(cb) {
      if (!started) this.push(header(metadata(lastTime)));
      cb(null, trailer(crc, size));
    },
  });
  await pipeline(fs.createReadStream(src), sum, zlib.createDeflateRaw(), frame, fs.createWriteStream(dst, { mode: 0o640 }), { signal });
}

/**
 * The `lastTime` a compressed log carries in its header (read through its fd),
 * as ns since the epoch; null when the header has none (or it is not gzip).
 */
export async function gzipLastTime(fd: number, parse: (s: string) => bigint): Promise<bigint | null> {
  try {
    const buf = Buffer.alloc(1024);
    const { bytesRead } = await new Promise<{ bytesRead: number }>((resolve, reject) =>
      fs.read(fd, buf, 0, buf.length, 0, (e, n) => (e ? reject(e) : resolve({ bytesRead: n }))));
    if (bytesRead < 12 || buf[0] !== 0x1f || buf[1] !== 0x8b || !(buf[3]! & FEXTRA)) return null;
    const xlen = buf.readUInt16LE(10);
    if (12 + xlen > bytesRead) return null;
    const meta = JSON.parse(buf.subarray(12, 12 + xlen).toString('utf8')) as { lastTime?: unknown };
    return typeof meta.lastTime === 'string' ? parse(meta.lastTime) : null;
  } catch {
    return null;
  }
}
