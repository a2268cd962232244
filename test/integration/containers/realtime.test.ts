// Real-time group scheduling on cgroup v1 (HostConfig.CpuRealtimePeriod/Runtime,
// `docker run --cpu-rt-runtime`): the daemon's --cpu-rt-runtime grants the parent
// cgroups a budget (moby initCPURtController), containers get theirs within it,
// docker update changes it, and more than the parent grants is the kernel's EINVAL.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { containerEnv, containerOpts } from './helpers.js';

const opts = containerOpts();
const rtFile = '/sys/fs/cgroup/cpu/cpu.rt_runtime_us';
if (!opts.skip && !fs.existsSync(rtFile)) opts.skip = 'no cgroup v1 real-time group scheduling here';

t.test('cpu real-time scheduling', opts, async (t) => {
  const e = await containerEnv(t, ['--cpu-rt-runtime', '20000']);
  const { docker, ok, d } = e;
  const ids: string[] = [];
  t.teardown(async () => { if (ids.length) await docker(['rm', '-f', ...ids]); });
  const cg = (id: string, f: string) => fs.readFileSync(path.join('/sys/fs/cgroup/cpu', d.cgroupParent, id, f), 'utf8').trim();

  t.equal(fs.readFileSync(path.join('/sys/fs/cgroup/cpu', d.cgroupParent, 'cpu.rt_runtime_us'), 'utf8').trim(), '0', 'no budget before a container needs it');
  const id = (await ok('run', '-d', '--cpu-rt-period', '500000', '--cpu-rt-runtime', '8000', 'busybox:fixture', 'sleep', '60')).trim();
  ids.push(id);
  t.equal(fs.readFileSync(path.join('/sys/fs/cgroup/cpu', d.cgroupParent, 'cpu.rt_runtime_us'), 'utf8').trim(), '20000', 'the parent got the daemon\'s budget');
  t.same([cg(id, 'cpu.rt_period_us'), cg(id, 'cpu.rt_runtime_us')], ['500000', '8000'], 'the container\'s cgroup');
  t.equal((await ok('exec', id, 'cat', '/sys/fs/cgroup/cpu/cpu.rt_runtime_us')).trim(), '8000', 'seen inside, through its cgroup namespace');
  const hc = JSON.parse(await ok('inspect', id))[0].HostConfig;
  t.same([hc.CpuRealtimePeriod, hc.CpuRealtimeRuntime], [500000, 8000]);

  await ok('update', '--cpu-rt-runtime', '4000', id);
  t.equal(cg(id, 'cpu.rt_runtime_us'), '4000', 'docker update');
  t.equal(JSON.parse(await ok('inspect', id))[0].HostConfig.CpuRealtimeRuntime, 4000);

  const greedy = await docker(['run', '--rm', '--cpu-rt-runtime', '30000', 'busybox:fixture', 'true']);
  t.not(greedy.code, 0);
  t.match(greedy.err, /cpu\.rt_runtime_us: invalid argument \(more real-time runtime than the parent cgroup grants/, 'more than the budget: the kernel refuses it, said plainly');
  const bad = await docker(['run', '--rm', '--cpu-rt-period', '1000', '--cpu-rt-runtime', '2000', 'busybox:fixture', 'true']);
  t.match(bad.err, /cpu real-time runtime cannot be higher than cpu real-time period/);
});
