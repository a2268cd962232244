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
