import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import { candidatePorts, parsePortBinding, startPortProxy } from '../../../netctl/ports.js';

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

t.test('TCP proxy forwards to the target and picks a port for 0', async (t) => {
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
