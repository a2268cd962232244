// The one query parser (moby httputils) and the one body decoder (Go's
// encoding/json field matching), and the swarm routes of a non-swarm node.
import t from 'tap';
import * as qp from '../../../api/translate/query.js';
import * as B from '../../../api/translate/body.js';
import { fromDockerCreate } from '../../../api/translate/container.js';
import { buildServer } from '../../../api/server.js';
import { EventBus } from '../../../daemon/events.js';
import { SystemService } from '../../../daemon/system.js';
import { defaults } from '../../../daemon/config.js';
import { openDatabase } from '../../../store/index.js';

t.test('booleans as httputils.BoolValue', async (t) => {
  for (const v of ['1', 'true', 'True', 'TRUE', 'yes', '2', ' on ']) t.equal(qp.bool({ x: v }, 'x'), true, v);
  for (const v of ['', '0', 'false', 'False', 'no', 'none', ' 0 ']) t.equal(qp.bool({ x: v }, 'x'), false, JSON.stringify(v));
  t.equal(qp.bool({}, 'x'), false, 'absent');
  t.equal(qp.boolOr({}, 'stream', true), true, 'absent: the default');
  t.equal(qp.boolOr({ stream: '' }, 'stream', true), false, 'present but empty: false');
  t.equal(qp.bool({ x: ['0', '1'] }, 'x'), false, 'repeated: the first value counts (FormValue)');
  t.equal(qp.bool(new URLSearchParams('x=1&x=0'), 'x'), true, 'URLSearchParams too');
});

t.test('numbers and tail', async (t) => {
  t.equal(qp.int({ n: '12' }, 'n', 5), 12);
  t.equal(qp.int({ n: '' }, 'n', 5), 5);
  t.equal(qp.int({}, 'n', 5), 5);
  t.throws(() => qp.int({ n: '1.5' }, 'n', 0), /strconv.ParseInt: parsing "1.5": invalid syntax/);
  t.equal(qp.intOrZero({ n: 'x' }, 'n'), 0);
  t.equal(qp.atoi({ t: '-1' }, 't'), -1);
  t.throws(() => qp.atoi({ t: 'ten' }, 't'), /strconv.Atoi: parsing "ten": invalid syntax/);
  for (const v of ['all', '', '-1', '-20', 'garbage']) t.equal(qp.tail({ tail: v }), 'all', `tail=${v}`);
  t.equal(qp.tail({}), 'all');
  t.equal(qp.tail({ tail: '0' }), 0);
  t.equal(qp.tail({ tail: '3' }), 3);
});

t.test('filters: map of bools, legacy lists, empty', async (t) => {
  t.same(qp.filters({ filters: '{"label":{"a=b":true,"c":true}}' }), { label: ['a=b', 'c'] });
  t.same(qp.filters({ filters: '{"label":{"a=b":false}}' }), { label: ['a=b'] }, 'every key counts, as Args.Get');
  t.same(qp.filters({ filters: '{"label":["a=b","c"],"status":["exited"]}' }), { label: ['a=b', 'c'], status: ['exited'] });
  t.same(qp.filters({ filters: '' }), {});
  t.same(qp.filters({ filters: 'null' }), {});
  t.same(qp.filters({}), {});
  t.throws(() => qp.filters({ filters: '{"label":"a"}' }), /invalid filter/);
  t.throws(() => qp.filters({ filters: '{"label":[1]}' }), /invalid filter/);
  t.throws(() => qp.filters({ filters: '{bad' }), /invalid filter/);
});

t.test('bodies: exact field names first, then case-insensitive, unknown keys dropped', async (t) => {
  const d = B.decodeBody({ detachKeys: 'ctrl-a', cmd: ['sh'], AttachStdout: true, Bogus: 1 }, B.ExecCreate);
  t.same(d, { DetachKeys: 'ctrl-a', Cmd: ['sh'], AttachStdout: true });
  const h = B.decodeBody({ HostConfig: { CPURealtimePeriod: 1000, cpushares: 512, Memory: 1 << 30 } }, B.ContainerCreate).HostConfig as Record<string, unknown>;
  t.same(h, { CpuRealtimePeriod: 1000, CpuShares: 512, Memory: 1 << 30 });
  t.same(B.decodeBody({ Tty: false, tty: true }, B.ExecStart), { Tty: true }, 'the later key wins, as Go decodes in order');
  // map keys are data: labels, sysctls, endpoints keep their spelling; nested structs are decoded
  const c = B.decodeBody({
    image: 'busybox', labels: { 'Com.Example': 'x' }, hostconfig: { annotations: { 'Org.Key': '1' }, restartpolicy: { name: 'always' } },
    networkingconfig: { endpointsconfig: { MyNet: { aliases: ['a'], ipamconfig: { ipv4address: '10.0.0.2' } } } },
  }, B.ContainerCreate);
  t.same(c, {
    Image: 'busybox', Labels: { 'Com.Example': 'x' }, HostConfig: { Annotations: { 'Org.Key': '1' }, RestartPolicy: { Name: 'always' } },
    NetworkingConfig: { EndpointsConfig: { MyNet: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.0.0.2' } } } },
  });
  const create = fromDockerCreate(c);
  t.equal(create.hostConfig.RestartPolicy.Name, 'always');
  t.same(create.config.Labels, { 'Com.Example': 'x' });
  t.same(B.decodeBody(undefined, B.ExecStart), {});
});

t.test('Runtime and Isolation are echoed as asked; others are refused', async (t) => {
  const hc = (h: object) => fromDockerCreate({ Image: 'busybox', HostConfig: h }).hostConfig;
  t.equal(hc({ Runtime: 'runc' }).Runtime, 'runc');
  t.equal(hc({}).Runtime, 'tsd');
  t.equal(hc({ Isolation: 'default' }).Isolation, 'default');
  t.equal(hc({}).Isolation, '');
  t.throws(() => hc({ Runtime: 'kata' }), /Unknown runtime specified kata/);
  t.throws(() => hc({ Isolation: 'process' }), /Invalid isolation: "process" - linux only supports 'default'/);
});

t.test('swarm endpoints answer 503 as a non-swarm dockerd', async (t) => {
  const db = openDatabase(':memory:');
  const config = { ...defaults, dataRoot: '/tmp/tsd-unit' };
  const a = await buildServer({ config, events: new EventBus(), system: new SystemService(db, config, 'id', '1'), onShutdown: () => () => {} });
  t.teardown(async () => { await a.close(); db.close(); });
  const manager = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
  for (const [method, url, msg] of [
    ['GET', '/v1.41/swarm', manager], ['POST', '/swarm/leave', 'This node is not part of a swarm'], ['GET', '/nodes', manager],
    ['GET', '/services/x', manager], ['GET', '/tasks', manager], ['GET', '/secrets', manager], ['DELETE', '/configs/x', manager],
    ['POST', '/swarm/update?version=1', manager], ['POST', '/swarm/unlock', manager],
  ] as const) {
    const r = await a.inject({ method, url });
    t.equal(r.statusCode, 503, `${method} ${url}`);
    t.equal(JSON.parse(r.body).message, msg, `${method} ${url}`);
    t.equal(r.headers['content-type'], 'application/json');
  }
  const init = await a.inject({ method: 'POST', url: '/swarm/init', payload: {} });
  t.equal(init.statusCode, 503);
  const plugins = await a.inject({ method: 'GET', url: '/plugins' });
  t.same(JSON.parse(plugins.body), []);
  const info = JSON.parse((await a.inject({ method: 'GET', url: '/info' })).body);
  t.equal(info.Swarm.LocalNodeState, 'inactive');
  t.ok(info.Runtimes.runc && info.Runtimes.tsd, 'runc and tsd listed');
});

t.test('fields that would be ignored are refused with a clear 400', async (t) => {
  const hc = (h: object) => fromDockerCreate({ Image: 'busybox', HostConfig: h }).hostConfig;
  t.same(hc({ Sysctls: { 'net.ipv4.ip_forward': '1' } }).Sysctls, { 'net.ipv4.ip_forward': '1' }, 'Sysctls stored (checked against the namespaces at start, as runc)');
  t.throws(() => hc({ Sysctls: { 'net.ipv4.ip_forward': 1 } }), /Sysctls/, 'values are strings');
  t.same(hc({ Sysctls: {} }).Sysctls, {}, 'an empty map is fine');
  t.same(hc({ MaskedPaths: [] }).MaskedPaths, [], '[] kept: no masked paths (systempaths=unconfined)');
  t.same(hc({ ReadonlyPaths: ['/proc/sys'] }).ReadonlyPaths, ['/proc/sys']);
  t.equal(hc({ MaskedPaths: null }).MaskedPaths, undefined, 'null: the defaults, filled at create');
  t.equal(hc({ LogConfig: { Type: 'json-file', Config: { compress: 'true', 'max-file': '2', 'max-size': '1m' } } }).LogConfig.Config.compress, 'true', 'compress works now');
  t.throws(() => hc({ OomScoreAdj: 1001 }), /range for oom score adj is \[-1000, 1000\]/);
  t.equal(hc({ OomScoreAdj: -998 }).OomScoreAdj, -998);
});

t.test('HostConfig fields dropped or parsed with the sweep', async (t) => {
  const r = fromDockerCreate({ Image: 'busybox', HostConfig: { KernelMemory: 1 << 20, CpuPercent: 30, CpuCount: 2, StorageOpt: { size: '1G' }, Annotations: { a: 'b' }, DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] } });
  t.notOk('KernelMemory' in r.hostConfig, 'not stored');
  t.equal(r.hostConfig.CpuPercent, 0, 'discarded');
  t.equal(r.hostConfig.CpuCount, 2, 'kept, as moby');
  t.same(r.warnings, ['linux does not support CPU percent. Percent discarded.', 'linux does not support CPU count. Count ignored.', 'KernelMemory is ignored: kernel memory limits are deprecated and not supported (removed from the Docker API)']);
  t.same(r.hostConfig.StorageOpt, { size: '1G' });
  t.same(r.hostConfig.Annotations, { a: 'b' });
  t.same(r.hostConfig.DeviceRequests, [{ Driver: '', Count: -1, DeviceIDs: null, Capabilities: [['gpu']], Options: null }]);
  t.throws(() => fromDockerCreate({ Image: 'busybox', HostConfig: { DeviceRequests: [{ Capabilities: 'gpu' }] } }), /cannot unmarshal/);
  t.throws(() => fromDockerCreate({ Image: 'busybox', HostConfig: { Annotations: { a: 1 } } }), /cannot unmarshal/);
});
