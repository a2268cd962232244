// The registry client's auth: Bearer challenge -> token endpoint with basic
// credentials and scope -> cached token; X-Registry-Auth decoding; HTTP vs HTTPS choice.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient, parseChallenge, isInsecure, decodeRegistryAuth } from '../../../image/registry/client.js';

t.test('challenge parsing', async (t) => {
  t.same(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), {
    scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
  });
  t.same(parseChallenge('Basic realm="basic-realm"'), { scheme: 'basic', params: { realm: 'basic-realm' } });
});

t.test('insecure registries', async (t) => {
  t.ok(isInsecure('127.0.0.1:5000', []));
  t.ok(isInsecure('127.1.2.3', []));
  t.ok(isInsecure('localhost:5000', []));
  t.ok(isInsecure('[::1]:5000', []));
  t.notOk(isInsecure('registry.example.com', []));
  t.ok(isInsecure('registry.example.com:5000', ['registry.example.com:5000']));
  t.equal(new RegistryClient('docker.io', {}).url('/v2/'), 'https://registry-1.docker.io/v2/');
  t.equal(new RegistryClient('127.0.0.1:5000', {}).url('/v2/'), 'http://127.0.0.1:5000/v2/');
});

t.test('X-Registry-Auth', async (t) => {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  t.same(decodeRegistryAuth('e30='), {});
  t.same(decodeRegistryAuth(undefined), {});
  t.same(decodeRegistryAuth('%%%not base64'), {});
  t.same(decodeRegistryAuth(enc({ username: 'u', password: 'p?>~', serveraddress: 'x' })), { username: 'u', password: 'p?>~', serveraddress: 'x' });
  t.same(decodeRegistryAuth(enc({ identitytoken: 'tok' })), { identitytoken: 'tok' });
});

t.test('bearer token flow with basic credentials, cached per scope', async (t) => {
  let tokenCalls = 0;
  let port = 0;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/token') {
      tokenCalls++;
      const ok = req.headers.authorization === 'Basic ' + Buffer.from('alice:secret').toString('base64');
      if (!ok || u.searchParams.get('scope') !== 'repository:team/app:pull' || u.searchParams.get('service') !== 'reg') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'T0K', expires_in: 300 }));
      return;
    }
    if (req.headers.authorization !== 'Bearer T0K') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="reg",scope="repository:team/app:pull"`, 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  port = (server.address() as AddressInfo).port;
  const c = new RegistryClient(`127.0.0.1:${port}`, { username: 'alice', password: 'secret' });
  const r1 = await c.send('GET', '/v2/team/app/manifests/1', 'repository:team/app:pull');
  t.equal(r1.status, 200);
  t.equal(await r1.body.text(), 'hello');
  const r2 = await c.send('GET', '/v2/team/app/manifests/2', 'repository:team/app:pull');
  t.equal(r2.status, 200);
  await r2.body.dump();
  t.equal(tokenCalls, 1, 'token cached for the scope');

  const anon = new RegistryClient(`127.0.0.1:${port}`, {});
  await t.rejects(anon.send('GET', '/v2/team/app/manifests/1', 'repository:team/app:pull'), { code: 'TSD_ERR_REGISTRY', kind: 'unauthorized' });
});
