// Docker's stdcopy framing: the multiplexed stream used by non-tty attach,
// exec start and logs. Each record is an 8-byte header (stream type, three
// zero bytes, payload length as uint32 big-endian) followed by the payload.
import { Transform, type TransformCallback } from 'node:stream';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export type StreamType = typeof STDIN | typeof STDOUT | typeof STDERR;
export const FRAME_HEADER_SIZE = 8;

/** One frame: header + payload. */
export function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  out[0] = stream;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out.writeUInt32BE(payload.length, 4);
  payload.copy(out, FRAME_HEADER_SIZE);
  return out;
}

export interface Frame { stream: StreamType; payload: Buffer }

/**
 * Reassembles frames from arbitrarily split chunks (down to one byte per
 * chunk). Readable side is in object mode and yields `Frame`s.
 * A header with an unknown stream type (not 0/1/2) is an error.
 */
export class Demuxer extends Transform {
  private buf: Buffer = Buffer.alloc(0);

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      for (const f of this.drainFrames()) this.push(f);
    } catch (e) {
      return cb(e as Error);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.buf.length > 0) return cb(new Error(`multiplexed stream ended inside a frame (${this.buf.length} bytes left)`));
    cb();
  }

  private *drainFrames(): Generator<Frame> {
    while (this.buf.length >= FRAME_HEADER_SIZE) {
      const type = this.buf[0]!;
      if (type > 2) throw new Error(`unrecognized stream type ${type} in multiplexed stream`);
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < FRAME_HEADER_SIZE + len) return;
      const payload = this.buf.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + len);
      this.buf = this.buf.subarray(FRAME_HEADER_SIZE + len);
      yield { stream: type as StreamType, payload: Buffer.from(payload) };
    }
  }
}

/** Demultiplexes a complete buffer; throws on a truncated or malformed stream. */
export function demuxAll(data: Buffer): Frame[] {
  const out: Frame[] = [];
  let off = 0;
  while (off < data.length) {
    if (data.length - off < FRAME_HEADER_SIZE) throw new Error('multiplexed stream ended inside a frame header');
    const type = data[off]!;
    if (type > 2) throw new Error(`unrecognized stream type ${type} in multiplexed stream`);
    const len = data.readUInt32BE(off + 4);
    if (data.length - off - FRAME_HEADER_SIZE < len) throw new Error('multiplexed stream ended inside a frame');
    out.push({ stream: type as StreamType, payload: Buffer.from(data.subarray(off + FRAME_HEADER_SIZE, off + FRAME_HEADER_SIZE + len)) });
    off += FRAME_HEADER_SIZE + len;
  }
  return out;
}
