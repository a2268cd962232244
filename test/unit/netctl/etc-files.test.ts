import t from 'tap';
import { HOSTS_MARKER, parseExtraHosts, renderHostsHead, renderHostsTail, renderResolvConf, replaceHostsTail } from '../../../netctl/etc-files.js';

t.test('hosts rendering', async (t) => {
  const head = renderHostsHead(parseExtraHosts(['db:10.0.0.5', 'v6:[::1]', 'gw:host-gateway']));
  t.match(head, /^127\.0\.0\.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n/);
  t.match(head, '10.0.0.5\tdb\n');
  t.match(head, '::1\tv6\n');
  t.ok(head.endsWith(HOSTS_MARKER + '\n'));
  const tail = renderHostsTail([
    { ip: '10.1.0.2', names: ['web.example.com', 'web'] },
    { ip: '10.1.0.3', names: ['db', 'database', '', 'db'] },
    { ip: '10.1.0.3', names: ['db', 'database'] },
    { ip: '', names: ['x'] },
  ]);
  t.equal(tail, '10.1.0.2\tweb.example.com web\n10.1.0.3\tdb database\n', 'dedup, empty names and ips dropped');
  const full = head + tail;
  const next = replaceHostsTail(full, '10.1.0.9\tnew\n');
  t.equal(next, head + '10.1.0.9\tnew\n', 'tail replaced, head kept');
  t.equal(replaceHostsTail('1.2.3.4 x', ''), `1.2.3.4 x\n${HOSTS_MARKER}\n`, 'marker added to a file without one');
  t.throws(() => parseExtraHosts(['nocolon']), { kind: 'invalid-parameter', message: /./ });
  t.throws(() => parseExtraHosts(['a:not an ip']), { kind: 'invalid-parameter', message: /./ });
});

t.test('resolv.conf follows Docker', async (t) => {
  const host = '# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nsearch corp.example\noptions edns0 trust-ad\n';
  t.equal(renderResolvConf(host, {}), 'nameserver 10.0.0.2\nsearch corp.example\noptions edns0 trust-ad\n', 'localhost nameservers dropped');
  t.equal(renderResolvConf('nameserver 127.0.0.53\n', {}), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n', 'fallback to public DNS');
  t.equal(renderResolvConf('', {}), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n', 'empty host file');
  t.equal(
    renderResolvConf(host, { dns: ['1.1.1.1'], dnsSearch: ['a.test', 'b.test'], dnsOptions: ['ndots:2'] }),
    'nameserver 1.1.1.1\nsearch a.test b.test\noptions ndots:2\n',
    'overrides replace each part',
  );
  t.equal(renderResolvConf(host, { dnsSearch: ['.'] }), 'nameserver 10.0.0.2\noptions edns0 trust-ad\n', "search '.' clears the search list");
});
