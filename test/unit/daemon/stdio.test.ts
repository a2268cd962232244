// StdioHub: fan-out to the log and to clients with their own selections,
// buffered early stdin, StdinOnce, detach, slow clients, and an end-to-end run
// with a real process behind a real hijacked unix-socket connection.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { StdioHub, type StdioClient, type OutputStreamName } from '../../../daemon/stdio.js';
import { JsonFileLogWriter, logPathFor } from '../../../daemon/logs/index.js';
import { upgradeSocket, DetachFilter } from '../../../api/stream/hijack.js';
import { HijackRouter } from '../../../api/stream/hijack-router.js';
import { demuxAll } from '../../../wire/stdcopy.js';

class FakeClient implements StdioClient {
  got: Array<[OutputStreamName, string]> = [];
  writableLength = 0;
  closed = false;
  private fns: Array<() => void> = [];
  write(s: OutputStreamName, b: Buffer): boolean { this.got.push([s, b.toString()]); return true; }
  close(): void { this.closed = true; this.fns.splice(0).forEach((f) => f()); }
  onClose(fn: () => void): void { this.fns.push(fn); }
  text(s?: OutputStreamName): string { return this.got.filter(([x]) => !s || x === s).map(([, v]) => v).join(''); }
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
function tmp(t: { teardown(fn: () => unknown): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-stdio-${process.pid}-`));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('fan-out to the log and to clients by selection; closed after the last byte', async (t) => {
  const f = logPathFor(tmp(t), 'c1');
  const log = new JsonFileLogWriter(f);
  const hub = new StdioHub({ tty: false, openStdin: false, closeStdinOnEof: false, log });
  const out = new PassThrough();
  const err = new PassThrough();
  hub.setOutput(out, err);
  const both = new FakeClient();
  const onlyErr = new FakeClient();
  const a1 = hub.attach(both, { stdout: true, stderr: true });
  hub.attach(onlyErr, { stdout: false, stderr: true });
  out.write('o1\n');
  err.write('e1\n');
  out.end('o2\n');
  await tick();
  t.equal(hub.ended, false, 'stderr still open');
  err.end();
  await hub.closed;
  t.same(both.got, [['stdout', 'o1\n'], ['stderr', 'e1\n'], ['stdout', 'o2\n']]);
  t.same(onlyErr.got, [['stderr', 'e1\n']]);
  t.ok(both.closed && onlyErr.closed, 'clients were closed when output ended');
  t.equal(a1.reason, 'output-ended');
  t.equal(log.isClosed, true, 'the log was closed (flushed) before closed resolved');
  t.same(fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).log), ['o1\n', 'e1\n', 'o2\n']);
  const late = new FakeClient();
  const a = hub.attach(late, { stdout: true, stderr: true });
  await a.done;
  t.ok(late.closed, 'attaching after the end closes at once');
});

t.test('stdin written before the process exists is buffered; StdinOnce closes process stdin on EOF', async (t) => {
  const hub = new StdioHub({ tty: false, openStdin: true, closeStdinOnEof: true });
  const out = new PassThrough();
  hub.setOutput(out, null);
  const c = new FakeClient();
  const stdin = new PassThrough();
  const att = hub.attach(c, { stdout: true, stderr: true, stdin });
  stdin.write('data1\n');
  stdin.end('data2\n');
  await tick();
  const proc = new PassThrough();
  const got: string[] = [];
  proc.on('data', (d) => got.push(d.toString()));
  const procEnded = new Promise((r) => proc.on('end', r));
  hub.setStdin(proc);
  await procEnded;
  t.equal(got.join(''), 'data1\ndata2\n');
  t.equal(c.closed, false, 'the client still receives output after its stdin EOF');
  out.end('bye\n');
  await att.done;
  t.equal(c.text(), 'bye\n');
});

t.test('without StdinOnce a client stdin EOF ends its session, not the process stdin', async (t) => {
  const hub = new StdioHub({ tty: false, openStdin: true, closeStdinOnEof: false });
  const out = new PassThrough();
  hub.setOutput(out, null);
  const proc = new PassThrough();
  hub.setStdin(proc);
  const c = new FakeClient();
  const stdin = new PassThrough();
  const att = hub.attach(c, { stdout: true, stderr: true, stdin });
  stdin.end('x');
  await att.done;
  t.equal(att.reason, 'stdin-eof');
  t.equal(proc.writableEnded, false);
  t.equal(proc.read()?.toString(), 'x');
  out.end();
  await hub.closed;
});

t.test('tty + StdinOnce: EOF ends the session (moby closes stdin only without tty)', async (t) => {
  const hub = new StdioHub({ tty: true, openStdin: true, closeStdinOnEof: true });
  const pty = new PassThrough();
  hub.setOutput(pty);
  const master = new PassThrough();
  hub.setStdin(master);
  const c = new FakeClient();
  const stdin = new PassThrough();
  const att = hub.attach(c, { stdout: true, stderr: true, stdin });
  stdin.end();
  await att.done;
  t.equal(att.reason, 'stdin-eof');
  t.equal(master.writableEnded, false);
  pty.end();
  await hub.closed;
});

t.test('detach keys end the session and leave the process alone', async (t) => {
  const hub = new StdioHub({ tty: true, openStdin: true, closeStdinOnEof: true });
  const pty = new PassThrough();
  hub.setOutput(pty);
  const master = new PassThrough();
  hub.setStdin(master);
  const c = new FakeClient();
  const other = new FakeClient();
  const raw = new PassThrough();
  const att = hub.attach(c, { stdout: true, stderr: true, stdin: raw.pipe(new DetachFilter()) });
  hub.attach(other, { stdout: true, stderr: true });
  raw.write('ls\r\x10\x11ignored');
  await att.done;
  t.equal(att.reason, 'detached');
  t.equal(master.read()?.toString(), 'ls\r');
  t.equal(master.writableEnded, false);
  pty.write('still running\r\n');
  await tick();
  t.equal(other.text(), 'still running\r\n');
  t.equal(c.text(), '', 'the detached client gets nothing more');
  pty.end();
  await hub.closed;
});

t.test('a slow client loses output instead of blocking; others get everything', async (t) => {
  const hub = new StdioHub({ tty: false, openStdin: false, closeStdinOnEof: false, maxClientBuffer: 100 });
  const out = new PassThrough();
  hub.setOutput(out, null);
  const slow = new FakeClient();
  slow.writableLength = 1000;
  const fast = new FakeClient();
  const as = hub.attach(slow, { stdout: true, stderr: true });
  hub.attach(fast, { stdout: true, stderr: true });
  out.write('a'.repeat(50));
  await tick();
  slow.writableLength = 0;
  out.end('b');
  await hub.closed;
  t.equal(fast.text(), 'a'.repeat(50) + 'b');
  t.equal(slow.text(), 'b');
  t.equal(as.dropped, 50);
});

t.test('client gone: the hub forgets it', async (t) => {
  const hub = new StdioHub({ tty: false, openStdin: false, closeStdinOnEof: false });
  const out = new PassThrough();
  hub.setOutput(out, null);
  const c = new FakeClient();
  const a = hub.attach(c, { stdout: true, stderr: true });
  t.equal(hub.attachedCount, 1);
  c.close();
  await a.done;
  t.equal(a.reason, 'client-gone');
  t.equal(hub.attachedCount, 0);
  out.end();
  await hub.closed;
});

t.test('end to end: `run -i` shape over a unix socket with a real process', async (t) => {
  const dir = tmp(t);
  const sock = path.join(dir, 'h.sock');
  const logFile = logPathFor(dir, 'e2e');
  const log = new JsonFileLogWriter(logFile);
  const hub = new StdioHub({ tty: false, openStdin: true, closeStdinOnEof: true, log });
  const srv = http.createServer();
  const router = new HijackRouter();
  router.add('POST', '/containers/:id/attach', (req, socket, head) => {
    const conn = upgradeSocket(req, socket, head, { tty: false });
    hub.attach(conn, { stdout: true, stderr: true, stdin: conn.stdin });
  });
  srv.on('upgrade', (req, s, h) => router.dispatch(req, s, h));
  await new Promise<void>((r) => srv.listen(sock, r));
  t.teardown(async () => { srv.closeAllConnections(); await new Promise((r) => srv.close(r)); });

  const reply = new Promise<Buffer>((resolve, reject) => {
    const c = net.createConnection(sock, () => {
      // stdin right after the request, before the process exists; then FIN
      c.write('POST /v1.44/containers/e2e/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n');
      c.write('data1\n');
      c.end();
    });
    const got: Buffer[] = [];
    c.on('data', (d) => got.push(d));
    c.on('end', () => resolve(Buffer.concat(got)));
    c.on('error', reject);
  });
  await tick(50);
  // the "container" starts now
  const child = spawn('/bin/sh', ['-c', 'cat; echo err >&2'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  hub.setOutput(child.stdout, child.stderr);
  hub.setStdin(child.stdin);
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const all = await reply;
  await hub.closed;
  t.equal(await exit, 0, 'cat ended because the client FIN closed its stdin');
  const body = all.subarray(all.indexOf('\r\n\r\n') + 4);
  t.same(demuxAll(body).map((f) => [f.stream, f.payload.toString()]), [[1, 'data1\n'], [2, 'err\n']]);
  t.same(fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).stream), ['stdout', 'stderr']);
});

t.test('drainOutput: output still in the pipes when the task exits reaches the clients; a stream that never ends is cut after the grace', async (t) => {
  const hub = new StdioHub({ tty: false, openStdin: false, closeStdinOnEof: false });
  const out = new PassThrough();
  const err = new PassThrough();
  hub.setOutput(out, err);
  const c = new FakeClient();
  hub.attach(c, { stdout: true, stderr: true });
  // the exit is handled first; the last bytes are read from the pipes afterwards
  const drained = hub.drainOutput(2_000);
  setTimeout(() => { out.end('last words\n'); err.end('err\n'); }, 20);
  await drained;
  t.equal(c.text(), 'last words\nerr\n', 'nothing dropped');
  t.equal(hub.ended, true);

  const stuck = new StdioHub({ tty: false, openStdin: false, closeStdinOnEof: false });
  const held = new PassThrough();
  stuck.setOutput(held, null);
  const c2 = new FakeClient();
  stuck.attach(c2, { stdout: true, stderr: true });
  held.write('early\n');
  const t0 = Date.now();
  await stuck.drainOutput(100);
  t.ok(Date.now() - t0 >= 90, 'waited for the grace');
  t.equal(stuck.ended, true, 'then ended anyway (a writer that keeps the pipe open cannot hold the exit)');
  t.equal(c2.text(), 'early\n');
  t.ok(c2.closed);
});

t.test('a socket whose EOF came before the hub read it (a process that wrote nothing) ends the output at once', async (t) => {
  // a real socketpair: net.Socket reads its EOF by itself and emits 'end' and 'close' with nobody listening
  const sock = path.join(tmp(t), 's');
  const [a, b] = await new Promise<[net.Socket, net.Socket]>((resolve) => {
    const srv = net.createServer((s) => { srv.close(); resolve([s, c]); });
    let c!: net.Socket;
    srv.listen(sock, () => { c = net.connect(sock); });
  });
  b.end();
  await new Promise((r) => a.once('close', r));
  t.ok(a.readableEnded && a.destroyed, "the socket ended and closed before the hub saw it");
  const hub = new StdioHub({ tty: false, openStdin: false, closeStdinOnEof: true });
  const c = new FakeClient();
  hub.attach(c, { stdout: true, stderr: true });
  hub.setOutput(a, null);
  t.ok(hub.ended, 'the output counts as ended (no drain grace waited for)');
  await hub.closed;
  t.ok(c.closed, 'the client was closed');
});
