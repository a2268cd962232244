// A failed or cancelled build leaves nothing behind: no container, no mount
// under the data root, no layer that no image uses, no temp or context
// directory, no process of its RUN. Checked against the kernel (/proc/mounts,
// the process table) and the data root after: a failing RUN, a failing COPY
// with a layer mounted, a client that goes away during a RUN, and one that
// goes away halfway through uploading its context.
import t from 'tap';
import net from 'node:net';
import { spawn } from 'node:child_process';
import tar from 'tar-stream';
import { engines, clientOpts } from '../../clients/helpers.js';
import { contextDir, leftovers, settle } from './helpers.js';

t.setTimeout(180_000);

t.test('failed and cancelled builds', clientOpts(), async (t) => {
  const [e] = await engines(t);
  const tsd = e!;
  t.equal(tsd.name, 'tsd');
  const marker = `31${process.pid % 1000}7`;

  await t.test('a failing RUN after steps that made layers', async (t) => {
    const c = contextDir(t, { Dockerfile: 'FROM busybox:fixture\nCOPY f /f\nRUN echo made > /g\nRUN echo partial > /h; exit 7\n', f: 'f\n' });
    const r = await tsd.run('docker', ['build', c]);
    t.equal(r.code, 7);
    t.same(await settle(() => leftovers(tsd, marker)), [], 'nothing left');
    const again = await tsd.run('docker', ['build', c]);
    t.equal((again.out.match(/Using cache/g) ?? []).length, 2, 'the steps that succeeded are cached');
  });

  await t.test('a failing COPY while its layer is mounted', async (t) => {
    const c = contextDir(t, { Dockerfile: 'FROM busybox:fixture\nCOPY --chown=nosuchuser f /f\n', f: 'f\n' });
    const r = await tsd.run('docker', ['build', c]);
    t.equal(r.code, 1);
    t.match(r.err, /unable to convert uid\/gid chown string to host mapping: can't find uid for user nosuchuser: no such user: nosuchuser/);
    t.same(await settle(() => leftovers(tsd, marker)), [], 'nothing left');
  });

  await t.test('the client goes away during a RUN: the RUN is killed, nothing is left', async (t) => {
    const c = contextDir(t, { Dockerfile: `FROM busybox:fixture\nRUN echo started; sleep ${marker}\n` });
    const child = spawn('docker', ['build', '--no-cache', c], { env: tsd.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const deadline = Date.now() + 60_000;
    while (!out.includes('started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    t.match(out, /started/, 'the RUN runs');
    t.ok((await leftovers(tsd, marker)).some((l) => l.startsWith('containers:')), 'its container exists meanwhile');
    child.kill('SIGINT');
    await exited;
    t.same(await settle(() => leftovers(tsd, marker), 20_000), [], 'nothing left');
  });

  await t.test('the client goes away while uploading the context', async (t) => {
    const pack = tar.pack();
    pack.entry({ name: 'Dockerfile' }, 'FROM busybox:fixture\nRUN true\n');
    const big = Buffer.alloc(4 << 20, 7);
    pack.entry({ name: 'big.bin', size: big.length * 4 }, (err) => void err).write(big);
    const chunks: Buffer[] = [];
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    await new Promise((r) => setTimeout(r, 200));
    const partial = Buffer.concat(chunks);
    const sock = net.connect(tsd.daemon!.socket);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`POST /v1.41/build HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n`);
    sock.write(`${partial.length.toString(16)}\r\n`);
    sock.write(partial);
    sock.write('\r\n');
    // wait until the daemon has started receiving, then vanish
    const dir = `${tsd.daemon!.dataRoot}/builder`;
    const fs = await import('node:fs');
    const end = Date.now() + 10_000;
    while (Date.now() < end && !(fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.startsWith('context-')))) await new Promise((r) => setTimeout(r, 50));
    t.ok(fs.readdirSync(dir).some((n) => n.startsWith('context-')), 'the context was being received');
    sock.destroy();
    t.same(await settle(() => leftovers(tsd, marker)), [], 'nothing left');
    t.equal((await tsd.ok('docker', ['version', '--format', '{{.Server.Version}}'])).trim().length > 0, true, 'the daemon serves on');
  });
});
