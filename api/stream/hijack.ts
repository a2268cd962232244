// Hijacked (upgraded) connections for attach and exec start, the plain-200 raw
// stream variant (dockerode's exec start without Upgrade), and detach keys.
//
// Wire contract (reference/docker-cli-wire-trace.md §1.6, §3.3):
// - the 101 is written by hand; the request body (Content-Length or chunked)
//   arrives in `head` and/or later socket data and is consumed before anything
//   counts as stdin;
// - the client's FIN only ends stdin: output keeps flowing until close();
// - client → server stdin is never framed; output is framed unless tty.
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { PassThrough, Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { invalidParameter } from '../../errors/index.js';
import { versionAtLeast } from '../version.js';
import { frame, STDOUT, STDERR } from '../../wire/index.js';

export const MEDIA_RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MEDIA_MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/**
 * The Content-Type moby puts on a 101: multiplexed-stream for non-tty streams
 * when the client speaks API >= 1.42 (or a bare path), raw-stream otherwise.
 * The plain-200 variant always says raw-stream.
 */
export function hijackContentType(tty: boolean, apiVersion: string | null): string {
  return !tty && versionAtLeast(apiVersion, '1.42') ? MEDIA_MULTIPLEXED_STREAM : MEDIA_RAW_STREAM;
}

export type OutputStream = 'stdout' | 'stderr';

/** What the daemon writes process output to; also the shape StdioHub's clients have. */
export interface HijackedConnection {
  /** Output is framed unless tty; exec start sets it from its request body once that is read. */
  tty: boolean;
  /** The parsed JSON request body ({} when empty); rejects on malformed JSON or a cut-off body. */
  readonly body: Promise<unknown>;
  /** Bytes the client sent after the body. Ends on the client's FIN (half-close) or disconnect. */
  readonly stdin: Readable;
  writeStdout(buf: Buffer): boolean;
  writeStderr(buf: Buffer): boolean;
  write(stream: OutputStream, buf: Buffer): boolean;
  /** Bytes queued in the socket, not yet handed to the kernel. */
  readonly writableLength: number;
  /** True once the connection is gone or close() was called. */
  readonly closed: boolean;
  /** Flushes queued output, then ends the connection. Resolves once the output is flushed (or the client is gone). */
  close(): Promise<void>;
  /** Called once when the connection goes away (client disconnect or after close()). */
  onClose(fn: () => void): void;
  /** Called when queued output has drained. */
  onDrain(fn: () => void): void;
  /** Abrupt teardown. */
  destroy(): void;
}

export interface UpgradeOptions {
  tty: boolean;
  /** Extra 101 headers (exec start sends Api-Version, Docker-Experimental, Ostype, Server). */
  headers?: Record<string, string>;
  /** Default raw-stream; see hijackContentType(). */
  contentType?: string;
  /** Set when readUpgradeBody() already consumed the body: `head` is then what was left over. */
  bodyConsumed?: unknown;
  /** Largest accepted request body (default 1 MiB). */
  bodyLimit?: number;
}

// ---------------------------------------------------------------- request body

type BodyState =
  | { kind: 'length'; remaining: number }
  | { kind: 'chunked'; phase: 'size' | 'data' | 'data-crlf' | 'trailer'; remaining: number; line: string }
  | { kind: 'done' };

/** Incremental HTTP request body parser (Content-Length or chunked). */
class BodyParser {
  private state: BodyState;
  private parts: Buffer[] = [];
  private size = 0;
  constructor(req: IncomingMessage, private readonly limit: number) {
    const te = String(req.headers['transfer-encoding'] ?? '').toLowerCase();
    if (te.includes('chunked')) this.state = { kind: 'chunked', phase: 'size', remaining: 0, line: '' };
    else {
      const n = Number(req.headers['content-length'] ?? 0);
      this.state = Number.isFinite(n) && n > 0 ? { kind: 'length', remaining: n } : { kind: 'done' };
    }
  }
  get done(): boolean { return this.state.kind === 'done'; }
  get body(): Buffer { return Buffer.concat(this.parts); }

  /** Feeds bytes; returns the bytes after the end of the body (empty while not done). */
  feed(data: Buffer): Buffer {
    let off = 0;
    while (off < data.length && this.state.kind !== 'done') {
      const s = this.state;
      if (s.kind === 'length') {
        const n = Math.min(s.remaining, data.length - off);
        this.keep(data.subarray(off, off + n));
        off += n;
        s.remaining -= n;
        if (s.remaining === 0) this.state = { kind: 'done' };
        continue;
      }
      if (s.phase === 'data') {
        const n = Math.min(s.remaining, data.length - off);
        this.keep(data.subarray(off, off + n));
        off += n;
        s.remaining -= n;
        if (s.remaining === 0) { s.phase = 'data-crlf'; s.line = ''; }
        continue;
      }
      // line-oriented phases: size line, CRLF after data, trailers
      const c = data[off++]!;
      if (c !== 0x0a) { if (c !== 0x0d) s.line += String.fromCharCode(c); continue; }
      const line = s.line;
      s.line = '';
      if (s.phase === 'size') {
        const n = parseInt(line.split(';')[0]!.trim(), 16);
        if (!Number.isFinite(n) || n < 0) throw invalidParameter(`invalid chunked request body: bad chunk size ${JSON.stringify(line)}`);
        if (n === 0) s.phase = 'trailer';
        else { s.phase = 'data'; s.remaining = n; }
      } else if (s.phase === 'data-crlf') {
        s.phase = 'size';
      } else if (line === '') {
        this.state = { kind: 'done' };
      }
    }
    return this.state.kind === 'done' ? data.subarray(off) : Buffer.alloc(0);
  }

  private keep(b: Buffer): void {
    this.size += b.length;
    if (this.size > this.limit) throw invalidParameter(`request body too large (more than ${this.limit} bytes)`);
    this.parts.push(Buffer.from(b));
  }
}

function parseJsonBody(b: Buffer): unknown {
  const s = b.toString('utf8').trim();
  if (s === '') return {};
  try {
    return JSON.parse(s);
  } catch (e) {
    throw invalidParameter(`invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Reads the request body of an upgrade request before answering it (so a bad
 * body can still get a plain 400). Resolves with the parsed body and the bytes
 * that followed it (early stdin); pass those as `head` to upgradeSocket() with
 * `bodyConsumed: body`. Leaves the socket paused.
 */
export function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer, limit = 1 << 20): Promise<{ body: unknown; rest: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const parser = new BodyParser(req, limit);
    const cleanup = (): void => {
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    const finish = (rest: Buffer, ended: boolean): void => {
      cleanup();
      try {
        resolve({ body: parseJsonBody(parser.body), rest, ended });
      } catch (e) {
        reject(e);
      }
    };
    const onData = (d: Buffer): void => {
      try {
        const rest = parser.feed(d);
        if (parser.done) finish(rest, false);
      } catch (e) {
        cleanup();
        reject(e);
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (parser.done) finish(Buffer.alloc(0), true);
      else reject(invalidParameter('request body ended early'));
    };
    try {
      const rest = parser.feed(head);
      if (parser.done) return finish(rest, socket.readableEnded);
    } catch (e) {
      return reject(e);
    }
    if (socket.readableEnded || socket.destroyed) return onEnd();
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.resume();
  });
}

// ---------------------------------------------------------------- connection

class SocketConnection implements HijackedConnection {
  readonly stdin = new PassThrough();
  readonly body: Promise<unknown>;
  private events = new EventEmitter();
  private isClosed = false;
  private closing: Promise<void> | null = null;

  /** `stdinSource`: where stdin bytes come from after the body: the socket itself, or a request stream. */
  constructor(
    private readonly socket: Duplex,
    public tty: boolean,
    body: Promise<{ body: unknown; rest: Buffer; ended: boolean }>,
    private readonly stdinSource: Readable | null = null,
  ) {
    socket.on('error', () => { /* EPIPE / ECONNRESET: the client went away; 'close' follows */ });
    socket.once('close', () => this.markClosed());
    socket.on('drain', () => this.events.emit('drain'));
    this.body = body.then(
      ({ body: b, rest, ended }) => {
        this.startStdin(rest, ended);
        return b;
      },
      (err) => {
        this.stdin.end();
        throw err;
      },
    );
    this.body.catch(() => { /* surfaced to whoever awaits it */ });
  }

  private startStdin(rest: Buffer, ended: boolean): void {
    const s = this.stdinSource ?? this.socket;
    if (rest.length > 0) this.stdin.write(rest);
    if (ended || s.readableEnded || s.destroyed) { this.stdin.end(); return; }
    s.on('data', (d: Buffer) => {
      if (this.stdin.writableEnded) return; // closed under us: a write now would be an 'error' nobody listens to
      if (!this.stdin.write(d)) {
        s.pause();
        this.stdin.once('drain', () => s.resume());
      }
    });
    // FIN from the client: stdin EOF only. Never destroy here (allowHalfOpen).
    s.once('end', () => this.stdin.end());
    s.once('close', () => { if (!this.stdin.writableEnded) this.stdin.end(); });
    if (s !== this.socket) this.socket.once('close', () => { if (!this.stdin.writableEnded) this.stdin.end(); });
    s.resume();
  }

  private markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (!this.stdin.writableEnded) this.stdin.end();
    this.events.emit('close');
    this.events.removeAllListeners('close');
  }

  get closed(): boolean { return this.isClosed || this.socket.destroyed || !this.socket.writable; }
  get writableLength(): number { return this.socket.writableLength; }

  write(stream: OutputStream, buf: Buffer): boolean {
    if (this.closed || buf.length === 0) return !this.closed;
    return this.socket.write(this.tty ? buf : frame(stream === 'stdout' ? STDOUT : STDERR, buf));
  }
  writeStdout(buf: Buffer): boolean { return this.write('stdout', buf); }
  writeStderr(buf: Buffer): boolean { return this.write('stderr', buf); }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      const s = this.socket;
      if (s.destroyed) return resolve();
      s.once('close', () => resolve());
      // Flush, then FIN; resolves once the output is handed to the kernel. If the
      // client already half-closed, the socket closes fully; otherwise the client
      // closes its side after reading EOF (don't wait forever for it).
      s.end(() => {
        resolve();
        const t = setTimeout(() => s.destroy(), 5000);
        t.unref();
        s.once('close', () => clearTimeout(t));
      });
    });
    return this.closing;
  }

  onClose(fn: () => void): void {
    if (this.isClosed) queueMicrotask(fn);
    else this.events.once('close', fn);
  }
  onDrain(fn: () => void): void { this.events.once('drain', fn); }
  destroy(): void { this.socket.destroy(); }
}

function headerBlock(headers: Record<string, string> | undefined): string {
  let s = '';
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) continue;
    s += `${k}: ${v}\r\n`;
  }
  return s;
}

/**
 * Answers an upgrade request with Docker's 101 and returns the raw connection.
 * Unless `opts.bodyConsumed` is set, the request body is consumed from `head`
 * and later data first (`conn.body`); everything after it is stdin.
 */
export function upgradeSocket(req: IncomingMessage, socket: Duplex, head: Buffer, opts: UpgradeOptions): HijackedConnection {
  (socket as { tsdUpgraded?: boolean }).tsdUpgraded = true;
  const s = socket as Duplex & { setTimeout?: (ms: number) => void; setNoDelay?: (b: boolean) => void };
  s.setTimeout?.(0);
  s.setNoDelay?.(true);
  socket.write(
    `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${opts.contentType ?? MEDIA_RAW_STREAM}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      headerBlock(opts.headers) +
      '\r\n',
  );
  const body =
    opts.bodyConsumed !== undefined
      ? Promise.resolve({ body: opts.bodyConsumed, rest: head, ended: socket.readableEnded })
      : readUpgradeBody(req, socket, head, opts.bodyLimit);
  return new SocketConnection(socket, opts.tty, body);
}

// ---------------------------------------------------------------- plain 200 variant

/**
 * Finds the end of the first top-level JSON value in a stream, so that a body
 * like `{"Detach":false,"Tty":false}<stdin bytes>` can be split.
 */
class JsonPrefixScanner {
  private depth = 0;
  private inString = false;
  private escape = false;
  private started = false;
  private parts: Buffer[] = [];
  done = false;
  /** Returns the bytes after the JSON value once it is complete, else null. */
  feed(d: Buffer): Buffer | null {
    for (let i = 0; i < d.length; i++) {
      const c = d[i]!;
      if (!this.started) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (c !== 0x7b && c !== 0x5b) throw invalidParameter('invalid JSON: the body does not start with an object');
        this.started = true;
      }
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 0x5c) this.escape = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        this.depth--;
        if (this.depth === 0) {
          this.parts.push(d.subarray(0, i + 1));
          this.done = true;
          let j = i + 1;
          if (d[j] === 0x0a) j++; // a trailing newline belongs to the body (Go's json encoder adds one)
          return d.subarray(j);
        }
      }
    }
    this.parts.push(Buffer.from(d));
    return null;
  }
  get json(): Buffer { return Buffer.concat(this.parts); }
}

export interface RawStreamOptions {
  tty: boolean;
  headers?: Record<string, string>;
  /**
   * The request body still has to be read from the request stream: the leading
   * JSON value becomes `body`, the bytes after it stdin (dockerode with stdin
   * writes the JSON and then keeps the request open). When false (Fastify
   * already parsed the body), `body` is `parsedBody` and stdin is whatever the
   * request stream still yields.
   */
  bodyInStream?: boolean;
  parsedBody?: unknown;
}

/**
 * exec start / attach without an Upgrade header: moby answers
 * `HTTP/1.1 200 OK` + `Content-Type: application/vnd.docker.raw-stream` and a
 * raw body that ends when the connection closes. Hijacks the Fastify reply.
 */
export function rawStreamResponse(reply: FastifyReply, opts: RawStreamOptions): HijackedConnection {
  reply.hijack();
  const req = reply.request.raw;
  const socket = req.socket;
  socket.setTimeout(0);
  socket.setNoDelay(true);
  socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${MEDIA_RAW_STREAM}\r\n` + headerBlock(opts.headers) + 'Connection: close\r\n\r\n');

  // stdin comes from the (already de-chunked) request stream, not the socket.
  const bodyP = new Promise<{ body: unknown; rest: Buffer; ended: boolean }>((resolve, reject) => {
    if (!opts.bodyInStream || req.readableEnded) {
      resolve({ body: opts.parsedBody ?? {}, rest: Buffer.alloc(0), ended: req.readableEnded });
      return;
    }
    const scan = new JsonPrefixScanner();
    const onData = (d: Buffer): void => {
      try {
        const rest = scan.feed(d);
        if (rest !== null) {
          req.pause();
          req.off('data', onData);
          req.off('end', onEnd);
          resolve({ body: parseJsonBody(scan.json), rest, ended: false });
        }
      } catch (e) {
        req.off('data', onData);
        reject(e);
      }
    };
    const onEnd = (): void => {
      req.off('data', onData);
      try { resolve({ body: parseJsonBody(scan.json), rest: Buffer.alloc(0), ended: true }); } catch (e) { reject(e); }
    };
    req.on('data', onData);
    req.once('end', onEnd);
  });
  return new SocketConnection(socket, opts.tty, bodyP, req);
}

// ---------------------------------------------------------------- detach keys

const CTRL_NAMES = ['@', ...'abcdefghijklmnopqrstuvwxyz', '[', '\\', ']', '^', '_'];

/** Docker's default: ctrl-p,ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([0x10, 0x11]);

/**
 * Parses Docker's detach-key syntax (`ctrl-p,ctrl-q`, `ctrl-<letter>`,
 * `ctrl-@`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_`, single
 * characters, comma-separated). Empty/undefined → the default.
 * `what` selects moby's wording: attach says "detach keys", exec "escape keys".
 */
export function parseDetachKeys(keys: string | null | undefined, what: 'attach' | 'exec' = 'attach'): Buffer {
  if (keys === undefined || keys === null || keys === '') return Buffer.from(DEFAULT_DETACH_KEYS);
  const codes: number[] = [];
  for (const key of keys.split(',')) {
    if (key.length === 1) { codes.push(key.charCodeAt(0) & 0xff); continue; }
    const lower = key.toLowerCase();
    const idx = lower.startsWith('ctrl-') && lower.length === 6 ? CTRL_NAMES.indexOf(lower[5]!) : -1;
    if (idx < 0) throw invalidParameter(what === 'exec' ? `Invalid escape keys (${keys}) provided` : `Invalid detach keys (${keys}) provided`);
    codes.push(idx);
  }
  return Buffer.from(codes);
}

/**
 * A stdin filter: passes bytes through, holds back a partial match of the
 * detach sequence (released when the next byte doesn't continue it), and on a
 * full match emits 'detach' and ends (everything after is dropped). The
 * sequence itself never reaches the process.
 */
export class DetachFilter extends Transform {
  private matched = 0;
  private detachedFlag = false;
  constructor(private readonly keys: Buffer = DEFAULT_DETACH_KEYS) {
    super();
  }
  get detached(): boolean { return this.detachedFlag; }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.detachedFlag || this.keys.length === 0) {
      if (!this.detachedFlag) this.push(chunk);
      return cb();
    }
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) {
          if (out.length) this.push(Buffer.from(out));
          this.detachedFlag = true;
          this.matched = 0;
          this.emit('detach');
          this.push(null);
          return cb();
        }
        continue;
      }
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = 0;
      if (b === this.keys[0]) {
        this.matched = 1;
        if (this.keys.length === 1) {
          if (out.length) this.push(Buffer.from(out));
          this.detachedFlag = true;
          this.emit('detach');
          this.push(null);
          return cb();
        }
      } else out.push(b);
    }
    if (out.length) this.push(Buffer.from(out));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (!this.detachedFlag && this.matched > 0) this.push(this.keys.subarray(0, this.matched));
    cb();
  }
}
