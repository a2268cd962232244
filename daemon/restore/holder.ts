// The live-restore holder: ONE small process per exec root (not one per
// container), started by the daemon under --live-restore and outliving it.
// It keeps what a container needs from the daemon while the daemon is away:
//
// - a copy of each container's stdio fds (taken from the daemon with
//   pidfd_getfd when the container starts): the read ends of stdout/stderr (or
//   the pty master) keep the container from EPIPE/SIGPIPE when the daemon dies,
//   the write end of an open stdin keeps it from reading EOF;
// - while no daemon is connected, it drains that output into a spool file per
//   container (each chunk with the time it was read), so a container never blocks
//   on a full pipe; the next daemon replays the spool into the json-file log with
//   those times, then reads the pipes itself again (one reader at a time: the
//   holder reads only between "daemon gone" and "daemon adopted this container");
// - the exit status of each container, from the kernel's process events connector
//   (sys/procevents.ts): the daemon is the parent of a container it started, and
//   once it is gone the orphan's new parent reaps it; the status is written to
//   <id>.exit as it happens and sent to the connected daemon.
//
// Why this and not a subreaper, a shim per container, or the init staying as the
// program's parent: a subreaper must be an ancestor of the containers (the daemon
// is their parent, so the daemon itself would have to be its child and die with
// it for a systemd restart); a shim per container is the ~13 MiB per container that
// dockerd pays; an init that stays is a Node process per container. One process
// holding fds and listening for exit events costs the same for 1 or 100 containers.
//
// Protocol: JSON lines on <dir>/holder.sock, requests {rid, op, ...}, answers
// {rid, ok, ...} or {rid, error, protocol}; events {ev:'exit', id, code, at}. See client.ts.
// Versioned: hello carries the daemon's protocol and the answer the holder's; either side
// refuses the other's if they differ (the holder before it takes the daemon as its owner).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LinuxSyscalls, watchProcessExits, exitCodeOf, setPipeSize, setNonBlocking } from '../../sys/index.js';
import { nowNs } from '../logs/time.js';
import { onJsonLines } from './lines.js';

/** Keep equal to client.ts's HOLDER_PROTOCOL (this file is a process entry: nothing imports it). */
const HOLDER_PROTOCOL = 1;

type Fds = { stdin: number | null; stdout: number | null; stderr: number | null; pty: number | null };
type OutName = 'stdout' | 'stderr' | 'pty';

interface Watched {
  id: string;
  pid: number;
  start: string;
  fds: Fds;
  exit: { code: number; at: string } | null;
  spool: number | null;
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: holder <restore dir>\n');
  process.exit(2);
}
const sockPath = path.join(dir, 'holder.sock');
const sys = new LinuxSyscalls();
const watched = new Map<string, Watched>();
let owner: { sock: net.Socket; pid: number } | null = null;
/**
 * Connections open now, owner or not: one that has not said hello yet is a daemon on its
 * way to adopting what is held, so the holder does not exit under it (maybeExit).
 */
let connections = 0;
const log = (msg: string, extra: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...extra })}\n`);

const spoolPath = (id: string) => path.join(dir, `${id}.spool`);
const exitPath = (id: string) => path.join(dir, `${id}.exit`);

function closeFd(fd: number | null): void {
  if (fd === null) return;
  try { fs.closeSync(fd); } catch { /* closed */ }
}

function closeWatched(w: Watched): void {
  for (const k of ['stdin', 'stdout', 'stderr', 'pty'] as const) { closeFd(w.fds[k]); w.fds[k] = null; }
  closeFd(w.spool);
  w.spool = null;
}

// ---- draining while no daemon is connected ------------------------------

const chunk = Buffer.alloc(256 * 1024);
let drainTimer: NodeJS.Timeout | null = null;

function drainOnce(): void {
  for (const w of watched.values()) {
    for (const name of ['stdout', 'stderr', 'pty'] as OutName[]) {
      const fd = w.fds[name];
      if (fd === null) continue;
      for (;;) {
        let n: number;
        try {
          n = fs.readSync(fd, chunk, 0, chunk.length, null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') break;
          n = 0; // EIO on a pty master whose slave side closed: the end, as EOF on a pipe
        }
        if (n === 0) {
          closeFd(fd);
          w.fds[name] = null;
          break;
        }
        w.spool ??= fs.openSync(spoolPath(w.id), 'a', 0o600);
        const rec = `${JSON.stringify({ s: name === 'stderr' ? 'stderr' : 'stdout', t: String(nowNs()), d: chunk.toString('base64', 0, n) })}\n`;
        fs.writeSync(w.spool, rec);
      }
    }
  }
  maybeExit();
}

function startDraining(): void {
  if (drainTimer) return;
  drainOnce();
  drainTimer = setInterval(drainOnce, 10);
}

function stopDraining(): void {
  if (drainTimer) clearInterval(drainTimer);
  drainTimer = null;
}

/** Nothing left to hold and no daemon to tell: the records are on disk (<id>.exit, <id>.spool). */
function maybeExit(): void {
  if (owner || connections > 0) return;
  for (const w of watched.values()) {
    if (!w.exit || w.fds.stdout !== null || w.fds.stderr !== null || w.fds.pty !== null) return;
  }
  for (const w of watched.values()) closeWatched(w);
  try { fs.unlinkSync(sockPath); } catch { /* gone */ }
  try { fs.unlinkSync(path.join(dir, 'holder.pid')); } catch { /* gone */ }
  log('nothing left to hold: exiting');
  process.exit(0);
}

// ---- exit statuses ------------------------------------------------------

function onExit(pid: number, status: number): void {
  for (const w of watched.values()) {
    if (w.pid !== pid || w.exit) continue;
    w.exit = { code: exitCodeOf(status), at: new Date().toISOString() };
    try { fs.writeFileSync(exitPath(w.id), JSON.stringify({ pid: w.pid, start: w.start, ...w.exit }), { mode: 0o600 }); } catch (err) { log('cannot record exit', { id: w.id, err: String(err) }); }
    send(owner?.sock, { ev: 'exit', id: w.id, ...w.exit });
  }
}

// ---- requests -----------------------------------------------------------

function send(sock: net.Socket | undefined, m: unknown): void {
  if (sock && !sock.destroyed) sock.write(`${JSON.stringify(m)}\n`);
}

type Req = { rid: number; op: string; [k: string]: unknown };

function handle(sock: net.Socket, req: Req): Record<string, unknown> {
  switch (req.op) {
    case 'hello': {
      // A daemon of another protocol is refused before it owns anything: this holder keeps
      // draining for the daemon that speaks its protocol (a daemon older than the check sends none).
      if (req.protocol !== undefined && Number(req.protocol) !== HOLDER_PROTOCOL) {
        throw new Error(`this holder speaks protocol ${HOLDER_PROTOCOL}, the daemon ${String(req.protocol)}`);
      }
      const pid = Number(req.pid);
      if (owner && owner.sock !== sock) owner.sock.destroy();
      owner = { sock, pid };
      stopDraining();
      return {
        protocol: HOLDER_PROTOCOL, holderPid: process.pid,
        containers: [...watched.values()].map((w) => ({ id: w.id, pid: w.pid, start: w.start, exit: w.exit })),
      };
    }
    case 'watch': {
      if (!owner || owner.sock !== sock) throw new Error('say hello first');
      const id = String(req.id);
      const old = watched.get(id);
      if (old) closeWatched(old);
      const given = req.fds as Partial<Fds>;
      const fds: Fds = { stdin: null, stdout: null, stderr: null, pty: null };
      try {
        for (const k of ['stdin', 'stdout', 'stderr', 'pty'] as const) {
          const n = given[k];
          if (typeof n === 'number' && n >= 0) fds[k] = sys.pidfdGetfd(owner.pid, n);
        }
      } catch (e) {
        for (const k of ['stdin', 'stdout', 'stderr', 'pty'] as const) closeFd(fds[k]);
        throw e;
      }
      for (const k of ['stdout', 'stderr'] as const) {
        const fd = fds[k];
        if (fd !== null) try { setPipeSize(fd, 1 << 20); } catch { /* keep the default */ }
      }
      // The holder reads with plain read(2) on a timer: never block (a pty master may come blocking).
      for (const k of ['stdout', 'stderr', 'pty'] as const) {
        const fd = fds[k];
        if (fd !== null) try { setNonBlocking(fd); } catch (e) { log('cannot make an fd non-blocking', { id, err: String(e) }); }
      }
      watched.set(id, { id, pid: Number(req.pid), start: String(req.start ?? ''), fds, exit: null, spool: null });
      // it may have exited before we listened for it
      if (!fs.existsSync(`/proc/${Number(req.pid)}`)) log('watched a container that is already gone', { id });
      return {};
    }
    case 'adopt': {
      const w = watched.get(String(req.id));
      if (!w) throw new Error(`not held: ${String(req.id)}`);
      closeFd(w.spool);
      w.spool = null;
      return { fds: w.fds, spool: fs.existsSync(spoolPath(w.id)) ? spoolPath(w.id) : null, exit: w.exit };
    }
    case 'forget': {
      const w = watched.get(String(req.id));
      if (w) { closeWatched(w); watched.delete(w.id); }
      return {};
    }
    case 'bye': {
      // a daemon without live-restore: let go of everything once it says so
      for (const w of watched.values()) closeWatched(w);
      watched.clear();
      setImmediate(() => process.exit(0));
      return {};
    }
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

// ---- main ---------------------------------------------------------------

function main(): void {
  fs.mkdirSync(dir!, { recursive: true, mode: 0o700 });
  watchProcessExits((e) => { if (e.pid === e.tgid) onExit(e.pid, e.status); }, (err) => log('process events failed', { err: String(err) }));
  try { fs.unlinkSync(sockPath); } catch { /* none */ }
  const server = net.createServer((sock) => {
    connections++;
    onJsonLines(sock, (m) => {
      const req = m as unknown as Req;
      try {
        send(sock, { rid: req.rid, ok: true, ...handle(sock, req) });
      } catch (e) {
        send(sock, { rid: req.rid, ok: false, error: (e as Error).message, protocol: HOLDER_PROTOCOL });
      }
    });
    sock.on('error', () => { /* the daemon died: close follows */ });
    sock.on('close', () => {
      connections--;
      if (owner?.sock !== sock) {
        // a daemon that connected and went away without hello: nothing changed, but nothing may be left to hold
        if (!owner && drainTimer) maybeExit();
        return;
      }
      owner = null;
      log('daemon gone: holding the containers', { containers: watched.size });
      startDraining();
    });
  });
  const oldMask = process.umask(0o177);
  server.listen(sockPath, () => {
    process.umask(oldMask);
    fs.writeFileSync(path.join(dir!, 'holder.pid'), `${process.pid}\n`);
    log('holder listening', { socket: sockPath });
  });
  // Nobody connected within a minute of starting (the daemon that started it died at once): go.
  setTimeout(() => { if (!owner && watched.size === 0) maybeExit(); }, 60_000).unref();
}

main();
