// Processes as the kernel lists them, for tests that check nothing they started is left running.
import fs from 'node:fs';

/** The pids of this process's live (not zombie) children, read from /proc/<pid>/stat. */
export function liveChildren(): string[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[1]) === process.pid && fields[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

/** Running, not a zombie (an orphan's new parent may be slow to reap it). */
export function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX]/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch { return false; }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until it is true; throws after `ms`, naming `what`. */
export async function waitFor(fn: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
