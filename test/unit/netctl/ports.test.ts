import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { candidatePorts, parsePortBinding, startPortProxy } from '../../../netctl/ports.js';
import { portProxyAvailable } from '../../../netctl/portproxy.js';

t.test('port binding parsing', async (t) => {
  t.same(parsePortBinding('80/tcp', '', '8080'), { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 });
  t.same(parsePortBinding('53/udp', '127.0.0.1', ''), { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 0 });
  t.same(parsePortBinding('80', '', '0'), { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 0 });
  t.same(parsePortBinding('80/tcp', '', '8000-8002'), { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8000, hostPortEnd: 8002 });
  t.same(candidatePorts(parsePortBinding('80/tcp', '', '8000-8002')), [8000, 8001, 8002]);
  t.same(candidatePorts(parsePortBinding('80/tcp', '', '')), [0]);
  for (const [p, ip, hp] of [['x/tcp', '', ''], ['0/tcp', '', ''], ['70000', '', ''], ['80/tcp', 'bad', ''], ['80/tcp', '', 'abc'], ['80/tcp', '', '9000-8000'], ['80/sctp', '', '']] as const) {
    t.throws(() => parsePortBinding(p, ip, hp), { kind: 'invalid-parameter', message: /./ }, `${p} ${ip} ${hp}`);
  }
});

t.test('UDP proxy relays both ways', async (t) => {
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
  t.teardown(() => echo.close());
  const proxy = await startPortProxy({ containerPort: echo.address().port, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 0 }, '127.0.0.1');
  t.teardown(() => proxy.close());
  const client = dgram.createSocket('udp4');
  t.teardown(() => client.close());
  const reply = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
  client.send('hi', proxy.published.hostPort, '127.0.0.1');
  t.equal(await reply, 'echo:hi');
});

// Every TCP case on both relays: tsd-portproxy (splice, where it is built) and Node's in-process one.
const vias = [...(portProxyAvailable() ? ['tsd-portproxy'] : []), 'in-process'];
for (const via of vias) t.test(via, async (t) => {
  const prev = process.env.TSD_PORTPROXY;
  process.env.TSD_PORTPROXY = via === 'in-process' ? '0' : '1';
  t.teardown(() => { if (prev === undefined) delete process.env.TSD_PORTPROXY; else process.env.TSD_PORTPROXY = prev; });
  t.test(`TCP proxy forwards to the target and picks a port for 0`, async (t) => {
    const server = net.createServer((s) => s.end('pong:' + s.remotePort));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => server.close());
    const port = (server.address() as net.AddressInfo).port;
    const proxy = await startPortProxy({ containerPort: port, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }, '127.0.0.1');
    t.teardown(() => proxy.close());
    t.ok(proxy.published.hostPort > 0 && proxy.published.hostPort !== port, 'a host port was chosen');
    const got = await new Promise<string>((resolve, reject) => {
      let buf = '';
      net.connect(proxy.published.hostPort, '127.0.0.1').on('data', (d) => (buf += d)).on('end', () => resolve(buf)).on('error', reject);
    });
    t.match(got, /^pong:/);
    await t.rejects(startPortProxy({ containerPort: port, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: proxy.published.hostPort }, '127.0.0.1'), {
      kind: 'conflict',
      message: /port is already allocated/,
    });
  });

  /** A proxy in front of a loopback server; returns the proxy port. */
  async function proxied(t: Test, onConn: (s: net.Socket) => void): Promise<{ port: number; proxy: Awaited<ReturnType<typeof startPortProxy>> }> {
    const server = net.createServer({ allowHalfOpen: true }, onConn);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => server.close());
    const proxy = await startPortProxy({ containerPort: (server.address() as net.AddressInfo).port, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }, '127.0.0.1');
    t.teardown(() => proxy.close());
    return { port: proxy.published.hostPort, proxy };
  }

  t.test(`TCP proxy: the client half-closes first and still reads the reply`, async (t) => {
    const { port } = await proxied(t, (s) => {
      let n = 0;
      s.on('data', (d) => (n += d.length));
      s.on('end', () => setTimeout(() => s.end(`got ${n}`), 50)); // answers after the client's FIN
    });
    const reply = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => c.end(Buffer.alloc(1 << 20)));
      c.on('data', (d) => (buf += d)).on('end', () => resolve(buf)).on('error', reject);
    });
    t.equal(reply, `got ${1 << 20}`);
  });

  t.test(`TCP proxy: the server half-closes first and still receives`, async (t) => {
    let received = 0;
    const done = new Promise<void>((resolve) => {
      void proxied(t, (s) => {
        s.end('bye'); // FIN before reading anything
        s.on('data', (d) => (received += d.length));
        s.on('end', () => resolve());
      }).then(({ port }) => {
        const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        c.on('end', () => {
          // the server's FIN came through: now upload 32 MB and close our side
          const chunk = Buffer.alloc(1 << 20);
          let i = 0;
          const pump = () => {
            while (i < 32) {
              i++;
              if (!c.write(chunk)) return void c.once('drain', pump);
            }
            c.end();
          };
          pump();
        });
        c.on('data', () => undefined);
      });
    });
    await done;
    t.equal(received, 32 << 20, 'every byte sent after the server FIN arrived');
  });

  t.test(`TCP proxy: close() destroys stuck connections at once`, async (t) => {
    const { port, proxy } = await proxied(t, (s) => s.pause()); // never reads
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    c.on('error', () => undefined);
    await new Promise((r) => c.once('connect', r));
    const big = Buffer.alloc(16 << 20);
    c.write(big);
    c.write(big);
    await new Promise((r) => setTimeout(r, 200));
    const half = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => half.end());
    half.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await proxy.close();
    t.ok(Date.now() - t0 < 2000, `close took ${Date.now() - t0} ms`);
    await new Promise<void>((r) => (c.destroyed ? r() : c.once('close', () => r())));
    await new Promise<void>((r) => (half.destroyed ? r() : half.once('close', () => r())));
    t.pass('both client connections were closed');
  });
});

t.test('tsd-portproxy: a helper that dies is replaced and listens again on the same ports', { skip: portProxyAvailable() ? false : 'tsd-portproxy not built' }, async (t) => {
  const server = net.createServer((s) => s.end('pong'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const proxy = await startPortProxy({ containerPort: (server.address() as net.AddressInfo).port, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }, '127.0.0.1');
  t.teardown(() => proxy.close());
  const get = () => new Promise<string>((resolve) => {
    let buf = '';
    net.connect(proxy.published.hostPort, '127.0.0.1').on('data', (d) => (buf += d)).on('end', () => resolve(buf)).on('error', (e) => resolve(e.message));
  });
  t.equal(await get(), 'pong', 'through the helper');
  const helpers = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'tsd-portproxy' && fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(process.pid); } catch { return false; }
  });
  t.equal(helpers.length, 1, 'one helper, a child of this process');
  await new Promise((r) => setTimeout(r, 2100)); // older than the helper's "died at once" guard
  process.kill(Number(helpers[0]), 'SIGKILL');
  let got = '';
  for (let i = 0; i < 50 && got !== 'pong'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    got = await get();
  }
  t.equal(got, 'pong', 'the same host port answers again');
});
