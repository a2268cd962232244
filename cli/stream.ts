// Attached streams: docker's stdcopy frames, the terminal in raw mode, resizes,
// and stdin pumped onto a hijacked connection with a half-close at its end.
import type { Duplex, Readable } from 'node:stream';
import type { TsdClient } from './client.js';

/** Splits stdcopy frames (8-byte header: stream, 0, 0, 0, uint32 BE length) onto two sinks. */
export function demux(onFrame: (stream: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      onFrame(buf[0]!, buf.subarray(8, 8 + len));
      buf = buf.subarray(8 + len);
    }
  };
}

/** Copies an output stream (tty: raw bytes; otherwise frames) to our stdout/stderr; resolves at its end. */
export function pipeOutput(stream: Readable | Duplex, tty: boolean): Promise<void> {
  return new Promise((resolve) => {
    const write = tty
      ? (d: Buffer) => { process.stdout.write(d); }
      : demux((s, p) => { (s === 2 ? process.stderr : process.stdout).write(p); });
    stream.on('data', write);
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}

/** Raw mode for an interactive tty session; the returned function restores the terminal. */
export function rawTerminal(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  return () => {
    try { stdin.setRawMode(false); } catch { /* gone */ }
  };
}

/** Keeps the remote tty's size in step with ours (now and on SIGWINCH). */
export function followResize(c: TsdClient, path: string): () => void {
  if (!process.stdout.isTTY) return () => {};
  const send = () => {
    const { rows, columns } = process.stdout;
    if (rows && columns) void c.status('POST', path, { query: { h: rows, w: columns } }).catch(() => {});
  };
  send();
  process.on('SIGWINCH', send);
  return () => { process.off('SIGWINCH', send); };
}

/**
 * Pumps our stdin to the connection; at its end, half-closes (the daemon then
 * closes the container's stdin, as with docker's CloseWrite).
 */
export function pumpStdin(sock: Duplex): () => void {
  const onData = (d: Buffer) => { sock.write(d); };
  const onEnd = () => { sock.end(); };
  process.stdin.on('data', onData);
  process.stdin.once('end', onEnd);
  process.stdin.resume();
  return () => {
    process.stdin.off('data', onData);
    process.stdin.off('end', onEnd);
    process.stdin.pause();
  };
}

/** The console size docker sends at create/exec so the first prompt fits. */
export const consoleSize = (): [number, number] | undefined =>
  process.stdout.isTTY && process.stdout.rows ? [process.stdout.rows, process.stdout.columns] : undefined;

/** Reads a whole stream (a response body) as a string. */
export async function readAll(s: Readable): Promise<string> {
  let out = '';
  for await (const c of s) out += c.toString();
  return out;
}

/** JSON lines (progress, events, stats streams), each line parsed. */
export async function* jsonLines<T = Record<string, unknown>>(s: Readable): AsyncGenerator<T> {
  let buf = '';
  for await (const chunk of s) {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (buf.trim()) yield JSON.parse(buf) as T;
}
