// runtime/host-cgroups.ts keeps the host's cgroup hierarchies (what a container's
// /sys/fs/cgroup is made of) between starts: these mount, unmount and re-point
// under a base whose answer was kept, and look for the change in the next answer.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostCgroups } from '../../../runtime/host-cgroups.js';

/** Past the window in which a change may carry the same time stamp as the read (host-cgroups.ts RACY_MS). */
const settle = () => new Promise((r) => setTimeout(r, 2100));
const summary = (base: string) => {
  const h = hostCgroups(base);
  return [...h.hierarchies.map((x) => `${x.fstype}:${x.name}`), ...h.links.map((l) => `${l.name}->${l.target}`)];
};

t.test('a kept answer is read again after a mount, an unmount or a re-pointed link', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-test-cgh-'));
  const mounted: string[] = [];
  const mount = (d: string) => { execFileSync('mount', ['-t', 'cgroup2', 'none', path.join(base, d)]); mounted.push(d); };
  const umount = (d: string) => { execFileSync('umount', [path.join(base, d)]); mounted.splice(mounted.indexOf(d), 1); };
  t.teardown(() => {
    for (const d of [...mounted]) { try { umount(d); } catch { execFileSync('umount', ['-l', path.join(base, d)]); } }
    fs.rmSync(base, { recursive: true, force: true });
  });
  for (const d of ['a', 'b']) fs.mkdirSync(path.join(base, d));
  fs.symlinkSync('a', path.join(base, 'l'));
  mount('b');
  await settle();

  const first = hostCgroups(base);
  t.equal(hostCgroups(base), first, 'nothing changed: the kept answer');
  t.same(summary(base), ['cgroup2:b', 'l->a']);

  mount('a');
  t.same(summary(base), ['cgroup2:b', 'cgroup2:a', 'l->a'], 'a hierarchy mounted on an entry (the base unchanged) is seen');
  await settle();
  t.equal(hostCgroups(base), hostCgroups(base), 'kept again once settled');
  t.same(summary(base), ['cgroup2:b', 'cgroup2:a', 'l->a']);
  umount('a');
  t.same(summary(base), ['cgroup2:b', 'l->a'], 'an unmounted one is gone');

  await settle();
  hostCgroups(base);
  fs.unlinkSync(path.join(base, 'l'));
  fs.symlinkSync('b', path.join(base, 'l'));
  t.same(summary(base), ['cgroup2:b', 'l->b'], 'a re-pointed link is seen');
});

t.test('the host: the same answer as mountinfo read now', async (t) => {
  const a = hostCgroups();
  t.ok(a.hierarchies.length > 0, 'this host mounts cgroups');
  t.same(hostCgroups(), a);
});
