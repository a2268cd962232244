// The one executor for planned writes. Controllers only plan (pure); this file
// touches the filesystem and wraps failures with file and value.
import fs from 'node:fs';
import path from 'node:path';
import { DaemonError } from '../errors/index.js';
import type { CgroupWrite } from './types.js';

const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;

/** Wrap a failed write: kernel refusals (EINVAL, EBUSY, ...) become invalid-parameter, the rest system. */
export function writeError(file: string, value: string, e: unknown): DaemonError {
  const code = errnoOf(e) ?? 'EIO';
  const kind = code === 'EINVAL' || code === 'EBUSY' || code === 'ERANGE' ? 'invalid-parameter' : 'system';
  const reason = code === 'EBUSY' && /memory/.test(file)
    ? 'device or resource busy (is the new limit below the current usage?)'
    : code;
  return new DaemonError(
    kind,
    'TSD_ERR_CGROUP_WRITE',
    `cannot write ${JSON.stringify(value.trim())} to ${file}: ${reason}`,
    { cause: e },
  );
}

/**
 * Apply `writes` in order, each relative to `dirFor(w)`. Returns warnings for
 * skipped optional files; throws on anything else.
 */
export function applyWrites(writes: CgroupWrite[], dirFor: (w: CgroupWrite) => string | undefined): string[] {
  const warnings: string[] = [];
  for (let w of writes) {
    while (w.orElse) {
      const d = dirFor(w);
      if (d !== undefined && fs.existsSync(path.join(d, w.file))) break;
      w = w.orElse;
    }
    const dir = dirFor(w);
    const file = dir === undefined ? undefined : path.join(dir, w.file);
    if (file === undefined || !fs.existsSync(file)) {
      const where = file ?? `${w.controller ?? '?'}/${w.file}`;
      if (w.unsupported) {
        throw new DaemonError('not-implemented', 'TSD_ERR_CGROUP_UNSUPPORTED', `${w.unsupported} (${where} does not exist)`);
      }
      if (w.optional) {
        warnings.push(`${where} does not exist: ${w.file}=${w.value} skipped`);
        continue;
      }
      throw new DaemonError('system', 'TSD_ERR_CGROUP_WRITE', `cannot write ${JSON.stringify(w.value)} to ${where}: ENOENT`);
    }
    try {
      fs.writeFileSync(file, w.value);
    } catch (e) {
      throw writeError(file, w.value, e);
    }
  }
  return warnings;
}

export function readTrim(file: string): string {
  return fs.readFileSync(file, 'utf8').trim();
}

export function readOr(file: string, fallback: string): string {
  try {
    return readTrim(file);
  } catch {
    return fallback;
  }
}
