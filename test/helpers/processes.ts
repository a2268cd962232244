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
