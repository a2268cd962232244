// Peak RSS of a tsd daemon (started here, its own socket and data root) while it
// is offered 300 MB manifests by a registry on 127.0.0.1: one that declares its
// size, one that streams it chunked, one whose Content-Length lies. Prints the
// daemon's VmHWM before and after (issue #9 item 9: the cap is 4 MiB); needs root.
//   node dist/bench/hostile-manifest.js [MB=300]
import fs from 'node:fs';
import { startDaemon } from '../test/helpers/daemon.js';
import { MANIFEST_V2, startHostileRegistry, streamBytes } from '../test/fixtures/hostile-registry.js';

const MB = 1024 * 1024;
const size = Number(process.argv[2] ?? 300) * MB;
const teardowns: Array<() => unknown> = [];
const vm = (pid: number, key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function main() {
  const d = await startDaemon({ teardown: (fn) => teardowns.push(fn) }, [], { TSD_TEST_LOG_LEVEL: 'warn' });
  const reg = await startHostileRegistry();
  teardowns.push(() => reg.stop());
  const junk = Buffer.alloc(MB, 0x20);
  reg.routes.set('/v2/big/manifests/declared', (_req, res, hit) => { res.writeHead(200, { 'content-type': MANIFEST_V2, 'content-length': String(size) }); streamBytes(res, hit, size, junk); });
  reg.routes.set('/v2/big/manifests/chunked', (_req, res, hit) => { res.writeHead(200, { 'content-type': MANIFEST_V2 }); streamBytes(res, hit, size, junk); });
  reg.routes.set('/v2/big/manifests/lying', (_req, res, hit) => {
    const s = res.socket!;
    s.write(`HTTP/1.1 200 OK\r\ncontent-type: ${MANIFEST_V2}\r\ncontent-length: 1000\r\n\r\n`);
    const pump = (): void => { while (hit.bytesSent < size && !s.destroyed) { hit.bytesSent += junk.length; if (!s.write(junk)) { s.once('drain', pump); return; } } };
    pump();
  });
  const pid = d.proc.pid!;
  await d.request('GET', '/_ping');
  console.log(`daemon RSS at rest: ${vm(pid, 'VmRSS').toFixed(0)} MB, peak so far ${vm(pid, 'VmHWM').toFixed(0)} MB`);
  for (const tag of ['declared', 'chunked', 'lying']) {
    const s = Date.now();
    const r = await d.request('POST', `/images/create?fromImage=${reg.host}/big&tag=${tag}`);
    const msg = (r.text.split('\n').find((l) => l.includes('error')) ?? r.text).slice(0, 110);
    const hit = reg.hits.filter((h) => h.path.endsWith(`/${tag}`)).pop()!;
    console.log(`${`${size / MB} MB manifest, ${tag}`.padEnd(34)} ${String(Date.now() - s).padStart(6)} ms  registry sent ${(hit.bytesSent / MB).toFixed(1).padStart(6)} MB  peak RSS ${vm(pid, 'VmHWM').toFixed(0)} MB  ${msg.trim()}`);
  }
  console.log(`daemon RSS after: ${vm(pid, 'VmRSS').toFixed(0)} MB, peak ${vm(pid, 'VmHWM').toFixed(0)} MB; _ping ${(await d.request('GET', '/_ping')).status}`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; }).finally(async () => {
  for (const f of teardowns.reverse()) await f();
});
