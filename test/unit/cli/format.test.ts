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
  t.throws(() => compileTemplate('{{define "x"}}{{end}}'), /not supported/);
  t.throws(() => compileTemplate('{{range .X}}'), /\{\{end\}\} is missing/);
  t.throws(() => compileTemplate('{{end}}'), /unexpected \{\{end\}\}/);
  t.throws(() => compileTemplate('{{nope .X}}').render(row), /function "nope" not defined/);
  t.throws(() => compileTemplate('{{$x.A}}').render(row), /undefined variable "\$x"/);
});

t.test('templates: Go text/template control structures, variables and functions', async (t) => {
  // the shape of GET /containers/{id}/primitives, as tsctl explain --format sees it
  const p = {
    name: 'web', state: 'running', verdicts: [] as string[],
    namespaces: [{ type: 'pid', inode: 4026532001, sharing: 'private' }, { type: 'net', inode: 4026531992, sharing: 'container', with: 'db' }, { type: 'user', inode: 4026531837, sharing: 'host' }],
    cgroup: { memory: { limit: 50331648, peak: null, oomKills: 2 }, cpu: { quotaUsec: 20000, periodUsec: 100000 } },
    labels: { b: '2', a: '1' },
  };
  const r = (f: string, v: unknown = p) => compileTemplate(f).render(v);
  t.equal(r('{{range .namespaces}}{{.type}}={{.inode}} {{end}}'), 'pid=4026532001 net=4026531992 user=4026531837 ');
  t.equal(r('{{range $i, $n := .namespaces}}{{if $i}},{{end}}{{$i}}:{{$n.type}}{{end}}'), '0:pid,1:net,2:user');
  t.equal(r('{{range .namespaces}}{{if eq .sharing "host"}}{{.type}} shared with the host{{else if eq .sharing "container"}}{{.type}} shared with {{.with}}{{else}}{{.type}} its own{{end}};{{end}}'),
    'pid its own;net shared with db;user shared with the host;');
  t.equal(r('{{range .verdicts}}!! {{.}}{{else}}nothing wrong{{end}}'), 'nothing wrong');
  t.equal(r('{{with .cgroup.memory}}{{.limit}} {{$.name}}{{end}}|{{with .cgroup.memory.peak}}{{.}}{{else}}no peak{{end}}'), '50331648 web|no peak');
  t.equal(r('{{range $k, $v := .labels}}{{$k}}={{$v}} {{end}}'), 'a=1 b=2 ', 'maps in key order, as Go');
  t.equal(r('{{$q := .cgroup.cpu.quotaUsec}}{{if and $q (gt .cgroup.memory.oomKills 1)}}{{printf "%d/%d %s %5.1f%%" $q .cgroup.cpu.periodUsec (upper .state) 12.345}}{{end}}'), '20000/100000 RUNNING  12.3%');
  t.equal(r('{{if not .verdicts}}ok{{end}} {{len .namespaces | printf "%03d"}} {{or .missing "dflt"}} {{index .namespaces 1 "with"}}'), 'ok 003 dflt db');
  t.equal(r('{{(index .namespaces 0).type}}'.replace('(index .namespaces 0).type', 'index (index .namespaces 0) "type"')), 'pid');
  t.equal(r('a  {{- .name -}}  b\n{{- /* a comment */ -}}\nc'), 'awebbc', 'trim markers and comments');
  t.equal(r('{{join (split "a:b:c" ":") "-"}} {{lt 1 2}} {{ne .state "exited"}} {{truncate .name 2}}'), 'a-b-c true true we');
  t.equal(r('{{range 3}}{{.}}{{end}}'), '012');
  t.equal(r('{{.labels}}'), 'map[a:1 b:2]');
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
