import t from 'tap';
import { parseNormalized, parseReference, referenceString, familiarString, familiarName, looksLikeId } from '../../../image/index.js';

t.test('normalization table', async (t) => {
  const table: Array<[string, string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
    ['127.0.0.1:5000/busybox:fixture', '127.0.0.1:5000/busybox:fixture', '127.0.0.1:5000/busybox:fixture'],
    ['localhost/foo', 'localhost/foo:latest', 'localhost/foo:latest'],
    ['localhost:5000/a/b/c:t', 'localhost:5000/a/b/c:t', 'localhost:5000/a/b/c:t'],
    ['ghcr.io/org/img', 'ghcr.io/org/img:latest', 'ghcr.io/org/img:latest'],
    ['[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000/x:latest'],
    ['a_b-c__d/f---g.h', 'docker.io/a_b-c__d/f---g.h:latest', 'a_b-c__d/f---g.h:latest'],
    ['UPPER/x:1', 'UPPER/x:1', 'UPPER/x:1'],
  ];
  for (const [input, full, familiar] of table) {
    const r = parseNormalized(input);
    t.equal(referenceString(r), full, `${input} full`);
    t.equal(familiarString(r), familiar, `${input} familiar`);
  }
  const d = 'sha256:' + 'a'.repeat(64);
  const r = parseNormalized(`busybox@${d}`);
  t.equal(r.digest, d);
  t.equal(r.tag, undefined, 'a digest ref gets no default tag');
  t.equal(referenceString(r), `docker.io/library/busybox@${d}`);
  const both = parseReference(`127.0.0.1:5000/x:1@${d}`);
  t.equal(both.tag, '1');
  t.equal(both.domain, '127.0.0.1:5000');
  t.equal(familiarName(both), '127.0.0.1:5000/x');
});

t.test('invalid references give Docker errors', async (t) => {
  const bad = ['', 'library/UPPER', 'a_b.c/x', 'busybox:', ':tag', 'a//b', 'a/b/', '-a', 'a@sha256:short', 'busybox:tag with space', 'x:' + 'a'.repeat(129), '/abs'];
  for (const b of bad) {
    t.throws(() => parseReference(b), { code: 'TSD_ERR_INVALID_REFERENCE', kind: 'invalid-parameter' }, `rejects ${JSON.stringify(b)}`);
  }
  t.throws(() => parseReference('Busybox'), { message: 'invalid reference format: repository name (library/Busybox) must be lowercase' });
  t.throws(() => parseReference('a'.repeat(64)), /cannot specify 64-byte hexadecimal strings/);
  t.throws(() => parseReference('foo:bar:baz'), { message: 'invalid reference format: foo:bar:baz' });
});

t.test('ID detection', async (t) => {
  t.ok(looksLikeId('abc123'));
  t.ok(looksLikeId('sha256:' + 'f'.repeat(64)));
  t.notOk(looksLikeId('busybox'));
});
