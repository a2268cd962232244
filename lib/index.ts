// lib: small shared tools that belong to no subsystem and sit at the bottom of
// the layout (they import only errors/): reference resolution and the keyed lock.
export { resolveRef, AMBIGUOUS_PREFIX, type RefLookups, type RefPolicy } from './resolve-ref.js';
export { KeyedLock } from './keyed-lock.js';
