// Digests: hashing and verifying streams. A verifying stream fails at its end
// when the content does not match, so nothing downstream may be committed before then.
import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DaemonError } from '../errors/index.js';

export const sha256 = (data: Buffer | string): string => 'sha256:' + crypto.createHash('sha256').update(data).digest('hex');

export const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

export function validateDigest(d: string): void {
  if (!/^sha256:[a-f0-9]{64}$/.test(d)) throw new DaemonError('invalid-parameter', 'TSD_ERR_INVALID_DIGEST', `invalid digest: ${d}`);
}

export class DigestMismatchError extends DaemonError {
  constructor(expected: string, actual: string) {
    super('system', 'TSD_ERR_DIGEST_MISMATCH', `digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/** Passes bytes through while hashing them; `digest` and `size` are set once the stream has ended. */
export class HashStream extends Transform {
  private readonly h = crypto.createHash('sha256');
  size = 0;
  digest = '';
  constructor(private readonly expected?: string, private readonly expectedSize?: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.h.update(chunk);
    this.size += chunk.length;
    if (this.expectedSize !== undefined && this.expectedSize >= 0 && this.size > this.expectedSize) {
      cb(new DaemonError('system', 'TSD_ERR_SIZE_MISMATCH', `blob ${this.expected ?? ''} is larger than its descriptor says (${this.expectedSize} bytes)`));
      return;
    }
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    this.digest = 'sha256:' + this.h.digest('hex');
    if (this.expected && this.expected !== this.digest) {
      cb(new DigestMismatchError(this.expected, this.digest));
      return;
    }
    cb();
  }
}

/** diffID -> chainID list (OCI image spec: chainID(n) = sha256(chainID(n-1) + " " + diffID(n))). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  }
  return out;
}
