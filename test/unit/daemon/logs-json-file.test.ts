// The json-file writer and reader: Docker's record format, partial lines,
// rotation with max-size/max-file, reading across rotated files, tail,
// since/until, follow picking up new lines and ending when the writer closes.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  JsonFileLogWriter, readLogs, logPathFor, listLogFiles, encodeLogRecord, createLogSink, parseLogConfig,
  formatRfc3339Nano, parseRfc3339Nano, parseTimestampParam, MAX_LINE_BYTES, detailsPrefix, type LogEntry, type ReadLogsOptions,
} from '../../../daemon/logs/index.js';

function tmp(t: { teardown(fn: () => unknown): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-logs-${process.pid}-`));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
const lines = (f: string) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
async function collect(f: string, o: Partial<ReadLogsOptions> = {}): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of readLogs(f, { stdout: true, stderr: true, follow: false, ...o })) out.push(e);
  return out;
}
async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}
const text = (es: LogEntry[]) => es.map((e) => e.line.toString()).join('');

t.test('time formatting is RFC 3339 with 9 digits', async (t) => {
  t.equal(formatRfc3339Nano(1795975314737022340n), '2026-11-29T18:01:54.737022340Z');
  t.equal(formatRfc3339Nano(1795975314000000005n), '2026-11-29T18:01:54.000000005Z');
  t.equal(parseRfc3339Nano('2026-11-29T18:01:54.737022340Z'), 1795975314737022340n);
  t.equal(parseRfc3339Nano('2026-11-29T19:01:54.5+01:00'), 1795975314500000000n);
  t.equal(parseTimestampParam('1795975314.000000001'), 1795975314000000001n);
  t.equal(parseTimestampParam('1795975314.5'), 1795975314500000000n);
  t.equal(parseTimestampParam('0'), 0n);
  t.equal(parseTimestampParam('2026-11-29T18:01:54Z'), 1795975314000000000n);
  t.throws(() => parseTimestampParam('yesterday'), { kind: 'invalid-parameter', message: 'failed to parse value as time or duration: "yesterday"' });
});

t.test('records: one JSON object per line, Docker escaping, lines and partials', async (t) => {
  t.equal(encodeLogRecord('stdout', Buffer.from('hi <b>&\n'), 1795975314737022340n),
    '{"log":"hi \\u003cb\\u003e\\u0026\\n","stream":"stdout","time":"2026-11-29T18:01:54.737022340Z"}\n');
  const d = tmp(t);
  const f = logPathFor(d, 'abc');
  t.equal(f, path.join(d, 'abc-json.log'));
  const w = new JsonFileLogWriter(f);
  w.write('stdout', Buffer.from('one\ntw'));
  w.write('stderr', Buffer.from('err\n'));
  await w.written(); // writes are asynchronous: in the file once written() resolves
  t.same(lines(f).map((l) => [l.log, l.stream]), [['one\n', 'stdout'], ['err\n', 'stderr']], 'a partial line waits');
  w.write('stdout', Buffer.from('o\nthree'));
  const big = Buffer.alloc(MAX_LINE_BYTES * 2 + 10, 0x61);
  w.write('stderr', big);
  w.write('stderr', Buffer.from('\n'));
  await w.close();
  const got = lines(f);
  t.same(got.map((l) => l.log.length), [4, 4, 4, MAX_LINE_BYTES, MAX_LINE_BYTES, 11, 5]);
  t.same(got.map((l) => l.log.slice(0, 5)), ['one\n', 'err\n', 'two\n', 'aaaaa', 'aaaaa', 'aaaaa', 'three'], 'flushed on close');
  for (const l of got) t.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  t.ok(got.every((l, i) => i === 0 || parseRfc3339Nano(l.time) >= parseRfc3339Nano(got[i - 1]!.time)), 'times are monotonic');
  await w.close(); // idempotent
  w.write('stdout', Buffer.from('ignored\n'));
  t.equal(lines(f).length, 7);
});

t.test('rotation with max-size/max-file and reading across rotated files', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'rot');
  const cfg = parseLogConfig({ Type: 'json-file', Config: { 'max-size': '300', 'max-file': '3' } });
  const w = createLogSink(cfg, f) as JsonFileLogWriter;
  for (let i = 0; i < 40; i++) w.write(i % 2 ? 'stderr' : 'stdout', Buffer.from(`line ${String(i).padStart(2, '0')}\n`));
  await w.close();
  const files = await listLogFiles(f);
  t.same(files.map((x) => path.basename(x)), ['rot-json.log.2', 'rot-json.log.1', 'rot-json.log']);
  t.notOk(fs.existsSync(`${f}.3`), 'older files are dropped');
  for (const x of files.slice(0, 2)) t.ok(fs.statSync(x).size >= 300 && fs.statSync(x).size < 300 + 100, `${path.basename(x)} rotated near max-size`);
  const all = await collect(f);
  const nums = all.map((e) => Number(e.line.toString().slice(5, 7)));
  t.ok(nums.length > 0 && nums.length < 40, 'oldest lines were rotated away');
  t.same(nums, Array.from({ length: nums.length }, (_, i) => 40 - nums.length + i), 'in order across files');
  t.equal(nums[nums.length - 1], 39);
  // tail across a file boundary
  const live = lines(f).length;
  const tl = await collect(f, { tail: live + 2 });
  t.same(tl.map((e) => e.line.toString()), all.slice(-(live + 2)).map((e) => e.line.toString()));
  t.same(text(await collect(f, { tail: 1 })), 'line 39\n');
  t.same(await collect(f, { tail: 0 }), []);
  t.equal((await collect(f, { tail: 1000 })).length, all.length);
  t.same(text(await collect(f, { stdout: false })).split('\n').filter(Boolean).every((l) => Number(l.slice(5)) % 2 === 1), true, 'stderr only');
});

t.test('max-file=1 truncates instead of keeping a rotated file', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'one');
  const w = new JsonFileLogWriter(f, { maxSize: 200, maxFile: 1 });
  for (let i = 0; i < 20; i++) w.write('stdout', Buffer.from(`l${i}\n`));
  await w.close();
  t.same(await listLogFiles(f), [f]);
  t.ok(fs.statSync(f).size < 300);
  t.equal(text(await collect(f, { tail: 1 })), 'l19\n');
});

t.test('since and until (inclusive, nanoseconds)', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'time');
  const w = new JsonFileLogWriter(f);
  const base = 1795975314000000000n;
  for (let i = 0; i < 10; i++) w.write('stdout', Buffer.from(`t${i}\n`), base + BigInt(i) * 1_000_000_000n);
  await w.close();
  t.equal(text(await collect(f, { since: base + 7_000_000_000n })), 't7\nt8\nt9\n');
  t.equal(text(await collect(f, { until: base + 1_000_000_000n })), 't0\nt1\n');
  t.equal(text(await collect(f, { since: base + 3_000_000_000n, until: base + 4_500_000_000n })), 't3\nt4\n');
  t.equal(text(await collect(f, { tail: 3, since: base + 8_000_000_000n })), 't8\nt9\n', 'tail first, then since');
  const e = (await collect(f, { tail: 1 }))[0]!;
  t.equal(e.time, '2026-11-29T18:02:03.000000000Z');
  t.equal(e.timeNs, base + 9_000_000_000n);
});

t.test('follow: picks up new lines, survives rotation, ends when the writer closes', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'fol');
  const w = new JsonFileLogWriter(f, { maxSize: 150, maxFile: 2 });
  w.write('stdout', Buffer.from('before\n'));
  const seen: string[] = [];
  const done = (async () => {
    for await (const e of readLogs(f, { stdout: true, stderr: true, follow: true, tail: 'all', writer: w, pollMs: 1000 })) seen.push(e.line.toString());
  })();
  t.ok(await until(() => seen.length === 1), 'existing line read');
  t.same(seen, ['before\n']);
  for (let i = 0; i < 8; i++) {
    const t0 = Date.now();
    w.write(i % 2 ? 'stderr' : 'stdout', Buffer.from(`live ${i}\n`));
    t.ok(await until(() => seen.length === i + 2, 900), `line ${i} seen`);
    t.ok(Date.now() - t0 < 900, 'promptly (write events, not the 1 s poll)');
  }
  t.ok(fs.existsSync(`${f}.1`), 'the log rotated while following');
  w.write('stdout', Buffer.from('last words'));
  await w.close();
  await done;
  t.same(seen, ['before\n', ...Array.from({ length: 8 }, (_, i) => `live ${i}\n`), 'last words']);
});

t.test('follow: tail=0 shows only new lines; abort ends it; no writer ends at EOF', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'ab');
  const w = new JsonFileLogWriter(f);
  t.teardown(() => w.close());
  w.write('stdout', Buffer.from('old\n'));
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const e of readLogs(f, { stdout: true, stderr: true, follow: true, tail: 0, writer: w, signal: ac.signal })) seen.push(e.line.toString());
  })();
  await new Promise((r) => setTimeout(r, 50));
  w.write('stdout', Buffer.from('new\n'));
  t.ok(await until(() => seen.length === 1));
  ac.abort();
  await done;
  t.same(seen, ['new\n']);
  t.equal(text(await collect(f, { follow: true })), 'old\nnew\n', 'without a writer follow stops at EOF');
  t.same(await collect(path.join(d, 'missing-json.log')), [], 'a missing log reads as empty');
});

t.test('compress: rotated files gzipped with lastTime in the header, read back across .gz files', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'gz');
  const cfg = parseLogConfig({ Type: 'json-file', Config: { 'max-size': '300', 'max-file': '4', compress: 'true' } });
  t.equal(cfg.type === 'json-file' && cfg.compress, true);
  const w = createLogSink(cfg, f) as JsonFileLogWriter;
  // written back to back: each rotation waits for the compression of the one before (moby's order)
  for (let i = 0; i < 60; i++) w.write(i % 2 ? 'stderr' : 'stdout', Buffer.from(`line ${String(i).padStart(2, '0')}\n`));
  await w.settled();
  t.ok(w.rotations > 3, `${w.rotations} rotations: more than max-file, the oldest went`);
  const files = await listLogFiles(f);
  t.same(files.map((x) => path.basename(x)), ['gz-json.log.3.gz', 'gz-json.log.2.gz', 'gz-json.log.1.gz', 'gz-json.log']);
  t.notOk(fs.existsSync(`${f}.1`) || fs.existsSync(`${f}.4.gz`), 'no plain rotated file, nothing past max-file');
  t.notOk(fs.readdirSync(d).some((n) => n.endsWith('.sync')), 'no temporary archive left');
  for (const x of files.slice(0, 3)) {
    const raw = fs.readFileSync(x);
    t.same([raw[0], raw[1], raw[3]! & 4], [0x1f, 0x8b, 4], `${path.basename(x)}: gzip with an Extra field`);
    const plain = zlib.gunzipSync(raw).toString().trim().split('\n').map((l) => JSON.parse(l) as { time: string });
    const meta = JSON.parse(raw.subarray(12, 12 + raw.readUInt16LE(10)).toString()) as { lastTime: string };
    t.equal(meta.lastTime, plain.at(-1)!.time, 'lastTime is the time of the file\'s last record');
  }
  const all = await collect(f);
  const nums = all.map((e) => Number(e.line.toString().slice(5, 7)));
  t.ok(nums.length > 10 && nums.length < 60, 'three rotated files and the live one');
  t.same(nums, Array.from({ length: nums.length }, (_, i) => 60 - nums.length + i), 'in order across compressed files');
  const live = lines(f).length;
  t.same(text(await collect(f, { tail: live + 3 })), text(all.slice(-(live + 3))), 'tail reaches into a .gz');
  t.equal((await collect(f, { tail: 1000 })).length, all.length);
  // since: a compressed file whose lastTime is earlier is skipped without reading it
  const second = zlib.gunzipSync(fs.readFileSync(`${f}.2.gz`)).toString().trim().split('\n').map((l) => JSON.parse(l) as { time: string });
  const sinceNs = parseRfc3339Nano(second.at(-1)!.time) + 1n;
  fs.writeFileSync(`${f}.3.gz`, Buffer.concat([fs.readFileSync(`${f}.3.gz`).subarray(0, 12 + fs.readFileSync(`${f}.3.gz`).readUInt16LE(10)), Buffer.from('not deflate')]));
  const after = await collect(f, { since: sinceNs });
  t.ok(after.length > 0 && after.every((e) => e.timeNs >= sinceNs), 'since honoured; the damaged older archive was not opened');
  await w.close();
});

t.test('compress: one rotation is compressed in the background; a plain .1 left behind is compressed at the next open', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'bg');
  const w = new JsonFileLogWriter(f, { maxSize: 300, maxFile: 2, compress: true });
  for (let i = 0; i < 6; i++) w.write('stdout', Buffer.from(`first ${i}\n`));
  await w.written();
  t.ok(fs.existsSync(`${f}.1`) || fs.existsSync(`${f}.1.gz`));
  t.equal(text(await collect(f)).split('\n').filter(Boolean).length, 6, 'readable while the compression runs');
  await w.settled();
  t.notOk(fs.existsSync(`${f}.1`));
  t.ok(fs.existsSync(`${f}.1.gz`));
  await w.close();
  // as if the daemon had stopped mid-compression
  fs.renameSync(`${f}.1.gz`, `${f}.1.tmp`);
  fs.writeFileSync(`${f}.1`, zlib.gunzipSync(fs.readFileSync(`${f}.1.tmp`)));
  fs.rmSync(`${f}.1.tmp`);
  const w2 = new JsonFileLogWriter(f, { maxSize: 300, maxFile: 2, compress: true });
  await w2.settled();
  t.same((await listLogFiles(f)).map((x) => path.basename(x)), ['bg-json.log.1.gz', 'bg-json.log']);
  t.equal(text(await collect(f)).split('\n').filter(Boolean).length, 6);
  await w2.close();
});

t.test('compress: follow keeps reading across rotations', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'fz');
  const w = new JsonFileLogWriter(f, { maxSize: 120, maxFile: 3, compress: true });
  const seen: string[] = [];
  const done = (async () => {
    for await (const e of readLogs(f, { stdout: true, stderr: true, follow: true, tail: 'all', writer: w, pollMs: 1000 })) seen.push(e.line.toString());
  })();
  for (let i = 0; i < 12; i++) {
    w.write('stdout', Buffer.from(`z ${i}\n`));
    t.ok(await until(() => seen.length === i + 1, 2000), `line ${i} seen`);
  }
  await w.settled();
  t.ok(fs.existsSync(`${f}.1.gz`), 'rotated and compressed while following');
  await w.close();
  await done;
  t.same(seen, Array.from({ length: 12 }, (_, i) => `z ${i}\n`));
});

t.test('attrs: labels, env, their regexes and tag in every record; --details shows them sorted and escaped', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'at');
  const cfg = parseLogConfig({ Type: 'json-file', Config: { labels: 'app,missing', 'labels-regex': '^com\\.x\\.', env: 'MODE', 'env-regex': '^TSD_', tag: '{{.Name}}/{{.ID}}' } });
  const info = {
    id: 'c0ffee0123456789abcdef', name: 'web', imageId: 'sha256:abc', imageName: 'busybox', env: ['MODE=a b', 'TSD_X=1', 'OTHER=2'],
    labels: { app: 'shop', 'com.x.team': 'a&b', unrelated: 'no' },
  };
  const w = createLogSink(cfg, f, info) as JsonFileLogWriter;
  w.write('stdout', Buffer.from('hi\n'));
  await w.close();
  const raw = fs.readFileSync(f, 'utf8');
  // the framed fast path (plain lines) and the escaped one write what the encoder writes, attrs included
  const f2 = logPathFor(d, 'at2');
  const w2 = createLogSink(cfg, f2, info) as JsonFileLogWriter;
  w2.write('stderr', Buffer.from('plain\n<esc> "q"\npart'), 1_700_000_000_123_456_789n);
  await w2.close();
  const attrsJson = JSON.stringify(JSON.parse(raw).attrs).replace('&', '\\u0026');
  const want = ['plain\n', '<esc> "q"\n'].map((l) => encodeLogRecord('stderr', Buffer.from(l), 1_700_000_000_123_456_789n, attrsJson)).join('');
  t.equal(fs.readFileSync(f2, 'utf8').slice(0, want.length), want, 'fast and escaped paths carry the attrs');
  t.match(fs.readFileSync(f2, 'utf8').slice(want.length), /^\{"log":"part","stream":"stderr","attrs":\{/, 'the flushed partial too');
  t.match(raw, /^\{"log":"hi\\n","stream":"stdout","attrs":\{"MODE":"a b","TSD_X":"1","app":"shop","com.x.team":"a\\u0026b","tag":"web\/c0ffee012345"\},"time":"/, 'moby field order, keys sorted');
  const [e] = await collect(f);
  t.same(e!.attrs, { MODE: 'a b', TSD_X: '1', app: 'shop', 'com.x.team': 'a&b', tag: 'web/c0ffee012345' });
  t.equal(detailsPrefix(e!.attrs), 'MODE=a+b,TSD_X=1,app=shop,com.x.team=a%26b,tag=web%2Fc0ffee012345');
  t.equal(detailsPrefix(undefined), '');
  t.throws(() => parseLogConfig({ Type: 'json-file', Config: { 'env-regex': '(' } }), /error parsing regexp for log opt 'env-regex'/);
  t.throws(() => parseLogConfig({ Type: 'json-file', Config: { tag: '{{.Nope}}' } }), /template: log-tag/);
  t.throws(() => parseLogConfig({ Type: 'json-file', Config: { compress: 'true', 'max-file': '1', 'max-size': '1m' } }), /compress cannot be true when max-file is less than 2/);
});

t.test('follow: a reader several rotations behind reads the files rotated in between', async (t) => {
  for (const compress of [false, true]) {
    const d = tmp(t);
    const f = logPathFor(d, `lag${compress}`);
    const w = new JsonFileLogWriter(f, { maxSize: 200, maxFile: 20, compress });
    w.write('stdout', Buffer.from('start\n'));
    const seen: string[] = [];
    // pulled by hand: between two next() calls the reader is suspended at its yield, so the
    // whole burst (about ten rotations) happens while it is behind, whatever the machine's load
    const it = readLogs(f, { stdout: true, stderr: true, follow: true, tail: 'all', writer: w, pollMs: 60_000 })[Symbol.asyncIterator]();
    seen.push((await it.next()).value!.line.toString());
    for (let i = 0; i < 25; i++) w.write('stdout', Buffer.from(`burst ${String(i).padStart(2, '0')}\n`));
    await w.written();
    t.ok(w.rotations >= 8, `${w.rotations} rotations in the burst`);
    const done = (async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) seen.push(r.value.line.toString());
    })();
    t.ok(await until(() => seen.length === 26, 3000), `compress=${compress}: all lines seen (${seen.length})`);
    await w.close();
    await done;
    await w.settled();
    t.same(seen, ['start\n', ...Array.from({ length: 25 }, (_, i) => `burst ${String(i).padStart(2, '0')}\n`)], `compress=${compress}: in order`);
  }
});

t.test('asynchronous writes: order kept, backpressure past the high-water mark, rotation, all on disk at close', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'bp');
  const w = new JsonFileLogWriter(f, { maxSize: 64 * 1024, maxFile: 3, highWaterMark: 16 * 1024 });
  let refused = 0;
  let drains = 0;
  const n = 5000;
  for (let i = 0; i < n; i++) {
    if (!w.write('stdout', Buffer.from(`line ${String(i).padStart(5, '0')}\n`))) {
      refused++;
      await new Promise<void>((r) => w.onDrain(() => { drains++; r(); }));
    }
  }
  t.ok(refused > 0, `write() asked to pause ${refused} times`);
  t.equal(drains, refused, 'every pause was followed by a drain');
  await w.close();
  const files = await listLogFiles(f);
  t.equal(files.length, 3, 'rotated, max-file kept');
  const all = files.flatMap((x) => lines(x)).map((l) => l.log);
  const nums = all.map((l) => Number(l.slice(5)));
  t.ok(nums.every((x, i) => i === 0 || x === nums[i - 1]! + 1), 'lines in order across rotated files');
  t.equal(nums[nums.length - 1], n - 1, 'the last line is on disk when close() resolves');
  t.ok(files.slice(0, -1).every((x) => fs.statSync(x).size >= 64 * 1024), 'each rotated file reached max-size');
});

t.test('a write error drops output instead of blocking the writer forever', async (t) => {
  const d = tmp(t);
  const w = new JsonFileLogWriter(logPathFor(d, 'err'), { highWaterMark: 1 });
  fs.closeSync((w as unknown as { fd: number }).fd); // the next write(2) fails with EBADF
  t.equal(w.write('stdout', Buffer.from('lost\n')), false);
  await new Promise<void>((r) => w.onDrain(r));
  t.match(w.failed, { code: 'EBADF' }, 'the failure is kept');
  t.equal(w.write('stdout', Buffer.from('dropped\n')), true, 'later output is dropped, never refused');
  await t.rejects(w.close(), { code: 'EBADF' });
});

t.test('the framed fast path writes exactly what the JSON encoder writes, whatever the chunking', async (t) => {
  const d = tmp(t);
  const f = logPathFor(d, 'eq');
  let seed = 42;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const alphabet = ['a', 'Z', '7', ' ', '"', '\\', '<', '>', '&', '\t', '\r', '\x01', '\x7f', 'é', '日', '😀', '\u2028', '\u2029'];
  const parts: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  const w = new JsonFileLogWriter(f);
  for (let i = 0; i < 400; i++) {
    const stream = rnd(4) === 0 ? 'stderr' : 'stdout';
    let s = '';
    const kind = rnd(10);
    const len = kind === 0 ? MAX_LINE_BYTES + rnd(40_000) : rnd(80);
    for (let j = 0; j < len; j++) s += kind < 5 ? String.fromCharCode(97 + rnd(26)) : alphabet[rnd(alphabet.length)];
    let b = Buffer.from(s + (rnd(5) ? '\n' : ''));
    if (rnd(20) === 0) b = Buffer.concat([b, Buffer.from([0xc3])]); // a cut UTF-8 sequence
    parts[stream].push(b);
    // hand it over in random pieces, splitting UTF-8 sequences too
    for (let off = 0; off < b.length;) {
      const n = 1 + rnd(Math.max(1, b.length));
      w.write(stream, b.subarray(off, off + n));
      off += n;
    }
  }
  await w.close();
  const got = lines(f);
  for (const stream of ['stdout', 'stderr'] as const) {
    // the reference: each line cut into 16 KiB pieces from its start, each piece encoded on its own
    const all = Buffer.concat(parts[stream]);
    const want: string[] = [];
    for (let start = 0; start < all.length;) {
      const nl = all.indexOf(0x0a, start);
      const end = nl < 0 ? all.length : nl + 1;
      for (let off = start; off < end; off += MAX_LINE_BYTES) {
        want.push((JSON.parse(encodeLogRecord(stream, all.subarray(off, Math.min(end, off + MAX_LINE_BYTES)), 0n)) as { log: string }).log);
      }
      start = end;
    }
    const mine = got.filter((l) => l.stream === stream).map((l) => l.log);
    t.equal(mine.length, want.length, `${stream}: as many records`);
    t.ok(mine.every((l, i) => l === want[i]), `${stream}: the same records`);
  }
  const raw = fs.readFileSync(f, 'utf8');
  t.notOk(/[<>&\u2028\u2029]/.test(raw.replace(/"time":"[^"]*"/g, '')), 'Go\'s escapes: no raw <, >, &, U+2028, U+2029 in the file');
});

t.test('syncWrites (live restore): each record is in the file when write() returns', async (t) => {
  const d = tmp(t);
  const f = path.join(d, 'sync.log');
  const w = new JsonFileLogWriter(f, { syncWrites: true, maxSize: 200, maxFile: 3 });
  for (let i = 0; i < 20; i++) {
    t.equal(w.write('stdout', Buffer.from(`line ${i}\n`)), true, 'never asks to pause');
    const all = [f, `${f}.1`, `${f}.2`].filter((p) => fs.existsSync(p)).map((p) => fs.readFileSync(p, 'utf8')).join('');
    t.ok(all.includes(`"line ${i}\\n"`), `line ${i} is on disk at once`);
  }
  t.ok(w.rotations > 0, 'rotation still happens');
  await w.close();
});
