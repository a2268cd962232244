// Reading json-file logs back: across rotated files oldest first, tail from
// the end without reading whole files, since/until filters, and follow mode
// that keeps reading until the writer closes (container stopped) or the
// caller aborts.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { parseRfc3339Nano } from './time.js';
import type { LogEntry, LogStreamName, ReadLogsOptions } from './types.js';

const CHUNK = 64 * 1024;

/** The live file and its rotated siblings, oldest first (`x.log.3`, `x.log.2`, `x.log.1`, `x.log`). */
export async function listLogFiles(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[] = [];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const rotated = names
    .map((n) => (n.startsWith(base + '.') ? Number(n.slice(base.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a)
    .map((n) => `${file}.${n}`);
  return [...rotated, file];
}

/** Decodes one json-file line; null for lines that aren't valid records. */
export function decodeLogLine(line: string): LogEntry | null {
  let o: { log?: unknown; stream?: unknown; time?: unknown };
  try {
    o = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof o.log !== 'string' || typeof o.time !== 'string') return null;
  const stream: LogStreamName = o.stream === 'stderr' ? 'stderr' : 'stdout';
  let timeNs: bigint;
  try {
    timeNs = parseRfc3339Nano(o.time);
  } catch {
    return null;
  }
  return { stream, line: Buffer.from(o.log, 'utf8'), time: o.time, timeNs };
}

/**
 * Where the last `n` lines start, scanning backwards across files
 * (newest last in `files`). Returns [fileIndex, byteOffset].
 */
async function tailStart(files: string[], n: number): Promise<[number, number]> {
  // Over the concatenation of all files, the (n+1)-th newline from the end
  // (the last byte being the 1st) precedes the first wanted line.
  let need = n + 1;
  for (let fi = files.length - 1; fi >= 0; fi--) {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(files[fi]!, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    try {
      const size = (await fh.stat()).size;
      let pos = size;
      const buf = Buffer.allocUnsafe(CHUNK);
      while (pos > 0) {
        const len = Math.min(CHUNK, pos);
        pos -= len;
        const { bytesRead } = await fh.read(buf, 0, len, pos);
        for (let i = bytesRead - 1; i >= 0; i--) {
          if (buf[i] === 0x0a && --need === 0) return [fi, pos + i + 1];
        }
      }
    } finally {
      await fh.close();
    }
  }
  return [0, 0];
}

class FileCursor {
  private leftover: Buffer = Buffer.alloc(0);
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  constructor(public fh: fsp.FileHandle, public offset: number, public ino: number) {}

  /** Reads what is there now; returns complete lines (without the newline). */
  async readLines(): Promise<string[]> {
    const lines: string[] = [];
    const st = await this.fh.stat();
    if (st.size < this.offset) {
      // truncated (max-file=1 rotation): start over
      this.offset = 0;
      this.leftover = Buffer.alloc(0);
    }
    for (;;) {
      const { bytesRead } = await this.fh.read(this.buf, 0, CHUNK, this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      let data = this.buf.subarray(0, bytesRead);
      if (this.leftover.length) data = Buffer.concat([this.leftover, data]);
      let start = 0;
      for (;;) {
        const nl = data.indexOf(0x0a, start);
        if (nl < 0) break;
        lines.push(data.toString('utf8', start, nl));
        start = nl + 1;
      }
      this.leftover = Buffer.from(data.subarray(start));
    }
    return lines;
  }
  close(): Promise<void> { return this.fh.close(); }
}

async function openCursor(file: string, offset: number): Promise<FileCursor | null> {
  try {
    const fh = await fsp.open(file, 'r');
    const st = await fh.stat();
    return new FileCursor(fh, offset, st.ino);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function inoOf(file: string): number | null {
  try {
    return fs.statSync(file).ino;
  } catch {
    return null;
  }
}

/**
 * Reads entries from a json-file log. See ReadLogsOptions for the semantics;
 * stops early (without error) when `signal` aborts.
 */
export async function* readLogs(file: string, opts: ReadLogsOptions): AsyncGenerator<LogEntry> {
  const since = opts.since ?? 0n;
  const until = opts.until ?? 0n;
  const signal = opts.signal;
  const files = await listLogFiles(file);
  let fi = 0;
  let offset = 0;
  const tail = opts.tail === undefined || opts.tail === 'all' || opts.tail < 0 ? 'all' : opts.tail;
  if (tail !== 'all') {
    if (tail === 0) {
      fi = files.length - 1;
      offset = inoOf(file) === null ? 0 : fs.statSync(file).size;
    } else [fi, offset] = await tailStart(files, tail);
  }

  const wanted = (e: LogEntry): boolean => (e.stream === 'stdout' ? opts.stdout : opts.stderr) && (since === 0n || e.timeNs >= since);
  let past = false; // an entry after `until` was seen: stop
  const emit = function* (lines: string[]): Generator<LogEntry> {
    for (const l of lines) {
      const e = decodeLogLine(l);
      if (!e) continue;
      if (until !== 0n && e.timeNs > until) { past = true; return; }
      if (wanted(e)) yield e;
    }
  };

  // rotated files: read to their end
  for (; fi < files.length - 1; fi++, offset = 0) {
    if (signal?.aborted) return;
    const c = await openCursor(files[fi]!, offset);
    if (!c) continue;
    try {
      yield* emit(await c.readLines());
    } finally {
      await c.close();
    }
    if (past) return;
  }

  // the live file
  let cur = await openCursor(file, offset);
  try {
    if (cur) {
      yield* emit(await cur.readLines());
      if (past) return;
    }
    if (!opts.follow) return;
    const writer = opts.writer;
    if (!writer) return; // nothing writes any more: follow ends at EOF, as Docker's does for stopped containers
    const pollMs = opts.pollMs ?? 100;
    // Subscribe before reading, so a write between a read pass and the wait is not missed.
    const wake = new Waker();
    const off = writer.onWrite(() => wake.set());
    try {
      for (;;) {
        if (signal?.aborted) return;
        const finalPass = writer.isClosed;
        wake.clear();
        // rotation: drain the old inode, then continue with the new file
        const ino = inoOf(file);
        if (cur && ino !== null && ino !== cur.ino) {
          yield* emit(await cur.readLines());
          if (past) return;
          await cur.close();
          cur = await openCursor(file, 0);
        } else if (!cur && ino !== null) {
          cur = await openCursor(file, 0);
        }
        if (cur) {
          yield* emit(await cur.readLines());
          if (past) return;
        }
        if (finalPass) return;
        await wake.wait(pollMs, writer.closed, signal);
      }
    } finally {
      off();
    }
  } finally {
    await cur?.close();
  }
}

class Waker {
  private flag = false;
  private fn: (() => void) | null = null;
  set(): void {
    this.flag = true;
    this.fn?.();
  }
  clear(): void { this.flag = false; }
  wait(ms: number, closed: Promise<void>, signal?: AbortSignal): Promise<void> {
    if (this.flag) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.fn = null;
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.fn = done;
      closed.then(done, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
