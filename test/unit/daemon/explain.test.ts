// The primitives reader's parsers and its cgroup readers pointed at fixture trees (v1 and v2), and the verdicts.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  decodeCaps, parseMountinfo, parseOverlayOptions, parseProcCgroup, parseStatus, securityFromStatus, readCgroupV1, readCgroupV2,
  hostView, parseKmsgOom, parseIpAddr, defaultGateway, verdicts, cpuShare, throttleWindow,
} from '../../../daemon/explain/index.js';
import { parseNetDev } from '../../../daemon/metrics/index.js';

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-explain-unit-'));
  for (const [p, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), body);
  }
  return root;
}

t.test('/proc parsers', async (t) => {
  t.same(decodeCaps('00000000a80425fb'), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
    'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP'], "Docker's default set");
  const s = securityFromStatus(parseStatus('Uid:\t1000\t1000\t1000\t1000\nGid:\t0\t0\t0\t0\nGroups:\t10 20\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n'));
  t.same(s.credentials, { uid: [1000, 1000, 1000, 1000], gid: [0, 0, 0, 0], groups: [10, 20] });
  t.equal(s.noNewPrivs, true);
  t.same(s.seccomp, { mode: 'filter', filters: 1 });
  t.same(s.capabilities.effective, []);
  t.same(parseProcCgroup('12:pids:/tsd/abc\n4:cpu,cpuacct:/tsd/abc\n0::/\n'), { pids: '/tsd/abc', cpu: '/tsd/abc', cpuacct: '/tsd/abc', '': '/' });
  const mi = parseMountinfo('27 1 0:25 / / rw,relatime - overlay overlay rw,lowerdir=/l/b:/l/a,upperdir=/c/upper,workdir=/c/work\n30 27 0:5 /null /proc/kcore rw,nosuid master:1 - tmpfs tmpfs rw\n');
  t.equal(mi[0]!.target, '/');
  t.same(parseOverlayOptions(mi[0]!.superOptions), { lowerdirs: ['/l/b', '/l/a'], upperdir: '/c/upper', workdir: '/c/work' });
  t.equal(mi[1]!.root, '/null');
  t.equal(mi[1]!.propagation, 'master:1');
  const ifs = parseIpAddr(JSON.stringify([{ ifindex: 2, ifname: 'eth0', link_index: 959, address: '02:42:0a:00:00:02', mtu: 1500, operstate: 'UP', addr_info: [{ family: 'inet', local: '10.0.0.2', prefixlen: 24 }] }]));
  t.same(ifs[0], { ifname: 'eth0', ifindex: 2, linkIndex: 959, mac: '02:42:0a:00:00:02', mtu: 1500, state: 'UP', addresses: ['10.0.0.2/24'] });
  t.same(defaultGateway('Iface\tDestination\tGateway\neth0\t00000000\t0100000A\t0003\n'), { gateway: '10.0.0.1', ifname: 'eth0' });
  t.same(parseNetDev('Inter-|\n face |\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1234 5 0 0 0 0 0 0 999 4 0 0 0 0 0 0\n'), { eth0: { rx: 1234, tx: 999 } });
});

t.test('the kernel log names the OOM-killed task of this cgroup only', async (t) => {
  const recs = [
    '6,100,5000000,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=x,mems_allowed=0,oom_memcg=/tsd/abc,task_memcg=/tsd/abc,task=tail,pid=4242,uid=0',
    '6,101,6000000,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=x,mems_allowed=0,oom_memcg=/tsd/other,task_memcg=/tsd/other,task=dd,pid=7,uid=0',
    '4,102,7000000,-;Memory cgroup out of memory: Killed process 4242 (tail)',
  ];
  t.same(parseKmsgOom(recs, 1_000_000, '/tsd/abc'), [{ at: 1_005_000, task: 'tail', pid: 4242, memcg: '/tsd/abc' }]);
});

t.test('cgroup v1 and v2 read from fixture trees', async (t) => {
  const v1 = tree({
    'memory/tsd/c/cgroup.procs': '1\n', 'memory/tsd/c/memory.limit_in_bytes': '50331648\n', 'memory/tsd/c/memory.usage_in_bytes': '1000\n',
    'memory/tsd/c/memory.max_usage_in_bytes': '50331648\n', 'memory/tsd/c/memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'memory/tsd/c/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', 'memory/tsd/c/memory.failcnt': '12\n',
    'cpu/tsd/c/cgroup.procs': '1\n', 'cpu/tsd/c/cpu.cfs_quota_us': '20000\n', 'cpu/tsd/c/cpu.cfs_period_us': '100000\n', 'cpu/tsd/c/cpu.shares': '1024\n',
    'cpu/tsd/c/cpu.stat': 'nr_periods 100\nnr_throttled 60\nthrottled_time 5000000000\n', 'cpuacct/tsd/c/cpuacct.usage': '2000000000\n',
    'pids/tsd/c/cgroup.procs': '1\n', 'pids/tsd/c/pids.max': '10\n', 'pids/tsd/c/pids.current': '10\n', 'pids/tsd/c/pids.events': 'max 4\n',
  });
  t.teardown(() => fs.rmSync(v1, { recursive: true, force: true }));
  const a = readCgroupV1(hostView({ cgroupRoot: v1 }), 'tsd/c');
  t.equal(a.present, true);
  t.same(a.memory, { limit: 50331648, usage: 1000, peak: 50331648, swapLimit: null, high: null, oomKills: 3, failcnt: 12, events: { oom_kill_disable: 0, under_oom: 0, oom_kill: 3 } });
  t.same(a.cpu.stat, { nrPeriods: 100, nrThrottled: 60, throttledUsec: 5000000, usageUsec: 2000000 });
  t.equal(a.cpu.quotaUsec, 20000);
  t.same(a.pids, { limit: 10, current: 10, maxHits: 4 });
  t.equal(a.pressure, null);

  const v2 = tree({
    'tsd/c/cgroup.procs': '1\n', 'tsd/c/cgroup.controllers': 'cpuset cpu io memory pids\n', 'tsd/c/memory.max': '67108864\n', 'tsd/c/memory.current': '67000000\n',
    'tsd/c/memory.peak': '67108864\n', 'tsd/c/memory.high': 'max\n', 'tsd/c/memory.swap.max': '0\n', 'tsd/c/memory.events': 'low 0\nhigh 0\nmax 40\noom 2\noom_kill 2\n',
    'tsd/c/cpu.max': '50000 100000\n', 'tsd/c/cpu.weight': '100\n', 'tsd/c/cpu.stat': 'usage_usec 900000\nnr_periods 50\nnr_throttled 31\nthrottled_usec 400000\n',
    'tsd/c/pids.max': 'max\n', 'tsd/c/pids.current': '3\n', 'tsd/c/pids.events': 'max 0\n',
    'tsd/c/memory.pressure': 'some avg10=42.00 avg60=10.00 avg300=2.00 total=123\nfull avg10=40.00 avg60=9.00 avg300=1.00 total=100\n',
    'tsd/c/cpu.pressure': 'some avg10=0.50 avg60=0.10 avg300=0.00 total=5\n',
  });
  t.teardown(() => fs.rmSync(v2, { recursive: true, force: true }));
  const b = readCgroupV2(hostView({ cgroupRoot: v2 }), 'tsd/c');
  t.same(b.memory, { limit: 67108864, usage: 67000000, peak: 67108864, swapLimit: 0, high: null, oomKills: 2, failcnt: 40, events: { low: 0, high: 0, max: 40, oom: 2, oom_kill: 2 } });
  t.equal(b.cpu.quotaUsec, 50000);
  t.same(b.cpu.stat, { nrPeriods: 50, nrThrottled: 31, throttledUsec: 400000, usageUsec: 900000 });
  t.same(b.pids, { limit: null, current: 3, maxHits: 0 });
  t.equal(b.pressure!.memory!.some!.avg10, 42);

  // verdicts from the v2 view: OOM with the log's time, throttling over a window, memory pressure
  const p = {
    cgroup: { ...b, throttling: throttleWindow({ nrPeriods: 0, nrThrottled: 0, throttledUsec: 0, usageUsec: 0 }, b.cpu.stat, 2), oomKillsLogged: [{ at: 1_000_000, task: 'tail', pid: 9, memcg: '/tsd/c' }] },
    exit: null, process: {}, spec: { memory: 0 },
  } as never;
  t.same(verdicts(p, 1_120_000), [
    'OOM-killed 2 times, last 2 min ago (tail, pid 9): memory limit 64 MiB (memory.max), peak 64 MiB (memory.peak)',
    'throttled in 62% of CPU periods over the last 2 s: quota 50000/100000 µs (50% of one core, cpu.max)',
    'memory pressure: tasks stalled 42% of the last 10 s (memory.pressure some avg10)',
  ]);
  t.equal(cpuShare(150000, 100000), '1.5 cores');

  // a stopped container: its cgroup is gone, the v1 files as read at its exit speak for it
  const gone = { ...a, present: false, controllers: [], memory: { ...a.memory, oomKills: 0 }, pids: { limit: null, current: null, maxHits: 0 } };
  const stopped = {
    cgroup: { ...gone, throttling: null, oomKillsLogged: [] }, atExit: { exitedAt: '1970-01-01T00:16:40.000Z', pid: 42, cgroup: a },
    exit: { code: 137, oomKilled: true, finishedAt: '1970-01-01T00:16:40.000Z', error: '' }, process: null, spec: { memory: 0 },
  } as never;
  t.same(verdicts(stopped, 1_060_000), [
    'OOM-killed 3 times, the last at exit 60 s ago: memory limit 48 MiB (memory.limit_in_bytes, at exit), peak 48 MiB (memory.max_usage_in_bytes, at exit)',
    'throttled in 60% of CPU periods over its run (60 of 100, cpu.stat at exit): quota 20000/100000 µs (20% of one core, cpu.cfs_quota_us/cpu.cfs_period_us)',
    'fork refused 4 times at the pids limit 10 (pids.events max, at exit)',
    'exited with 137 (signal 9, SIGKILL) 60 s ago',
  ]);
  const unsaved = { ...(stopped as object), atExit: null } as never;
  t.same(verdicts(unsaved, 1_060_000), [
    'OOM-killed 1 time, the last at exit 60 s ago: no memory limit',
    'exited with 137 (signal 9, SIGKILL) 60 s ago',
  ], 'without the counters kept: only what the record says');
});
