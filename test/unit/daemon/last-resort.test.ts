// The daemon's last-resort handler (issue #9 items 6/7): an error nobody handled
// fails the request that owns it (a 500 before the response started, a cut
// connection after) and is logged with its stack; the daemon keeps serving.
// The server runs in a child process: the handlers are process-wide.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = path.resolve(here, '..', '..', 'fixtures', 'last-resort-server.js');

t.test('unhandled errors fail their request and the server keeps serving', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-last-resort-'));
  const sock = path.join(dir, 's.sock');
  const child = spawn(process.execPath, [server, sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b) => { out += b; });
  child.stderr!.on('data', (b) => { out += b; });
  t.teardown(() => { child.kill('SIGKILL'); fs.rmSync(dir, { recursive: true, force: true }); });
  const deadline = Date.now() + 15_000;
  while (!out.includes('"listening"')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const client = new Client('http://localhost', { socketPath: sock });
  t.teardown(() => client.close());
  const get = async (p: string) => {
    const r = await client.request({ method: 'GET', path: p });
    return { status: r.statusCode, text: await r.body.text() };
  };
  const logged = async (text: string) => {
    const until = Date.now() + 5_000;
    while (!out.includes(text) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return out.split('\n').find((l) => l.includes(text)) ?? '';
  };

  const emit = await get('/boom/emit');
  t.equal(emit.status, 500, 'an emitted error with no listener: 500');
  t.same(JSON.parse(emit.text), { message: 'boom: emitted with no listener' });
  const line = JSON.parse(await logged('emitted with no listener')) as { err: { stack: string }; request: string; origin: string };
  t.equal(line.request, 'GET /boom/emit', 'logged with the request it belongs to');
  t.equal(line.origin, 'uncaughtException');
  t.match(line.err.stack, /at Timeout\./, 'logged with its stack');

  const rej = await get('/boom/reject');
  t.equal(rej.status, 500, 'a rejection nobody awaited: 500');
  t.match(rej.text, 'rejected, never awaited');
  t.match(await logged('rejected, never awaited'), '"origin":"unhandledRejection"');

  await t.rejects(get('/boom/streaming'), 'after the response started, the connection is cut');
  t.match(await logged('thrown mid-stream'), '"request":"GET /boom/streaming"');

  t.equal((await get('/boom/detached')).status, 200);
  t.match(await logged('outside any request'), '"request":null', 'an error outside requests is logged, nothing failed');

  const ping = await get('/_ping');
  t.equal(ping.status, 200, 'still serving');
  t.equal(ping.text, 'OK');
  t.equal(child.exitCode, null, 'the process is alive');
});
