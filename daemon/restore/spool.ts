// The holder's spool: the output it read while no daemon was connected, one JSON
// line per chunk ({s: stream, t: read time in ns since the epoch, d: base64}).
import fs from 'node:fs';
import readline from 'node:readline';

export type SpoolStream = 'stdout' | 'stderr';

/** What a spool is replayed into (a LogSink fits): write() false = wait for onDrain. */
export interface SpoolSink {
  write(stream: SpoolStream, data: Buffer, timeNs: bigint): boolean;
  onDrain(fn: () => void): void;
}

/** Writes each chunk of the spool into `sink`, in order, with its time; returns the bytes replayed. */
export async function replaySpool(file: string, sink: SpoolSink): Promise<number> {
  let input: fs.ReadStream;
  try {
    input = fs.createReadStream(file, { encoding: 'utf8' });
  } catch {
    return 0;
  }
  let bytes = 0;
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (!line) continue;
      let r: { s: string; t: string; d: string };
      try { r = JSON.parse(line); } catch { continue; } // a record cut by a crash of the holder
      const data = Buffer.from(r.d, 'base64');
      bytes += data.length;
      if (!sink.write(r.s === 'stderr' ? 'stderr' : 'stdout', data, BigInt(r.t))) await new Promise<void>((res) => sink.onDrain(res));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    lines.close();
    input.destroy();
  }
  return bytes;
}
