// The real docker CLI against a tsd daemon: network commands, user networks
// with name resolution, isolation, published ports, connect/disconnect.
import t from 'tap';
import net from 'node:net';
import { containerEnv, containerOpts } from '../containers/helpers.js';

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET /index.html HTTP/1.0\r\n\r\n'));
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (buf += d));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

t.test('docker network commands and container networking', containerOpts(), async (t) => {
  const env = await containerEnv(t);
  const { docker, ok, name } = env;
  const octet = (process.pid % 200) + 20;
  const n1 = name('n1');
  const n2 = name('n2');
  const web = name('web');

  const ls = await ok('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}');
  t.same(ls.trim().split('\n').sort(), ['bridge bridge local', 'host host local', 'none null local'], 'predefined networks');

  const id = (await ok('network', 'create', '--subnet', `10.236.${octet}.0/24`, '--label', 'suite=netctl', n1)).trim();
  t.match(id, /^[0-9a-f]{64}$/);
  await ok('network', 'create', '--subnet', `10.237.${octet}.0/24`, n2);
  const dup = await docker(['network', 'create', n1]);
  t.not(dup.code, 0);
  t.match(dup.err, `network with name ${n1} already exists`);
  const info = JSON.parse(await ok('network', 'inspect', n1))[0];
  t.match(info, { Name: n1, Id: id, Driver: 'bridge', Scope: 'local', Labels: { suite: 'netctl' }, IPAM: { Config: [{ Subnet: `10.236.${octet}.0/24`, Gateway: `10.236.${octet}.1` }] } });
  t.same((await ok('network', 'ls', '--filter', 'label=suite=netctl', '--format', '{{.Name}}')).trim(), n1, 'label filter');
  const missing = await docker(['network', 'inspect', 'nosuchnet']);
  t.not(missing.code, 0);
  t.match(missing.err, 'network nosuchnet not found');

  await ok('run', '-d', '--name', web, '--network', n1, '--network-alias', 'www', '-p', '127.0.0.1::80', 'busybox:fixture', 'sh', '-c', 'mkdir /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www');
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(await ok('port', web, '80'))?.[1]);
  t.ok(port > 0, `published on 127.0.0.1:${port}`);
  let body = '';
  for (let i = 0; i < 50 && !body.includes('hello-from-web'); i++) {
    body = await httpGet(port).catch(() => '');
    if (!body) await new Promise((r) => setTimeout(r, 100));
  }
  t.match(body, 'hello-from-web', 'published port reachable from the host');
  const webIp = (await ok('inspect', '-f', `{{(index .NetworkSettings.Networks "${n1}").IPAddress}}`, web)).trim();
  t.match(webIp, new RegExp(`^10\\.236\\.${octet}\\.\\d+$`));

  const peer = await docker(['run', '--rm', '--network', n1, 'busybox:fixture', 'sh', '-c', 'ping -c1 -W2 ' + web + ' >/dev/null && ping -c1 -W2 www >/dev/null && echo resolved && cat /etc/hosts']);
  t.equal(peer.code, 0, peer.err);
  t.match(peer.out, 'resolved', 'container name and alias resolve on the same network');
  t.match(peer.out, new RegExp(`${webIp.replace(/\./g, '\\.')}\\t.*${web}`), '/etc/hosts has the peer');

  const other = await docker(['run', '--rm', '--network', n2, 'busybox:fixture', 'ping', '-c1', '-W1', webIp]);
  t.not(other.code, 0, 'a container on another network cannot reach it');

  await ok('network', 'connect', n2, web);
  const n2Ip = (await ok('inspect', '-f', `{{(index .NetworkSettings.Networks "${n2}").IPAddress}}`, web)).trim();
  t.match(n2Ip, new RegExp(`^10\\.237\\.${octet}\\.\\d+$`), 'connected: an address on n2');
  const viaN2 = await docker(['run', '--rm', '--network', n2, 'busybox:fixture', 'ping', '-c1', '-W2', web]);
  t.equal(viaN2.code, 0, 'after connect, reachable by name from n2');
  await ok('network', 'disconnect', n2, web);
  t.equal((await ok('inspect', '-f', `{{len .NetworkSettings.Networks}}`, web)).trim(), '1', 'disconnected');

  const inUse = await docker(['network', 'rm', n1]);
  t.not(inUse.code, 0);
  t.match(inUse.err, 'has active endpoints');
  const pre = await docker(['network', 'rm', 'bridge']);
  t.match(pre.err, 'bridge is a pre-defined network and cannot be removed');

  await ok('rm', '-f', web);
  t.match(await ok('network', 'rm', n1), n1);
  t.match(await ok('network', 'prune', '-f'), n2, 'prune removes the unused network');
  t.same((await ok('network', 'ls', '--format', '{{.Name}}')).trim().split('\n').sort(), ['bridge', 'host', 'none']);
});
