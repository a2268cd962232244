import t from 'tap';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashStream, chainIds, sha256 } from '../../../image/index.js';

const sink = () => new Writable({ write(_c, _e, cb) { cb(); } });

t.test('a matching digest passes, size is counted', async (t) => {
  const data = Buffer.from('hello world');
  const h = new HashStream(sha256(data));
  await pipeline(Readable.from([data.subarray(0, 5), data.subarray(5)]), h, sink());
  t.equal(h.digest, sha256(data));
  t.equal(h.size, 11);
});

t.test('a mismatch fails at the end of the stream', async (t) => {
  const h = new HashStream(sha256('something else'));
  await t.rejects(pipeline(Readable.from([Buffer.from('hello')]), h, sink()), { code: 'TSD_ERR_DIGEST_MISMATCH', message: /digest mismatch: expected sha256:/ });
});

t.test('more bytes than the descriptor says fail early', async (t) => {
  const h = new HashStream(sha256('abc'), 2);
  await t.rejects(pipeline(Readable.from([Buffer.from('abc')]), h, sink()), { code: 'TSD_ERR_SIZE_MISMATCH' });
});

t.test('chain IDs follow the OCI formula', async (t) => {
  const a = sha256('a');
  const b = sha256('b');
  const c = chainIds([a, b]);
  t.equal(c[0], a);
  t.equal(c[1], sha256(`${a} ${b}`));
  t.same(chainIds([]), []);
});

t.test('compression choice; zstd gives a clear error when zlib lacks it', async (t) => {
  const { compressionOfMediaType, compressionOfMagic, decompressor } = await import('../../../image/compression.js');
  t.equal(compressionOfMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  t.equal(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar'), 'none');
  t.equal(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  t.equal(compressionOfMagic(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  t.equal(compressionOfMagic(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  t.equal(compressionOfMagic(Buffer.from('ustar')), 'none');
  const zlib = await import('node:zlib');
  if (typeof (zlib as unknown as Record<string, unknown>).createZstdDecompress === 'function') t.ok(decompressor('zstd'));
  else t.throws(() => decompressor('zstd'), { code: 'TSD_ERR_ZSTD_UNSUPPORTED', message: /zstd-compressed layers are not supported/ });
});

t.test('digests are parsed as go-digest does, with its messages', async (t) => {
  const { parseDigest, verifyDigest } = await import('../../../image/digest.js');
  const hex = 'a'.repeat(64);
  t.same(parseDigest(`sha256:${hex}`), { algorithm: 'sha256', hex, digest: `sha256:${hex}` });
  t.equal(parseDigest(`sha512:${'b'.repeat(128)}`).algorithm, 'sha512');
  const bad: Array<[unknown, string]> = [
    ['', 'invalid checksum digest format'],
    ['sha256', 'invalid checksum digest format'],
    [':abc', 'invalid checksum digest format'],
    ['sha256:', 'invalid checksum digest format'],
    [`sha256:${'A'.repeat(64)}`, 'invalid checksum digest format'],
    [`sha256:${'../'.repeat(21)}a`, 'invalid checksum digest format'],
    [`sha256:${hex.slice(1)}`, 'invalid checksum digest length'],
    [`sha512:${hex}`, 'invalid checksum digest length'],
    [`md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    ['foo/bar:xyz', 'invalid checksum digest format'],
    [42, 'invalid checksum digest format'],
  ];
  for (const [d, msg] of bad) t.throws(() => parseDigest(d), { code: 'TSD_ERR_INVALID_DIGEST', message: new RegExp(msg) }, String(d));
  t.throws(() => parseDigest('x', 'layer', 'invalid-parameter'), { kind: 'invalid-parameter', message: /^layer "x": / });
  const data = Buffer.from('hello');
  const crypto = await import('node:crypto');
  verifyDigest(data, 'sha512:' + crypto.createHash('sha512').update(data).digest('hex'));
  t.throws(() => verifyDigest(data, sha256('other')), { code: 'TSD_ERR_DIGEST_MISMATCH' });
});

t.test('a HashStream verifies with the expected digest\'s own algorithm', async (t) => {
  const crypto = await import('node:crypto');
  const data = Buffer.from('sha512 content');
  const d = 'sha512:' + crypto.createHash('sha512').update(data).digest('hex');
  const h = new HashStream(d);
  await pipeline(Readable.from([data]), h, sink());
  t.equal(h.digest, d);
  await t.rejects(pipeline(Readable.from([Buffer.from('x')]), new HashStream(d), sink()), { code: 'TSD_ERR_DIGEST_MISMATCH' });
  t.throws(() => new HashStream('md5:' + 'a'.repeat(32)), { message: /unsupported digest algorithm/ });
});
