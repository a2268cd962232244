// One way to turn what a client typed (an id, a name, an id prefix) into an
// object's id, for containers, images, networks and volumes alike, as moby's
// daemon does it: an exact id first, then a name, then a unique id prefix. What
// an ambiguous prefix is (moby: a 400 for containers and images, a 404 for
// networks) is the caller's explicit policy, not an accident of each resolver.
import { invalidParameter, type DaemonError } from '../errors/index.js';

export interface RefLookups {
  /** the id when `ref` is an object's full id */
  byId(ref: string): string | null;
  /** the id of the object named `ref` (tags, digests and container names are names) */
  byName?(ref: string): string | null;
  /** the ids starting with `prefix` */
  idsByPrefix?(prefix: string): string[];
}

export interface RefPolicy {
  /**
   * The id prefix `ref` stands for, or null when it cannot be one (not hex, say).
   * Default: `ref` itself when it is lower-case hex.
   */
  prefixOf?(ref: string): string | null;
  /** The error for a prefix that matches several ids. */
  ambiguous(ref: string, matches: number): DaemonError;
}

/** moby's truncindex ErrAmbiguousPrefix, an invalid parameter (containers, images). */
export const AMBIGUOUS_PREFIX: RefPolicy['ambiguous'] = (ref) =>
  invalidParameter(`multiple IDs found with provided prefix: ${ref}`, 'TSD_ERR_AMBIGUOUS_PREFIX');

const hexPrefix = (ref: string): string | null => (/^[0-9a-f]+$/.test(ref) ? ref : null);

/** The id `ref` names, or null when nothing matches (the caller says "No such ..." its own way). */
export function resolveRef(ref: string, lookups: RefLookups, policy: RefPolicy): string | null {
  const exact = lookups.byId(ref);
  if (exact) return exact;
  const named = lookups.byName?.(ref);
  if (named) return named;
  const prefix = lookups.idsByPrefix ? (policy.prefixOf ?? hexPrefix)(ref) : null;
  if (prefix) {
    const ids = lookups.idsByPrefix!(prefix);
    if (ids.length > 1) throw policy.ambiguous(ref, ids.length);
    if (ids.length === 1) return ids[0]!;
  }
  return null;
}
