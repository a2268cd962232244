// The systemd cgroup driver (--exec-opt native.cgroupdriver=systemd) against a real
// systemd: each container is a transient scope docker-<id>.scope started over D-Bus
// (warm init and cold init alike), limits are unit properties and cgroup files,
// docker update changes both, docker rm stops the unit and its cgroup goes, docker
// info says systemd, a --cgroup-parent is a slice (#12 item 4).
//
// Where systemd is not PID 1 (the v2vm guest of scripts/test-v2.sh, TSD_TEST_EMULATED=1,
// whose command runs in the root cgroup of a throwaway cgroup2 tree) the test boots one:
// /lib/systemd/systemd as PID 1 of a new PID namespace (container=tsd-test), with a unit
// set of a target, dbus.socket and dbus.service and no generators, so only the system bus
// starts. The daemon then runs as a transient service of that systemd (systemd-run,
// Delegate=yes, as systemd/tsd.service runs it): systemd reads the pids of
// StartTransientUnit in its own PID namespace. On a host booted with systemd it uses that one.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { Client } from 'undici';
import { detectCgroupMode } from '../../../cgroupfs/index.js';
import { daemonMain, removeDir, removeNetworking } from '../../helpers/daemon.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { containerOpts, freeBip, waitFor } from './helpers.js';

const IMAGE = 'busybox:fixture';
const timeout = Number(process.env.TSD_TEST_DOCKER_TIMEOUT_MS) || 60_000;
const CG = '/sys/fs/cgroup';

const hostSystemd = (() => { try { return fs.existsSync('/run/systemd/system') && path.basename(fs.readlinkSync('/proc/1/exe')) === 'systemd'; } catch { return false; } })();
const ownCgroup = (() => { try { return fs.readFileSync('/proc/self/cgroup', 'utf8').trim(); } catch { return ''; } })();

function skipReason(): string | false {
  const base = containerOpts().skip;
  if (base) return base;
  if (detectCgroupMode() !== 'unified') return 'the systemd driver is tested on cgroup v2 (the v2vm guest: scripts/test-v2.sh)';
  if (hostSystemd) return false;
  if (!fs.existsSync('/lib/systemd/systemd') || !fs.existsSync('/usr/bin/dbus-daemon')) return 'needs systemd and dbus-daemon (scripts/deps.sh installs them)';
  // booting a private systemd takes over the cgroup tree: only on a throwaway guest
  if (process.env.TSD_TEST_EMULATED !== '1' || ownCgroup !== '0::/') return 'no systemd here, and this is not a throwaway v2 guest (TSD_TEST_EMULATED=1, root cgroup) to boot one in';
  return false;
}

interface R { code: number; out: string; err: string }
const run = (cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<R> => new Promise((resolve) => {
  execFile(cmd, args, { env: env ?? process.env, timeout, maxBuffer: 16 << 20 }, (e, out, err) => {
    resolve({ code: e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 1) : 0, out: String(out), err: String(err) });
  }).stdin!.end();
});

/** A systemd to talk to: the host's, or one booted as PID 1 of a PID namespace. */
interface Systemd {
  /** runs a command in systemd's PID and mount namespaces (systemctl, systemd-run, /proc of its pids) */
  exec(cmd: string, ...args: string[]): Promise<R>;
  stop(): Promise<void>;
}

// The whole unit set (SYSTEMD_UNIT_PATH without a trailing ':' keeps systemd from loading the
// host's hundreds of unit files, seconds under emulation); -.slice, system.slice and init.scope
// are built in. The three targets are what a service's default dependencies name.
const UNITS: Record<string, string> = {
  'sysinit.target': '[Unit]\nDescription=stub\n',
  'basic.target': '[Unit]\nDescription=stub\n',
  'shutdown.target': '[Unit]\nDescription=stub\nDefaultDependencies=no\n',
  'tsd-test.target': '[Unit]\nDescription=tsd test: a system manager with a bus and nothing else\nWants=dbus.socket dbus.service\n',
  'dbus.socket': '[Unit]\nDescription=D-Bus System Message Bus Socket\nDefaultDependencies=no\n[Socket]\nListenStream=/run/dbus/system_bus_socket\n',
  'dbus.service': '[Unit]\nDescription=D-Bus System Message Bus\nDefaultDependencies=no\nRequires=dbus.socket\nAfter=dbus.socket\n'
    + '[Service]\nType=notify\nNotifyAccess=main\nExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation\n',
};

async function bootSystemd(dir: string): Promise<Systemd> {
  if (hostSystemd) return { exec: (cmd, ...args) => run(cmd, args), stop: async () => {} };
  const units = path.join(dir, 'units');
  const none = path.join(dir, 'no-generators');
  fs.mkdirSync(units, { recursive: true });
  fs.mkdirSync(none, { recursive: true });
  for (const [n, text] of Object.entries(UNITS)) fs.writeFileSync(path.join(units, n), text);
  const log = fs.openSync(path.join(dir, 'systemd.log'), 'a');
  const proc: ChildProcess = spawn('unshare', ['--pid', '--fork', '--mount-proc', '/lib/systemd/systemd', '--unit=tsd-test.target',
    '--log-target=console', '--log-level=notice', '--default-standard-output=inherit', '--default-standard-error=inherit'], {
    stdio: ['ignore', log, log],
    env: { ...process.env, container: 'tsd-test', SYSTEMD_UNIT_PATH: units, SYSTEMD_GENERATOR_PATH: none, SYSTEMD_ENVIRONMENT_GENERATOR_PATH: none },
  });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let inner = 0;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      // PID 1 of the namespace: SIGKILL takes every process of the namespace with it
      if (inner) try { process.kill(inner, 'SIGKILL'); } catch { /* gone */ }
      proc.kill('SIGKILL');
      await exited;
    }
    // what systemd made: its cgroups (bottom up), its runtime dirs
    const dirs: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) { walk(path.join(d, e.name)); dirs.push(path.join(d, e.name)); }
    };
    for (const top of ['init.scope', 'system.slice', 'tsdtest.slice', 'machine.slice', 'user.slice']) {
      const d = path.join(CG, top);
      if (!fs.existsSync(d)) continue;
      walk(d);
      dirs.push(d);
    }
    for (const d of dirs) {
      for (let i = 0; i < 50; i++) {
        try { fs.rmdirSync(d); break; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') break; await new Promise((r) => setTimeout(r, 100)); }
      }
    }
    for (const p of ['/run/systemd', '/run/dbus']) fs.rmSync(p, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + (Number(process.env.TSD_TEST_DAEMON_START_MS) || 120_000);
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`systemd exited (${proc.exitCode}):\n${fs.readFileSync(path.join(dir, 'systemd.log'), 'utf8')}`);
      if (!inner) {
        const kids = fs.readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim();
        inner = Number(kids.split(/\s+/)[0]) || 0;
      }
      if (inner && fs.existsSync('/run/dbus/system_bus_socket') && (await run('busctl', ['--system', 'status', 'org.freedesktop.systemd1'])).code === 0) break;
      if (Date.now() > deadline) throw new Error(`systemd did not come up on the system bus:\n${fs.readFileSync(path.join(dir, 'systemd.log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { exec: (cmd, ...args) => run('nsenter', ['-t', String(inner), '-p', '-m', '--', cmd, ...args]), stop };
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new Client('http://localhost', { socketPath: socket });
    c.request({ method: 'GET', path: '/_ping' })
      .then(async (r) => { await r.body.text(); resolve(r.statusCode === 200); })
      .catch(() => resolve(false))
      .finally(() => void c.close().catch(() => {}));
  });
}

const read = (f: string) => fs.readFileSync(f, 'utf8').trim();

t.test('the systemd cgroup driver: containers are transient scopes', { skip: skipReason() }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-systemd-'));
  t.teardown(() => { if (process.env.TSD_TEST_KEEP !== '1') removeDir(dir); });
  const t0 = Date.now();
  const image = busyboxSaveTar();
  const sd = await bootSystemd(dir);
  t.teardown(() => sd.stop());
  t.comment(`systemd on the bus after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const unit = `tsd-systemd-test-${process.pid}.service`;
  const socket = path.join(dir, 'tsd.sock');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'run');
  const bridge = `tsdsd${process.pid % 100000}`;
  const logFile = path.join(dir, 'systemd.log');
  // the daemon as systemd runs tsd.service: a service with Delegate=yes
  // its output goes where systemd's own does (the booted one's: <dir>/systemd.log; a host's: the journal)
  const started = await sd.exec('systemd-run', `--unit=${unit}`, '--property=Delegate=yes', `--setenv=PATH=${process.env.PATH}`, '--',
    process.execPath, daemonMain, '--host', socket, '--data-root', dataRoot, '--exec-root', execRoot, '--bridge', bridge, '--bip', freeBip(),
    '--init-pool', '2', '--log-level', process.env.TSD_TEST_LOG_LEVEL ?? 'info', '--exec-opt', 'native.cgroupdriver=systemd');
  t.equal(started.code, 0, `systemd-run: ${started.err}`);
  const daemonLog = () => { try { return fs.readFileSync(logFile, 'utf8').slice(-4000); } catch { return ''; } };
  t.teardown(async () => {
    await sd.exec('systemctl', 'stop', unit);
    await sd.exec('systemctl', 'reset-failed', unit);
    await removeNetworking(dataRoot, execRoot, bridge).catch(() => {});
  });
  const deadline = Date.now() + (Number(process.env.TSD_TEST_DAEMON_START_MS) || 60_000);
  // is-failed spawns nsenter and systemctl, CPU an emulated guest's daemon start needs: every 5 s only
  for (let i = 1; !(fs.existsSync(socket) && (await ping(socket))); i++) {
    if ((i % 20 === 0 && (await sd.exec('systemctl', 'is-failed', '--quiet', unit)).code === 0) || Date.now() > deadline) {
      const status = await sd.exec('systemctl', 'status', '--no-pager', '--full', unit);
      t.fail(`the daemon did not listen:\n${daemonLog()}\n${status.out}${status.err}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(dir, 'docker-config'), DOCKER_CLI_HINTS: 'false' };
  const docker = (...args: string[]) => run('docker', args, env);
  const ok = async (...args: string[]) => {
    const r = await docker(...args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.err}\n${daemonLog()}`);
    return r.out.trim();
  };
  const active = async (u: string) => (await sd.exec('systemctl', 'is-active', u)).out.trim();
  const show = async (u: string, ...props: string[]) => {
    const out = (await sd.exec('systemctl', 'show', ...props.map((p) => `--property=${p}`), u)).out;
    return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  };
  /** the cgroup of a pid of the daemon's (systemd's) PID namespace */
  const cgroupOfPid = async (pid: string) => (await sd.exec('cat', `/proc/${pid}/cgroup`)).out.trim();

  t.comment(`the daemon listening after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  t.equal(await ok('info', '--format', '{{.CgroupDriver}}'), 'systemd', 'docker info: CgroupDriver systemd');
  await ok('load', '-i', (await image).path);
  /** pids (in systemd's namespace) in the daemon's own cgroup: the daemon and its idle warm inits */
  const daemonCgroupPids = async () => (await sd.exec('cat', path.join(CG, 'system.slice', unit, 'cgroup.procs'))).out.trim().split(/\s+/);

  await t.test('a container with limits is an active scope, limited, updated, stopped on rm', async (t) => {
    const waiting = await daemonCgroupPids();
    const id = await ok('run', '-d', '--name', 'lim', '-m', '64m', '--pids-limit', '50', '--cpus', '0.5', IMAGE, 'sleep', '1000');
    const scope = `docker-${id}.scope`;
    const cg = path.join(CG, 'system.slice', scope);
    t.equal(await active(scope), 'active', `${scope} is active`);
    const p = await show(scope, 'Slice', 'Delegate', 'MemoryMax', 'TasksMax', 'CPUQuotaPerSecUSec');
    t.same(p, { Slice: 'system.slice', Delegate: 'yes', MemoryMax: String(64 << 20), TasksMax: '50', CPUQuotaPerSecUSec: '500ms' }, 'the unit\'s properties');
    const pid = await ok('inspect', '-f', '{{.State.Pid}}', 'lim');
    t.equal(await cgroupOfPid(pid), `0::/system.slice/${scope}`, 'the container\'s PID 1 is in the scope');
    t.ok(waiting.includes(pid), `it ran on a warm init: pid ${pid} waited in the daemon's cgroup (${waiting.join(' ')}) before the run`);
    t.ok(read(path.join(cg, 'cgroup.procs')).length > 0, 'the scope\'s cgroup holds the container');
    t.equal(read(path.join(cg, 'memory.max')), String(64 << 20));
    t.equal(read(path.join(cg, 'pids.max')), '50');
    t.equal(read(path.join(cg, 'cpu.max')), '50000 100000');
    t.equal((await docker('exec', 'lim', 'cat', '/proc/self/cgroup')).out.trim(), '0::/', 'exec joins it (its cgroup namespace root)');

    await ok('update', '-m', '128m', '--memory-swap', '256m', '--pids-limit', '80', 'lim');
    t.equal(read(path.join(cg, 'memory.max')), String(128 << 20), 'update: memory.max');
    t.equal(read(path.join(cg, 'pids.max')), '80', 'update: pids.max');
    let after: Record<string, string> = {};
    await waitFor(async () => {
      after = await show(scope, 'MemoryMax', 'TasksMax');
      return after.MemoryMax === String(128 << 20) && after.TasksMax === '80';
    }, 30_000).catch(() => {});
    t.same(after, { MemoryMax: String(128 << 20), TasksMax: '80' }, 'update: systemd has the new properties too');

    await ok('rm', '-f', 'lim');
    t.not(await active(scope), 'active', 'rm stopped the unit');
    t.notOk(fs.existsSync(cg), 'and its cgroup is gone');
  });

  await t.test('a cold init (--pid host) gets its scope too; a --cgroup-parent is a slice; OOM kills are seen', async (t) => {
    const id = await ok('run', '-d', '--name', 'cold', '--pid', 'host', '--cgroup-parent', 'tsdtest-x.slice', '-m', '48m', IMAGE, 'sleep', '1000');
    const scope = `docker-${id}.scope`;
    t.equal(await active(scope), 'active');
    t.equal((await show(scope, 'Slice')).Slice, 'tsdtest-x.slice');
    const pid = await ok('inspect', '-f', '{{.State.Pid}}', 'cold');
    t.equal(await cgroupOfPid(pid), `0::/tsdtest.slice/tsdtest-x.slice/${scope}`, 'in the slice\'s scope, as systemd lays slices out');
    t.equal(read(path.join(CG, 'tsdtest.slice/tsdtest-x.slice', scope, 'memory.max')), String(48 << 20));
    await ok('rm', '-f', 'cold');
    t.not(await active(scope), 'active');
    // systemd removes an emptied scope's cgroup at once: the OOM kill is still reported
    const oom = await docker('run', '--name', 'oom', '-m', '32m', IMAGE, 'sh', '-c', 'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo survived');
    t.equal(oom.code, 137, `killed by the OOM killer: ${oom.err}`);
    t.equal(await ok('inspect', '-f', '{{.State.OOMKilled}}', 'oom'), 'true', 'inspect says OOMKilled');
    await ok('rm', 'oom');
    const bad = await docker('create', '--cgroup-parent', 'not-a-slice', IMAGE, 'true');
    t.not(bad.code, 0, 'a parent that is not a slice is refused');
    t.match(bad.err, /should be a valid slice named as "xxx\.slice"/);
    t.same(fs.readdirSync(path.join(CG, 'system.slice')).filter((n) => n.startsWith('docker-')), [], 'no docker-*.scope left in system.slice');
    t.same((await sd.exec('systemctl', 'list-units', '--all', '--plain', '--no-legend', 'docker-*.scope')).out.trim(), '', 'no docker-*.scope unit left');
  });
  t.comment(`done after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

});

