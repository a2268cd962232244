import t from 'tap';
import { fromDockerNetworkCreate, fromDockerPortBindings, parseUntil, toDockerEndpointSettings, toDockerPorts } from '../../../api/translate/network.js';
import type { Endpoint } from '../../../netctl/index.js';

t.test('port bindings both ways', async (t) => {
  t.same(fromDockerPortBindings({ '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }], '443/tcp': null }), [
    { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 },
    { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 0 },
    { containerPort: 443, protocol: 'tcp', hostIp: '', hostPort: 0 },
  ]);
  t.same(fromDockerPortBindings(null), []);
  t.throws(() => fromDockerPortBindings({ 'x/tcp': [{}] }));
  t.same(toDockerPorts([{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 }], ['80/tcp', '9000/udp']), {
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }],
    '9000/udp': null,
  });
});

t.test('create body and endpoint settings', async (t) => {
  t.same(fromDockerNetworkCreate({ Name: 'n', Driver: '', IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/24' }] }, Labels: { a: 1 } }), {
    name: 'n',
    driver: 'bridge',
    internal: false,
    labels: { a: '1' },
    options: {},
    subnet: '10.1.0.0/24',
  });
  t.throws(() => fromDockerNetworkCreate({ Name: 'n', IPAM: { Config: [{ Subnet: '10.1.0.0/24' }, { Subnet: '10.2.0.0/24' }] } }), { kind: 'not-implemented', message: /./ });
  const ep: Endpoint = {
    endpointId: 'e', containerId: 'c'.repeat(64), containerName: 'web', networkId: 'n', networkName: 'app', ip: '10.1.0.2', prefixLen: 24,
    gateway: '10.1.0.1', mac: '02:42:0a:01:00:02', aliases: ['w'], hostname: 'web', ifname: 'eth0', hostVeth: 'v', ports: [],
  };
  t.match(toDockerEndpointSettings(ep), { IPAddress: '10.1.0.2', IPPrefixLen: 24, Gateway: '10.1.0.1', MacAddress: '02:42:0a:01:00:02', NetworkID: 'n', EndpointID: 'e', Aliases: ['w'], DNSNames: ['web', 'w', 'c'.repeat(12)] });
  t.equal(toDockerEndpointSettings({ ...ep, networkName: 'bridge' }).DNSNames, null);
});

t.test('until', async (t) => {
  t.equal(parseUntil('10', 0), 10_000);
  t.equal(parseUntil('1h30m', 10_000_000), 10_000_000 - 5_400_000);
  t.equal(parseUntil('2026-01-01T00:00:00Z'), Date.parse('2026-01-01T00:00:00Z'));
  t.throws(() => parseUntil('soon'));
});
