// The hijack handshake over a real unix socket against a real http.Server with
// a HijackRouter: exact 101 bytes, body consumption, stdin, half-close,
// disconnects; the plain-200 raw variant through Fastify; detach keys.
import t from 'tap';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import Fastify from 'fastify';
import { HijackRouter } from '../../../api/stream/hijack-router.js';
import {
  upgradeSocket, readUpgradeBody, rawStreamResponse, parseDetachKeys, DetachFilter, hijackContentType,
  MEDIA_MULTIPLEXED_STREAM, MEDIA_RAW_STREAM, type HijackedConnection,
} from '../../../api/stream/hijack.js';
import { demuxAll } from '../../../wire/stdcopy.js';

const EXACT_101 = 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';
const EXEC_BODY = '{"Detach":false,"Tty":false}\n';

let n = 0;
async function server(t: { teardown(fn: () => unknown): void }, handler: (conn: HijackedConnection, body: unknown) => void | Promise<void>, opts: { tty?: boolean; headers?: Record<string, string> } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-hijack-${process.pid}-`));
  const sock = path.join(dir, `s${n++}.sock`);
  const srv = http.createServer((_req, res) => { res.writeHead(404); res.end(); });
  const router = new HijackRouter();
  const errors: unknown[] = [];
  router.add('POST', '/exec/:id/start', async (req, socket, head) => {
    const conn = upgradeSocket(req, socket, head, { tty: opts.tty ?? false, headers: opts.headers });
    const body = await conn.body;
    await handler(conn, body);
  });
  srv.on('upgrade', (req, socket, head) => router.dispatch(req, socket, head));
  process.on('uncaughtException', (e) => errors.push(e));
  await new Promise<void>((r) => srv.listen(sock, r));
  t.teardown(async () => {
    srv.closeAllConnections?.();
    await new Promise<void>((r) => srv.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { sock, errors };
}

const REQ = (len: number, extra = '') =>
  `POST /v1.44/exec/abc/start HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n${extra}Content-Length: ${len}\r\n\r\n`;

/** Connects, writes pieces with small pauses, collects everything until the server closes. */
function client(sock: string, pieces: Array<string | Buffer | 'FIN' | number>, onData?: (all: Buffer, c: net.Socket) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    const got: Buffer[] = [];
    c.on('data', (d) => { got.push(d); onData?.(Buffer.concat(got), c); });
    c.on('end', () => { resolve(Buffer.concat(got)); c.end(); });
    c.on('error', reject);
    c.on('connect', async () => {
      for (const p of pieces) {
        if (p === 'FIN') c.end();
        else if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else c.write(p);
      }
    });
  });
}

const splitHead = (b: Buffer): [string, Buffer] => {
  const i = b.indexOf('\r\n\r\n');
  return [b.subarray(0, i + 4).toString('latin1'), b.subarray(i + 4)];
};

t.test('exact 101 bytes, body in head, stdin echoed, FIN ends stdin while output flows', async (t) => {
  const { sock } = await server(t, async (conn, body) => {
    t.same(body, { Detach: false, Tty: false });
    const chunks: Buffer[] = [];
    for await (const c of conn.stdin) chunks.push(c as Buffer);
    // stdin ended by the client's FIN; output still goes out
    conn.writeStdout(Buffer.concat(chunks));
    conn.writeStderr(Buffer.from('err\n'));
    await conn.close();
  });
  const out = await client(sock, [REQ(29) + EXEC_BODY + 'in\n', 'more', 'FIN']);
  const [head, rest] = splitHead(out);
  t.equal(head, EXACT_101);
  t.same(demuxAll(rest).map((f) => [f.stream, f.payload.toString()]), [[1, 'in\nmore'], [2, 'err\n']]);
});

t.test('body split across packets, one byte at a time, before stdin', async (t) => {
  const { sock } = await server(t, async (conn, body) => {
    t.same(body, { Detach: false, Tty: false });
    let s = '';
    for await (const c of conn.stdin) s += c.toString();
    conn.writeStdout(Buffer.from(`[${s}]`));
    await conn.close();
  });
  const pieces: Array<string | number | 'FIN'> = [REQ(29)];
  for (const ch of EXEC_BODY) pieces.push(ch, 1);
  pieces.push('x', 'FIN');
  const out = await client(sock, pieces);
  const [, rest] = splitHead(out);
  t.equal(demuxAll(rest)[0]!.payload.toString(), '[x]');
});

t.test('chunked request body', async (t) => {
  const { sock } = await server(t, async (conn, body) => {
    t.same(body, { Detach: true });
    let s = '';
    for await (const c of conn.stdin) s += c.toString();
    conn.writeStdout(Buffer.from(s));
    await conn.close();
  });
  const req = `POST /exec/abc/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const out = await client(sock, [req + '5\r\n{"Det\r\n', 5, 'a\r\nach":true}\r\n0\r\n\r\n', 5, 'stdin!', 'FIN']);
  t.equal(demuxAll(splitHead(out)[1])[0]!.payload.toString(), 'stdin!');
});

t.test('101 with extra headers; tty output is raw', async (t) => {
  const { sock } = await server(t, async (conn) => {
    conn.stdin.resume();
    conn.writeStdout(Buffer.from('raw\r\n'));
    await conn.close();
  }, { tty: true, headers: { 'Api-Version': '1.44', Ostype: 'linux' } });
  const out = await client(sock, [REQ(0), 'FIN']);
  const [head, rest] = splitHead(out);
  t.equal(head, EXACT_101.replace(/\r\n\r\n$/, '\r\nApi-Version: 1.44\r\nOstype: linux\r\n\r\n'));
  t.equal(rest.toString(), 'raw\r\n');
});

t.test('output keeps flowing after the client half-closes; server ends it', async (t) => {
  const { sock } = await server(t, async (conn) => {
    await new Promise<void>((r) => conn.stdin.once('end', r).resume());
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 10));
      conn.writeStdout(Buffer.from(`${i}`));
    }
    await conn.close();
  });
  const out = await client(sock, [REQ(0), 'FIN']);
  t.equal(demuxAll(splitHead(out)[1]).map((f) => f.payload.toString()).join(''), '01234');
});

t.test('client disconnect: no crash, onClose fires, writes fail softly', async (t) => {
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let conn!: HijackedConnection;
  const { sock, errors } = await server(t, async (c) => {
    conn = c;
    c.stdin.resume();
    c.onClose(resolveClosed);
    const big = Buffer.alloc(1 << 16, 0x61);
    const iv = setInterval(() => c.writeStdout(big), 1);
    await closed;
    clearInterval(iv);
  });
  await new Promise<void>((resolve) => {
    const s = net.createConnection(sock, () => s.write(REQ(0)));
    s.once('data', () => { s.destroy(); resolve(); });
  });
  await closed;
  t.ok(conn.closed, 'closed after the client vanished');
  t.equal(conn.writeStdout(Buffer.from('x')), false);
  await conn.close(); // idempotent and harmless
  t.same(errors, []);
});

t.test('readUpgradeBody lets a bad body get a plain 400 before the 101', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-hijack-${process.pid}-`));
  const sock = path.join(dir, 'b.sock');
  const srv = http.createServer();
  const router = new HijackRouter();
  router.add('POST', '/exec/:id/start', async (req, socket, head) => {
    const { body, rest } = await readUpgradeBody(req, socket, head);
    upgradeSocket(req, socket, rest, { tty: false, bodyConsumed: body }).close();
  });
  srv.on('upgrade', (req, socket, head) => router.dispatch(req, socket, head));
  await new Promise<void>((r) => srv.listen(sock, r));
  t.teardown(async () => { srv.closeAllConnections(); await new Promise((r) => srv.close(r)); fs.rmSync(dir, { recursive: true, force: true }); });
  const out = await client(sock, [REQ(5) + '{nope']);
  t.match(out.toString(), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*"message":"invalid JSON/);
});

t.test('content type by version', async (t) => {
  t.equal(hijackContentType(false, '1.41'), MEDIA_RAW_STREAM);
  t.equal(hijackContentType(false, '1.42'), MEDIA_MULTIPLEXED_STREAM);
  t.equal(hijackContentType(false, null), MEDIA_MULTIPLEXED_STREAM);
  t.equal(hijackContentType(true, '1.44'), MEDIA_RAW_STREAM);
});

t.test('rawStreamResponse: 200 raw stream, JSON prefix then stdin from the request body', async (t) => {
  // Parsers as in api/server.ts: JSON bodies are read in full by Fastify. The
  // route keeps the request stream for itself with a preParsing hook that
  // hands Fastify an empty payload (dockerode leaves the request open).
  const app = Fastify();
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, (body as string).trim() ? JSON.parse(body as string) : {}));
  let seenBody: unknown;
  app.post('/exec/:id/start', { preParsing: async () => Readable.from([]) }, async (_req, reply) => {
    const conn = rawStreamResponse(reply, { tty: false, bodyInStream: true, headers: { 'Api-Version': '1.44' } });
    seenBody = await conn.body;
    let s = '';
    for await (const c of conn.stdin) s += c.toString();
    conn.writeStdout(Buffer.from(`got:${s}`));
    await conn.close();
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-raw-${process.pid}-`));
  const sock = path.join(dir, 'r.sock');
  await app.listen({ path: sock });
  t.teardown(async () => { await app.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  const req = 'POST /exec/abc/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
  const body = '{"stdin":true,"Detach":false,"Tty":false}';
  const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  const out = await client(sock, [req + chunk(body.slice(0, 10)), 5, chunk(body.slice(10) + 'abc'), 5, chunk('def'), '0\r\n\r\n']);
  const [head, rest] = splitHead(out);
  t.match(head, /^HTTP\/1\.1 200 OK\r\nContent-Type: application\/vnd\.docker\.raw-stream\r\nApi-Version: 1\.44\r\n/);
  t.same(seenBody, { stdin: true, Detach: false, Tty: false });
  t.equal(demuxAll(rest)[0]!.payload.toString(), 'got:abcdef');
});

t.test('detach keys: parsing', async (t) => {
  t.same([...parseDetachKeys('')], [16, 17]);
  t.same([...parseDetachKeys(undefined)], [16, 17]);
  t.same([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
  t.same([...parseDetachKeys('ctrl-a,X,ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,CTRL-Z')], [1, 88, 0, 27, 28, 29, 30, 31, 26]);
  t.throws(() => parseDetachKeys('ctrl-pq'), /Invalid detach keys \(ctrl-pq\) provided/);
  t.throws(() => parseDetachKeys('ctrl-1'), /Invalid detach keys/);
  t.throws(() => parseDetachKeys('ctrl-p,'), /Invalid detach keys/);
  t.throws(() => parseDetachKeys('ab', 'exec'), /Invalid escape keys \(ab\) provided/);
});

async function filter(keys: Buffer, chunks: Buffer[]): Promise<{ out: string; detached: boolean }> {
  const f = new DetachFilter(keys);
  const src = new PassThrough();
  src.pipe(f);
  let detached = false;
  f.on('detach', () => (detached = true));
  const outP = (async () => { let s = ''; for await (const c of f) s += (c as Buffer).toString('latin1'); return s; })();
  for (const c of chunks) src.write(c);
  src.end();
  return { out: await outP, detached };
}

t.test('detach filter: swallows the sequence, passes partial matches through', async (t) => {
  const k = parseDetachKeys('ctrl-p,ctrl-q');
  let r = await filter(k, [Buffer.from('ab\x10'), Buffer.from('\x11zz')]);
  t.same(r, { out: 'ab', detached: true });
  r = await filter(k, [Buffer.from('a\x10b\x10'), Buffer.from('\x10\x11')]);
  t.same(r, { out: 'a\x10b\x10', detached: true }, 'a broken match is released, a restart is recognised');
  r = await filter(k, [Buffer.from('x\x10')]);
  t.same(r, { out: 'x\x10', detached: false }, 'held-back prefix is flushed at EOF');
  r = await filter(parseDetachKeys('ctrl-x'), [Buffer.from('ab\x18cd')]);
  t.same(r, { out: 'ab', detached: true });
});
