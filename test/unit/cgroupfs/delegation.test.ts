// The layout under a systemd-delegated cgroup: pure parts.
import t from 'tap';
import { delegatedLayout, isDelegated, ownCgroupV2 } from '../../../cgroupfs/index.js';

t.test('own v2 cgroup from /proc/self/cgroup', async (t) => {
  t.equal(ownCgroupV2('12:pids:/x\n0::/system.slice/tsd.service\n'), '/system.slice/tsd.service');
  t.equal(ownCgroupV2('0::/\n'), '/');
  t.equal(ownCgroupV2('4:memory:/a\n'), null, 'pure v1: none');
});

t.test('the daemon moves into a `tsd` child, containers beside it', async (t) => {
  t.same(delegatedLayout('/system.slice/tsd.service'), { parent: 'system.slice/tsd.service', daemon: 'system.slice/tsd.service/tsd' });
  t.same(delegatedLayout('/system.slice/tsd.service/tsd'), { parent: 'system.slice/tsd.service', daemon: 'system.slice/tsd.service/tsd' }, 'already moved (restart in place)');
  t.equal(delegatedLayout('/'), null, 'the root cgroup: nothing delegated');
});

t.test('delegated: systemd\'s xattr, or a systemd service on an older systemd', async (t) => {
  const xattr = (value: string | null) => (_p: string, name: string) => (name === 'trusted.delegate' && value !== null ? Buffer.from(value) : null);
  t.ok(isDelegated('/sys/fs/cgroup/system.slice/tsd.service', {}, xattr('1')));
  t.notOk(isDelegated('/sys/fs/cgroup/user.slice/session-1.scope', {}, xattr(null)), 'a login session is not ours');
  t.notOk(isDelegated('/sys/fs/cgroup/system.slice/other.service', {}, xattr('0')));
  t.ok(isDelegated('/sys/fs/cgroup/system.slice/tsd.service', { INVOCATION_ID: 'abc' }, xattr(null)), 'systemd < 251 sets no xattr');
  t.notOk(isDelegated('/sys/fs/cgroup/user.slice/session-1.scope', { INVOCATION_ID: 'abc' }, xattr(null)));
});
