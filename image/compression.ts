// Layer compression: gzip (and plain tar); zstd only where Node's zlib has it.
import zlib from 'node:zlib';
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { DaemonError } from '../errors/index.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export function compressionOfMediaType(mt: string | undefined): Compression {
  if (!mt) return 'gzip';
  if (mt.endsWith('+zstd') || mt.endsWith('.zstd')) return 'zstd';
  if (mt.endsWith('gzip') || mt.endsWith('+gzip')) return 'gzip';
  if (mt.endsWith('.tar') || mt.endsWith('diff.tar')) return 'none';
  return 'gzip';
}

export function compressionOfMagic(b: Buffer): Compression {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** A transform that decompresses, or a pass-through for plain tar. */
export function decompressor(c: Compression): Transform {
  if (c === 'gzip') return zlib.createGunzip();
  if (c === 'zstd') {
    const z = zlib as unknown as { createZstdDecompress?: () => Transform };
    if (typeof z.createZstdDecompress === 'function') return z.createZstdDecompress();
    throw new DaemonError('not-implemented', 'TSD_ERR_ZSTD_UNSUPPORTED', `zstd-compressed layers are not supported by this Node.js (${process.version}): its zlib has no zstd`);
  }
  return new PassThrough();
}

/** Reads the first bytes of a stream to choose the decompressor; returns the decompressed stream. */
export async function sniffDecompress(input: Readable): Promise<Readable> {
  const first: Buffer | null = await new Promise((resolve, reject) => {
    const onReadable = () => {
      const c = input.read() as Buffer | null;
      if (c === null) return;
      cleanup();
      resolve(c);
    };
    const onEnd = () => { cleanup(); resolve(null); };
    const onErr = (e: Error) => { cleanup(); reject(e); };
    const cleanup = () => { input.off('readable', onReadable); input.off('end', onEnd); input.off('error', onErr); };
    input.on('readable', onReadable);
    input.on('end', onEnd);
    input.on('error', onErr);
  });
  const out = new PassThrough();
  if (first === null) {
    out.end();
    return out;
  }
  const d = decompressor(compressionOfMagic(first));
  input.unshift(first);
  input.pipe(d);
  input.on('error', (e) => d.destroy(e));
  // The input stays the caller's: a request body is left for Node to drain after the
  // response (so the client reads its error), a file is closed by whoever opened it.
  d.on('close', () => { if (!input.readableEnded) input.unpipe(d); });
  return d;
}
