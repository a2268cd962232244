// When the kernel OOM-killed something, and what: the cgroup counters say how
// many times, the kernel log says when and which task. Each oom-kill record in
// /dev/kmsg reads
//   6,1234,5123456789,-;oom-kill:constraint=CONSTRAINT_MEMCG,...,oom_memcg=/tsd/<id>,task_memcg=/tsd/<id>,task=tail,pid=4242,uid=0
// with the time in µs since boot.
import fs from 'node:fs';

export interface OomRecord {
  /** ms since the epoch */
  at: number;
  task: string;
  pid: number;
  memcg: string;
}

export function parseKmsgOom(records: string[], bootTimeMs: number, memcgSuffix: string): OomRecord[] {
  const out: OomRecord[] = [];
  for (const r of records) {
    const semi = r.indexOf(';');
    if (semi < 0) continue;
    const msg = r.slice(semi + 1);
    if (!msg.startsWith('oom-kill:')) continue;
    const fields = Object.fromEntries(msg.slice('oom-kill:'.length).split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const memcg = fields.oom_memcg ?? '';
    if (!(memcg === memcgSuffix || memcg.endsWith(`/${memcgSuffix.replace(/^\//, '')}`))) continue;
    const us = Number(r.slice(0, semi).split(',')[2]);
    out.push({ at: bootTimeMs + us / 1000, task: fields.task ?? '', pid: Number(fields.pid ?? 0), memcg });
  }
  return out;
}

/** Every record now in the kernel ring buffer (a fresh /dev/kmsg reader starts at the oldest). */
export function readKmsg(device = '/dev/kmsg'): string[] {
  let fd: number;
  try { fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); } catch { return []; }
  const out: string[] = [];
  const buf = Buffer.alloc(8192);
  try {
    for (let i = 0; i < 200_000; i++) {
      let n: number;
      try { n = fs.readSync(fd, buf, 0, buf.length, null); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // records overwritten while reading: go on with the next
        break; // EAGAIN: the end
      }
      if (n <= 0) break;
      out.push(buf.toString('utf8', 0, n).split('\n')[0]!);
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** Boot time in ms since the epoch, from /proc/uptime. */
export function bootTimeMs(procRoot = '/proc'): number {
  try {
    return Date.now() - Number(fs.readFileSync(`${procRoot}/uptime`, 'utf8').split(' ')[0]) * 1000;
  } catch {
    return 0;
  }
}
