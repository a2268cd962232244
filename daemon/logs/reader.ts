// Reading json-file logs back: across rotated files oldest first, tail from
// the end without reading whole files, since/until filters, and follow mode
// that keeps reading until the writer closes (container stopped) or the
// caller aborts. Rotated files may be gzipped (`x.log.2.gz`, compress=true):
// those are inflated as a stream, and one whose header says its last record
// is older than `since` is skipped unread, as moby does.
//
// The writer is synchronous and runs on this thread, so every file a read
// needs is opened in one tick (no rotation can happen in between) and read
// through its fd afterwards: a rotation renames, compresses or removes paths,
// never what an open fd reads. Follow counts the writer's rotations, so a
// reader that fell several rotations behind still reads the files in between.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { parseRfc3339Nano } from './time.js';
import { gzipLastTime } from './gzip.js';
import type { LogEntry, LogStreamName, ReadLogsOptions } from './types.js';

const CHUNK = 64 * 1024;
const read = promisify(fs.read);
const fstat = promisify(fs.fstat);

/** The rotated siblings' names by number: `x.log.N`, else `x.log.N.gz` (a compression in progress leaves both). */
function rotatedNames(file: string, names: string[]): Map<number, string> {
  const base = path.basename(file);
  const byNum = new Map<number, string>();
  for (const n of names) {
    if (!n.startsWith(base + '.')) continue;
    const m = /^(\d+)(\.gz)?$/.exec(n.slice(base.length + 1));
    if (!m || Number(m[1]) < 1) continue;
    const num = Number(m[1]);
    // moby's openRotatedFile tries the plain file first
    if (!m[2] || !byNum.has(num)) byNum.set(num, m[2] ? `${file}.${num}.gz` : `${file}.${num}`);
  }
  return byNum;
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** The live file and its rotated siblings, oldest first (`x.log.3.gz`, `x.log.2`, `x.log.1`, `x.log`). */
export async function listLogFiles(file: string): Promise<string[]> {
  const byNum = rotatedNames(file, readdir(path.dirname(file)));
  return [...byNum.keys()].sort((a, b) => b - a).map((n) => byNum.get(n)!).concat(file);
}

/** Decodes one json-file line; null for lines that aren't valid records. */
export function decodeLogLine(line: string): LogEntry | null {
  let o: { log?: unknown; stream?: unknown; time?: unknown; attrs?: unknown };
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
  const e: LogEntry = { stream, line: Buffer.from(o.log, 'utf8'), time: o.time, timeNs };
  if (o.attrs && typeof o.attrs === 'object' && !Array.isArray(o.attrs)) {
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.attrs as Record<string, unknown>)) if (typeof v === 'string') attrs[k] = v;
    if (Object.keys(attrs).length) e.attrs = attrs;
  }
  return e;
}

/** An open log file: plain, or gzipped (offsets then count uncompressed bytes). */
interface Src { fd: number; gz: boolean; name: string }

function openSrc(name: string): Src | null {
  try {
    return { fd: fs.openSync(name, 'r'), gz: name.endsWith('.gz'), name };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Rotated file N, plain or (compressed meanwhile) gzipped. Synchronous: call in the tick that decides. */
function openRotated(file: string, n: number): Src | null {
  return openSrc(`${file}.${n}`) ?? openSrc(`${file}.${n}.gz`);
}

const closeSrc = (s: Src | null | undefined): void => {
  if (s) fs.close(s.fd, () => {});
};

/** A plain file's bytes through positional reads of its fd (the fd stays open: the caller owns it). */
async function* rawChunks(fd: number): AsyncGenerator<Buffer> {
  let pos = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await read(fd, buf, 0, CHUNK, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/** The uncompressed bytes of a source from its start; `close` stops it early (never the fd). */
function contentStream(s: Src): { chunks: AsyncIterable<Buffer>; close(): void } {
  if (!s.gz) {
    const g = rawChunks(s.fd);
    return { chunks: g, close: () => void g.return(undefined) };
  }
  const src = Readable.from(rawChunks(s.fd), { objectMode: false });
  const gunzip = zlib.createGunzip();
  src.pipe(gunzip);
  return { chunks: gunzip, close: () => { src.destroy(); gunzip.destroy(); } };
}

/** Lines of a source from uncompressed byte `offset`, in batches. */
async function* srcLines(s: Src, offset: number): AsyncGenerator<string[]> {
  const stream = contentStream(s);
  let skip = offset;
  let leftover = Buffer.alloc(0);
  try {
    for await (const chunk of stream.chunks) {
      let data = chunk;
      if (skip > 0) {
        if (data.length <= skip) { skip -= data.length; continue; }
        data = data.subarray(skip);
        skip = 0;
      }
      if (leftover.length) data = Buffer.concat([leftover, data]);
      const lines: string[] = [];
      let start = 0;
      for (;;) {
        const nl = data.indexOf(0x0a, start);
        if (nl < 0) break;
        lines.push(data.toString('utf8', start, nl));
        start = nl + 1;
      }
      leftover = Buffer.from(data.subarray(start));
      if (lines.length) yield lines;
    }
  } finally {
    stream.close();
  }
}

/**
 * In one source, where the `need`-th newline from its end is followed by
 * (`offset`), or how many newlines it has when fewer (`found` < need).
 */
async function newlinesFromEnd(s: Src, need: number): Promise<{ found: number; offset: number }> {
  if (s.gz) {
    // a gzip member can't be read backwards: inflate once, keeping the last `need` positions
    const ring: number[] = [];
    let pos = 0;
    let count = 0;
    const stream = contentStream(s);
    try {
      for await (const chunk of stream.chunks) {
        for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
          count++;
          ring.push(pos + i + 1);
          if (ring.length > need) ring.shift();
        }
        pos += chunk.length;
      }
    } finally {
      stream.close();
    }
    return count >= need ? { found: need, offset: ring[0]! } : { found: count, offset: 0 };
  }
  const size = (await fstat(s.fd)).size;
  let pos = size;
  let found = 0;
  const buf = Buffer.allocUnsafe(CHUNK);
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const { bytesRead } = await read(s.fd, buf, 0, len, pos);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buf[i] === 0x0a && ++found === need) return { found, offset: pos + i + 1 };
    }
  }
  return { found, offset: 0 };
}

/**
 * Where the last `n` lines start, scanning backwards across sources (newest
 * last): over their concatenation, the (n+1)-th newline from the end (the last
 * byte being the 1st) precedes the first wanted line. Returns [index, offset].
 */
async function tailStart(srcs: Src[], n: number): Promise<[number, number]> {
  let need = n + 1;
  for (let i = srcs.length - 1; i >= 0; i--) {
    const r = await newlinesFromEnd(srcs[i]!, need);
    if (r.found === need) return [i, r.offset];
    need -= r.found;
  }
  return [0, 0];
}

/** The live file, read incrementally through its fd. */
class Cursor {
  private leftover: Buffer = Buffer.alloc(0);
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  readonly ino: number;
  constructor(readonly fd: number, public offset: number) {
    this.ino = fs.fstatSync(fd).ino;
  }

  /** Reads what is there now; returns complete lines (without the newline). */
  async readLines(): Promise<string[]> {
    const lines: string[] = [];
    const st = await fstat(this.fd);
    if (st.size < this.offset) {
      // truncated (max-file=1 rotation): start over
      this.offset = 0;
      this.leftover = Buffer.alloc(0);
    }
    for (;;) {
      const { bytesRead } = await read(this.fd, this.buf, 0, CHUNK, this.offset);
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
  close(): void {
    fs.close(this.fd, () => {});
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
  const writer = opts.follow ? opts.writer ?? null : null;

  // One tick: every file opened and the writer's rotation count taken together.
  const byNum = rotatedNames(file, readdir(path.dirname(file)));
  const rotated: Src[] = [];
  for (const n of [...byNum.keys()].sort((a, b) => b - a)) {
    const s = openSrc(byNum.get(n)!) ?? openRotated(file, n);
    if (s) rotated.push(s);
  }
  const liveFd = openSrc(file);
  let rotations = writer?.rotations ?? 0;
  let cur: Cursor | null = liveFd ? new Cursor(liveFd.fd, 0) : null;
  const pending: Src[] = [...rotated];

  try {
    const all: Src[] = cur ? [...rotated, { fd: cur.fd, gz: false, name: file }] : rotated;
    let first = 0;
    let offset = 0;
    const tail = opts.tail === undefined || opts.tail === 'all' || opts.tail < 0 ? 'all' : opts.tail;
    if (tail === 0) {
      first = all.length;
      if (cur) cur.offset = (await fstat(cur.fd)).size;
    } else if (tail !== 'all') {
      [first, offset] = await tailStart(all, tail);
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
    /** A rotated file to its end (a compressed one ending before `since` is skipped unread). */
    const drain = async function* (s: Src, from: number): AsyncGenerator<LogEntry> {
      if (since !== 0n && s.gz) {
        const last = await gzipLastTime(s.fd, parseRfc3339Nano);
        if (last !== null && last < since) return;
      }
      for await (const batch of srcLines(s, from)) {
        yield* emit(batch);
        if (past || signal?.aborted) return;
      }
    };

    // rotated files, oldest first
    for (let i = 0; i < rotated.length; i++) {
      const s = rotated[i]!;
      pending.shift();
      try {
        if (i >= first && !signal?.aborted) yield* drain(s, i === first ? offset : 0);
      } finally {
        closeSrc(s);
      }
      if (past || signal?.aborted) return;
    }

    // the live file
    if (cur) {
      if (first === rotated.length) cur.offset = Math.max(cur.offset, offset);
      yield* emit(await cur.readLines());
      if (past) return;
    }
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
        const ino = inoOf(file);
        if (cur && ino !== null && ino !== cur.ino) {
          // Rotated k times since `cur` was opened: it is now file k; files k-1 … 1 came after it.
          // They and the new live file are opened in this tick, before anything can rotate again.
          const k = Math.max(1, writer.rotations - rotations);
          const between: Src[] = [];
          for (let n = k - 1; n >= 1; n--) {
            const s = openRotated(file, n);
            if (s) between.push(s);
          }
          const next = openSrc(file);
          rotations = writer.rotations;
          pending.push(...between);
          yield* emit(await cur.readLines());
          cur.close();
          cur = next ? new Cursor(next.fd, 0) : null;
          if (past) return;
          while (pending.length) {
            const s = pending.shift()!;
            try {
              yield* drain(s, 0);
            } finally {
              closeSrc(s);
            }
            if (past || signal?.aborted) return;
          }
        } else if (!cur && ino !== null) {
          const next = openSrc(file);
          rotations = writer.rotations;
          cur = next ? new Cursor(next.fd, 0) : null;
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
    cur?.close();
    for (const s of pending) closeSrc(s);
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
