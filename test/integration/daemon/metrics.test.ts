// GET /metrics on the API socket and on --metrics-addr: Prometheus text that a
// parser takes, with figures that match what happened (starts, exits by code,
// an OOM kill, API requests by route and status) and the cgroup files.
import t from 'tap';
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseMetrics, sample } from '../../helpers/metrics.js';
import { startDaemon, tsctlMain } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { freePort } from '../../fixtures/registry.js';

const run = promisify(execFile);

t.test('metrics', privilegedOpts(), async (t) => {
  const port = await freePort();
  const d = await startDaemon(t, ['--metrics-addr', `127.0.0.1:${port}`]);
  await run('docker', ['load', '-i', (await busyboxSaveTar()).path], { env: d.dockerEnv });
  const env = { ...process.env, TSD_HOST: `unix://${d.socket}` };
  const tsctl = (...args: string[]): Promise<{ code?: number; stdout: string }> => run(process.execPath, [tsctlMain, ...args], { env }).catch((e) => e as { code: number; stdout: string });

  await tsctl('run', '--rm', 'busybox:fixture', 'true');
  t.equal((await tsctl('run', 'busybox:fixture', 'sh', '-c', 'exit 3')).code, 3);
  t.equal((await tsctl('run', '-m', '48m', '--memory-swap', '48m', 'busybox:fixture', 'tail', '/dev/zero')).code, 137);
  const upId = (await tsctl('run', '-d', '--name', 'up', '-m', '64m', 'busybox:fixture', 'sh', '-c', 'while :; do :; done')).stdout.trim();
  t.equal((await d.request('GET', '/containers/nope/json')).status, 404);

  const res = await d.request('GET', '/metrics');
  t.equal(res.status, 200);
  t.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const m = parseMetrics(res.text);
  t.equal(sample(m, 'tsd_containers', { state: 'running' }), 1);
  t.equal(sample(m, 'tsd_containers', { state: 'exited' }), 2);
  t.equal(sample(m, 'tsd_container_starts_total'), 4);
  t.equal(m.get('tsd_container_start_duration_seconds')?.type, 'HISTOGRAM');
  t.equal(sample(m, 'tsd_container_start_duration_seconds'), 4, 'one observation per start');
  t.equal(sample(m, 'tsd_container_exits_total', { code: '3' }), 1);
  t.equal(sample(m, 'tsd_container_exits_total', { code: '137' }), 1);
  t.equal(sample(m, 'tsd_container_exits_total', { code: '0' }), 1);
  t.equal(sample(m, 'tsd_container_oom_kills_total'), 1);
  t.equal(sample(m, 'tsd_api_requests_total', { route: '/containers/:id/json', method: 'GET', status: '404' }), 1);
  t.ok(sample(m, 'tsd_api_requests_total', { route: '/containers/create', method: 'POST', status: '201' })! >= 4);
  t.ok(sample(m, 'tsd_api_request_duration_seconds', { route: '/containers/:id/start', method: 'POST' })! >= 4);
  t.ok(m.has('tsd_nodejs_eventloop_lag_seconds'), 'event-loop lag');
  t.equal(sample(m, 'tsd_image_pulls_total'), 0);

  // per container, against the cgroup files
  const l = { id: upId, name: 'up', image: 'busybox:fixture' };
  const cg = (ctl: string, file: string) => fs.readFileSync(`/sys/fs/cgroup/${ctl}/${d.cgroupParent}/${upId}/${file}`, 'utf8').trim();
  t.equal(sample(m, 'tsd_container_memory_limit_bytes', l), Number(cg('memory', 'memory.limit_in_bytes')));
  t.equal(sample(m, 'tsd_container_memory_limit_bytes', l), 64 << 20);
  t.ok(Math.abs(sample(m, 'tsd_container_memory_bytes', l)! - Number(cg('memory', 'memory.usage_in_bytes'))) < 4 << 20, 'memory usage as memory.usage_in_bytes');
  t.equal(sample(m, 'tsd_container_pids', l), Number(cg('pids', 'pids.current')));
  t.equal(sample(m, 'tsd_container_cgroup_oom_kills', l), Number(/oom_kill (\d+)/.exec(cg('memory', 'memory.oom_control'))![1]));
  const cpu = sample(m, 'tsd_container_cpu_seconds_total', l)!;
  t.ok(cpu > 0 && cpu <= Number(cg('cpuacct', 'cpuacct.usage')) / 1e9, `cpu ${cpu} s, no more than cpuacct.usage now`);
  t.ok(sample(m, 'tsd_container_network_receive_bytes_total', { ...l, interface: 'eth0' })! >= 0, 'network by interface');
  t.notOk(m.get('tsd_container_pids')?.metrics.some((x) => x.labels?.state), 'only running containers');

  // the same registry on TCP; only /metrics there
  const tcp = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(tcp.status, 200);
  const m2 = parseMetrics(await tcp.text());
  t.equal(sample(m2, 'tsd_container_starts_total'), 4);
  t.equal((await fetch(`http://127.0.0.1:${port}/containers/json`)).status, 404, 'the API is not on the metrics port');
  await tsctl('rm', '-f', 'up');
});
