// The live-restore holder (daemon/restore/holder.ts) against a daemon that is
// connecting: a holder whose last container exits while no daemon owns it
// exits (nothing left to hold), but not under a daemon that has connected and
// not yet said hello; that daemon would lose live restore for its whole run.
// And the client's side: a holder that closes the connection before answering
// hello (it was exiting) is tried again, not taken as "no live restore".
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { HolderClient } from '../../../daemon/restore/index.js';
import { onJsonLines } from '../../../daemon/restore/lines.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { alive, sleep, waitFor } from '../../helpers/processes.js';

const HOLDER = fileURLToPath(new URL('../../../daemon/restore/holder.js', import.meta.url));

/** A JSON-lines connection to `sockPath`, with request() matching answers by rid. */
async function conn(sockPath: string): Promise<{ sock: net.Socket; request: (m: Record<string, unknown>) => Promise<Record<string, unknown>>; closed: Promise<void> }> {
  const sock = net.connect(sockPath);
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  let rid = 0;
  onJsonLines(sock, (m) => { waiting.get(Number(m.rid))?.(m); waiting.delete(Number(m.rid)); });
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.on('error', () => {});
  return {
    sock, closed,
    request: (m) => new Promise((resolve, reject) => {
      const n = ++rid;
      waiting.set(n, resolve);
      void closed.then(() => reject(new Error(`connection closed before the answer to ${String(m.op)}`)));
      sock.write(`${JSON.stringify({ rid: n, ...m })}\n`);
    }),
  };
}

const handleFd = (s: unknown): number => (s as { _handle: { fd: number } })._handle.fd;

t.test('a holder does not exit under a daemon that connected and has not said hello yet', privilegedOpts(), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-holder-'));
  const holder = spawn(process.execPath, [HOLDER, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let holderLog = '';
  holder.stderr.setEncoding('utf8').on('data', (d: string) => { holderLog += d; });
  const holderGone = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
  const held = spawn('sleep', ['600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(async () => {
    held.kill('SIGKILL');
    holder.kill('SIGKILL');
    await holderGone;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const sockPath = path.join(dir, 'holder.sock');
  await waitFor(() => fs.existsSync(path.join(dir, 'holder.pid')), 20_000, 'the holder to listen');

  // a daemon (this process) hands it a container's output pipes, then goes away: the holder drains
  const first = await conn(sockPath);
  const hello = await first.request({ op: 'hello', pid: process.pid, protocol: 1 });
  t.equal(hello.ok, true, 'hello answered');
  const watched = await first.request({ op: 'watch', id: 'c1', pid: held.pid, start: '', fds: { stdout: handleFd(held.stdout), stderr: handleFd(held.stderr) } });
  t.equal(watched.ok, true, 'watch answered');
  first.sock.destroy();
  await first.closed;
  await waitFor(() => holderLog.includes('daemon gone'), 10_000, 'the holder to notice the daemon left');

  // the next daemon connects; before its hello, the last held container exits
  const second = await conn(sockPath);
  held.kill('SIGKILL');
  await waitFor(() => fs.existsSync(path.join(dir, 'c1.exit')), 10_000, 'the holder to record the exit');
  await sleep(500); // many drain rounds (10 ms each): each would have exited before the fix
  t.ok(alive(holder.pid!), 'the holder still runs while a daemon is connected');

  const answer = await second.request({ op: 'hello', pid: process.pid, protocol: 1 });
  t.equal(answer.ok, true, 'the late hello is answered');
  const containers = answer.containers as Array<{ id: string; exit: { code: number } | null }>;
  t.same(containers.map((c) => [c.id, c.exit?.code]), [['c1', 137]], 'with the container and its exit');

  // that daemon leaves too: now nothing is left to hold, and the holder ends
  second.sock.destroy();
  await waitFor(() => holder.exitCode !== null, 10_000, 'the holder to exit');
  t.equal(holder.exitCode, 0, 'the holder exits once no daemon is connected and nothing is held');
  t.notOk(fs.existsSync(sockPath), 'and removes its socket');
});

t.test('the client tries again when the holder closes the connection before answering hello', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-holder-client-'));
  let accepted = 0;
  // a holder that is exiting the first time (closes at once), then one that answers
  const server = net.createServer((sock) => {
    accepted++;
    if (accepted === 1) { sock.destroy(); return; }
    onJsonLines(sock, (m) => {
      if (m.op === 'hello') sock.write(`${JSON.stringify({ rid: m.rid, ok: true, protocol: 1, holderPid: 0, containers: [] })}\n`);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path.join(dir, 'holder.sock'), resolve));
  t.teardown(() => { server.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  const c = await HolderClient.open(dir, pino({ level: 'silent' }));
  t.ok(c.alive, 'connected on the second try');
  t.equal(accepted, 2, 'after one connection closed before hello was answered');
  c.close();
});
