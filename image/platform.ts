// Choosing one manifest from a Docker manifest list / OCI index.
import os from 'node:os';
import { DaemonError, type ErrorKind } from '../errors/index.js';
import { parseDigest } from './digest.js';

export interface Platform { os: string; architecture: string; variant?: string }
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform & { 'os.version'?: string; features?: string[] };
  annotations?: Record<string, string>;
  urls?: string[];
}
export interface IndexJson { schemaVersion: number; mediaType?: string; manifests: Descriptor[] }
export interface ManifestJson { schemaVersion: number; mediaType?: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> }

export function hostPlatform(): Platform {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[os.arch()] ?? os.arch();
  return { os: 'linux', architecture: arch, variant: arch === 'arm64' ? 'v8' : undefined };
}

/** Parses "linux/arm64/v8" (Docker's platform query parameter). */
export function parsePlatform(s: string | undefined): Platform {
  if (!s) return hostPlatform();
  const [o, a, v] = s.toLowerCase().split('/');
  if (!o || !a) throw new DaemonError('invalid-parameter', 'TSD_ERR_INVALID_PLATFORM', `"${s}": unknown operating system or architecture: invalid argument`);
  return { os: o, architecture: a === 'x86_64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a, variant: v };
}

const normVariant = (p: Platform): string | undefined => (p.architecture === 'arm64' && (!p.variant || p.variant === 'v8') ? 'v8' : p.variant);

/** Picks the best manifest for `want`: exact os/arch, then the requested variant (or none/first). */
export function selectManifest(index: IndexJson, want: Platform): Descriptor {
  const cands = index.manifests.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture
    && m.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest');
  const wv = normVariant(want);
  const exact = cands.find((m) => normVariant(m.platform!) === wv);
  const chosen = exact ?? (want.variant ? undefined : cands[0]);
  if (!chosen) {
    throw new DaemonError('not-found', 'TSD_ERR_NO_MATCHING_MANIFEST',
      `no matching manifest for ${want.os}/${want.architecture}${want.variant ? '/' + want.variant : ''} in the manifest list entries`);
  }
  return chosen;
}

export function isIndex(mediaType: string | undefined, body: { manifests?: unknown }): boolean {
  if (mediaType && /manifest\.list|image\.index/.test(mediaType)) return true;
  return !mediaType && Array.isArray(body.manifests);
}

/**
 * A descriptor from a registry or an archive, checked before any of it is used: its digest
 * parsed with its own algorithm (never a string that could reach a URL or a path
 * unparsed), its size a non-negative integer, within `maxSize` when given.
 */
export function checkDescriptor(d: unknown, what: string, opts: { kind?: ErrorKind; maxSize?: number } = {}): Descriptor {
  const kind = opts.kind ?? 'system';
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o !== 'object') throw new DaemonError(kind, 'TSD_ERR_BAD_MANIFEST', `${what}: not a descriptor`);
  parseDigest(o.digest, what, kind);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw new DaemonError(kind, 'TSD_ERR_BAD_MANIFEST', `${what} ${o.digest}: invalid size ${JSON.stringify(o.size)}`);
  }
  if (opts.maxSize !== undefined && o.size > opts.maxSize) {
    throw new DaemonError(kind, 'TSD_ERR_TOO_LARGE', `rejecting ${o.size} byte ${what} ${o.digest}: over the ${opts.maxSize}-byte limit`);
  }
  if (o.mediaType !== undefined && typeof o.mediaType !== 'string') throw new DaemonError(kind, 'TSD_ERR_BAD_MANIFEST', `${what} ${o.digest}: invalid media type`);
  return o as Descriptor;
}
