// stdcopy framing: exact header bytes, demux round trips with arbitrary splits.
import t from 'tap';
import { frame, Demuxer, demuxAll, STDOUT, STDERR, type Frame } from '../../../wire/stdcopy.js';

function runDemux(chunks: Buffer[]): Promise<Frame[]> {
  return new Promise((resolve, reject) => {
    const d = new Demuxer();
    const out: Frame[] = [];
    d.on('data', (f: Frame) => out.push(f));
    d.on('end', () => resolve(out));
    d.on('error', reject);
    for (const c of chunks) d.write(c);
    d.end();
  });
}

t.test('frame header is type, 0,0,0, uint32 BE length', async (t) => {
  t.same([...frame(1, Buffer.from('hi\n'))], [1, 0, 0, 0, 0, 0, 0, 3, 0x68, 0x69, 0x0a]);
  t.same([...frame(2, Buffer.from('err\n'))].slice(0, 8), [2, 0, 0, 0, 0, 0, 0, 4]);
  const big = frame(1, Buffer.alloc(0x01020304 & 0xffff, 0x61));
  t.equal(big.readUInt32BE(4), 0x0304);
  t.equal(frame(1, Buffer.alloc(0)).length, 8);
});

t.test('round trip with one-byte chunks and random splits', async (t) => {
  const payloads: Array<[1 | 2, Buffer]> = [
    [STDOUT, Buffer.from('hello\n')],
    [STDERR, Buffer.from('oops\n')],
    [STDOUT, Buffer.alloc(0)],
    [STDOUT, Buffer.alloc(70000, 7)],
    [STDERR, Buffer.from([0, 1, 2, 255])],
  ];
  const wire = Buffer.concat(payloads.map(([s, p]) => frame(s, p)));
  const oneByte = await runDemux([...wire].map((b) => Buffer.from([b])));
  t.equal(oneByte.length, payloads.length);
  oneByte.forEach((f, i) => {
    t.equal(f.stream, payloads[i]![0]);
    t.ok(f.payload.equals(payloads[i]![1]), `payload ${i}`);
  });
  // random split points
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 997) + 1;
  const chunks: Buffer[] = [];
  for (let off = 0; off < wire.length; ) { const n = rnd(); chunks.push(wire.subarray(off, off + n)); off += n; }
  const split = await runDemux(chunks);
  t.same(split.map((f) => [f.stream, f.payload.length]), payloads.map(([s, p]) => [s, p.length]));
  t.same(demuxAll(wire).map((f) => f.payload.toString('hex')), payloads.map(([, p]) => p.toString('hex')));
});

t.test('malformed streams are errors', async (t) => {
  await t.rejects(runDemux([Buffer.from([9, 0, 0, 0, 0, 0, 0, 1, 0x41])]), /unrecognized stream type 9/);
  await t.rejects(runDemux([frame(1, Buffer.from('abc')).subarray(0, 9)]), /ended inside a frame/);
  t.throws(() => demuxAll(Buffer.from([1, 0, 0])), /inside a frame header/);
});
