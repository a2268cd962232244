// The daemon's side of the live-restore holder (holder.ts): finds the holder of
// this exec root or starts it, says hello (which stops it draining), registers
// each container it starts (watch), takes containers back at boot (adopt: the
// holder's fd numbers, copied here with pidfd_getfd, and the spool of output it
// read meanwhile), and lets go of those that exited (forget). Exit events of the
// held containers come back as `onExit`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { LinuxSyscalls } from '../../sys/index.js';
import { withDeadline } from '../deadline.js';
import { onJsonLines } from './lines.js';

const HOLDER_MAIN = fileURLToPath(new URL('./holder.js', import.meta.url));
/**
 * The holder protocol's version (holder.ts answers hello with its own). A new tsd
 * adopts the containers of an older one only through a holder that speaks its protocol:
 * bump this when a message changes, and keep the old messages readable when possible.
 */
export const HOLDER_PROTOCOL = 1;
const REQUEST_MS = 10_000;
const START_MS = 20_000;

export type HeldFds = { stdin: number | null; stdout: number | null; stderr: number | null; pty: number | null };
export interface HeldExit { code: number; at: string }
export interface HeldContainer { id: string; pid: number; start: string; exit: HeldExit | null }
export interface Adopted { fds: HeldFds; spool: string | null; exit: HeldExit | null }

function connect(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p);
    s.once('connect', () => { s.removeAllListeners('error'); resolve(s); });
    s.once('error', reject);
  });
}

/**
 * The holder of this exec root speaks another protocol (a tsd of another version started it).
 * Its containers keep running, held by it; this daemon must not take them over or kill them
 * by mistake, so it refuses to start (daemon.ts) and says what to do.
 */
export class HolderProtocolError extends Error {
  constructor(readonly sockPath: string, readonly holderPid: number, readonly theirs: unknown) {
    super(`the live-restore holder on ${sockPath}${holderPid ? ` (pid ${holderPid})` : ''} speaks protocol ${String(theirs)}, this tsd ${HOLDER_PROTOCOL}: `
      + 'the containers it holds keep running. Start the tsd version that started them, or start this one with --live-restore=false '
      + '(it then stops those containers at boot and the holder exits once they are gone)');
    this.name = 'HolderProtocolError';
  }
}

/** The holder closed the connection before it answered hello (it was exiting). */
class HolderGoneError extends Error {
  constructor(sockPath: string) {
    super(`the live-restore holder on ${sockPath} closed the connection before it answered`);
    this.name = 'HolderGoneError';
  }
}

function pidFileOf(dir: string): number {
  try { return Number(fs.readFileSync(path.join(dir, 'holder.pid'), 'utf8').trim()) || 0; } catch { return 0; }
}

export class HolderClient {
  private rid = 0;
  private pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private exitListeners = new Set<(id: string, exit: HeldExit) => void>();
  private holderPid = 0;
  private closed = false;
  /** the holder closed the connection (this side did not) */
  private closedByPeer = false;
  /** What the holder held when this daemon said hello (by container id). */
  held = new Map<string, HeldContainer>();
  private readonly sys = new LinuxSyscalls();

  private constructor(readonly dir: string, private sock: net.Socket, private readonly log: Logger) {
    onJsonLines(sock, (m) => {
      if (m.ev === 'exit') {
        for (const fn of this.exitListeners) fn(String(m.id), { code: Number(m.code), at: String(m.at) });
        return;
      }
      const p = this.pending.get(Number(m.rid));
      if (!p) return;
      this.pending.delete(Number(m.rid));
      if (m.ok) p.resolve(m);
      else p.reject(Object.assign(new Error(`live-restore holder: ${String(m.error)}`), { reply: m }));
    });
    sock.on('error', () => { /* close follows */ });
    sock.on('close', () => {
      if (!this.closed) this.closedByPeer = true;
      if (!this.closed && this.holderPid) log.warn('the live-restore holder went away: containers started from now on die with the daemon');
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new Error('live-restore holder connection closed'));
      this.pending.clear();
    });
  }

  /**
   * Connects to the holder of `dir`, starting one when none answers, and says hello. A holder
   * that exits as we connect (it had nothing left to hold: its socket was still there) closes
   * the connection before answering: then again, with a new holder.
   */
  static async open(dir: string, log: Logger): Promise<HolderClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await HolderClient.openOnce(dir, log);
      } catch (e) {
        if (!(e instanceof HolderGoneError) || attempt >= 3) throw e;
        log.info({ attempt }, 'the live-restore holder exited as this daemon connected: starting another');
      }
    }
  }

  private static async openOnce(dir: string, log: Logger): Promise<HolderClient> {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const sockPath = path.join(dir, 'holder.sock');
    let sock = await connect(sockPath).catch(() => null);
    if (!sock) {
      const out = fs.openSync(path.join(dir, 'holder.log'), 'a', 0o600);
      try {
        // detached: its own session, so nothing aimed at the daemon's process group reaches it
        const child = spawn(process.execPath, [HOLDER_MAIN, dir], { detached: true, stdio: ['ignore', out, out], env: {}, cwd: '/' });
        child.on('error', (err) => log.warn({ err }, 'cannot start the live-restore holder'));
        child.unref();
      } finally {
        fs.closeSync(out);
      }
      const deadline = Date.now() + START_MS;
      while (!sock) {
        if (Date.now() > deadline) throw new Error(`the live-restore holder did not listen on ${sockPath} within ${START_MS / 1000} s`);
        await new Promise((r) => setTimeout(r, 50));
        sock = await connect(sockPath).catch(() => null);
      }
    }
    const c = new HolderClient(dir, sock, log);
    let hello: Record<string, unknown>;
    try {
      hello = await c.request({ op: 'hello', pid: process.pid, protocol: HOLDER_PROTOCOL });
    } catch (e) {
      c.close();
      const reply = (e as { reply?: Record<string, unknown> }).reply;
      // refused by a holder that checks (it answers with its protocol): another version's
      if (reply && reply.protocol !== undefined && Number(reply.protocol) !== HOLDER_PROTOCOL) throw new HolderProtocolError(sockPath, pidFileOf(dir), reply.protocol);
      if (!reply && c.closedByPeer) throw new HolderGoneError(sockPath);
      throw e;
    }
    if (Number(hello.protocol) !== HOLDER_PROTOCOL) {
      // A holder of another tsd version that speaks another protocol: not ours to drive.
      c.close();
      throw new HolderProtocolError(sockPath, Number(hello.holderPid) || pidFileOf(dir), hello.protocol);
    }
    c.holderPid = Number(hello.holderPid);
    for (const h of hello.containers as HeldContainer[]) c.held.set(h.id, h);
    log.info({ holderPid: c.holderPid, held: c.held.size }, 'live-restore holder connected');
    return c;
  }

  get alive(): boolean { return !this.closed; }

  private request(m: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new Error('live-restore holder connection closed'));
    const rid = ++this.rid;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => this.pending.set(rid, { resolve, reject }));
    this.sock.write(`${JSON.stringify({ rid, ...m })}\n`);
    return withDeadline(p, REQUEST_MS, `live-restore holder ${String(m.op)}`).finally(() => this.pending.delete(rid));
  }

  onExit(fn: (id: string, exit: HeldExit) => void): () => void {
    this.exitListeners.add(fn);
    return () => { this.exitListeners.delete(fn); };
  }

  /** The holder takes copies of this daemon's fds of a started container. */
  async watch(id: string, pid: number, start: string, fds: HeldFds): Promise<void> {
    await this.request({ op: 'watch', id, pid, start, fds });
  }

  /** Takes a held container back: copies of its fds in this process (close-on-exec), its spool and exit. */
  async adopt(id: string): Promise<Adopted> {
    const r = await this.request({ op: 'adopt', id });
    const theirs = r.fds as HeldFds;
    const fds: HeldFds = { stdin: null, stdout: null, stderr: null, pty: null };
    try {
      for (const k of ['stdin', 'stdout', 'stderr', 'pty'] as const) {
        const n = theirs[k];
        if (typeof n === 'number' && n >= 0) fds[k] = this.sys.pidfdGetfd(this.holderPid, n);
      }
    } catch (e) {
      for (const k of ['stdin', 'stdout', 'stderr', 'pty'] as const) if (fds[k] !== null) fs.closeSync(fds[k]!);
      throw e;
    }
    return { fds, spool: (r.spool as string | null) ?? null, exit: (r.exit as HeldExit | null) ?? null };
  }

  async forget(id: string): Promise<void> {
    this.held.delete(id);
    await this.request({ op: 'forget', id });
  }

  /** The exit a holder wrote down for a container it no longer runs for (it exited with nothing left to hold). */
  recordedExit(id: string, pid: number, start: string): HeldExit | null {
    try {
      const r = JSON.parse(fs.readFileSync(path.join(this.dir, `${id}.exit`), 'utf8')) as { pid: number; start: string; code: number; at: string };
      if (r.pid !== pid || (start && r.start && r.start !== start)) return null;
      return { code: r.code, at: r.at };
    } catch {
      return null;
    }
  }

  spoolOf(id: string): string | null {
    const p = path.join(this.dir, `${id}.spool`);
    return fs.existsSync(p) ? p : null;
  }

  /** Removes what the holder wrote down for a container the daemon has dealt with. */
  clearRecords(id: string): void {
    for (const f of [`${id}.exit`, `${id}.spool`]) try { fs.unlinkSync(path.join(this.dir, f)); } catch { /* none */ }
  }

  /** Ends the connection: the holder starts draining what it holds. */
  close(): void {
    this.closed = true;
    this.sock.destroy();
  }
}
