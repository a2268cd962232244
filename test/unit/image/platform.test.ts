import t from 'tap';
import { selectManifest, parsePlatform } from '../../../image/index.js';

const d = (n: number) => 'sha256:' + String(n).repeat(64).slice(0, 64);
const index = {
  schemaVersion: 2,
  manifests: [
    { mediaType: 'm', digest: d(1), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { mediaType: 'm', digest: d(2), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: 'm', digest: d(3), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: 'm', digest: d(4), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: 'm', digest: d(5), size: 1, platform: { os: 'windows', architecture: 'amd64' } },
    { mediaType: 'm', digest: d(6), size: 1, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
  ],
};

t.test('platform choice', async (t) => {
  t.equal(selectManifest(index, { os: 'linux', architecture: 'amd64' }).digest, d(3));
  t.equal(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest, d(2), 'variant respected');
  t.equal(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v6' }).digest, d(1));
  t.equal(selectManifest(index, { os: 'linux', architecture: 'arm64' }).digest, d(4), 'arm64 means v8');
  t.equal(selectManifest(index, { os: 'windows', architecture: 'amd64' }).digest, d(5));
  t.throws(() => selectManifest(index, { os: 'linux', architecture: 's390x' }), { kind: 'not-found', message: /no matching manifest for linux\/s390x/ });
  t.throws(() => selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v5' }), /no matching manifest/);
});

t.test('platform parameter', async (t) => {
  t.same(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  t.same(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64', variant: undefined });
  t.throws(() => parsePlatform('linux'), { code: 'TSD_ERR_INVALID_PLATFORM', kind: 'invalid-parameter' });
});
