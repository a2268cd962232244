// StdioHub: the per-task (container or exec) junction of stdio streams.
//
//   process stdout/stderr (or one pty stream) ──► log sink
//                                              └─► every attached client (own stdout/stderr selection)
//   attached clients' stdin ──► one writable side of the process (buffered until the process exists)
//
// Slow clients never block the process: each client may hold up to
// `maxClientBuffer` bytes (default 4 MiB) of unsent output; beyond that, output
// for that client is DROPPED (counted in `attachment.dropped`) until it catches
// up. The log always gets everything.
//
// Stdin EOF from a client follows moby's stream.AttachConfig: when
// `closeStdinOnEof` (container StdinOnce; always for exec) and not tty, the
// process stdin is closed and output keeps flowing; otherwise that client's
// session ends. A stdin stream that emits 'detach' (api/stream DetachFilter)
// ends the session without touching the process stdin.
import type { Readable, Writable } from 'node:stream';
import type { LogSink } from './logs/index.js';

export type OutputStreamName = 'stdout' | 'stderr';

/** An attached client's output side (HijackedConnection from api/stream/hijack.ts fits). */
export interface StdioClient {
  write(stream: OutputStreamName, buf: Buffer): boolean;
  readonly writableLength: number;
  readonly closed: boolean;
  /** Flush and end; the hub awaits it before `closed` resolves. */
  close(): Promise<void> | void;
  onClose(fn: () => void): void;
}

export interface AttachOptions {
  stdout: boolean;
  stderr: boolean;
  /** The client's stdin; ignored (and drained) unless the hub has openStdin. */
  stdin?: Readable | null;
}

export interface Attachment {
  /** Ends this client's session now (closes its output). */
  detach(): void;
  /** Output bytes dropped for this client because it was too slow. */
  readonly dropped: number;
  /** Resolves when the session ended: output finished, client gone, detach keys, or stdin EOF ending it. */
  readonly done: Promise<void>;
  /** Why the session ended (set once `done` resolved). */
  readonly reason: 'output-ended' | 'client-gone' | 'detached' | 'stdin-eof' | null;
}

export interface StdioHubOptions {
  tty: boolean;
  /** Config.OpenStdin (containers) / AttachStdin (exec): whether clients' stdin reaches the process. */
  openStdin: boolean;
  /** Config.StdinOnce for containers; true for exec (moby sets CloseStdin for exec). */
  closeStdinOnEof: boolean;
  /** Output also goes here; closed by the hub when all output ended. */
  log?: LogSink | null;
  /** Per-client unsent-output bound before dropping (default 4 MiB). */
  maxClientBuffer?: number;
  /** Stdin buffered before the process exists; clients are paused beyond it (default 1 MiB). */
  maxEarlyStdin?: number;
}

interface ClientState {
  client: StdioClient;
  opts: AttachOptions;
  dropped: number;
  reason: Attachment['reason'];
  resolve: () => void;
  ended: boolean;
}

export class StdioHub {
  private readonly opts: Required<Omit<StdioHubOptions, 'log'>> & { log: LogSink | null };
  private clients = new Set<ClientState>();
  private openSources = 0;
  private outputSet = false;
  private outputEnded = false;
  private procStdin: Writable | null = null;
  private procStdinEnded = false;
  private early: Buffer[] = [];
  private earlyLen = 0;
  private earlyEof = false;
  private pausedForEarly = new Set<Readable>();
  private resolveClosed!: () => void;
  /** Resolves when all output ended, the log was closed and every client's output was flushed. */
  readonly closed: Promise<void>;

  constructor(opts: StdioHubOptions) {
    this.opts = {
      tty: opts.tty,
      openStdin: opts.openStdin,
      closeStdinOnEof: opts.closeStdinOnEof,
      log: opts.log ?? null,
      maxClientBuffer: opts.maxClientBuffer ?? 4 << 20,
      maxEarlyStdin: opts.maxEarlyStdin ?? 1 << 20,
    };
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /**
   * Connects the log sink after construction: a hub made when a client attached
   * before start (docker run attaches first) gets its log when the process starts.
   * Must be called before setOutput.
   */
  setLog(log: LogSink | null): void {
    if (this.outputSet) throw new Error('StdioHub: log must be set before output is connected');
    this.opts.log = log;
  }

  get attachedCount(): number { return this.clients.size; }
  get ended(): boolean { return this.outputEnded; }

  /**
   * Connects the process output: stdout and stderr pipes, or (tty) the pty
   * stream as `stdout`. Call once. With no streams at all the output counts as
   * ended immediately.
   */
  setOutput(stdout: Readable | null, stderr: Readable | null = null): void {
    if (this.outputSet) throw new Error('StdioHub: output already connected');
    this.outputSet = true;
    const srcs: Array<[OutputStreamName, Readable]> = [];
    if (stdout) srcs.push(['stdout', stdout]);
    if (stderr && !this.opts.tty) srcs.push(['stderr', stderr]);
    else if (stderr) stderr.resume();
    this.openSources = srcs.length;
    if (srcs.length === 0) { void this.endOutput(); return; }
    for (const [name, src] of srcs) {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        if (--this.openSources === 0) void this.endOutput();
      };
      // the log is behind: stop reading this pipe (the container blocks on its write) until it caught up
      src.on('data', (d: Buffer) => {
        if (!this.fanOut(name, d)) {
          src.pause();
          this.opts.log!.onDrain(() => src.resume());
        }
      });
      src.once('end', finish);
      src.once('close', finish);
      src.on('error', finish); // EIO on a pty master when the slave side closes is the normal end
      // a socket whose EOF came before anyone read it (a process that wrote nothing and exited)
      // has emitted 'end' and 'close' already: nothing more will come
      if (src.readableEnded || src.destroyed) finish();
    }
  }

  /** Ends output by hand (e.g. the process never started). */
  /**
   * Ends the output once the process's streams have ended by themselves, or
   * after `graceMs`: a task's exit is often seen before the last of its output
   * has been read from the pipes, and ending at once would drop that output.
   */
  async drainOutput(graceMs: number): Promise<void> {
    if (this.outputSet && !this.outputEnded && this.openSources > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.closed, new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
      clearTimeout(timer);
    }
    return this.finishOutput();
  }

  finishOutput(): Promise<void> {
    this.outputSet = true;
    this.openSources = 0;
    return this.endOutput();
  }

  /** Sends output to the log and the clients; false when the log wants the reading paused. */
  private fanOut(stream: OutputStreamName, d: Buffer): boolean {
    if (d.length === 0) return true;
    const more = this.opts.log?.write(stream, d) ?? true;
    for (const c of this.clients) {
      if (c.ended || !c.opts[stream] || c.client.closed) continue;
      if (c.client.writableLength > this.opts.maxClientBuffer) {
        c.dropped += d.length;
        continue;
      }
      c.client.write(stream, d);
    }
    return more;
  }

  private endOutput(): Promise<void> {
    if (this.outputEnded) return this.closed;
    this.outputEnded = true;
    void (async () => {
      try {
        await this.opts.log?.close();
      } catch { /* the log's failure must not keep clients hanging */ }
      await Promise.all([...this.clients].map((c) => this.endSession(c, 'output-ended')));
      this.resolveClosed();
    })();
    return this.closed;
  }

  /** Connects the process's stdin (pipe or pty master). Buffered early stdin is written first. */
  setStdin(w: Writable | null): void {
    if (!w) return;
    this.procStdin = w;
    w.on('error', () => { this.procStdinEnded = true; }); // EPIPE: the process closed its stdin
    for (const b of this.early.splice(0)) w.write(b);
    this.earlyLen = 0;
    for (const r of this.pausedForEarly) r.resume();
    this.pausedForEarly.clear();
    if (this.earlyEof) this.closeProcessStdin();
  }

  private closeProcessStdin(): void {
    if (!this.procStdin) { this.earlyEof = true; return; }
    if (this.procStdinEnded) return;
    this.procStdinEnded = true;
    this.procStdin.end();
  }

  attach(client: StdioClient, opts: AttachOptions): Attachment {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const st: ClientState = { client, opts, dropped: 0, reason: null, resolve, ended: false };
    const att: Attachment = {
      detach: () => { void this.endSession(st, 'detached'); },
      get dropped() { return st.dropped; },
      get reason() { return st.reason; },
      done,
    };
    if (this.outputEnded) {
      if (opts.stdin) opts.stdin.resume();
      void this.endSession(st, 'output-ended');
      return att;
    }
    this.clients.add(st);
    client.onClose(() => {
      if (!st.ended) { st.ended = true; st.reason = 'client-gone'; this.clients.delete(st); resolve(); }
    });
    if (opts.stdin) this.wireStdin(st, opts.stdin);
    return att;
  }

  private wireStdin(st: ClientState, stdin: Readable): void {
    if (!this.opts.openStdin) { stdin.resume(); return; }
    let detached = false;
    stdin.once('detach', () => {
      detached = true;
      void this.endSession(st, 'detached');
    });
    stdin.on('data', (d: Buffer) => {
      if (st.ended || this.procStdinEnded) return;
      if (!this.procStdin) {
        this.early.push(Buffer.from(d));
        this.earlyLen += d.length;
        if (this.earlyLen >= this.opts.maxEarlyStdin) {
          stdin.pause();
          this.pausedForEarly.add(stdin);
        }
        return;
      }
      if (!this.procStdin.write(d)) {
        stdin.pause();
        this.procStdin.once('drain', () => stdin.resume());
      }
    });
    stdin.once('end', () => {
      if (detached || st.ended) return;
      if (this.opts.closeStdinOnEof && !this.opts.tty) this.closeProcessStdin();
      else void this.endSession(st, 'stdin-eof');
    });
    stdin.on('error', () => { /* the client's connection failed; onClose handles it */ });
  }

  private async endSession(st: ClientState, reason: NonNullable<Attachment['reason']>): Promise<void> {
    if (st.ended) return;
    st.ended = true;
    st.reason = reason;
    this.clients.delete(st);
    try {
      await st.client.close();
    } catch { /* client gone */ }
    st.resolve();
  }
}
