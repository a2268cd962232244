// Issue #9 item 16: a container writing stdout as fast as it can must not hurt the
// API. Its json-file log is written asynchronously with backpressure (the
// container's pipe is the buffer); every line reaches `docker logs`, in order,
// across rotations, while _ping keeps answering. The bound on each ping is
// generous on purpose (a loaded machine): figures are in bench/log-flood.ts.
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import { privilegedOpts } from '../helpers/privileged.js';
import { startDaemon } from '../helpers/daemon.js';
import { busyboxSaveTar } from '../fixtures/images.js';

/** Docker's multiplexed stream: 8-byte headers (stream, 0, 0, 0, big-endian length) then the payload. */
function demux(b: Buffer): string {
  const out: Buffer[] = [];
  for (let off = 0; off + 8 <= b.length;) {
    const n = b.readUInt32BE(off + 4);
    out.push(b.subarray(off + 8, off + 8 + n));
    off += 8 + n;
  }
  return Buffer.concat(out).toString('utf8');
}

t.test('a stdout flood: every line in docker logs, in order, while _ping answers', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  const load = await d.request('POST', '/images/load?quiet=1', fs.readFileSync((await busyboxSaveTar()).path), { 'content-type': 'application/x-tar' });
  t.equal(load.status, 200);
  const N = 400_000;
  const c = await d.request('POST', '/containers/create', {
    Image: 'busybox:fixture', Cmd: ['seq', '1', String(N)],
    HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: { 'max-size': '2m', 'max-file': '100' } } },
  });
  t.equal(c.status, 201);
  const id = c.body.Id as string;
  t.teardown(() => d.request('DELETE', `/containers/${id}?force=1`).catch(() => {}));
  const started = await d.request('POST', `/containers/${id}/start`);
  t.equal(started.status, 204);

  // ping back to back until the container has exited
  let exited = false;
  // the wait on its own connection (the helper's client would queue the pings behind it)
  const wait = new Promise<{ StatusCode?: number }>((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method: 'POST', path: `/containers/${id}/wait`, headers: { host: 'x' } }, (res) => {
      let s = '';
      res.on('data', (b) => { s += b; });
      res.on('end', () => { exited = true; resolve(JSON.parse(s) as { StatusCode?: number }); });
    });
    req.on('error', reject);
    req.end();
  });
  // from the first logged line on (the start's own work, such as refilling the warm pool, is not what is measured)
  const logFile = `${d.dataRoot}/containers/${id}/${id}-json.log`;
  while (!exited && !(fs.existsSync(logFile) && fs.statSync(logFile).size > 0)) await new Promise((r) => setTimeout(r, 5));
  const pings: number[] = [];
  while (!exited) {
    const s = process.hrtime.bigint();
    const p = await d.request('GET', '/_ping');
    pings.push(Number(process.hrtime.bigint() - s) / 1e6);
    t.equal(p.status, 200, 'ping', { diagnostic: false });
    if (pings.length > 20_000) break;
  }
  const w = await wait;
  t.equal(w.StatusCode, 0, 'seq exited 0');
  const worst = Math.max(...pings);
  t.ok(pings.length >= 1, `${pings.length} pings during the flood, the slowest ${worst.toFixed(0)} ms`);
  t.comment(`_ping during the flood: median ${[...pings].sort((a, b) => a - b)[pings.length >> 1]!.toFixed(1)} ms, slowest ${worst.toFixed(0)} ms`);
  t.ok(worst < 1000, 'each ping answered within 1 s');

  const raw = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    http.get({ socketPath: d.socket, path: `/containers/${id}/logs?stdout=1&stderr=1`, headers: { host: 'x' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
  t.equal(raw.status, 200);
  const lines = demux(raw.body).split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  t.equal(lines.length, N, `all ${N} lines are in docker logs`);
  let inOrder = true;
  for (let i = 0; i < lines.length; i++) if (lines[i] !== String(i + 1)) { inOrder = false; break; }
  t.ok(inOrder, 'in order, across rotated files');
  const files = fs.readdirSync(`${d.dataRoot}/containers/${id}`).filter((f) => f.startsWith(`${id}-json.log`));
  t.ok(files.length > 1, `the log rotated (${files.length} files)`);
});
