// The json-file writer: Docker's on-disk format, one JSON object per line:
//   {"log":"hi\n","stream":"stdout","time":"2026-11-29T18:01:54.737022340Z"}
// Output is split into lines; a line longer than 16 KiB is written in 16 KiB
// pieces without a newline (Docker's partial messages), and an unterminated
// last line is written when the stream is flushed or closed.
//
// Writes are asynchronous, in order, one at a time off the event loop (a
// container flooding stdout must not stall the API behind writeSync). write()
// returns false once more than `highWaterMark` bytes wait for the disk: the
// caller stops reading the container's pipe until onDrain, so the pipe is the
// buffer and the container blocks on its write, as it does under dockerd's
// copier. close() resolves when every byte is in the file, so a `docker logs`
// after the exit was recorded sees everything.
// With `compress`, a rotated file is gzipped in the background (x.log.1 ->
// x.log.1.gz, the plain file removed once the archive is whole), as moby's
// loggerutils; readers take the plain file while it still exists. As in moby,
// the next rotation waits for the previous compression (the writer's queue,
// then the container's pipe, holds the output meanwhile).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { formatRfc3339Nano, nowNs } from './time.js';
import { gzipFile } from './gzip.js';
import type { LogStreamName, LogWatchable } from './types.js';

/** moby logger.copier buffer size: longer lines are split into partial messages. */
export const MAX_LINE_BYTES = 16 * 1024;

/** `<containerDir>/<id>-json.log` */
export function logPathFor(containerDir: string, id: string): string {
  return path.join(containerDir, `${id}-json.log`);
}

const GO_ESCAPES = /[<>&\u2028\u2029\b\f]/g;
/** What JSON.stringify or Go would escape in a line (its newline aside): without any, a line is framed as is. */
const NEEDS_ESCAPE = /["\\<>&\u0000-\u0009\u000b-\u001f\u2028\u2029]/;
function goEscape(c: string): string {
  switch (c) {
    case '<': return '\\u003c';
    case '>': return '\\u003e';
    case '&': return '\\u0026';
    case '\u2028': return '\\u2028';
    case '\u2029': return '\\u2029';
    case '\b': return '\\u0008';
    default: return '\\u000c';
  }
}

/** A JSON string as Go's encoding/json writes it (HTML characters and U+2028/9 escaped). */
function goJsonString(v: string): string {
  return JSON.stringify(v).replace(GO_ESCAPES, goEscape);
}

/** The `attrs` object of every record (json.Marshal of a map: keys sorted); '' when there are none. */
export function encodeLogAttrs(attrs: Record<string, string> | undefined): string {
  const keys = Object.keys(attrs ?? {}).sort();
  if (!keys.length) return '';
  return `{${keys.map((k) => `${goJsonString(k)}:${goJsonString(attrs![k]!)}`).join(',')}}`;
}

/**
 * Encodes one json-file record (with its trailing newline), escaping like Go's
 * encoding/json; fields in moby's order: log, stream, attrs, time.
 */
export function encodeLogRecord(stream: LogStreamName, line: Buffer, timeNs: bigint, attrsJson = ''): string {
  return encodeRecord(stream, line, formatRfc3339Nano(timeNs), attrsJson);
}

/** What follows the log field: `"stream":...,"attrs":...,"time":...}` and the newline. */
function recordTail(stream: LogStreamName, time: string, attrsJson: string): string {
  return `"stream":"${stream}"${attrsJson ? `,"attrs":${attrsJson}` : ''},"time":"${time}"}\n`;
}

/** The same with the time already formatted (one write() formats it once for all its lines). */
function encodeRecord(stream: LogStreamName, line: Buffer, time: string, attrsJson: string): string {
  return `{"log":${goJsonString(line.toString('utf8'))},${recordTail(stream, time, attrsJson)}`;
}

/** Anything stdout/stderr bytes can be logged to. */
export interface LogSink {
  /** The file to report as inspect's LogPath ("" when nothing is written). */
  readonly path: string;
  /**
   * Takes the bytes; false when the sink is behind: stop reading until onDrain. `timeNs`: the
   * record's time when not now (output replayed from the live-restore holder's spool).
   */
  write(stream: LogStreamName, data: Buffer, timeNs?: bigint): boolean;
  /** Called once the sink is ready for more after write() returned false. */
  onDrain(fn: () => void): void;
  /** Writes pending unterminated lines. */
  flush(): void;
  /** Flushes and closes; resolves when everything is on disk; followers end after reading the rest. Idempotent. */
  close(): Promise<void>;
}

export interface JsonFileWriterOptions {
  /** -1 = unlimited */
  maxSize?: number;
  maxFile?: number;
  /** gzip rotated files (needs maxFile >= 2). */
  compress?: boolean;
  /** Extra attributes written into every record (`--log-opt labels/env/tag`). */
  attrs?: Record<string, string>;
  /** File mode for new files (default 0o640). */
  mode?: number;
  /**
   * Write each record before write() returns (write(2) on the event loop), as before the queue:
   * under --live-restore a SIGKILLed daemon must not take output it read from the pipe with it.
   */
  syncWrites?: boolean;
  /**
   * Bytes waiting for the disk before write() asks the caller to pause (default 256 KiB: a
   * flood is then encoded a few pipe reads at a time, between which the API is served).
   */
  highWaterMark?: number;
}

/** A rotation point in the write queue, with the time of the last record of the file it ends. */
interface Rotate { rotateAfterNs: bigint }
/** At most this much per write(2). */
const BATCH_BYTES = 1 << 20;

function writeAll(fd: number, buf: Buffer, cb: (err: Error | null) => void): void {
  let off = 0;
  const step = (): void => {
    fs.write(fd, buf, off, buf.length - off, null, (err, n) => {
      if (err) return cb(err);
      off += n;
      if (off < buf.length) step();
      else cb(null);
    });
  };
  step();
}

export class JsonFileLogWriter implements LogSink, LogWatchable {
  readonly path: string;
  private fd: number;
  /** bytes the live file will have once the queue is written (rotation is planned on it) */
  private plannedSize: number;
  private readonly maxSize: number;
  private readonly maxFile: number;
  private readonly compress: boolean;
  private readonly attrsJson: string;
  private readonly mode: number;
  private readonly syncWrites: boolean;
  private readonly highWaterMark: number;
  /** Time of the last record queued for the live file (the gzip header's lastTime of the file it ends). */
  private plannedLastNs = 0n;
  /** The background compression of `<path>.1`, if one runs. */
  private compressing: Promise<void> | null = null;
  private pending: Record<LogStreamName, Buffer[]> = { stdout: [], stderr: [] };
  private pendingLen: Record<LogStreamName, number> = { stdout: 0, stderr: 0 };
  private queue: Array<Buffer | Rotate> = [];
  private head = 0;
  private queued = 0;
  private writing = false;
  private accepting = true;
  private drainWanted = false;
  private idleWaiters: Array<() => void> = [];
  /** the first write error (the disk is full...): later output is dropped, the container is never blocked by it */
  failed: Error | null = null;
  private events = new EventEmitter();
  private closedFlag = false;
  private resolveClosed!: () => void;
  readonly closed: Promise<void>;

  constructor(file: string, opts: JsonFileWriterOptions = {}) {
    this.path = file;
    this.maxSize = opts.maxSize ?? -1;
    this.maxFile = Math.max(1, opts.maxFile ?? 1);
    this.compress = !!opts.compress && this.maxFile >= 2;
    this.attrsJson = encodeLogAttrs(opts.attrs);
    this.mode = opts.mode ?? 0o640;
    this.syncWrites = !!opts.syncWrites;
    this.highWaterMark = opts.highWaterMark ?? 256 * 1024;
    this.fd = fs.openSync(file, 'a', this.mode);
    this.plannedSize = fs.fstatSync(this.fd).size;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.events.setMaxListeners(0);
    // a rotated file left uncompressed (the daemon stopped mid-compression): finish it now
    if (this.compress && fs.existsSync(`${file}.1`)) this.startCompression(`${file}.1`, null);
  }

  /** Resolves when everything queued is written and no background compression runs (tests, shutdown). */
  async settled(): Promise<void> {
    for (;;) {
      await this.written();
      if (!this.compressing) return;
      await this.compressing;
    }
  }

  get isClosed(): boolean { return this.closedFlag; }

  private rotationCount = 0;
  /** Rotations done so far (on disk, not merely planned). */
  get rotations(): number { return this.rotationCount; }

  onWrite(fn: () => void): () => void {
    this.events.on('write', fn);
    return () => this.events.off('write', fn);
  }

  onDrain(fn: () => void): void {
    if (!this.writing && this.queued < this.highWaterMark) { queueMicrotask(fn); return; }
    this.drainWanted = true;
    this.events.once('drain', fn);
  }

  /** Resolves when everything queued so far is in the file. */
  written(): Promise<void> {
    if (!this.writing && this.head >= this.queue.length) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  write(stream: LogStreamName, data: Buffer, timeNs: bigint = nowNs()): boolean {
    if (!this.accepting || data.length === 0) return true;
    const time = formatRfc3339Nano(timeNs);
    let out = '';
    let start = 0;
    if (this.pendingLen[stream] > 0) {
      // the first newline completes the pending partial line
      const nl = data.indexOf(0x0a);
      if (nl >= 0) {
        this.pending[stream].push(data.subarray(0, nl + 1));
        const full = Buffer.concat(this.pending[stream]);
        this.pending[stream] = [];
        this.pendingLen[stream] = 0;
        out += this.lineRecords(stream, full, time);
        start = nl + 1;
      }
    }
    const last = data.lastIndexOf(0x0a);
    if (last >= start) out += this.completeLines(stream, data.toString('utf8', start, last + 1), time);
    const rest = Math.max(start, last + 1);
    if (rest < data.length) out += this.addPending(stream, data.subarray(rest), time);
    if (out) this.enqueue(Buffer.from(out), timeNs);
    return this.queued < this.highWaterMark;
  }

  /**
   * Records for complete lines (`s` ends with a newline). Most output needs no escaping
   * beyond the newline: those lines are framed directly; the rest go through
   * JSON.stringify with Go's extra escapes. Lines over 16 KiB take the byte path.
   */
  private completeLines(stream: LogStreamName, s: string, time: string): string {
    const tail = `",${recordTail(stream, time, this.attrsJson)}`;
    const plain = !NEEDS_ESCAPE.test(s);
    let out = '';
    let pos = 0;
    while (pos < s.length) {
      const nl = s.indexOf('\n', pos);
      const line = s.slice(pos, nl);
      pos = nl + 1;
      if (line.length * 3 >= MAX_LINE_BYTES && Buffer.byteLength(line) + 1 > MAX_LINE_BYTES) {
        out += this.lineRecords(stream, Buffer.from(line + '\n'), time);
      } else if (plain) {
        out += '{"log":"' + line + '\\n' + tail;
      } else {
        out += `{"log":${goJsonString(line + '\n')}${tail.slice(1)}`;
      }
    }
    return out;
  }

  /** Keeps an unterminated piece; whole 16 KiB pieces of it become records at once (Docker's partial messages). */
  private addPending(stream: LogStreamName, rest: Buffer, time: string): string {
    this.pending[stream].push(Buffer.from(rest));
    this.pendingLen[stream] += rest.length;
    if (this.pendingLen[stream] < MAX_LINE_BYTES) return '';
    const all = Buffer.concat(this.pending[stream]);
    let out = '';
    let off = 0;
    while (all.length - off >= MAX_LINE_BYTES) {
      out += encodeRecord(stream, all.subarray(off, off + MAX_LINE_BYTES), time, this.attrsJson);
      off += MAX_LINE_BYTES;
    }
    const left = all.subarray(off);
    this.pending[stream] = left.length ? [Buffer.from(left)] : [];
    this.pendingLen[stream] = left.length;
    return out;
  }

  /** A complete line (ends with \n) possibly longer than 16 KiB: split as Docker does. */
  private lineRecords(stream: LogStreamName, line: Buffer, time: string): string {
    let out = '';
    let off = 0;
    while (line.length - off > MAX_LINE_BYTES) {
      out += encodeRecord(stream, line.subarray(off, off + MAX_LINE_BYTES), time, this.attrsJson);
      off += MAX_LINE_BYTES;
    }
    return out + encodeRecord(stream, line.subarray(off), time, this.attrsJson);
  }

  flush(): void {
    if (!this.accepting) return;
    let out = '';
    const t = nowNs();
    const time = formatRfc3339Nano(t);
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.pendingLen[s] === 0) continue;
      out += encodeRecord(s, Buffer.concat(this.pending[s]), time, this.attrsJson);
      this.pending[s] = [];
      this.pendingLen[s] = 0;
    }
    if (out) this.enqueue(Buffer.from(out), t);
  }

  /**
   * Queues encoded records (each ends with a newline, and JSON never holds a raw one),
   * planning a rotation before the first record that starts once the file has reached
   * max-size (moby LogFile semantics).
   */
  private enqueue(buf: Buffer, timeNs: bigint): void {
    if (this.failed) return;
    const push = (b: Buffer): void => {
      this.queue.push(b);
      this.queued += b.length;
      this.plannedSize += b.length;
      this.plannedLastNs = timeNs;
    };
    let off = 0;
    while (this.maxSize !== -1 && off < buf.length) {
      const room = this.maxSize - this.plannedSize;
      if (room <= 0) {
        this.queue.push({ rotateAfterNs: this.plannedLastNs });
        this.plannedSize = 0;
        continue;
      }
      if (buf.length - off <= room) break;
      // the record holding the byte that reaches max-size still goes to this file
      const end = buf.indexOf(0x0a, off + room - 1) + 1;
      push(buf.subarray(off, end));
      off = end;
    }
    if (off < buf.length) push(off === 0 ? buf : buf.subarray(off));
    this.pump();
  }

  /** Writes the queue in order, one write(2) at a time, rotating where planned. */
  private pump(): void {
    while (!this.writing && !this.failed && this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      if (!Buffer.isBuffer(item)) {
        if (this.compressing) {
          // moby holds a rotation until the previous compression is done; output waits in the queue
          this.writing = true;
          void this.compressing.then(() => {
            this.writing = false;
            this.pump();
            this.maybeDrain();
          });
          return;
        }
        this.head++;
        try {
          this.rotate(item.rotateAfterNs);
        } catch (e) {
          this.fail(e as Error);
          return;
        }
        continue;
      }
      let end = this.head;
      let len = 0;
      while (end < this.queue.length && Buffer.isBuffer(this.queue[end]) && len < BATCH_BYTES) len += (this.queue[end++] as Buffer).length;
      const bufs = this.queue.slice(this.head, end) as Buffer[];
      this.head = end;
      if (this.head > 1024) { this.queue = this.queue.slice(this.head); this.head = 0; }
      if (this.syncWrites) {
        const b = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs, len);
        try {
          for (let off = 0; off < b.length;) off += fs.writeSync(this.fd, b, off, b.length - off);
        } catch (e) {
          this.queued -= len;
          this.fail(e as Error);
          return;
        }
        this.queued -= len;
        this.events.emit('write');
        continue;
      }
      this.writing = true;
      writeAll(this.fd, bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs, len), (err) => {
        this.writing = false;
        this.queued -= len;
        if (err) { this.fail(err); return; }
        this.events.emit('write');
        this.pump();
        this.maybeDrain();
      });
    }
    if (!this.writing && (this.failed || this.head >= this.queue.length)) {
      this.queue = [];
      this.head = 0;
      for (const r of this.idleWaiters.splice(0)) r();
    }
  }

  private maybeDrain(): void {
    if (this.drainWanted && this.queued < this.highWaterMark) {
      this.drainWanted = false;
      this.events.emit('drain');
    }
  }

  private fail(err: Error): void {
    this.failed ??= err;
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    this.drainWanted = false;
    this.events.emit('drain'); // whoever paused for us reads on; the output is dropped from now on
    for (const r of this.idleWaiters.splice(0)) r();
  }

  /** Rotates now (nothing of the old file is still queued); `lastNs`: the time of the old file's last record. */
  private rotate(lastNs: bigint): void {
    fs.closeSync(this.fd);
    if (this.maxFile < 2) {
      this.fd = fs.openSync(this.path, 'w', this.mode);
    } else {
      const ext = this.compress ? '.gz' : '';
      const ignoreMissing = (f: () => void) => {
        try {
          f();
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      };
      ignoreMissing(() => fs.unlinkSync(`${this.path}.${this.maxFile - 1}${ext}`));
      for (let i = this.maxFile - 1; i > 1; i--) {
        ignoreMissing(() => fs.renameSync(`${this.path}.${i - 1}${ext}`, `${this.path}.${i}${ext}`));
      }
      fs.renameSync(this.path, `${this.path}.1`);
      this.fd = fs.openSync(this.path, 'a', this.mode);
      if (this.compress) this.startCompression(`${this.path}.1`, lastNs ? formatRfc3339Nano(lastNs) : null);
    }
    this.rotationCount++;
    this.events.emit('rotate');
  }

  /** gzip `src` to `src.gz` in the background; the plain file goes once the archive is complete. */
  private startCompression(src: string, lastTime: string | null): void {
    const job: Promise<void> = gzipFile(src, `${src}.gz`, lastTime).then(
      () => fs.rmSync(src, { force: true }),
      // the container's directory went away, the disk is full...: a partial archive is not kept
      () => fs.rmSync(`${src}.gz`, { force: true }),
    ).catch(() => { /* nothing left to clean */ }).finally(() => {
      if (this.compressing === job) this.compressing = null;
    });
    this.compressing = job;
  }

  async close(): Promise<void> {
    if (!this.accepting) return this.closed;
    this.flush();
    this.accepting = false;
    await this.written();
    try {
      fs.closeSync(this.fd);
    } finally {
      this.closedFlag = true;
      this.events.emit('write');
      this.resolveClosed();
    }
  }
}

/** The `none` driver: discards everything; `docker logs` is refused. */
export class NullLogSink implements LogSink {
  readonly path = '';
  write(): boolean { return true; /* discarded */ }
  onDrain(fn: () => void): void { queueMicrotask(fn); }
  flush(): void { /* nothing */ }
  async close(): Promise<void> { /* nothing */ }
}
