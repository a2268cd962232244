// The one tar writer: entries carry exactly their header's size whatever the
// file does meanwhile (Go's archive/tar behaviour), and errors end the stream.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { packStream } from '../../../image/tar-pack.js';

async function entries(r: Readable): Promise<Array<{ name: string; size: number; body: Buffer }>> {
  const ex = tar.extract();
  const out: Array<{ name: string; size: number; body: Buffer }> = [];
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.push({ name: e.header.name, size: e.header.size, body: Buffer.concat(chunks) });
    }
  })();
  r.pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

const tmp = (t: { teardown(fn: () => void): void }) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-tarpack-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

t.test('a file that shrank is padded with zeros, one that grew is cut at the header size', async (t) => {
  const d = tmp(t);
  const f = path.join(d, 'log');
  fs.writeFileSync(f, 'abcdef');
  const fd = fs.openSync(f, 'r');
  t.teardown(() => fs.closeSync(fd));
  const r = packStream(async (w) => {
    t.equal(await w.addFd({ name: 'shrank', size: 10 }, fd), 6, 'reports what it read');
    t.equal(await w.addFd({ name: 'grew', size: 3 }, fd), 3);
    await w.add({ name: 'dir/', type: 'directory' });
    await w.add({ name: 'small', type: 'file' }, Buffer.from('xy'));
  });
  const es = await entries(r);
  t.same(es.map((e) => [e.name, e.size]), [['shrank', 10], ['grew', 3], ['dir/', 0], ['small', 2]]);
  t.same(es[0]!.body, Buffer.concat([Buffer.from('abcdef'), Buffer.alloc(4)]));
  t.equal(es[1]!.body.toString(), 'abc');
});

t.test('a file growing while it is read (a live log) gives a valid tar', async (t) => {
  const d = tmp(t);
  const f = path.join(d, 'live.log');
  fs.writeFileSync(f, 'x'.repeat(1 << 20));
  const writer = fs.openSync(f, 'a');
  let stop = false;
  const grow = (async () => { while (!stop) { fs.writeSync(writer, 'y'.repeat(65536)); await new Promise((r) => setImmediate(r)); } })();
  const r = packStream((w) => w.addFile({ name: 'live.log' }, f).then(() => undefined));
  const es = await entries(r);
  stop = true;
  await grow;
  fs.closeSync(writer);
  t.equal(es.length, 1);
  t.equal(es[0]!.body.length, es[0]!.size, 'body is exactly the announced size');
  t.ok(es[0]!.size >= 1 << 20);
});

t.test("the producer's error ends the stream (an 'error' on it, nothing unhandled)", async (t) => {
  let cleaned = 0;
  const r = packStream(async (w) => {
    await w.add({ name: 'a', type: 'file' }, Buffer.from('1'));
    throw new Error('disk on fire');
  }, () => { cleaned++; });
  const err = await new Promise<Error>((resolve) => { r.on('error', resolve); r.resume(); });
  t.match(err.message, /disk on fire/);
  t.equal(cleaned, 1, 'cleanup ran once');
});

t.test('a reader that goes away stops the producer', async (t) => {
  let cleaned = 0;
  let more = true;
  const r = packStream(async (w) => {
    for (let i = 0; i < 10000 && more; i++) await w.add({ name: `f${i}`, type: 'file' }, Buffer.alloc(4096));
  }, () => { cleaned++; more = false; });
  r.on('error', () => {});
  await new Promise<void>((resolve) => r.once('data', () => resolve()));
  r.destroy();
  await new Promise((res) => setTimeout(res, 50));
  t.equal(cleaned, 1);
});
