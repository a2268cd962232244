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
  const base = path.basename(file);
  const reason = code === 'EBUSY' && base.startsWith('memory.')
    ? 'device or resource busy (is the new limit below the current usage?)'
    : code === 'EINVAL' && base === 'memory.limit_in_bytes'
      ? 'invalid argument (Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time)'
      : code === 'EINVAL' && base === 'memory.memsw.limit_in_bytes'
        ? 'invalid argument (Minimum memoryswap limit should be larger than memory limit, see usage)'
        : code === 'EINVAL' && base === 'cpu.rt_runtime_us'
          ? 'invalid argument (more real-time runtime than the parent cgroup grants: give tsd --cpu-rt-runtime, as dockerd)'
          : code;
  return new DaemonError(
    kind,
    'TSD_ERR_CGROUP_WRITE',
    `cannot write ${JSON.stringify(value.trim())} to ${file}: ${reason}`,
    { cause: e },
  );
}

/** Single-value files can be put back after a failed update; lists (devices, throttles, io.max) cannot. */
function restorableFile(file: string): boolean {
  const base = path.basename(file);
  return !base.startsWith('devices.') && !base.startsWith('blkio.throttle.') && base !== 'io.max' && base !== 'cgroup.procs';
}

/**
 * Apply `writes` in order, each relative to `dirFor(w)`. Returns warnings for
 * skipped optional files; throws on anything else. When a write fails, the
 * single-value files already written are restored (newest first, best effort),
 * so a refused update leaves the limits as they were.
 */
export function applyWrites(writes: CgroupWrite[], dirFor: (w: CgroupWrite) => string | undefined): string[] {
  const warnings: string[] = [];
  const done: Array<{ file: string; old: string }> = [];
  const rollback = () => {
    for (const { file, old } of done.reverse()) {
      try {
        fs.writeFileSync(file, old);
      } catch {
        /* best effort */
      }
    }
  };
  try {
    writeAll();
  } catch (e) {
    rollback();
    throw e;
  }
  return warnings;

  function writeAll(): void {
    // a write neither makes nor removes a file: each is looked for once (a start writes devices.allow ~15 times)
    const present = new Map<string, boolean>();
    const exists = (f: string): boolean => {
      let v = present.get(f);
      if (v === undefined) present.set(f, (v = fs.existsSync(f)));
      return v;
    };
    for (let w of writes) {
      while (w.orElse) {
        const d = dirFor(w);
        if (d !== undefined && exists(path.join(d, w.file))) break;
        w = w.orElse;
      }
      const dir = dirFor(w);
      const file = dir === undefined ? undefined : path.join(dir, w.file);
      if (file === undefined || !exists(file)) {
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
      // The first snapshot of a file is the one to go back to; files that cannot be put back are not read.
      let old: string | undefined;
      if (restorableFile(file) && !done.some((d) => d.file === file)) {
        try {
          old = fs.readFileSync(file, 'utf8').trim();
        } catch {
          old = undefined;
        }
      }
      try {
        fs.writeFileSync(file, w.value);
      } catch (e) {
        throw writeError(file, w.value, e);
      }
      if (old !== undefined && !old.includes('\n')) done.push({ file, old });
    }
  }
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
