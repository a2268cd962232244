// tsctl explain and GET /containers/{id}/primitives, each number checked against
// the cgroup files and /proc: an OOM-killed -m 48m container, a --cpus 0.2 busy
// loop (throttled), a --pids-limit that fork hits, one sharing another's
// network namespace, a stopped one; and explain --script run as root builds a
// process whose namespace set and limits match the original's.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { startDaemon, tsctlMain } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';

const run = promisify(execFile);
const read = (p: string) => fs.readFileSync(p, 'utf8').trim();
const kv = (p: string) => Object.fromEntries(read(p).split('\n').map((l) => l.split(/\s+/)).map(([k, v]) => [k, Number(v)]));
const nsInode = (pid: number, type: string) => Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/${type}`))![1]);

async function until<T>(what: string, fn: () => T | Promise<T>, ms = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.test('explain', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  await run('docker', ['load', '-i', (await busyboxSaveTar()).path], { env: d.dockerEnv });
  const env = { ...process.env, TSD_HOST: `unix://${d.socket}` };
  const tsctl = async (...args: string[]) => (await run(process.execPath, [tsctlMain, ...args], { env, maxBuffer: 16 << 20 })).stdout;
  const explain = async (name: string, window = 0) => JSON.parse(await tsctl('explain', '--format', 'json', '--window', String(window), name));
  const cgdir = (ctl: string, id: string) => `/sys/fs/cgroup/${ctl}/${d.cgroupParent}/${id}`;
  const pidOf = async (name: string) => (await d.request('GET', `/containers/${name}/json`)).body.State.Pid as number;
  const idOf = async (name: string) => (await d.request('GET', `/containers/${name}/json`)).body.Id as string;

  await tsctl('run', '-d', '--name', 'oom', '-m', '48m', '--memory-swap', '48m', 'busybox:fixture', 'sh', '-c', 'tail /dev/zero; sleep 300');
  await tsctl('run', '-d', '--name', 'busy', '--cpus', '0.2', 'busybox:fixture', 'sh', '-c', 'while :; do :; done');
  await tsctl('run', '-d', '--name', 'forky', '--pids-limit', '10', 'busybox:fixture', 'sh', '-c', 'sh -c "while :; do sleep 300 & done"; sleep 300');
  await tsctl('run', '-d', '--name', 'side', '--network', 'container:busy', 'busybox:fixture', 'sleep', '300');
  await tsctl('run', '-d', '--name', 'web', '-p', '80', '-p', '127.0.0.1::81', 'busybox:fixture', 'sleep', '300');

  await t.test('an OOM kill: counts, peak and limit as memory.oom_control and memory.*_in_bytes say, the killed task from the kernel log', async (t) => {
    const id = await idOf('oom');
    await until('the OOM kill', () => kv(`${cgdir('memory', id)}/memory.oom_control`).oom_kill! >= 1);
    const p = await explain('oom');
    const mem = `${cgdir('memory', id)}`;
    t.equal(p.cgroup.memory.limit, Number(read(`${mem}/memory.limit_in_bytes`)));
    t.equal(p.cgroup.memory.limit, 48 << 20);
    t.equal(p.cgroup.memory.peak, Number(read(`${mem}/memory.max_usage_in_bytes`)));
    t.equal(p.cgroup.memory.oomKills, kv(`${mem}/memory.oom_control`).oom_kill);
    t.equal(p.cgroup.memory.swapLimit, Number(read(`${mem}/memory.memsw.limit_in_bytes`)));
    t.match(p.verdicts[0], /^OOM-killed 1 time, last \d+ s ago \(tail, pid \d+\): memory limit 48 MiB \(memory\.limit_in_bytes\), peak \d+(\.\d)? MiB \(memory\.max_usage_in_bytes\)$/);
    t.equal(p.process.hostPid, await pidOf('oom'));
    // the shell ran tail as its child (the one killed), then exec'd its last command
    t.same(p.process.command, ['sleep', '300']);
    t.same(p.process.nspid.slice(-1), [1]);
    t.same(p.process.children, []);
    const text = await tsctl('explain', '--window', '0', 'oom');
    t.match(text, /^oom \([0-9a-f]{12}\), image busybox:fixture, running\n!! OOM-killed 1 time/);
    t.match(text, new RegExp(`memory limit\\s+48MiB\\s+memory\\.limit_in_bytes`));
    t.match(text, new RegExp(`cat ${mem.replace(/[/.]/g, '\\$&')}/memory\\.oom_control`));
    t.match(text, /kernel log: OOM kill of tail \(pid \d+\)/);
  });

  await t.test('a --cpus 0.2 busy loop: quota and throttling as cpu.cfs_* and cpu.stat say', async (t) => {
    const id = await idOf('busy');
    // the loop must get its 20% to be throttled: on a loaded machine it may not, for a while
    await until('the first throttled period', () => kv(`${cgdir('cpu', id)}/cpu.stat`).nr_throttled! > 0);
    let before = kv(`${cgdir('cpu', id)}/cpu.stat`);
    let p = await explain('busy', 2);
    let after = kv(`${cgdir('cpu', id)}/cpu.stat`);
    for (let i = 0; i < 4 && !(p.cgroup.throttling.share > 0.5); i++) {
      before = kv(`${cgdir('cpu', id)}/cpu.stat`);
      p = await explain('busy', 2);
      after = kv(`${cgdir('cpu', id)}/cpu.stat`);
    }
    t.equal(p.cgroup.cpu.quotaUsec, Number(read(`${cgdir('cpu', id)}/cpu.cfs_quota_us`)));
    t.equal(p.cgroup.cpu.quotaUsec, 20000);
    t.equal(p.cgroup.cpu.periodUsec, Number(read(`${cgdir('cpu', id)}/cpu.cfs_period_us`)));
    t.ok(p.cgroup.cpu.stat.nrThrottled >= before.nr_throttled! && p.cgroup.cpu.stat.nrThrottled <= after.nr_throttled!, 'nr_throttled between two reads of cpu.stat');
    t.equal(p.cgroup.throttling.seconds, 2);
    // the window lies between the test's two reads of cpu.stat
    const w = p.cgroup.throttling;
    t.ok(w.periods >= 5 && w.periods <= after.nr_periods! - before.nr_periods!, `${w.periods} periods in 2 s`);
    t.ok(w.throttled <= after.nr_throttled! - before.nr_throttled!, `${w.throttled} throttled`);
    t.equal(w.share, w.periods ? w.throttled / w.periods : 0);
    t.ok(p.cgroup.cpu.stat.nrThrottled > 0, 'throttled periods so far (cpu.stat nr_throttled)');
    // A loaded machine may not give the loop its 20%: then it is not throttled, and says so.
    if (w.share >= 0.1) t.match(p.verdicts[0], /^throttled in \d+% of CPU periods over the last 2 s: quota 20000\/100000 µs \(20% of one core, cpu\.cfs_quota_us\/cpu\.cfs_period_us\)$/);
    else t.notMatch(p.verdicts.join('\n'), /throttled/, `not throttled in this window (${w.share}): no verdict`);
    if (w.share <= 0.5) t.comment(`the loop got little CPU here (throttled share ${w.share}): machine loaded`);
  });

  await t.test('a pids limit that fork hits: pids.max, pids.current, pids.events', async (t) => {
    const id = await idOf('forky');
    const pids = cgdir('pids', id);
    await until('a refused fork', () => kv(`${pids}/pids.events`).max! > 0);
    const p = await explain('forky');
    t.equal(p.cgroup.pids.limit, Number(read(`${pids}/pids.max`)));
    t.equal(p.cgroup.pids.limit, 10);
    t.ok(p.cgroup.pids.maxHits > 0 && p.cgroup.pids.maxHits <= kv(`${pids}/pids.events`).max!, 'pids.events max');
    t.ok(Math.abs(p.cgroup.pids.current - Number(read(`${pids}/pids.current`))) <= 1, 'pids.current');
    t.match(p.verdicts.join('\n'), /fork refused \d+ times? at the pids limit 10 \(pids\.events max\); \d+ of 10 in use \(pids\.current\)/);
  });

  await t.test('--network container:busy: the net namespace is busy\'s inode, the rest its own; busy\'s veth', async (t) => {
    const p = await explain('side');
    const busyPid = await pidOf('busy');
    const sidePid = await pidOf('side');
    const ns = Object.fromEntries(p.namespaces.map((n: { type: string }) => [n.type, n]));
    t.equal(ns.net.inode, nsInode(busyPid, 'net'));
    t.equal(ns.net.inode, nsInode(sidePid, 'net'));
    t.equal(ns.net.sharing, 'container');
    t.equal(ns.net.with, 'busy');
    t.equal(ns.net.flag, '--network container:busy');
    const tpl = '{{range .namespaces}}{{if eq .sharing "container"}}{{.type}} shared with {{.with}} ({{.inode}}){{else if eq .type "user"}}, user {{.sharing}}{{end}}{{end}}';
    t.equal((await tsctl('explain', '--window', '0', '--format', tpl, 'side')).trim(), `net shared with busy (${nsInode(busyPid, 'net')}), user host`, '--format as a Go template');
    for (const type of ['pid', 'mnt', 'uts', 'ipc', 'cgroup']) {
      t.equal(ns[type].inode, nsInode(sidePid, type), `${type} inode`);
      t.not(ns[type].inode, nsInode(busyPid, type), `${type} not busy's`);
      t.not(ns[type].inode, nsInode(process.pid, type), `${type} not the host's`);
      t.equal(ns[type].sharing, 'private');
    }
    t.equal(ns.user.sharing, 'host');
    t.equal(ns.user.inode, nsInode(process.pid, 'user'));
    const b = await explain('busy');
    t.equal(Object.fromEntries(b.namespaces.map((n: { type: string }) => [n.type, n])).net.with, 'side', 'busy sees side in its netns');
    const i = p.network.interfaces[0];
    t.ok(i, 'the veth of busy');
    t.equal(i.hostVeth.ifindex, Number(read(`/sys/class/net/${i.hostVeth.name}/ifindex`)));
    t.equal(i.ifindex, Number(read(`/sys/class/net/${i.hostVeth.name}/iflink`)), 'eth0 is the veth\'s peer');
    t.equal(i.bridge, d.bridge);
    t.equal(path.basename(fs.readlinkSync(`/sys/class/net/${i.hostVeth.name}/master`)), d.bridge);
    const inspect = (await d.request('GET', '/containers/busy/json')).body.NetworkSettings.Networks.bridge;
    t.equal(i.address, `${inspect.IPAddress}/${inspect.IPPrefixLen}`);
    t.equal(i.mac, inspect.MacAddress);
    t.equal(p.network.defaultRoute.gateway, inspect.Gateway);
    // security and the way in, from /proc/<pid>/status
    const status = read(`/proc/${sidePid}/status`);
    t.equal(p.security.masks.CapEff, /CapEff:\s+(\S+)/.exec(status)![1]);
    t.ok(p.security.capabilities.effective.includes('CAP_CHOWN') && !p.security.capabilities.effective.includes('CAP_SYS_ADMIN'));
    t.equal(p.security.seccomp.mode, 'filter');
    t.equal(p.access.nsenter, `nsenter --target ${sidePid} --pid --mount --net --uts --ipc --cgroup -- /bin/sh`);
    const inside = await run('nsenter', ['--target', String(sidePid), '--pid', '--mount', '--net', '--uts', '--ipc', '--cgroup', '--', '/bin/hostname']);
    t.equal(inside.stdout.trim(), (await d.request('GET', '/containers/side/json')).body.Config.Hostname, 'the nsenter line gets in');
    const root = p.filesystem.mounts.find((m: { target: string }) => m.target === '/');
    t.equal(root.fstype, 'overlay');
    t.match(p.filesystem.lowerdirs[0].chainId, /^sha256:[0-9a-f]{64}$/);
    t.ok(fs.existsSync(p.filesystem.lowerdirs[0].path));
    t.ok(p.filesystem.masked.every((m: { applied: unknown }) => m.applied === true || m.applied === 'absent'), 'every masked path masked (or not on this kernel)');
  });

  await t.test('a stopped container: what it had, what is gone', async (t) => {
    await tsctl('run', '--name', 'dead', '-m', '48m', '--memory-swap', '48m', 'busybox:fixture', 'tail', '/dev/zero').catch(() => {});
    const p = await until('the OOM exit', async () => { const x = await explain('dead'); return x.exit ? x : null; });
    t.equal(p.state, 'exited');
    t.equal(p.process, null);
    t.equal(p.exit.code, 137);
    t.equal(p.exit.oomKilled, true);
    t.match(p.verdicts[0], /^OOM-killed 1 time, last \d+ s ago \(tail, pid \d+\): memory limit 48 MiB/);
    t.match(p.gone.join('\n'), /the process[^]*the cgroup [^]*removed at exit[^]*veth pair[^]*overlay mount/);
    t.equal(p.cgroup.present, false);
    // the counters were kept at the exit: the cgroup's files as they read then
    t.equal(p.atExit.cgroup.memory.limit, 48 << 20, 'memory.limit_in_bytes at exit');
    t.ok(p.atExit.cgroup.memory.oomKills >= 1, 'memory.oom_control oom_kill at exit');
    t.ok(p.atExit.cgroup.memory.peak > 40 << 20 && p.atExit.cgroup.memory.peak <= 48 << 20, `peak ${p.atExit.cgroup.memory.peak} (memory.max_usage_in_bytes at exit)`);
    t.match(p.verdicts[0], /memory limit 48 MiB \(memory\.limit_in_bytes, at exit\), peak \d+(\.\d)? MiB \(memory\.max_usage_in_bytes, at exit\)$/);
    t.match(p.gone.join('\n'), /its files as read at .* are shown/);
    const text = await tsctl('explain', 'dead');
    t.match(text, /CGROUP .*\(removed at exit; its files as they read at \S+, pid \d+\)\n  memory  \S+\n    memory limit\s+48MiB\s+memory\.limit_in_bytes/);
    t.match(text, /OOM kills\s+1\s+memory\.oom_control oom_kill/);
    t.match(text, /  what it asked for \(from the container record\):\n    memory limit 48MiB/);
  });

  await t.test('published ports: the kernel\'s DNAT rules (netctl\'s, checked in iptables-save), the loopback one by the proxy', async (t) => {
    const ins = (await d.request('GET', '/containers/web/json')).body;
    const ip = ins.NetworkSettings.Networks.bridge.IPAddress as string;
    const hostPort = ins.NetworkSettings.Ports['80/tcp'][0].HostPort as string;
    const loPort = ins.NetworkSettings.Ports['81/tcp'][0].HostPort as string;
    const p = await explain('web');
    const byPort = Object.fromEntries(p.network.ports.map((x: { container: string }) => [x.container, x]));
    t.same([byPort['80/tcp'].hostIp, byPort['80/tcp'].hostPort, byPort['80/tcp'].servedBy], ['0.0.0.0', hostPort, 'kernel DNAT']);
    t.same([byPort['81/tcp'].hostIp, byPort['81/tcp'].hostPort, byPort['81/tcp'].servedBy, byPort['81/tcp'].rules], ['127.0.0.1', loPort, 'userland proxy', []]);
    const rules = byPort['80/tcp'].rules as Array<{ rule: string; installed: boolean }>;
    t.equal(rules.length, 2, 'a DNAT rule and its hairpin MASQUERADE');
    t.ok(rules.every((r) => r.installed), 'both installed');
    const save = (await run('iptables-save', ['-t', 'nat'])).stdout;
    const dnat = rules.find((r) => / -j DNAT /.test(r.rule))!;
    t.match(dnat.rule, new RegExp(`^-t nat -A TSD-P-${d.bridge} -p tcp -m tcp --dport ${hostPort} -j DNAT --to-destination ${ip.replace(/\./g, '\\.')}:80$`));
    t.ok(save.split('\n').includes(dnat.rule.slice('-t nat '.length)), 'the DNAT rule is a line of iptables-save -t nat');
    t.notOk(p.verdicts.some((v: string) => /published port/.test(v)));
    const text = await tsctl('explain', '--window', '0', 'web');
    t.match(text, `published 0.0.0.0:${hostPort} -> 80/tcp, by the kernel (DNAT)\n    ${dnat.rule}\n`);
    t.match(text, `published 127.0.0.1:${loPort} -> 81/tcp, by tsd's userland proxy`);
    // a rule gone from the kernel is said plainly
    const args = dnat.rule.slice('-t nat -A '.length).split(' ');
    await run('iptables', ['-t', 'nat', '-D', ...args]);
    try {
      const q = await explain('web');
      t.match(q.verdicts.join('\n'), new RegExp(`published port 0\.0\.0\.0:${hostPort} -> 80/tcp: 1 of its NAT rules missing from iptables-save -t nat`));
      t.match(await tsctl('explain', '--window', '0', 'web'), /-j DNAT .* MISSING from iptables-save -t nat/);
    } finally {
      await run('iptables', ['-t', 'nat', '-A', ...args]);
    }
  });

  await t.test('explain --script, run as root, builds a process with the same namespace set and limits', async (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-hand-'));
    const busyPid = await pidOf('busy');
    const addr = (await d.request('GET', '/containers/busy/json')).body.NetworkSettings.Networks.bridge;
    const script = path.join(tmp, 'busy.sh');
    fs.writeFileSync(script, await tsctl('explain', '--script', 'busy'));
    const work = path.join(tmp, 'work');
    const handEnv = { ...process.env, WORK: work, ADDR: `${addr.IPAddress.replace(/\.\d+$/, '.200')}/${addr.IPPrefixLen}` };
    const child = spawn('sh', [script], { env: handEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    t.teardown(async () => {
      await run('sh', [script, 'cleanup'], { env: handEnv }).catch(() => {});
      child.kill('SIGKILL');
      fs.rmSync(tmp, { recursive: true, force: true });
    });
    const id = await idOf('busy');
    const handCg = `${d.cgroupParent}/hand-${id.slice(0, 12)}`;
    const hand = await until(`the hand-built process (${out})`, () => {
      const procs = (() => { try { return read(`/sys/fs/cgroup/pids/${handCg}/cgroup.procs`).split('\n').filter(Boolean).map(Number); } catch { return []; } })();
      return procs.find((pid) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sh\0-c\0while :; do :; done\0'; } catch { return false; } });
    });
    for (const type of ['pid', 'mnt', 'net', 'uts', 'ipc', 'cgroup']) {
      t.not(nsInode(hand, type), nsInode(process.pid, type), `${type}: its own, as busy's`);
      t.not(nsInode(hand, type), nsInode(busyPid, type), `${type}: not busy's`);
    }
    for (const type of ['user', 'time']) t.equal(nsInode(hand, type), nsInode(busyPid, type), `${type}: the host's, as busy's`);
    t.match(read(`/proc/${hand}/status`), /NSpid:\s+\d+\s+1\b/, 'pid 1 of its pid namespace');
    for (const [ctl, file] of [['cpu', 'cpu.cfs_quota_us'], ['cpu', 'cpu.cfs_period_us'], ['memory', 'memory.limit_in_bytes'], ['pids', 'pids.max'], ['cpuset', 'cpuset.cpus']]) {
      t.equal(read(`/sys/fs/cgroup/${ctl}/${handCg}/${file}`), read(`${cgdir(ctl!, id)}/${file}`), `${file} as busy's`);
    }
    t.equal(read(`/sys/fs/cgroup/devices/${handCg}/devices.list`), read(`${cgdir('devices', id)}/devices.list`), 'the same device rules (devices.list)');
    t.not(read(`${cgdir('devices', id)}/devices.list`), 'a *:* rwm', 'busy has device rules to copy');
    const capBnd = (pid: number) => /CapBnd:\s+(\S+)/.exec(read(`/proc/${pid}/status`))![1];
    t.equal(capBnd(hand), capBnd(busyPid), 'the same bounding set');
    t.equal(/CapEff:\s+(\S+)/.exec(read(`/proc/${hand}/status`))![1], /CapEff:\s+(\S+)/.exec(read(`/proc/${busyPid}/status`))![1], 'the same effective set');
    const hostname = await run('nsenter', ['--target', String(hand), '--uts', 'hostname']);
    t.equal(hostname.stdout.trim(), (await d.request('GET', '/containers/busy/json')).body.Config.Hostname);
    const targets = (pid: number) => new Set(read(`/proc/${pid}/mountinfo`).split('\n').map((l) => l.split(' ')[4]));
    const mine = targets(hand);
    for (const m of ['/', '/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/proc/sys', '/proc/keys', '/sys/firmware']) t.ok(mine.has(m), `mounts ${m} as busy does`);
    t.notOk([...mine].some((m) => m.startsWith('/.oldroot')), 'no trace of the host root');
    t.ok(fs.readFileSync(`/proc/${hand}/root/bin/busybox`).length > 0, 'its root is the image\'s');
    const netIfs = await run('nsenter', ['--target', String(hand), '--net', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    t.match(netIfs.stdout, new RegExp(`inet ${handEnv.ADDR.replace(/\./g, '\\.')}`));
    // cleanup leaves nothing
    await run('sh', [script, 'cleanup'], { env: handEnv });
    t.notOk(fs.existsSync(`/sys/fs/cgroup/pids/${handCg}`), 'cgroup removed');
    t.notOk(fs.existsSync(work), 'work dir removed');
    t.notOk(fs.existsSync(`/sys/class/net/vh${id.slice(0, 8)}`), 'veth removed');
  });

  await t.test('stopped containers keep the counters their cgroup had at the exit', async (t) => {
    const ids = { oom: await idOf('oom'), busy: await idOf('busy'), forky: await idOf('forky') };
    // they no longer change: oom's shell sleeps, forky's forks are refused; busy's only grow
    const oomKills = kv(`${cgdir('memory', ids.oom)}/memory.oom_control`).oom_kill;
    const peak = Number(read(`${cgdir('memory', ids.oom)}/memory.max_usage_in_bytes`));
    const refused = kv(`${cgdir('pids', ids.forky)}/pids.events`).max!;
    const throttled = kv(`${cgdir('cpu', ids.busy)}/cpu.stat`).nr_throttled!;
    await tsctl('kill', 'oom', 'forky', 'side', 'busy');
    for (const n of ['oom', 'forky', 'busy']) await until(`${n} exited`, async () => (await explain(n)).state === 'exited');
    const oom = await explain('oom');
    t.equal(oom.atExit.cgroup.memory.oomKills, oomKills, 'OOM kills at exit as memory.oom_control read before');
    t.ok(oom.atExit.cgroup.memory.peak >= peak, 'peak at exit');
    t.match(oom.verdicts[0], /^OOM-killed 1 time, .*memory limit 48 MiB \(memory\.limit_in_bytes, at exit\)/);
    const forky = await explain('forky');
    t.ok(forky.atExit.cgroup.pids.maxHits >= refused, `pids.events max at exit ${forky.atExit.cgroup.pids.maxHits} >= ${refused}`);
    t.match(forky.verdicts.join('\n'), /fork refused \d+ times? at the pids limit 10 \(pids\.events max, at exit\)/);
    const busy = await explain('busy');
    t.ok(busy.atExit.cgroup.cpu.stat.nrThrottled >= throttled, 'nr_throttled at exit');
    t.equal(busy.atExit.cgroup.cpu.quotaUsec, 20000);
    t.match(await tsctl('explain', 'busy'), /throttled over its run\s+\d+ of \d+ periods/);
  });

  await tsctl('rm', '-f', 'oom', 'busy', 'forky', 'side', 'dead', 'web');
});
