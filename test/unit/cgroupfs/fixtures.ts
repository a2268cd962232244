// Fake cgroup trees laid out like /sys/fs/cgroup (youki set_fixture): plain
// files pre-seeded with what the kernel would show, so managers can be run
// without root and their writes read back.
import fs from 'node:fs';
import path from 'node:path';

export const MEMORY_STAT_V1 = [
  'cache 1048576', 'rss 4194304', 'rss_huge 0', 'shmem 0', 'mapped_file 0', 'inactive_anon 0',
  'active_anon 4194304', 'inactive_file 524288', 'active_file 524288', 'hierarchical_memory_limit 67108864',
  'total_cache 1048576', 'total_rss 4194304', 'total_inactive_file 524288', 'total_active_file 524288', '',
].join('\n');

export const MEMORY_STAT_V2 = [
  'anon 4194304', 'file 1048576', 'kernel 65536', 'shmem 0', 'inactive_anon 0', 'active_anon 4194304',
  'inactive_file 262144', 'active_file 786432', 'pgfault 1200', 'pgmajfault 3', '',
].join('\n');

export const CPU_STAT_V2 = [
  'usage_usec 2500000', 'user_usec 2000000', 'system_usec 500000', 'core_sched.force_idle_usec 0',
  'nr_periods 40', 'nr_throttled 12', 'throttled_usec 345678', 'nr_bursts 0', 'burst_usec 0', '',
].join('\n');

export const IO_STAT_V2 = '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:0 rbytes=100 wbytes=0 rios=3 wios=0 dbytes=0 dios=0\n';

export const BLKIO_V1 = '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n';

export const PROC_STAT = [
  'cpu  1000 20 300 50000 40 0 10 0 0 0',
  'cpu0 500 10 150 25000 20 0 5 0 0 0',
  'cpu1 500 10 150 25000 20 0 5 0 0 0',
  'intr 12345',
  'ctxt 999',
  '',
].join('\n');
export const MEMINFO = 'MemTotal:        4028252 kB\nMemFree:          100000 kB\n';

function seed(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), v);
}

export function procFixture(root: string): string {
  const p = path.join(root, 'proc');
  seed(p, { stat: PROC_STAT, meminfo: MEMINFO });
  return p;
}

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    'cgroup.procs': '', 'memory.limit_in_bytes': '9223372036854771712', 'memory.soft_limit_in_bytes': '9223372036854771712',
    'memory.memsw.limit_in_bytes': '9223372036854771712', 'memory.swappiness': '60', 'memory.usage_in_bytes': '5242880',
    'memory.max_usage_in_bytes': '6291456', 'memory.failcnt': '2', 'memory.stat': MEMORY_STAT_V1,
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
  },
  cpu: {
    'cgroup.procs': '', 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1',
    'cpu.stat': 'nr_periods 40\nnr_throttled 12\nthrottled_time 345678000\n',
  },
  cpuacct: {
    'cgroup.procs': '', 'cpuacct.usage': '2500000000', 'cpuacct.usage_percpu': '1500000000 1000000000 ',
    'cpuacct.stat': 'user 200\nsystem 50\n',
  },
  cpuset: { 'cgroup.procs': '', 'cpuset.cpus': '', 'cpuset.mems': '' },
  pids: { 'cgroup.procs': '', 'pids.max': 'max', 'pids.current': '3' },
  blkio: {
    'cgroup.procs': '', 'blkio.throttle.read_bps_device': '', 'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '', 'blkio.throttle.write_iops_device': '',
    'blkio.throttle.io_service_bytes_recursive': BLKIO_V1, 'blkio.throttle.io_serviced_recursive': BLKIO_V1,
  },
  devices: { 'cgroup.procs': '', 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' },
  freezer: { 'cgroup.procs': '', 'freezer.state': 'THAWED' },
};

/** A v1 tree at `root` with every hierarchy; the cgroup `rel` (parent/name) pre-seeded. */
export function v1Fixture(root: string, rel: string, opts: { blkioWeight?: boolean } = {}): void {
  for (const [c, files] of Object.entries(V1_FILES)) {
    const mount = path.join(root, c);
    seed(mount, { 'cgroup.procs': '', ...(c === 'cpuset' ? { 'cpuset.cpus': '0-1', 'cpuset.mems': '0' } : {}) });
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      seed(path.join(mount, ...parts.slice(0, i)), c === 'cpuset' ? { 'cpuset.cpus': '', 'cpuset.mems': '' } : {});
    }
    const extra: Record<string, string> = c === 'blkio' && opts.blkioWeight ? { 'blkio.weight': '500', 'blkio.weight_device': '' } : {};
    seed(path.join(mount, rel), { ...files, ...extra });
  }
  fs.mkdirSync(path.join(root, 'unified'), { recursive: true });
}

/** A v2 tree at `root` with `rel` (parent/name) pre-seeded. */
export function v2Fixture(root: string, rel: string): void {
  const controllers = 'cpuset cpu io memory hugetlb pids';
  seed(root, { 'cgroup.controllers': controllers, 'cgroup.subtree_control': '', 'cgroup.procs': '' });
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    seed(path.join(root, ...parts.slice(0, i)), { 'cgroup.controllers': controllers, 'cgroup.subtree_control': '', 'cgroup.procs': '' });
  }
  seed(path.join(root, rel), {
    'cgroup.controllers': 'cpuset cpu io memory pids', 'cgroup.subtree_control': '', 'cgroup.procs': '',
    'cgroup.freeze': '0', 'cgroup.events': 'populated 0\nfrozen 0\n',
    'memory.max': 'max', 'memory.low': '0', 'memory.swap.max': 'max', 'memory.current': '5242880',
    'memory.stat': MEMORY_STAT_V2, 'memory.events': 'low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n',
    'cpu.max': 'max 100000', 'cpu.weight': '100', 'cpu.stat': CPU_STAT_V2,
    'cpuset.cpus': '', 'cpuset.mems': '', 'pids.max': 'max', 'pids.current': '3',
    'io.max': '', 'io.weight': 'default 100', 'io.stat': IO_STAT_V2,
  });
}

/** Stand-in for the kernel's freezer: mirror cgroup.freeze into cgroup.events. Returns a stop function. */
export function simulateV2Freezer(dir: string): () => void {
  const timer = setInterval(() => {
    try {
      const want = fs.readFileSync(path.join(dir, 'cgroup.freeze'), 'utf8').trim() === '1' ? 1 : 0;
      // 'r+': never recreate the file while the fixture directory is being removed (ENOTEMPTY in teardown)
      fs.writeFileSync(path.join(dir, 'cgroup.events'), `populated 0\nfrozen ${want}\n`, { flag: 'r+' });
    } catch {
      /* directory gone */
    }
  }, 5);
  return () => clearInterval(timer);
}

export const read = (...p: string[]) => fs.readFileSync(path.join(...p), 'utf8');

/** A DeviceFilter that records what would be attached where (the real one is bpf(2): integration tests). */
export function recordingDeviceFilter(): import('../../../cgroupfs/index.js').DeviceFilter & { calls: Array<{ dir: string; program: Buffer | null }>; programs: Map<string, Buffer> } {
  const calls: Array<{ dir: string; program: Buffer | null }> = [];
  const programs = new Map<string, Buffer>();
  return {
    calls,
    programs,
    set(dir, program) {
      calls.push({ dir, program });
      if (program) programs.set(dir, program);
      else programs.delete(dir);
    },
    attached: (dir) => (programs.has(dir) ? [1] : []),
    clear(dir) { programs.delete(dir); },
  };
}
