// API versions: /vX.Y/ prefixes from MIN to MAX and bare paths are accepted;
// the headers every response carries; the version a request asked for.
import type { IncomingMessage } from 'node:http';

export const API_VERSION = '1.44';
export const MIN_API_VERSION = '1.24';

export const serverHeader = `tsd/${process.env.npm_package_version ?? '0.1.0'} (linux)`;
export const commonHeaders: Record<string, string> = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: serverHeader,
};

/** What the server's rewriteUrl hook leaves on the raw request. */
export type VersionedReq = IncomingMessage & { tsdVersionError?: string; tsdApiVersion?: string | null };

/** The API version the client used (null for bare paths). */
export const apiVersionOf = (req: { raw: IncomingMessage }): string | null => (req.raw as VersionedReq).tsdApiVersion ?? null;

const cmp = (a: string, b: string): number => {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am - bm || an - bn;
};

export interface VersionedPath { path: string; version: string | null; error?: string }

/** Splits `/v1.41/containers/json?x` into the bare path and the version; error set for unsupported versions. */
export function stripVersion(url: string): VersionedPath {
  const m = /^\/v(\d+\.\d+)(\/.*|$)/.exec(url);
  if (!m) return { path: url, version: null };
  const version = m[1]!;
  const path = m[2] || '/';
  if (cmp(version, API_VERSION) > 0) {
    return { path, version, error: `client version ${version} is too new. Maximum supported API version is ${API_VERSION}` };
  }
  if (cmp(version, MIN_API_VERSION) < 0) {
    return { path, version, error: `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version` };
  }
  return { path, version };
}

export function versionAtLeast(v: string | null, min: string): boolean {
  return v === null || cmp(v, min) >= 0;
}
