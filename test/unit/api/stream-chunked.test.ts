// startStream: 200 + headers reach the client before any body byte; chunks
// stream; the client vanishing mid-stream is harmless.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import Fastify from 'fastify';
import { startStream, type ChunkedStream } from '../../../api/stream/chunked.js';

async function app(t: { teardown(fn: () => unknown): void }, route: (s: ChunkedStream) => void, contentType?: string | null) {
  const a = Fastify();
  a.post('/wait', async (_req, reply) => { route(startStream(reply, { contentType })); });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-chunked-${process.pid}-`));
  const sock = path.join(dir, 'c.sock');
  await a.listen({ path: sock });
  t.teardown(async () => { await a.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  return sock;
}

t.test('headers are flushed before the body; chunks follow; end terminates', async (t) => {
  let stream!: ChunkedStream;
  const sock = await app(t, (s) => (stream = s));
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({ socketPath: sock, method: 'POST', path: '/wait' }, resolve);
    req.on('error', reject);
    req.end();
  });
  // we got the response head although nothing was written to the body yet
  t.equal(res.statusCode, 200);
  t.equal(res.headers['transfer-encoding'], 'chunked');
  t.equal(res.headers['content-type'], undefined, 'no Content-Type unless asked');
  t.equal(res.headers['api-version'], '1.44');
  t.equal(res.headers['ostype'], 'linux');
  const body: string[] = [];
  res.on('data', (d: Buffer) => body.push(d.toString()));
  const ended = new Promise((r) => res.on('end', r));
  await new Promise((r) => setTimeout(r, 30));
  t.same(body, [], 'the body is still pending');
  stream.write('{"Error":null,');
  stream.write(Buffer.from('"StatusCode":3}\n'));
  stream.write('');
  stream.end();
  stream.end();
  await ended;
  t.equal(body.join(''), '{"Error":null,"StatusCode":3}\n');
  t.equal(stream.aborted, false);
});

t.test('content type when asked; client disconnect mid-stream', async (t) => {
  let stream!: ChunkedStream;
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const sock = await app(t, (s) => { stream = s; s.onClose(closedResolve); }, 'application/json');
  const res = await new Promise<http.IncomingMessage>((resolve) => {
    const req = http.request({ socketPath: sock, method: 'POST', path: '/wait' }, resolve);
    req.end();
  });
  t.equal(res.headers['content-type'], 'application/json');
  res.destroy();
  await closed;
  t.equal(stream.aborted, true);
  t.equal(stream.closed, true);
  t.equal(stream.write('late'), false, 'writing after the client left is a no-op');
  stream.end();
});
