// rm -f, kill and stop always end a container, even one whose cgroup is frozen while
// tsd records it running: what a daemon killed between a pause's freeze and its row's
// update leaves, and what the chaos test hit (round 102, seed 1290108472: the rm -f of
// an adopted container killed during `pause` never answered). The freeze is made here
// the same way, by writing the container's freezer file behind the daemon's back.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { containerEnv, containerOpts } from './helpers.js';

const opts = containerOpts();

function freeze(parent: string, id: string): string {
  const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  const file = v2 ? path.join('/sys/fs/cgroup', parent, id, 'cgroup.freeze') : path.join('/sys/fs/cgroup/freezer', parent, id, 'freezer.state');
  fs.writeFileSync(file, v2 ? '1' : 'FROZEN');
  return file;
}

t.test('a frozen container recorded running is still killed, stopped and removed', opts, async (t) => {
  const e = await containerEnv(t);
  const P = e.d.cgroupParent;
  for (const verb of ['rm -f', 'kill', 'stop -t 1']) {
    await t.test(verb, async (t) => {
      const n = e.name('frozen');
      const id = (await e.ok('run', '-d', '--name', n, 'busybox:fixture', 'sleep', '600')).trim();
      const file = freeze(P, id);
      t.match(fs.readFileSync(file, 'utf8'), /1|FROZEN|FREEZING/, 'frozen behind the daemon\'s back');
      t.equal((await e.ok('inspect', '-f', '{{.State.Status}}', n)).trim(), 'running', 'tsd still records it running');
      const r = await e.docker([...verb.split(' '), n], { timeout: 30_000 });
      t.equal(r.code, 0, `docker ${verb} answers (${r.err.trim()})`);
      if (verb !== 'rm -f') {
        t.equal((await e.ok('inspect', '-f', '{{.State.Status}}', n)).trim(), 'exited', 'it exited');
        await e.ok('rm', n);
      }
      t.equal((await e.docker(['inspect', n])).code, 1, 'and it is gone after rm');
    });
  }
});
