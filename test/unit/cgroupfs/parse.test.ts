import t from 'tap';
import { parsePressure, parseBlkioV1, parseIoStatV2, parseKeyValues, parsePids } from '../../../cgroupfs/parse.js';
import { parseHostCpu } from '../../../cgroupfs/host.js';
import { BLKIO_V1, CPU_STAT_V2, IO_STAT_V2, MEMINFO, MEMORY_STAT_V2, PROC_STAT } from './fixtures.js';

t.test('key/value files', async (t) => {
  const m = parseKeyValues(MEMORY_STAT_V2);
  t.equal(m.anon, 4194304);
  t.equal(m.inactive_file, 262144);
  const c = parseKeyValues(CPU_STAT_V2);
  t.equal(c.usage_usec, 2500000);
  t.equal(c['core_sched.force_idle_usec'], 0);
  t.same(parseKeyValues('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n'), { oom_kill_disable: 0, under_oom: 0, oom_kill: 3 });
  t.same(parseKeyValues('garbage\n\n'), {});
});

t.test('io.stat (v2) becomes read/write entries per device', async (t) => {
  const io = parseIoStatV2(IO_STAT_V2);
  t.same(io.serviceBytes, [
    { major: 8, minor: 0, op: 'read', value: 4096 },
    { major: 8, minor: 0, op: 'write', value: 8192 },
    { major: 253, minor: 0, op: 'read', value: 100 },
    { major: 253, minor: 0, op: 'write', value: 0 },
  ]);
  t.same(io.serviced[0], { major: 8, minor: 0, op: 'read', value: 1 });
});

t.test('blkio (v1) lines, without the Total summary', async (t) => {
  const e = parseBlkioV1(BLKIO_V1);
  t.equal(e.length, 6);
  t.same(e.map((x) => x.op), ['Read', 'Write', 'Sync', 'Async', 'Discard', 'Total']);
});

t.test('host cpu: 7 fields of the cpu line × 1e9 / CLK_TCK, online CPUs, MemTotal', async (t) => {
  const h = parseHostCpu(PROC_STAT, MEMINFO);
  t.equal(h.systemCpuUsageNs, 51370 * 1e7);
  t.equal(h.onlineCpus, 2);
  t.equal(h.memTotal, 4028252 * 1024);
});

t.test('cgroup.procs', async (t) => {
  t.same(parsePids('1\n23\n\n'), [1, 23]);
  t.same(parsePids(''), []);
});

t.test('parsePressure: some and full lines; nothing readable is null', async (t) => {
  t.same(parsePressure('some avg10=0.12 avg60=0.34 avg300=0.56 total=789\nfull avg10=0.01 avg60=0.02 avg300=0.03 total=4\n'), {
    some: { avg10: 0.12, avg60: 0.34, avg300: 0.56, total: 789 }, full: { avg10: 0.01, avg60: 0.02, avg300: 0.03, total: 4 },
  });
  t.equal(parsePressure(''), null);
  t.equal(parsePressure('garbage'), null);
});
