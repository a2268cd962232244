// Parsers for cgroup stat files. Pure: text in, numbers out.
import type { IoEntry, Pressure, PressureLine } from './types.js';

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control, pids.events). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined) continue;
    const n = Number(v);
    if (Number.isFinite(n)) out[k] = n;
  }
  return out;
}

/** v1 blkio.throttle.io_service_bytes(_recursive): "8:0 Read 1234" lines, ignoring "Total N". */
export function parseBlkioV1(text: string): IoEntry[] {
  const out: IoEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3) continue;
    const m = /^(\d+):(\d+)$/.exec(parts[0]!);
    if (!m) continue;
    out.push({ major: Number(m[1]), minor: Number(m[2]), op: parts[1]!, value: Number(parts[2]) });
  }
  return out;
}

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
export function parseIoStatV2(text: string): { serviceBytes: IoEntry[]; serviced: IoEntry[] } {
  const serviceBytes: IoEntry[] = [];
  const serviced: IoEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(parts[0] ?? '');
    if (!m) continue;
    const major = Number(m[1]);
    const minor = Number(m[2]);
    const kv: Record<string, number> = {};
    for (const p of parts.slice(1)) {
      const [k, v] = p.split('=');
      if (k && v !== undefined) kv[k] = Number(v);
    }
    serviceBytes.push({ major, minor, op: 'read', value: kv.rbytes ?? 0 });
    serviceBytes.push({ major, minor, op: 'write', value: kv.wbytes ?? 0 });
    serviced.push({ major, minor, op: 'read', value: kv.rios ?? 0 });
    serviced.push({ major, minor, op: 'write', value: kv.wios ?? 0 });
  }
  return { serviceBytes, serviced };
}

/** cpuacct.usage_percpu: space separated ns. */
export function parseNumberList(text: string): number[] {
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

/** cgroup.procs: one pid per line. */
export function parsePids(text: string): number[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map(Number);
}

/** A PSI file ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and maybe a "full" line); null when empty or unreadable. */
export function parsePressure(text: string): Pressure | null {
  const lines: Record<string, PressureLine> = {};
  for (const line of text.split('\n')) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const kv: Record<string, number> = {};
    for (const f of fields) {
      const [k, v] = f.split('=');
      if (k && v !== undefined && Number.isFinite(Number(v))) kv[k] = Number(v);
    }
    lines[kind] = { avg10: kv.avg10 ?? 0, avg60: kv.avg60 ?? 0, avg300: kv.avg300 ?? 0, total: kv.total ?? 0 };
  }
  if (!lines.some) return null;
  return lines.full ? { some: lines.some, full: lines.full } : { some: lines.some };
}
