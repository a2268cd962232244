// What the benchmarks read about processes from /proc: CPU time, memory, and
// which processes belong to an engine (the daemon, its helpers, dockerd's
// containerd and shims). Read-only; figures only.
import fs from 'node:fs';
import os from 'node:os';

/** USER_HZ: /proc/<pid>/stat counts CPU time in these (100 on Linux everywhere). */
export const CLK_TCK = 100;

/** /proc/<pid>/stat fields after the command: [state, ppid, ...]; null when gone. */
function statFields(pid: number): string[] | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).trim().split(' ');
  } catch {
    return null;
  }
}

/** CPU milliseconds of a process: its own (user+system) and that of its reaped children. */
export function cpuMs(pid: number): { self: number; children: number } {
  const f = statFields(pid);
  if (!f) return { self: 0, children: 0 };
  const t = (i: number) => (Number(f[i]) * 1000) / CLK_TCK;
  // fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 here
  return { self: t(11) + t(12), children: t(13) + t(14) };
}

/** Sum of cpuMs over processes (self + reaped children). */
export const totalCpuMs = (pids: number[]): number => pids.reduce((a, p) => { const c = cpuMs(p); return a + c.self + c.children; }, 0);

/** RSS and PSS in KiB (smaps_rollup), zeros when gone. */
export function memKiB(pid: number): { rss: number; pss: number } {
  try {
    const s = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const k = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { rss: k('Rss'), pss: k('Pss') };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

export const sumMem = (pids: number[]): { rss: number; pss: number } =>
  pids.map(memKiB).reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss }), { rss: 0, pss: 0 });

export interface ProcInfo { pid: number; ppid: number; comm: string; cmdline: string }

/** Every process of the host (pid namespace of the bench). */
export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const n of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    const f = statFields(pid);
    if (!f) continue;
    let comm = '';
    let cmdline = '';
    try {
      comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    out.push({ pid, ppid: Number(f[1]), comm, cmdline });
  }
  return out;
}

/** Direct children of `pid`. */
export const childrenOf = (pid: number, all = processes()): ProcInfo[] => all.filter((p) => p.ppid === pid);

/** "load 1.23 0.98 0.75 (2 cores)" */
export const loadavg = (): string => `load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`;

export const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
