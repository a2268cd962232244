// Choosing one manifest from a Docker manifest list / OCI index.
import os from 'node:os';
import { DaemonError } from '../errors/index.js';

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
