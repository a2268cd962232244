// Digests: hashing and verifying streams. A verifying stream fails at its end
// when the content does not match, so nothing downstream may be committed before then.
import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DaemonError, type ErrorKind } from '../errors/index.js';

export const sha256 = (data: Buffer | string): string => 'sha256:' + crypto.createHash('sha256').update(data).digest('hex');

export const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

/** The algorithms a descriptor may name (go-digest's available set, as dockerd). */
export type DigestAlgorithm = 'sha256' | 'sha512';
const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** `algorithm:hex`, the only form that may reach a URL, a path or the store */
  digest: string;
}

/** A malformed or unsupported digest: the registry's fault (system) unless the client sent it (invalid-parameter). */
export class InvalidDigestError extends DaemonError {
  constructor(why: string, readonly value: unknown, kind: ErrorKind = 'system') {
    super(kind, 'TSD_ERR_INVALID_DIGEST', why);
  }
}

/**
 * Parses a digest as go-digest's Validate does (and with its messages): `algorithm:hex`,
 * a known algorithm, lower-case hex of that algorithm's length. Anything else is refused
 * before it can reach a URL or a path.
 */
export function parseDigest(d: unknown, what = 'digest', kind: ErrorKind = 'system'): ParsedDigest {
  const bad = (why: string) => new InvalidDigestError(`${what} ${JSON.stringify(d)}: ${why}`, d, kind);
  const s = typeof d === 'string' ? d : '';
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw bad('invalid checksum digest format');
  const algorithm = s.slice(0, i);
  const hex = s.slice(i + 1);
  if (!(algorithm in HEX_LENGTH)) {
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(s)) throw bad('invalid checksum digest format');
    throw bad('unsupported digest algorithm');
  }
  const alg = algorithm as DigestAlgorithm;
  if (hex.length !== HEX_LENGTH[alg]) throw bad('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw bad('invalid checksum digest format');
  return { algorithm: alg, hex, digest: s };
}

/** The digest of `data` with `algorithm`. */
export const digestOf = (algorithm: DigestAlgorithm, data: Buffer | string): string =>
  `${algorithm}:${crypto.createHash(algorithm).update(data).digest('hex')}`;

/** Checks `data` against `expected` with expected's own algorithm. */
export function verifyDigest(data: Buffer, expected: string, what = 'content', kind: ErrorKind = 'system'): void {
  const p = parseDigest(expected, what, kind);
  const got = digestOf(p.algorithm, data);
  if (got !== p.digest) throw new DigestMismatchError(p.digest, got);
}

export class DigestMismatchError extends DaemonError {
  constructor(expected: string, actual: string) {
    super('system', 'TSD_ERR_DIGEST_MISMATCH', `digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/**
 * Passes bytes through while hashing them with the expected digest's algorithm (sha256 when
 * nothing is expected); `digest` and `size` are set once the stream has ended.
 */
export class HashStream extends Transform {
  private readonly h: crypto.Hash;
  private readonly algorithm: DigestAlgorithm;
  size = 0;
  digest = '';
  constructor(private readonly expected?: string, private readonly expectedSize?: number) {
    super();
    this.algorithm = expected ? parseDigest(expected).algorithm : 'sha256';
    this.h = crypto.createHash(this.algorithm);
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
    this.digest = `${this.algorithm}:${this.h.digest('hex')}`;
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
