// The delegated layout on a real cgroup2 mount (the unified mount of a v1 host is
// enough): a process in a cgroup laid out as systemd lays out a Delegate=yes
// service (system.slice/<unit>.service, marked trusted.delegate=1) moves itself into
// <unit>.service/tsd, and the unit's cgroup then takes children with controllers.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { detectCgroupMode } from '../../../cgroupfs/index.js';
import { CGROUP2_SUPER_MAGIC } from '../../../cgroupfs/mode.js';
import { LinuxSyscalls } from '../../../sys/index.js';
import { privilegedOpts } from '../../helpers/privileged.js';

const root = detectCgroupMode() === 'unified' ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
const isV2 = (() => { try { return Number(fs.statfsSync(root).type) === CGROUP2_SUPER_MAGIC; } catch { return false; } })();
const CGROUPFS = fileURLToPath(new URL('../../../cgroupfs/index.js', import.meta.url));

t.test('a daemon in a delegated cgroup moves into its `tsd` child', { skip: privilegedOpts().skip || (!isV2 && 'needs a cgroup2 mount') }, async (t) => {
  const slice = path.join(root, `tsd-test-${process.pid}.slice`);
  const unit = path.join(slice, 'tsd.service');
  t.teardown(() => {
    for (const d of [path.join(unit, 'tsd'), path.join(unit, 'ctr'), unit, slice]) { try { fs.rmdirSync(d); } catch { /* gone */ } }
  });
  fs.mkdirSync(unit, { recursive: true });
  new LinuxSyscalls().lsetxattr(unit, 'trusted.delegate', Buffer.from('1'));
  const script = `
    import fs from 'node:fs';
    fs.writeFileSync(${JSON.stringify(path.join(unit, 'cgroup.procs'))}, String(process.pid));
    const { enterDelegatedSubtree } = await import(${JSON.stringify(CGROUPFS)});
    const self = fs.readFileSync('/proc/self/cgroup', 'utf8');
    const layout = enterDelegatedSubtree(${JSON.stringify(root)}, self.replace(/^0::.*$/m, '0::' + ${JSON.stringify('/' + path.relative(root, unit))}), {});
    const after = fs.readFileSync(${JSON.stringify(path.join(unit, 'tsd', 'cgroup.procs'))}, 'utf8').trim().split('\\n');
    // the unit's cgroup is empty now: a sibling of the daemon can get controllers (no internal processes)
    fs.mkdirSync(${JSON.stringify(path.join(unit, 'ctr'))});
    console.log(JSON.stringify({ layout, moved: after.includes(String(process.pid)), unitProcs: fs.readFileSync(${JSON.stringify(path.join(unit, 'cgroup.procs'))}, 'utf8').trim() }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const rel = path.relative(root, unit);
  t.same(out.layout, { parent: rel, daemon: `${rel}/tsd` });
  t.ok(out.moved, 'the process is in <unit>/tsd');
  t.equal(out.unitProcs, '', 'the unit\'s own cgroup holds no process');
  t.ok(fs.existsSync(path.join(unit, 'ctr')), 'containers go beside the daemon');
});

t.test('not delegated (no xattr, not a systemd service): nothing moves', { skip: privilegedOpts().skip || (!isV2 && 'needs a cgroup2 mount') }, async (t) => {
  const { enterDelegatedSubtree } = await import('../../../cgroupfs/index.js');
  t.equal(enterDelegatedSubtree(root, '0::/user.slice/session-1.scope\n', {}), null);
});
