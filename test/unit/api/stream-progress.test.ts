import t from 'tap';
import { PassThrough } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { humanSize, progressBar, toJsonMessage, ProgressWriter } from '../../../api/stream/progress.js';

t.test('sizes and bars as Docker prints them', async (t) => {
  t.equal(humanSize(36445), '36.45kB');
  t.equal(humanSize(3001123), '3.001MB');
  t.equal(humanSize(527), '527B');
  t.equal(humanSize(2000000), '2MB');
  const bar = progressBar(1500, 3000);
  t.equal(bar, `[${"=".repeat(25)}>${" ".repeat(25)}]    1.5kB/3kB`);
  t.match(progressBar(3000, 3000), /^\[={50}>\]/);
});

t.test('messages', async (t) => {
  t.same(toJsonMessage({ status: 'Digest: sha256:x' }), { status: 'Digest: sha256:x' });
  t.same(toJsonMessage({ status: 'Pulling fs layer', id: 'abc' }), { status: 'Pulling fs layer', progressDetail: {}, id: 'abc' });
  const m = toJsonMessage({ status: 'Downloading', id: 'abc', current: 10, total: 100 });
  t.same(m.progressDetail, { current: 10, total: 100 });
  t.type(m.progress, 'string');
  t.same(toJsonMessage({ status: '', aux: { Tag: '1', Digest: 'sha256:x', Size: 5 } }), { progressDetail: {}, aux: { Tag: '1', Digest: 'sha256:x', Size: 5 } });
});

t.test('writer: headers at once, \\r\\n-terminated objects, in-band errors', async (t) => {
  const out = new PassThrough();
  let status = 0;
  let headers: Record<string, string> = {};
  let flushed = false;
  const chunks: string[] = [];
  const res = Object.assign(out, {
    writeHead(s: number, h: Record<string, string>) { status = s; headers = h; return this; },
    flushHeaders() { flushed = true; },
  }) as unknown as ServerResponse;
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  const w = new ProgressWriter(res);
  w.start();
  t.equal(status, 200);
  t.equal(headers['Content-Type'], 'application/json');
  t.ok(flushed);
  w.write({ status: 'Pulling from library/busybox', id: 'latest' });
  w.error(new Error('boom'));
  w.end();
  await new Promise((r) => setImmediate(r));
  const text = chunks.join('');
  t.equal(text, '{"status":"Pulling from library/busybox","progressDetail":{},"id":"latest"}\r\n{"errorDetail":{"message":"boom"},"error":"boom"}\r\n');
});
