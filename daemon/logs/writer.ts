// The json-file writer: Docker's on-disk format, one JSON object per line:
//   {"log":"hi\n","stream":"stdout","time":"2026-11-29T18:01:54.737022340Z"}
// Output is split into lines; a line longer than 16 KiB is written in 16 KiB
// pieces without a newline (Docker's partial messages), and an unterminated
// last line is written when the stream is flushed or closed. Writes are
// synchronous (writeSync), so once write() returns the bytes are in the file
// and a `docker logs` right after the container exits sees everything.
// With `compress`, a rotated file is gzipped in the background (x.log.1 ->
// x.log.1.gz, the plain file removed once the archive is whole), as moby's
// loggerutils; readers take the plain file while it still exists.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { formatRfc3339Nano, nowNs } from './time.js';
import { gzipFile, gzipFileSync } from './gzip.js';
import type { LogStreamName, LogWatchable } from './types.js';

/** moby logger.copier buffer size: longer lines are split into partial messages. */
export const MAX_LINE_BYTES = 16 * 1024;

/** `<containerDir>/<id>-json.log` */
export function logPathFor(containerDir: string, id: string): string {
  return path.join(containerDir, `${id}-json.log`);
}

/** A JSON string as Go's encoding/json writes it (HTML characters and U+2028/9 escaped). */
function goJsonString(v: string): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029\b\f]/g, (c) => {
    switch (c) {
      case '<': return '\\u003c';
      case '>': return '\\u003e';
      case '&': return '\\u0026';
      case '\u2028': return '\\u2028';
      case '\u2029': return '\\u2029';
      case '\b': return '\\u0008';
      default: return '\\u000c';
    }
  });
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
  const attrs = attrsJson ? `,"attrs":${attrsJson}` : '';
  return `{"log":${goJsonString(line.toString('utf8'))},"stream":"${stream}"${attrs},"time":"${formatRfc3339Nano(timeNs)}"}\n`;
}

/** Anything stdout/stderr bytes can be logged to. */
export interface LogSink {
  /** The file to report as inspect's LogPath ("" when nothing is written). */
  readonly path: string;
  write(stream: LogStreamName, data: Buffer): void;
  /** Writes pending unterminated lines. */
  flush(): void;
  /** Flushes and closes; followers end after reading the rest. Idempotent. */
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
}

export class JsonFileLogWriter implements LogSink, LogWatchable {
  readonly path: string;
  private fd: number;
  private size: number;
  private readonly maxSize: number;
  private readonly maxFile: number;
  private readonly compress: boolean;
  private readonly attrsJson: string;
  private readonly mode: number;
  /** Time of the last record written (the gzip header's lastTime of the file it ends). */
  private lastNs = 0n;
  /** The background compression of `<path>.1`, if one runs. */
  private compressing: { src: string; ac: AbortController; superseded: boolean; lastTime: string | null; done: Promise<void> } | null = null;
  private pending: Record<LogStreamName, Buffer[]> = { stdout: [], stderr: [] };
  private pendingLen: Record<LogStreamName, number> = { stdout: 0, stderr: 0 };
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
    this.fd = fs.openSync(file, 'a', this.mode);
    this.size = fs.fstatSync(this.fd).size;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.events.setMaxListeners(0);
    // a rotated file left uncompressed (the daemon stopped mid-compression): finish it now
    if (this.compress && fs.existsSync(`${file}.1`)) this.startCompression(`${file}.1`, null);
  }

  /** Resolves when no background compression is running (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.compressing) await this.compressing.done;
  }

  get isClosed(): boolean { return this.closedFlag; }

  private rotationCount = 0;
  get rotations(): number { return this.rotationCount; }

  onWrite(fn: () => void): () => void {
    this.events.on('write', fn);
    return () => this.events.off('write', fn);
  }

  write(stream: LogStreamName, data: Buffer, timeNs: bigint = nowNs()): void {
    if (this.closedFlag || data.length === 0) return;
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = data.subarray(start, nl + 1);
      start = nl + 1;
      if (this.pendingLen[stream] > 0) {
        this.pending[stream].push(piece);
        const full = Buffer.concat(this.pending[stream]);
        this.pending[stream] = [];
        this.pendingLen[stream] = 0;
        this.emitLine(out, stream, full, timeNs);
      } else this.emitLine(out, stream, piece, timeNs);
    }
    if (start < data.length) {
      const rest = data.subarray(start);
      this.pending[stream].push(Buffer.from(rest));
      this.pendingLen[stream] += rest.length;
      if (this.pendingLen[stream] >= MAX_LINE_BYTES) {
        const all = Buffer.concat(this.pending[stream]);
        let off = 0;
        while (all.length - off >= MAX_LINE_BYTES) {
          out.push(encodeLogRecord(stream, all.subarray(off, off + MAX_LINE_BYTES), timeNs, this.attrsJson));
          off += MAX_LINE_BYTES;
        }
        const left = all.subarray(off);
        this.pending[stream] = left.length ? [Buffer.from(left)] : [];
        this.pendingLen[stream] = left.length;
      }
    }
    this.append(out, timeNs);
  }

  /** A complete line (ends with \n) possibly longer than 16 KiB: split as Docker does. */
  private emitLine(out: string[], stream: LogStreamName, line: Buffer, timeNs: bigint): void {
    let off = 0;
    while (line.length - off > MAX_LINE_BYTES) {
      out.push(encodeLogRecord(stream, line.subarray(off, off + MAX_LINE_BYTES), timeNs, this.attrsJson));
      off += MAX_LINE_BYTES;
    }
    out.push(encodeLogRecord(stream, line.subarray(off), timeNs, this.attrsJson));
  }

  flush(): void {
    if (this.closedFlag) return;
    const out: string[] = [];
    const t = nowNs();
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.pendingLen[s] === 0) continue;
      out.push(encodeLogRecord(s, Buffer.concat(this.pending[s]), t, this.attrsJson));
      this.pending[s] = [];
      this.pendingLen[s] = 0;
    }
    this.append(out, t);
  }

  /** Writes records, rotating before a record when the file reached max-size (moby LogFile semantics). */
  private append(records: string[], timeNs: bigint): void {
    if (records.length === 0) return;
    let batch: Buffer[] = [];
    let batchLen = 0;
    const writeBatch = (): void => {
      if (batchLen === 0) return;
      const b = Buffer.concat(batch, batchLen);
      let off = 0;
      while (off < b.length) off += fs.writeSync(this.fd, b, off, b.length - off);
      batch = [];
      batchLen = 0;
    };
    for (const r of records) {
      if (this.maxSize !== -1 && this.size >= this.maxSize) {
        writeBatch();
        this.rotate();
      }
      const b = Buffer.from(r);
      batch.push(b);
      batchLen += b.length;
      this.size += b.length;
      this.lastNs = timeNs;
    }
    writeBatch();
    this.events.emit('write');
  }

  private rotate(): void {
    fs.closeSync(this.fd);
    if (this.maxFile < 2) {
      this.fd = fs.openSync(this.path, 'w', this.mode);
    } else {
      const ext = this.compress ? '.gz' : '';
      // moby holds the next rotation until the previous compression is done: here the
      // writer is synchronous, so a compression still running is finished on the spot.
      if (this.compress) this.finishCompressionSync();
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
      if (this.compress) this.startCompression(`${this.path}.1`, this.lastNs ? formatRfc3339Nano(this.lastNs) : null);
    }
    this.size = 0;
    this.rotationCount++;
    this.events.emit('rotate');
  }

  /** gzip `src` to `src.gz` in the background; the plain file goes once the archive is complete. */
  private startCompression(src: string, lastTime: string | null): void {
    const ac = new AbortController();
    const job = { src, ac, superseded: false, lastTime, done: Promise.resolve() };
    job.done = gzipFile(src, `${src}.gz`, lastTime, ac.signal).then(
      () => {
        if (!job.superseded) fs.rmSync(src, { force: true });
      },
      () => {
        // aborted, or the container's directory went away: a partial archive is not kept
        if (!job.superseded) fs.rmSync(`${src}.gz`, { force: true });
      },
    ).finally(() => {
      if (this.compressing === job) this.compressing = null;
    });
    this.compressing = job;
  }

  /** Completes a running compression synchronously (a rotation came before it finished). */
  private finishCompressionSync(): void {
    const job = this.compressing;
    if (!job) return;
    job.superseded = true;
    job.ac.abort();
    this.compressing = null;
    if (!fs.existsSync(job.src)) return; // it had completed; only its callback was pending
    // a new file renamed over the partial one: the aborted stream may still write to the old inode
    const tmp = `${job.src}.gz.sync`;
    gzipFileSync(job.src, tmp, job.lastTime);
    fs.renameSync(tmp, `${job.src}.gz`);
    fs.rmSync(job.src, { force: true });
  }

  async close(): Promise<void> {
    if (this.closedFlag) return this.closed;
    this.flush();
    this.closedFlag = true;
    try {
      fs.closeSync(this.fd);
    } finally {
      this.events.emit('write');
      this.resolveClosed();
    }
  }
}

/** The `none` driver: discards everything; `docker logs` is refused. */
export class NullLogSink implements LogSink {
  readonly path = '';
  write(): void { /* discarded */ }
  flush(): void { /* nothing */ }
  async close(): Promise<void> { /* nothing */ }
}
