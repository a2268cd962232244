// Image references: parse and normalize as Docker does
// ("busybox" -> docker.io/library/busybox:latest), with Docker's error texts.
import { InvalidReferenceError } from '../errors/index.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const domainRe = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const tagRe = /^[\w][\w.-]{0,127}$/;
const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const anchoredHex = /^[a-f0-9]{64}$/;

export interface Reference {
  /** registry host[:port], e.g. docker.io or 127.0.0.1:5000 */
  domain: string;
  /** repository path inside the registry, e.g. library/busybox */
  path: string;
  tag?: string;
  digest?: string;
}

/** Parses and normalizes a reference. Does not add a default tag (see withDefaultTag). */
export function parseReference(input: string): Reference {
  const s = input;
  if (s.length === 0) throw new InvalidReferenceError(s);
  if (anchoredHex.test(s)) {
    throw new InvalidReferenceError(s, `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestRe.test(digest)) throw new InvalidReferenceError(s);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new InvalidReferenceError(s);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag)) throw new InvalidReferenceError(s);
  }
  if (rest.length === 0) throw new InvalidReferenceError(s);
  let domain: string;
  let path: string;
  const i = rest.indexOf('/');
  const first = i === -1 ? '' : rest.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    path = rest;
  } else {
    domain = first;
    path = rest.slice(i + 1);
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_PREFIX + path;
  if (!domainRe.test(domain)) throw new InvalidReferenceError(s);
  const comps = path.split('/');
  for (const c of comps) {
    if (!pathComponent.test(c)) {
      if (c.toLowerCase() !== c && pathComponent.test(c.toLowerCase())) {
        throw new InvalidReferenceError(s, `invalid reference format: repository name (${path}) must be lowercase`);
      }
      throw new InvalidReferenceError(s);
    }
  }
  if (domain.length + 1 + path.length > 255) {
    throw new InvalidReferenceError(s, 'invalid reference format: repository name must not be more than 255 characters');
  }
  return { domain, path, tag, digest };
}

/** Adds :latest when neither a tag nor a digest is present. */
export function withDefaultTag(r: Reference): Reference {
  return r.tag || r.digest ? r : { ...r, tag: 'latest' };
}

export function parseNormalized(input: string): Reference {
  return withDefaultTag(parseReference(input));
}

/** docker.io/library/busybox */
export const fullName = (r: Reference): string => `${r.domain}/${r.path}`;

/** busybox, user/app, 127.0.0.1:5000/busybox */
export function familiarName(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return `${r.domain}/${r.path}`;
  return r.path.startsWith(OFFICIAL_PREFIX) ? r.path.slice(OFFICIAL_PREFIX.length) : r.path;
}

/** Full string form: docker.io/library/busybox:latest, host/x@sha256:... */
export function referenceString(r: Reference): string {
  return fullName(r) + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** Familiar string form: busybox:latest */
export function familiarString(r: Reference): string {
  return familiarName(r) + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** Turns a stored full ref (docker.io/library/busybox:latest) into its familiar form (busybox:latest). */
export function familiarize(stored: string): string {
  return familiarString(parseReference(stored));
}

/** Is this string an image ID or an ID prefix (with or without sha256:)? */
export function looksLikeId(s: string): boolean {
  return /^(sha256:)?[a-f0-9]{1,64}$/.test(s);
}
