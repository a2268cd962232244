import t from 'tap';
import { fromDockerCreate, normalizePort, parseBind, validateName, validateRestartPolicy, statusString, toDockerListEntry, commandString } from '../../../api/translate/container.js';
import { mergeImageConfig } from '../../../daemon/containers/plan.js';
import { signalNumber } from '../../../daemon/containers/signals.js';
import type { Container } from '../../../daemon/containers/types.js';

t.test('create body: defaults, normalisation and Docker errors', async (t) => {
  const r = fromDockerCreate({ Image: 'busybox', Cmd: ['echo', 'hi'], ExposedPorts: { '80': {} }, HostConfig: { PortBindings: { '80': [{ HostPort: '8080' }] } } });
  t.same(r.config.Cmd, ['echo', 'hi']);
  t.same(r.config.ExposedPorts, { '80/tcp': {} });
  t.same(r.hostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
  t.equal(r.hostConfig.NetworkMode, 'default');
  t.equal(r.hostConfig.ShmSize, 64 * 1024 * 1024);
  t.same(r.hostConfig.RestartPolicy, { Name: '', MaximumRetryCount: 0 });
  t.equal(r.hostConfig.LogConfig.Type, 'json-file');
  t.throws(() => fromDockerCreate({ Image: 'b', Cmd: 'x', HostConfig: { RestartPolicy: { Name: 'bogus' } } }), { message: /invalid restart policy: unknown policy 'bogus'/ });
  t.throws(() => fromDockerCreate({ Image: 'b', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }), { message: "can't create 'AutoRemove' container with restart policy" });
  t.throws(() => fromDockerCreate({ Image: 'b', HostConfig: { PortBindings: { '99999/tcp': [] } } }), { message: 'invalid port specification: "99999/tcp"' });
  t.throws(() => fromDockerCreate({ Image: 'b', WorkingDir: 'rel' }), { message: "the working directory 'rel' is invalid, it needs to be an absolute path" });
  t.throws(() => fromDockerCreate({ Image: 'b', Env: [1] }), /cannot unmarshal/);
  t.throws(() => fromDockerCreate(null), { message: 'config cannot be empty in order to create a container' });
  t.throws(() => fromDockerCreate({ Image: 'b', HostConfig: { Binds: ['vol:/x:zz'] } }), { message: 'invalid mode: zz' });
});

t.test('ports, binds, names, restart policies', async (t) => {
  t.equal(normalizePort('53/udp'), '53/udp');
  t.equal(normalizePort('8000-8010'), '8000-8010/tcp');
  t.throws(() => normalizePort('http'), { message: 'invalid port specification: "http"' });
  t.match(parseBind('/host:/ctr:ro'), { source: '/host', destination: '/ctr', readonly: true, kind: 'bind' });
  t.match(parseBind('vol:/data'), { source: 'vol', kind: 'volume', readonly: false });
  t.match(parseBind('/anon'), { source: '', destination: '/anon', kind: 'volume' }, 'a lone path is an anonymous volume');
  t.throws(() => parseBind('/a:rel'), { message: "invalid volume specification: '/a:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute" });
  t.throws(() => parseBind('/anon:ro'), { message: "invalid volume specification: '/anon:ro'" }, 'volumes cannot include a mode');
  t.throws(() => parseBind('/a:/b:bogus'), { message: 'invalid mode: bogus' });
  t.match(parseBind('/a:/b:ro,rshared'), { readonly: true, propagation: 'rshared' });
  t.throws(() => parseBind('a:b:c:d'), /invalid volume specification/);
  t.throws(() => parseBind('/a:/'), /destination can't be '\/'/);
  t.equal(validateName('/web'), 'web');
  t.throws(() => validateName('bad name'), { message: 'Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed' });
  t.same(validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 2 }, false), { Name: 'on-failure', MaximumRetryCount: 2 });
  t.throws(() => validateRestartPolicy({ Name: 'always', MaximumRetryCount: 2 }, false), /maximum retry count can only be used with 'on-failure'/);
});

t.test('merging with the image config follows dockerd', async (t) => {
  const image = { id: 'sha256:x', layerDirs: [], runConfig: { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], Entrypoint: null, WorkingDir: '/w', User: 'u', Labels: { img: '1' }, ExposedPorts: { '80/tcp': {} } } };
  const m = mergeImageConfig({ Image: 'i', Env: ['A=2', 'B=3'], Labels: { ctr: '2' } }, image);
  t.same(m.Env, ['PATH=/bin', 'A=2', 'B=3']);
  t.same(m.Cmd, ['sh']);
  t.equal(m.WorkingDir, '/w');
  t.equal(m.User, 'u');
  t.same(m.Labels, { img: '1', ctr: '2' });
  t.same(m.ExposedPorts, { '80/tcp': {} });
  const e = mergeImageConfig({ Image: 'i', Entrypoint: ['/bin/echo'] }, image);
  t.same(e.Entrypoint, ['/bin/echo']);
  t.equal(e.Cmd, null, 'an explicit entrypoint drops the image Cmd');
  const c = mergeImageConfig({ Image: 'i', Cmd: ['true'] }, image);
  t.same(c.Cmd, ['true']);
});

t.test('signals by name and number', async (t) => {
  t.equal(signalNumber('KILL'), 9);
  t.equal(signalNumber('SIGTERM'), 15);
  t.equal(signalNumber('usr1'), 10);
  t.equal(signalNumber('9'), 9);
  t.equal(signalNumber('SIGRTMIN+3'), 37);
  t.throws(() => signalNumber('NOPE'), { message: 'Invalid signal: NOPE' });
  t.throws(() => signalNumber('99'), { message: 'Invalid signal: 99' });
});

t.test('ps status strings and list entries', async (t) => {
  const now = Date.now();
  const base = {
    id: 'a'.repeat(64), name: 'n', imageId: 'sha256:i', imageRef: 'busybox', createdAt: new Date(now - 5000).toISOString(), state: 'running', pid: 5,
    pidStart: '', exitCode: 0, oomKilled: false, error: '', startedAt: new Date(now - 3000).toISOString(), finishedAt: '0001-01-01T00:00:00Z', restartCount: 0,
    config: { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 5'], Entrypoint: null, Labels: { a: 'b' }, ExposedPorts: { '80/tcp': {} } },
    hostConfig: { NetworkMode: 'default' },
    runtime: { networks: {}, ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] }, mounts: [] },
  } as unknown as Container;
  t.equal(statusString(base), 'Up 3 seconds');
  t.equal(statusString({ ...base, state: 'paused' }), 'Up 3 seconds (Paused)');
  t.equal(statusString({ ...base, state: 'exited', exitCode: 3, finishedAt: new Date(now - 120_000).toISOString() }), 'Exited (3) 2 minutes ago');
  t.equal(statusString({ ...base, state: 'created' }), 'Created');
  t.equal(commandString(base), "sh -c 'sleep 5'");
  const e = toDockerListEntry(base);
  t.same(e.Names, ['/n']);
  t.same(e.Ports, [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }]);
  t.equal(e.State, 'running');
});

t.test('Ulimits follow go-units ParseUlimit (names, -1, soft <= hard)', async (t) => {
  const { parseUlimits } = await import('../../../api/translate/container.js');
  t.equal(parseUlimits(undefined), null);
  t.same(parseUlimits([{ Name: 'nofile', Soft: 1024, Hard: 2048 }]), [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
  t.same(parseUlimits([{ Name: 'core', Soft: -1, Hard: -1 }]), [{ Name: 'core', Soft: -1, Hard: -1 }], 'unlimited');
  t.same(parseUlimits([{ Name: 'stack', Soft: 8192, Hard: -1 }]), [{ Name: 'stack', Soft: 8192, Hard: -1 }], 'soft below an unlimited hard');
  t.throws(() => parseUlimits([{ Name: 'nofile', Soft: -1, Hard: 10 }]), { message: 'ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 10' });
  t.throws(() => parseUlimits([{ Name: 'nofile', Soft: 11, Hard: 10 }]), { message: 'ulimit soft limit must be less than or equal to hard limit: 11 > 10' });
  t.throws(() => parseUlimits([{ Name: 'as', Soft: 1, Hard: 1 }]), { message: 'invalid ulimit type: as' });
  t.throws(() => parseUlimits([{ Name: 'nproc', Soft: 1, Hard: -2 }]), { message: 'invalid ulimit argument: nproc=1:-2' });
  t.throws(() => parseUlimits({}), { message: /cannot unmarshal/ });
});
