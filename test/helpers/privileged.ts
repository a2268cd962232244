// The one gate for tests that need root and a real kernel. Such tests call
// `privileged(t)` first; it skips with a reason instead of failing when the
// machine cannot run them. Set TSD_TEST_UNPRIVILEGED=1 to skip them on purpose.
import type { Test } from 'tap';

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

export function privilegedReason(): string | null {
  if (process.env.TSD_TEST_UNPRIVILEGED === '1') return 'TSD_TEST_UNPRIVILEGED=1';
  if (!isRoot()) return 'needs root';
  return null;
}

/** Options for `t.test(name, privilegedOpts(), fn)`: skipped with the reason when not root. */
export function privilegedOpts(): { skip: string | false } {
  const why = privilegedReason();
  return { skip: why ?? false };
}

/** Skip the whole file (call at top level). Returns true if the tests may run. */
export function requirePrivileged(t: Test): boolean {
  const why = privilegedReason();
  if (why) {
    t.plan(0, why);
    return false;
  }
  return true;
}
