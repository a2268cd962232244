// One tar writer for every archive tsd produces (docker cp, export, commit,
// save): entries with exactly the size their header announces. A file that
// shrank while it was read is padded with zeros, one that grew is cut at the
// header's size, as Go's archive/tar writer does for dockerd; tar-stream alone
// fails the whole stream with 'Size mismatch' instead.
//
// Errors belong to the stream: packStream() runs the producer and destroys the
// returned Readable with the producer's error, so whoever consumes it (one
// request) sees it; no entry stream is ever left without an 'error' listener.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import './tar-pax.js';

type Hdr = Partial<tar.Header> & Pick<tar.Header, 'name'>;
export type TarHeader = Omit<Hdr, 'pax'> & { pax?: Record<string, string> };

const CHUNK = 256 * 1024;

const read = (fd: number, buf: Buffer, pos: number): Promise<number> =>
  new Promise((resolve, reject) => fs.read(fd, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n))));

/** The writing side handed to a producer: add entries one after the other (await each). */
export interface TarWriter {
  /** An entry with an in-memory body (or none: directories, links, devices, fifos). */
  add(header: TarHeader, body?: Buffer): Promise<void>;
  /**
   * A regular file read from `fd` (any fd that supports pread, from offset 0):
   * exactly `header.size` bytes, zero-padded if the file is shorter now.
   * The caller keeps ownership of the fd. Resolves with the bytes actually read.
   */
  addFd(header: TarHeader & { size: number }, fd: number): Promise<number>;
  /** A regular file by path on the daemon's own filesystem (data root: never a container path). */
  addFile(header: TarHeader, path: string): Promise<number>;
}

class Writer implements TarWriter {
  constructor(readonly pack: tar.Pack) {}

  add(header: TarHeader, body?: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const h = { ...header, size: body ? body.length : 0 } as Hdr;
      const sink = body ? this.pack.entry(h, body, (e) => (e ? reject(e) : resolve())) : this.pack.entry(h, (e) => (e ? reject(e) : resolve()));
      sink.on('error', () => { /* reported through the entry callback */ });
      if (!body && (header.type === 'file' || header.type === 'contiguous-file' || header.type === undefined)) sink.end(undefined);
    });
  }

  addFd(header: TarHeader & { size: number }, fd: number): Promise<number> {
    const size = header.size;
    return new Promise<number>((resolve, reject) => {
      let got = 0;
      let failed: Error | null = null;
      const sink = this.pack.entry({ ...header, type: header.type ?? 'file', size } as Hdr, (e) => {
        if (e || failed) reject(failed ?? e);
        else resolve(got);
      });
      sink.on('error', (e: Error) => { failed ??= e; });
      const write = (b: Buffer): Promise<void> => new Promise((res) => {
        if (sink.write(b)) res();
        else sink.once('drain', () => res());
      });
      void (async () => {
        let pos = 0;
        try {
          while (pos < size && !failed) {
            const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
            const n = await read(fd, buf, pos);
            if (n === 0) break; // shrank: pad below
            got += n;
            pos += n;
            await write(n === buf.length ? buf : buf.subarray(0, n));
          }
          while (pos < size && !failed) {
            const pad = Buffer.alloc(Math.min(CHUNK, size - pos));
            pos += pad.length;
            await write(pad);
          }
          sink.end(undefined);
        } catch (e) {
          failed ??= e as Error;
          sink.destroy(e as Error);
        }
      })();
    });
  }

  async addFile(header: TarHeader, path: string): Promise<number> {
    const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | 0o2000000 /* O_CLOEXEC */);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new Error(`${path} is not a regular file`);
      return await this.addFd({ ...header, size: header.size ?? st.size }, fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * Runs `produce` against a fresh tar and returns the tar's bytes as a Readable.
 * The tar is finalized when `produce` resolves; when it rejects (or an entry
 * fails), the Readable is destroyed with that error. `cleanup` runs once
 * either way (close the fds the producer held, unmount, unlock).
 */
export function packStream(produce: (w: TarWriter) => Promise<void>, cleanup?: () => void | Promise<void>): Readable {
  const pack = tar.pack();
  const out = new Readable({ read() { pack.resume(); } });
  let finished = false;
  const finish = async (err: Error | null) => {
    if (finished) return;
    finished = true;
    try { await cleanup?.(); } catch (e) { err ??= e as Error; }
    if (err) out.destroy(err);
  };
  pack.on('data', (c: unknown) => { if (!out.push(c as Buffer)) pack.pause(); });
  pack.on('end', () => { void finish(null).then(() => { if (!out.destroyed) out.push(null); }); });
  pack.on('error', (e: Error) => { void finish(e); });
  out.on('close', () => {
    // the consumer went away early: stop producing
    if (!finished) pack.destroy(new Error('tar stream closed by its reader'));
  });
  produce(new Writer(pack)).then(() => pack.finalize(), (e: Error) => pack.destroy(e));
  return out;
}
