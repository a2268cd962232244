// Small helpers shared by the v1 and v2 managers: directory chains, polling,
// killing, removal with retries.
import fs from 'node:fs';
import path from 'node:path';
import { DaemonError, invalidParameter } from '../errors/index.js';
import { parsePids } from './parse.js';

export const PROCS = 'cgroup.procs';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reject names that would escape the hierarchy or be empty. */
export function checkCgroupPath(parent: string, name: string): string {
  const rel = path.posix.join(parent.replace(/^\/+/, ''), name);
  if (!name || name.includes('/') || rel.split('/').some((s) => s === '..' || s === '.') || rel.startsWith('/')) {
    throw invalidParameter(`invalid cgroup path: ${JSON.stringify(`${parent}/${name}`)}`);
  }
  return rel;
}

/** ["a", "a/b", "a/b/c"] for "a/b/c". */
export function prefixes(rel: string): string[] {
  const parts = rel.split('/').filter(Boolean);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

export function mkdirOne(dir: string): boolean {
  try {
    fs.mkdirSync(dir);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new DaemonError('system', 'TSD_ERR_CGROUP_CREATE', `cannot create cgroup ${dir}: ${(e as NodeJS.ErrnoException).code}`, { cause: e });
  }
}

export function readPids(dir: string): number[] {
  try {
    return parsePids(fs.readFileSync(path.join(dir, PROCS), 'utf8'));
  } catch {
    return [];
  }
}

export function signalAll(pids: number[], signal: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* ESRCH: already gone */
    }
  }
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000, stepMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return;
    if (Date.now() > deadline) {
      throw new DaemonError('system', 'TSD_ERR_CGROUP_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(stepMs);
  }
}

/** rmdir a cgroup directory, retrying while the kernel still reports it busy. Missing is fine. */
export async function rmdirCgroup(dir: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if ((code === 'EBUSY' || code === 'ENOTEMPTY') && Date.now() < deadline) {
        // A fixture directory holds regular files; a kernel cgroup never reports ENOTEMPTY for its own files.
        if (code === 'ENOTEMPTY' && !isKernelCgroup(dir)) {
          fs.rmSync(dir, { recursive: true, force: true });
          return;
        }
        await sleep(20);
        continue;
      }
      throw new DaemonError('system', 'TSD_ERR_CGROUP_REMOVE', `cannot remove cgroup ${dir}: ${code}`, { cause: e });
    }
  }
}

const CGROUP_MAGICS = new Set([0x27e0eb, 0x63677270]);
export function isKernelCgroup(dir: string): boolean {
  try {
    return CGROUP_MAGICS.has(Number(fs.statfsSync(dir).type));
  } catch {
    return false;
  }
}

/** Remove empty parent directories, deepest first, stopping at the first one still in use. */
export function removeEmptyChain(base: string, rel: string): void {
  for (const p of prefixes(rel).reverse()) {
    const dir = path.join(base, p);
    try {
      if (isKernelCgroup(dir)) fs.rmdirSync(dir);
      else {
        // fixture: only remove if it has no subdirectories
        if (fs.readdirSync(dir, { withFileTypes: true }).some((d) => d.isDirectory())) return;
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      return;
    }
  }
}
