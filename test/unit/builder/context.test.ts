// The build context: compression detection, tarsums equal to dockerd's for the
// same tar (recorded against Docker 20.10's classic builder), the lazy hash of
// files in images, and tars the docker CLI sends without their end.
import t from 'tap';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { compressionOf, completeTar, lazyHash, hashList } from '../../../builder/context.js';

const collect = async (r: Readable): Promise<Buffer> => { const c: Buffer[] = []; for await (const x of r) c.push(x as Buffer); return Buffer.concat(c); };

t.test('compression by magic bytes', async (t) => {
  t.equal(compressionOf(Buffer.from([0x1f, 0x8b, 0x08, 0])), 'gzip');
  t.equal(compressionOf(Buffer.from('BZh91AY')), 'bzip2');
  t.equal(compressionOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0])), 'xz');
  t.equal(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  t.equal(compressionOf(Buffer.from('./a.txt')), 'none');
});

t.test("lazy hashes are dockerd's (COPY --from, ADD <url>)", async (t) => {
  // RUN echo hello > /x in busybox; dockerd 20.10 recorded "COPY file:2574da78... in /y" for COPY --from of it
  t.equal(lazyHash('x', { mode: 0o100644, uid: 0, gid: 0, size: 6 }, '', [Buffer.from('hello\n')]), '2574da789da69a96529742bb278c3bee848d115caeca7390def328e7bbded039');
  t.equal(hashList('dir', ['b', 'a']).slice(0, 4), 'dir:');
  t.not(lazyHash('d', { mode: 0o040755, uid: 0, gid: 0, size: 4096 }, '', null), lazyHash('d', { mode: 0o040700, uid: 0, gid: 0, size: 4096 }, '', null), 'modes count');
});

async function tarOf(entries: Array<{ name: string; body: string }>): Promise<Buffer> {
  const p = tar.pack();
  for (const e of entries) p.entry({ name: e.name, mode: 0o644 }, e.body);
  p.finalize();
  return collect(p as unknown as Readable);
}

t.test('a tar that stops right after its last entry\'s data is completed; one cut inside data is not', async (t) => {
  const full = await tarOf([{ name: 'a', body: 'x'.repeat(600) }, { name: 'Dockerfile', body: 'FROM busybox\n' }]);
  // header(512) + 600 data + 424 pad + header(512) + 13 data: what the CLI sends for -f outside the context
  const cut = full.subarray(0, 512 + 1024 + 512 + 13);
  const fixed = await collect(Readable.from([cut.subarray(0, 700), cut.subarray(700)]).pipe(completeTar()));
  t.equal(fixed.length % 512, 0);
  const names: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const ex = tar.extract();
    ex.on('entry', (h, s, next) => { names.push(h.name); s.resume(); s.on('end', next); });
    ex.on('finish', resolve);
    ex.on('error', reject);
    Readable.from([fixed]).pipe(ex);
  });
  t.same(names, ['a', 'Dockerfile']);
  const truncated = await collect(Readable.from([full.subarray(0, 512 + 100)]).pipe(completeTar()));
  t.equal(truncated.length, 612, 'a truncation inside data is passed on as it is (and fails the extraction)');
  const normal = await collect(Readable.from([full]).pipe(completeTar()));
  t.ok(normal.subarray(0, full.length).equals(full), 'a complete tar passes unchanged');
});
