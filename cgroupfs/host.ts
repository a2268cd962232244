// Host-wide figures for stats, computed as Docker does (moby getSystemCPUUsage).
import fs from 'node:fs';
import path from 'node:path';
import type { HostCpu } from './types.js';

/** USER_HZ; Linux fixes it at 100 for userspace on every architecture we run on. */
export const CLK_TCK = 100;

/** Pure: parse /proc/stat and /proc/meminfo text. */
export function parseHostCpu(procStat: string, meminfo: string): HostCpu {
  let systemCpuUsageNs = 0;
  let onlineCpus = 0;
  for (const line of procStat.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'cpu') {
      let ticks = 0;
      for (const f of parts.slice(1, 8)) ticks += Number(f) || 0;
      systemCpuUsageNs = (ticks * 1e9) / CLK_TCK;
    } else if (/^cpu\d+$/.test(parts[0] ?? '')) {
      onlineCpus++;
    }
  }
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return { systemCpuUsageNs, onlineCpus, memTotal: m ? Number(m[1]) * 1024 : 0 };
}

export function readHostCpu(procRoot = '/proc'): HostCpu {
  const stat = fs.readFileSync(path.join(procRoot, 'stat'), 'utf8');
  let meminfo = '';
  try {
    meminfo = fs.readFileSync(path.join(procRoot, 'meminfo'), 'utf8');
  } catch {
    /* leave memTotal 0 */
  }
  return parseHostCpu(stat, meminfo);
}
