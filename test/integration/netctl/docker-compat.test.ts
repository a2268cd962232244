// The real docker CLI on what #10 found missing in networking: network create
// options dockerd takes (IPRange, a name with a space), endpoint DriverOpts and
// MAC addresses kept and honoured, `docker stats` NET I/O from the container's
// netns, and legacy links (variables, hosts entries, docker rm --link).
import t from 'tap';
import { containerEnv, containerOpts } from '../containers/helpers.js';

t.test('docker networking as dockerd does it', containerOpts(), async (t) => {
  const { ok, docker, name, d } = await containerEnv(t);
  const octet = (process.pid % 200) + 20;

  await t.test('network create: IPRange, a name with a space; endpoint DriverOpts and MAC', async (t) => {
    const n = `${name('ranged')} with space`;
    await ok('network', 'create', '--subnet', `10.244.${octet}.0/24`, '--ip-range', `10.244.${octet}.128/25`, n);
    const info = JSON.parse(await ok('network', 'inspect', n))[0];
    t.match(info.IPAM.Config[0], { Subnet: `10.244.${octet}.0/24`, IPRange: `10.244.${octet}.128/25` }, 'IPRange reported');
    t.same(Object.keys(info.Options).filter((k: string) => k.startsWith('tsd.')), [], 'no internal option shown');
    const c = name('ranged-c');
    await ok('run', '-d', '--name', c, '--network', n, '--mac-address', '02:42:de:ad:be:ef', 'busybox:fixture', 'sleep', '300');
    const ep = JSON.parse(await ok('inspect', '-f', '{{json .NetworkSettings.Networks}}', c))[n];
    t.equal(ep.IPAddress, `10.244.${octet}.129`, 'the first address of the range, as dockerd gives');
    t.equal(ep.MacAddress, '02:42:de:ad:be:ef', 'MacAddress reported');
    const link = await ok('exec', c, 'cat', '/sys/class/net/eth0/address');
    t.equal(link.trim(), '02:42:de:ad:be:ef', 'and honoured on eth0');
    const n2 = name('opts');
    await ok('network', 'create', n2);
    await ok('network', 'connect', '--driver-opt', 'com.example.k=v', n2, c);
    const ep2 = JSON.parse(await ok('inspect', '-f', '{{json .NetworkSettings.Networks}}', c))[n2];
    t.same(ep2.DriverOpts, { 'com.example.k': 'v' }, 'endpoint DriverOpts kept');
    const bad = await d.request('POST', '/v1.44/containers/create', { Image: 'busybox:fixture', Cmd: ['true'], MacAddress: '02:42:zz:00:00:01' });
    t.match(bad, { status: 400, body: { message: /invalid MAC address/ } }, 'a bad MAC is refused at create');
    const blank = await d.request('POST', '/v1.44/networks/create', { Name: '   ' });
    t.equal(blank.status, 400, 'a blank name is refused');
  });

  await t.test('dual stack: EnableIPv6 with a given and an allocated subnet', async (t) => {
    const n = name('v6');
    const sub6 = `fd00:${octet.toString(16)}:${(process.pid % 65536).toString(16)}::/64`;
    await ok('network', 'create', '--ipv6', '--subnet', `10.245.${octet}.0/24`, '--subnet', sub6, n);
    const info = JSON.parse(await ok('network', 'inspect', n))[0];
    t.equal(info.EnableIPv6, true);
    t.match(info.IPAM.Config, [{ Subnet: `10.245.${octet}.0/24` }, { Subnet: sub6, Gateway: sub6.replace('::/64', '::1') }]);
    const a = name('v6a');
    await ok('run', '-d', '--name', a, '--network', n, 'busybox:fixture', 'sleep', '300');
    const ep = JSON.parse(await ok('inspect', '-f', '{{json .NetworkSettings.Networks}}', a))[n];
    t.equal(ep.GlobalIPv6Address, sub6.replace('::/64', '::2'), 'the IPv6 address mirrors the IPv4 one (.2 → ::2)');
    t.equal(ep.GlobalIPv6PrefixLen, 64);
    t.equal(ep.IPv6Gateway, sub6.replace('::/64', '::1'));
    const ping = await docker(['run', '--rm', '--network', n, 'busybox:fixture', 'sh', '-c', `ping -c 1 -W 3 ${ep.GlobalIPv6Address} && ping -c 1 -W 3 ${ep.IPv6Gateway} && ip -6 route`]);
    t.equal(ping.code, 0, `a peer and the gateway answer over IPv6: ${ping.err}`);
    t.match(ping.out, `default via ${ep.IPv6Gateway}`, 'IPv6 default route');
    const auto = name('v6auto');
    await ok('network', 'create', '--ipv6', auto);
    t.match(JSON.parse(await ok('network', 'inspect', auto))[0].IPAM.Config[1]?.Subnet, /^fd[0-9a-f]{2}:/, 'a ULA /64 when none is given');
  });

  await t.test('docker stats NET I/O from the container’s netns', async (t) => {
    const c = name('stats');
    await ok('run', '-d', '--name', c, 'busybox:fixture', 'sh', '-c', 'ping -c 5 -i 0.2 -s 1000 $(ip route | awk "/default/ {print \\$3}") >/dev/null; sleep 300');
    await new Promise((r) => setTimeout(r, 1500));
    const s = await d.request('GET', `/v1.44/containers/${c}/stats?stream=false&one-shot=true`);
    const eth0 = s.body.networks?.eth0;
    t.ok(eth0, 'networks.eth0 present');
    t.ok(eth0.tx_bytes >= 5000 && eth0.tx_packets >= 5, `tx counted: ${eth0?.tx_bytes} bytes, ${eth0?.tx_packets} packets`);
    t.ok(eth0.rx_bytes >= 5000, `rx counted: ${eth0?.rx_bytes}`);
    t.same(Object.keys(eth0).sort(), ['rx_bytes', 'rx_dropped', 'rx_errors', 'rx_packets', 'tx_bytes', 'tx_dropped', 'tx_errors', 'tx_packets']);
    t.notOk(s.body.networks.lo, 'loopback left out');
    const cli = await ok('stats', '--no-stream', '--format', '{{.NetIO}}', c);
    t.match(cli.trim(), /^[1-9][\d.]*k?B \/ [1-9][\d.]*k?B$/, `docker stats shows NET I/O: ${cli.trim()}`);
  });

  await t.test('legacy links: variables, hosts entry, docker rm --link', async (t) => {
    const db = name('db');
    await ok('run', '-d', '--name', db, '-e', 'FOO=bar', '-e', 'HOME=/x', '--expose', '5432', '--expose', '53/udp', 'busybox:fixture', 'sleep', '300');
    const dbIp = (await ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', db)).trim();
    const dbHost = (await ok('inspect', '-f', '{{.Config.Hostname}}', db)).trim();
    const web = name('web');
    const out = await ok('run', '--name', web, '--link', `${db}:my-db`, 'busybox:fixture', 'sh', '-c', 'env; echo ---; cat /etc/hosts');
    const [env, hosts] = out.split('---\n') as [string, string];
    const vars = env.split('\n').filter((l) => l.startsWith('MY_DB_')).sort();
    t.same(vars, [
      `MY_DB_ENV_FOO=bar`,
      `MY_DB_NAME=/${web}/my-db`,
      `MY_DB_PORT=udp://${dbIp}:53`,
      `MY_DB_PORT_53_UDP=udp://${dbIp}:53`,
      `MY_DB_PORT_53_UDP_ADDR=${dbIp}`,
      `MY_DB_PORT_53_UDP_PORT=53`,
      `MY_DB_PORT_53_UDP_PROTO=udp`,
      `MY_DB_PORT_5432_TCP=tcp://${dbIp}:5432`,
      `MY_DB_PORT_5432_TCP_ADDR=${dbIp}`,
      `MY_DB_PORT_5432_TCP_PORT=5432`,
      `MY_DB_PORT_5432_TCP_PROTO=tcp`,
    ], 'the variables dockerd sets (HOME and PATH not copied)');
    t.match(hosts, `${dbIp}\tmy-db ${dbHost} ${db}\n`, 'hosts entry: alias, hostname, name');
    t.same(JSON.parse(await ok('inspect', '-f', '{{json .HostConfig.Links}}', web)), [`/${db}:/${web}/my-db`], 'stored as dockerd stores it');
    t.equal((await docker(['rm', '--link', `/${web}/my-db`])).code, 0, 'docker rm --link');
    t.equal((await ok('inspect', '-f', '{{json .HostConfig.Links}}', web)).trim(), 'null', 'link removed, container kept');
    const again = await docker(['rm', '--link', `/${web}/my-db`]);
    t.match(again.err, 'No such container', 'removing it twice: not found');
    const missing = await docker(['run', '--rm', '--link', 'nosuch-container:x', 'busybox:fixture', 'true']);
    t.match(missing.err, 'could not get container for nosuch-container');
    await ok('stop', '-t', '0', db);
    const stopped = await docker(['run', '--rm', '--link', db, 'busybox:fixture', 'true']);
    t.match(stopped.err, `Cannot link to a non running container: /${db} AS`);
  });
});
