// The holder protocol's framing, used by both ends: one JSON object per line.
import type net from 'node:net';

/** Calls `fn` with each JSON line `sock` receives; a line that does not parse is skipped. */
export function onJsonLines(sock: net.Socket, fn: (msg: Record<string, unknown>) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let m: Record<string, unknown>;
      try { m = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
      fn(m);
    }
  });
}
