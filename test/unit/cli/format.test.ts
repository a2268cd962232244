// tsctl's client-side translation: --format templates, -p/--mount/size parsing, the create body, docker's exit statuses.
import t from 'tap';
import { compileTemplate, parseBytes, parseDurationNs, table, humanSize, bytesSize, filtersJson } from '../../../cli/format.js';
import { parsePublish, parseMount, createBody } from '../../../cli/run-options.js';
import { startErrorStatus } from '../../../cli/containers.js';
import { dockerBar } from '../../../cli/progress.js';
import { resolveHost } from '../../../cli/client.js';

t.test('templates', async (t) => {
  const row = { ID: 'abc', Names: 'web', Labels: { a: 'b' }, Cmd: ['sh', '-c'], State: { Pid: 42 } };
  t.equal(compileTemplate('{{.ID}} {{.Names}}').render(row), 'abc web');
  t.equal(compileTemplate('{{.State.Pid}}').render(row), '42');
  t.equal(compileTemplate('{{json .Cmd}}').render(row), '["sh","-c"]');
  t.equal(compileTemplate('{{.Cmd | json}}').render(row), '["sh","-c"]');
  t.equal(compileTemplate('{{index .Labels "a"}}|{{join .Cmd ","}}|{{upper .Names}}|{{len .Cmd}}').render(row), 'b|sh,-c|WEB|2');
  t.equal(compileTemplate('json').render({ a: 1 }), '{"a":1}');
  t.equal(compileTemplate('{{.Missing}}').render(row), '<no value>');
  const tt = compileTemplate('table {{.ID}}\\t{{.Names}}');
  t.ok(tt.table);
  t.equal(tt.header, 'CONTAINER ID\tNAMES');
  t.throws(() => compileTemplate('{{range .X}}{{end}}'), /not supported/);
  t.equal(table([['A', 'LONGER'], ['xx', 'y']]), 'A    LONGER\nxx   y\n');
});

t.test('sizes, durations, filters, hosts', async (t) => {
  t.equal(parseBytes('48m', '-m'), 48 << 20);
  t.equal(parseBytes('1g', '-m'), 1 << 30);
  t.equal(parseBytes('512', '-m'), 512);
  t.equal(parseBytes('-1', '--memory-swap'), -1);
  t.throws(() => parseBytes('lots', '-m'), /invalid argument "lots" for "-m" flag/);
  t.equal(parseDurationNs('1m30s', 'x'), 90e9);
  t.equal(parseDurationNs('500ms', 'x'), 5e8);
  t.throws(() => parseDurationNs('5', 'x'));
  t.equal(humanSize(2_140_000), '2.14MB');
  t.equal(bytesSize(48 << 20), '48MiB');
  t.equal(filtersJson(['label=a=b', 'status=exited', 'status=created']), '{"label":{"a=b":true},"status":{"exited":true,"created":true}}');
  t.same(resolveHost(undefined, { DOCKER_HOST: 'unix:///d.sock' }), { url: 'http://localhost', socketPath: '/d.sock', display: 'unix:///d.sock' });
  t.equal(resolveHost(undefined, { TSD_HOST: 'unix:///t.sock', DOCKER_HOST: 'unix:///d.sock' }).socketPath, '/t.sock');
  t.equal(resolveHost('unix:///h.sock', { TSD_HOST: 'unix:///t.sock' }).socketPath, '/h.sock');
  t.equal(resolveHost('tcp://127.0.0.1:2375', {}).url, 'http://127.0.0.1:2375');
});

t.test('-p and --mount as docker parses them', async (t) => {
  t.same(parsePublish(['8080:80']).bindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
  t.same(parsePublish(['127.0.0.1:53:53/udp']).bindings, { '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }] });
  t.same(parsePublish(['80']).bindings, { '80/tcp': [{ HostIp: '', HostPort: '' }] });
  t.same(Object.keys(parsePublish(['7000-7002:8000-8002']).bindings), ['8000/tcp', '8001/tcp', '8002/tcp']);
  t.equal(parsePublish(['7000-7002:8000-8002']).bindings['8002/tcp']![0]!.HostPort, '7002');
  t.same(parseMount('type=bind,source=/a,target=/b,readonly'), { Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true });
  t.same(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1 << 20 } });
  t.throws(() => parseMount('type=bind,source=/a'), /target is required/);
});

t.test('the create body', async (t) => {
  const { name, body } = createBody('busybox', ['sh'], {
    name: 'x', interactive: true, tty: true, env: ['A=1'], memory: '48m', cpus: '0.2', pidsLimit: '10', volume: ['/data', '/h:/c:ro'],
    restart: 'on-failure:3', capAdd: ['NET_ADMIN'], network: 'mynet', networkAlias: ['web'], healthCmd: 'true', healthInterval: '2s',
  });
  const h = body.HostConfig as Record<string, unknown>;
  t.equal(name, 'x');
  t.equal(body.OpenStdin, true);
  t.equal(body.AttachStdin, true);
  t.equal(body.StdinOnce, true);
  t.same(body.Volumes, { '/data': {} });
  t.same(h.Binds, ['/h:/c:ro']);
  t.equal(h.Memory, 48 << 20);
  t.equal(h.NanoCpus, 2e8);
  t.equal(h.PidsLimit, 10);
  t.same(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  t.same((body.NetworkingConfig as { EndpointsConfig: unknown }).EndpointsConfig, { mynet: { Aliases: ['web'] } });
  t.same(body.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 2e9 });
  const detached = createBody('busybox', [], { detach: true, interactive: true });
  t.equal(detached.body.AttachStdin, false);
  t.equal(detached.body.Cmd, null);
});

t.test('exit statuses and bars', async (t) => {
  t.equal(startErrorStatus('exec: "nope": executable file not found in $PATH'), 127);
  t.equal(startErrorStatus('exec: "/etc": permission denied'), 126);
  t.equal(startErrorStatus('cgroup: write failed'), 125);
  t.equal(dockerBar(50, 100, 10), '[=====>    ]      50B/100B');
  t.equal(dockerBar(100, 100, 10), '[==========]     100B/100B');
});
