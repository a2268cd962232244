// The TCP side of the userland proxy through tsd-portproxy (netctl/portproxy/portproxy.c,
// built by scripts/build-static.sh): one helper process per daemon that holds the
// listeners and relays each connection with splice(2), so loopback traffic to a
// published port neither crosses the daemon's event loop nor is copied through
// user space (Node's relay peaked near docker-proxy's only on an idle machine, and
// took the daemon's CPU from its API while it ran). The daemon keeps every decision:
// which address and port, which target, when to close; this is the wire to the helper.
// Without the built helper (no gcc at install), or with TSD_PORTPROXY=0, ports.ts
// relays in-process as before.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** Where scripts/build-static.sh puts the helper (next to this module in dist/). */
export const PORTPROXY_BUILT = fileURLToPath(new URL('./portproxy/tsd-portproxy', import.meta.url));

export function portProxyAvailable(): boolean {
  if (process.env.TSD_PORTPROXY === '0') return false;
  try {
    fs.accessSync(PORTPROXY_BUILT, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface Listener {
  hostIp: string;
  /** the bound port (once known: a respawned helper listens on it again) */
  port: number;
  targetIp: string;
  targetPort: number;
}

type Reply = { ok: true; port: number } | { ok: false; errno: number } | { closed: true };

class Helper {
  private child: ChildProcess | undefined;
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  /** the listeners this daemon asked for and has not closed: re-made if the helper dies */
  private readonly live = new Map<number, Listener>();

  private spawnedAt = 0;

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    this.spawnedAt = Date.now();
    const child = spawn(PORTPROXY_BUILT, [], { stdio: ['pipe', 'pipe', 'inherit'], env: {}, cwd: '/' });
    this.child = child;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.onData(d));
    child.stdin!.on('error', () => undefined); // EPIPE when it died: 'exit' says so
    child.on('error', () => undefined);
    child.once('exit', () => this.onExit(child));
    this.refs();
    return child;
  }

  /** Node stays alive for the helper only while an answer is awaited. */
  private refs(): void {
    const c = this.child;
    if (!c) return;
    const s = c.stdout as unknown as { ref(): void; unref(): void };
    const i = c.stdin as unknown as { ref(): void; unref(): void };
    if (this.pending.size) {
      c.ref();
      s.ref();
      i.ref();
    } else {
      c.unref();
      s.unref();
      i.unref();
    }
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const [k, id, v] = this.buf.slice(0, nl).split(' ');
      this.buf = this.buf.slice(nl + 1);
      const done = this.pending.get(Number(id));
      if (!done) continue; // "O 0 0": ready
      this.pending.delete(Number(id));
      done(k === 'O' ? { ok: true, port: Number(v) } : k === 'E' ? { ok: false, errno: Number(v) } : { closed: true });
    }
    this.refs();
  }

  private onExit(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.buf = '';
    // what was asked of the dead helper: listens fail, closes are done (its sockets are gone)
    for (const [, done] of this.pending) done({ ok: false, errno: os.constants.errno.ECONNRESET });
    this.pending.clear();
    // the ports still published are listened on again, on the ports they had, by a new helper
    // (not when it died at once: that one would too)
    const again = Date.now() - this.spawnedAt > 2000 ? [...this.live.entries()] : [];
    this.live.clear();
    for (const [id, l] of again) void this.listen(l, id).catch(() => undefined);
  }

  private ask(id: number, line: string): Promise<Reply> {
    const child = this.ensure();
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.refs();
      child.stdin!.write(line + '\n');
    });
  }

  async listen(l: Listener, reuse?: number): Promise<{ id: number; port: number }> {
    const id = reuse ?? this.nextId++;
    const r = await this.ask(id, `L ${id} ${l.hostIp} ${l.port} ${l.targetIp} ${l.targetPort}`);
    if ('closed' in r || !r.ok) {
      const errno = 'errno' in r ? r.errno : os.constants.errno.EIO;
      const name = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
      throw Object.assign(new Error(`listen tcp ${l.hostIp}:${l.port}: ${name}`), { code: name, errno: -errno });
    }
    this.live.set(id, { ...l, port: r.port });
    return { id, port: r.port };
  }

  async close(id: number): Promise<void> {
    if (!this.live.delete(id) || !this.child) return;
    await this.ask(id, `C ${id}`);
  }
}

let helper: Helper | undefined;

/** Listens on hostIp:port (0: the kernel picks) through the helper and relays to target; EADDRINUSE as Node's listen fails. */
export async function helperListen(hostIp: string, port: number, targetIp: string, targetPort: number): Promise<{ port: number; close: () => Promise<void> }> {
  helper ??= new Helper();
  const h = helper;
  const { id, port: bound } = await h.listen({ hostIp: hostIp || '0.0.0.0', port, targetIp, targetPort });
  return { port: bound, close: () => h.close(id) };
}
