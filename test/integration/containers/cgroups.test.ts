// Containers' cgroups through the real CLI, on the host's cgroup version (v1 here,
// v2 in the v2vm guest: scripts/test-v2.sh): limits land in the kernel's files,
// OOM is reported, pause freezes, update changes limits live, the device policy
// holds (mknod yes, open of a disk or /dev/mem no, --device and --privileged yes),
// and nothing of tsd's is left under its cgroup parent after 20 starts, a clean
// stop, or a crash and the restart that follows (#12 items 1-2, #9 items 5 and 15).
// One daemon data root for the whole file (restarted twice): starts are expensive
// in the emulated guest.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { detectCgroupMode } from '../../../cgroupfs/index.js';
import { V1_CONTROLLERS } from '../../../cgroupfs/v1/manager.js';
import { BPF_CGROUP_DEVICE, bpfProgGetFdById, bpfProgQuery } from '../../../sys/index.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { containerOpts, freeBip, waitFor } from './helpers.js';

const opts = containerOpts();
const v2 = detectCgroupMode() === 'unified';
const IMAGE = 'busybox:fixture';
const timeout = Number(process.env.TSD_TEST_DOCKER_TIMEOUT_MS) || 60_000;

interface R { code: number; out: string; err: string }
const dockerOf = (d: TestDaemon) => (...args: string[]): Promise<R> => new Promise((resolve) => {
  execFile('docker', args, { env: d.dockerEnv, timeout, maxBuffer: 16 << 20 }, (e, out, err) => {
    resolve({ code: e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1) : 0, out: String(out), err: String(err) });
  }).stdin!.end();
});

/** The directories of the cgroup parent `p`, one per hierarchy (v2: one). */
function parentDirs(p: string): string[] {
  if (v2) return [path.join('/sys/fs/cgroup', p)];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const c of V1_CONTROLLERS) {
    const m = path.join('/sys/fs/cgroup', c);
    if (!fs.existsSync(m)) continue;
    const real = fs.realpathSync(m);
    if (seen.has(real)) continue;
    seen.add(real);
    out.push(path.join(m, p));
  }
  return out;
}

/** tsd's cgroups under the parent, per name (the same name in every hierarchy counts once). */
function cgroupsUnder(p: string): string[] {
  const names = new Set<string>();
  for (const d of parentDirs(p)) {
    try {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
    } catch { /* no parent */ }
  }
  return [...names].sort();
}

/** Running (a zombie waiting for whoever reparented it counts as dead). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const warmPids = (names: string[]) => names.filter((n) => /^warm-\d+$/.test(n)).map((n) => Number(n.slice(5)));

/** A block device this process can open (a disk first, else a loop device). */
function blockDevice(): { path: string; major: number; minor: number } | undefined {
  const names = fs.readdirSync('/dev').sort((a, b) => Number(/^loop/.test(a)) - Number(/^loop/.test(b)));
  for (const n of names) {
    const p = `/dev/${n}`;
    try {
      const st = fs.statSync(p);
      if (!st.isBlockDevice()) continue;
      fs.closeSync(fs.openSync(p, 'r'));
      return { path: p, major: Number((BigInt(st.rdev) >> 8n) & 0xfffn), minor: Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & ~0xffn)) };
    } catch { /* next */ }
  }
  return undefined;
}

const progIds = (dir: string): number[] => {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try { return bpfProgQuery(fd, BPF_CGROUP_DEVICE); } finally { fs.closeSync(fd); }
};
const progGone = (id: number) => {
  try { fs.closeSync(bpfProgGetFdById(id)); return false; } catch (e) { return (e as { errnoCode?: string }).errnoCode === 'ENOENT'; }
};

/**
 * A running container's cgroup (relative to the hierarchy root) as the kernel has it in /proc/<pid>/cgroup.
 * v1 renames a warm init's staging cgroup to <parent>/<id>; v2 cannot rename, so a container that took a
 * warm init lives in that init's <parent>/warm-<pid>.
 */
async function cgroupOf(docker: (...a: string[]) => Promise<R>, ref: string): Promise<string> {
  const pid = Number((await docker('inspect', '-f', '{{.State.Pid}}', ref)).out.trim());
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const line = lines.find((l) => (v2 ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes('memory')));
  return line!.slice(line!.indexOf(':', line!.indexOf(':') + 1) + 1).replace(/^\//, '');
}

/** A controller file of a container's cgroup `rel` (cgroupOf): v2 one directory, v1 the controller's hierarchy. */
const cgFile = (rel: string, controller: string, file: string) =>
  fs.readFileSync(v2 ? path.join('/sys/fs/cgroup', rel, file) : path.join('/sys/fs/cgroup', controller, rel, file), 'utf8').trim();

t.test('containers\' cgroups, device policy, and no leaks', opts, async (t) => {
  const first = await startDaemon(t, ['--bip', freeBip(), '--init-pool', '2']);
  let d = first;
  let docker = dockerOf(d);
  const P = d.cgroupParent;
  const load = await docker('load', '-i', (await busyboxSaveTar()).path);
  t.equal(load.code, 0, load.err);

  await t.test('limits, OOM, pause and update land in the kernel\'s files', async (t) => {
    const oom = await docker('run', '--name', 'oom', '-m', '32m', IMAGE, 'sh', '-c', 'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo survived');
    t.equal(oom.code, 137, `killed by the OOM killer: ${oom.err}`);
    t.notMatch(oom.out, /survived/);
    const state = JSON.parse((await docker('inspect', '-f', '{{json .State}}', 'oom')).out);
    t.equal(state.OOMKilled, true, 'inspect says OOMKilled');
    await docker('rm', 'oom');

    const id = (await docker('run', '-d', '--name', 'lim', '-m', '64m', '--cpus', '0.5', '--pids-limit', '7', IMAGE, 'sleep', '300')).out.trim();
    const cg = await cgroupOf(docker, id);
    t.ok(v2 ? /^warm-\d+$|^[0-9a-f]{64}$/.test(path.basename(cg)) : path.basename(cg) === id, `the container's cgroup: ${cg}`);
    t.equal(path.dirname(cg), P, 'under the daemon\'s parent');
    t.equal(cgFile(cg, 'memory', v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(64 << 20));
    t.equal(cgFile(cg, 'pids', 'pids.max'), '7');
    t.equal(v2 ? cgFile(cg, 'cpu', 'cpu.max') : cgFile(cg, 'cpu', 'cpu.cfs_quota_us'), v2 ? '50000 100000' : '50000');
    const forks = await docker('exec', 'lim', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9; do sleep 30 & done 2>/dev/null; wait');
    t.not(forks.code, 0, 'the pids limit stops a fork');
    const upd = await docker('update', '-m', '96m', '--memory-swap', '192m', '--pids-limit', '20', 'lim');
    t.equal(upd.code, 0, upd.err);
    t.equal(cgFile(cg, 'memory', v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(96 << 20), 'update: memory');
    if (v2) t.equal(cgFile(cg, 'memory', 'memory.swap.max'), String(96 << 20), 'v2 swap.max is MemorySwap - Memory');
    t.equal(cgFile(cg, 'pids', 'pids.max'), '20', 'update: pids');
    t.equal((await docker('pause', 'lim')).code, 0);
    t.match(v2 ? cgFile(cg, 'freezer', 'cgroup.events') : cgFile(cg, 'freezer', 'freezer.state'), v2 ? /frozen 1/ : /FROZEN/, 'paused = frozen');
    t.equal((await docker('unpause', 'lim')).code, 0);
    const stats = JSON.parse((await docker('stats', '--no-stream', '--format', '{{json .}}', 'lim')).out);
    t.match(stats.MemUsage, /\/ 96MiB$/, 'stats shows the updated limit');
    await docker('rm', '-f', 'lim');
  });

  await t.test('device policy: default, --device, --device-cgroup-rule, --privileged', async (t) => {
    const dev = blockDevice();
    if (!dev) { t.pass('no readable block device here: nothing to check'); return; }
    const def = await docker('run', '--rm', IMAGE, 'sh', '-c',
      `mknod /tmp/disk b ${dev.major} ${dev.minor} && echo mknod-ok; head -c 1 /tmp/disk; echo disk=$?; mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem; echo mem=$?; head -c 1 /dev/zero | wc -c`);
    t.same(def.out.trim().split('\n'), ['mknod-ok', 'disk=1', 'mem=1', '1'], 'CAP_MKNOD kept, the node does not open; /dev/zero does');
    t.match(def.err, /head: \/tmp\/disk: Operation not permitted/);
    t.match(def.err, /head: \/tmp\/mem: Operation not permitted/);
    const dv = await docker('run', '--rm', '--device', `${dev.path}:/dev/xdisk`, IMAGE, 'sh', '-c',
      'stat -c "%t:%T %F" /dev/xdisk; head -c 1 /dev/xdisk > /dev/null && echo read-ok; mknod /tmp/o c 1 1 && head -c 1 /tmp/o; echo other=$?');
    t.same(dv.out.trim().split('\n'), [`${dev.major.toString(16)}:${dev.minor.toString(16)} block special file`, 'read-ok', 'other=1'], dv.err);
    const rule = await docker('run', '--rm', '--device-cgroup-rule', `b ${dev.major}:${dev.minor} r`, IMAGE, 'sh', '-c',
      `mknod /tmp/disk b ${dev.major} ${dev.minor} && head -c 1 /tmp/disk > /dev/null && echo read-ok`);
    t.equal(rule.out.trim(), 'read-ok', rule.err);
    const priv = await docker('run', '--rm', '--privileged', IMAGE, 'sh', '-c', `head -c 1 ${dev.path} > /dev/null && echo read-ok`);
    t.equal(priv.out.trim(), 'read-ok', priv.err);
    const id = (await docker('run', '-d', IMAGE, 'sleep', '300')).out.trim();
    const cg = await cgroupOf(docker, id);
    if (v2) {
      const ids = progIds(path.join('/sys/fs/cgroup', cg));
      t.equal(ids.length, 1, 'v2: one device program on the container\'s cgroup');
      await docker('rm', '-f', id);
      await waitFor(() => progGone(ids[0]!), 10_000, 'the device program to be freed');
      t.pass('v2: the program is gone after rm');
    } else {
      const list = cgFile(cg, 'devices', 'devices.list');
      t.notMatch(list, /^a \*:\* rwm$/m, 'v1: an allow list');
      await docker('rm', '-f', id);
    }
  });

  await t.test('20 starts leave only the warm pool\'s staging cgroups', async (t) => {
    // --network none: this counts cgroups, and a veth per start costs seconds in the emulated v2 guest
    for (let i = 0; i < 20; i++) {
      const r = await docker('run', '--rm', '--network', 'none', IMAGE, 'true');
      if (r.code !== 0) { t.fail(`start ${i}: ${r.err}`); return; }
    }
    await waitFor(() => {
      const names = cgroupsUnder(P);
      return names.every((n) => /^warm-\d+$/.test(n)) && names.length <= 2 && warmPids(names).every(alive);
    }, 30_000, 'only live warm inits staged').catch(() => {});
    const names = cgroupsUnder(P);
    t.ok(names.every((n) => /^warm-\d+$/.test(n)), `no container cgroup left: ${names.join(' ')}`);
    t.ok(names.length <= 2, `at most the pool's 2 staging cgroups (${names.length})`);
    t.ok(warmPids(names).every(alive), 'each holds a live warm init');
  });

  await t.test('a clean stop removes the parent', async (t) => {
    t.equal(await d.stop(), 0, 'the daemon exits 0');
    for (const dir of parentDirs(P)) t.notOk(fs.existsSync(dir), `${dir} removed${fs.existsSync(dir) ? `: holds ${fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).join(' ')}` : ''}`);
  });

  await t.test('a crash leaves no process behind, and the restart removes what it left', async (t) => {
    d = await startDaemon(t, ['--init-pool', '2'], {}, first);
    docker = dockerOf(d);
    const ctr = (await docker('run', '-d', '--name', 'survivor', IMAGE, 'sleep', '300')).out.trim();
    t.match(ctr, /^[0-9a-f]{64}$/);
    const pid = Number((await docker('inspect', '-f', '{{.State.Pid}}', 'survivor')).out.trim());
    // v2: the container took a warm init and lives in its staging cgroup, warm-<pid>: not one of the pool's
    await waitFor(() => warmPids(cgroupsUnder(P)).filter((p) => p !== pid && alive(p)).length === 2, 60_000, 'the warm pool to fill');
    const warm = warmPids(cgroupsUnder(P)).filter((p) => p !== pid);
    await d.stop('SIGKILL');
    await waitFor(() => !warm.some(alive), 10_000, 'the warm inits to die with the daemon').catch(() => {});
    t.same(warm.filter(alive), [], 'the warm inits died with the daemon');
    t.ok(alive(pid), 'the container\'s process outlives the daemon (its parent-death signal was cleared)');

    d = await startDaemon(t, ['--init-pool', '2'], {}, first);
    docker = dockerOf(d);
    const names = cgroupsUnder(P);
    t.notOk(names.some((n) => warm.includes(Number(n.slice(5)))), `the crashed daemon's staging cgroups are gone: ${names.join(' ')}`);
    t.notOk(names.includes(ctr) || names.includes(`warm-${pid}`), 'the killed container\'s cgroup is gone');
    await waitFor(() => !alive(pid), 10_000, 'the container left running to be killed').catch(() => {});
    t.notOk(alive(pid), 'the container left running was killed at boot');
    t.match((await docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'survivor')).out, /^exited 137/);
    await docker('rm', '-f', 'survivor');
    t.equal(await d.stop(), 0);
    for (const dir of parentDirs(P)) t.notOk(fs.existsSync(dir), `after the restart and a clean stop, ${dir} is removed`);
  });
});
