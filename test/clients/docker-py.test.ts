// docker-py (Debian's python3-docker, run by Debian's /usr/bin/python3) driving
// containers, exec (demux, tty, socket), images, networks, volumes, events,
// stats, archives and the swarm refusals, as small Python scenarios
// (test/clients/py/scenarios.py). Each "ok"/"FAIL" line a scenario prints is one
// assertion here. On tsd and, with TSD_COMPARE_SOCK, on dockerd first.
import t from 'tap';
import path from 'node:path';
import { engines, clientOpts, clientFixtures, onPath } from './helpers.js';
import { busyboxSaveTar } from '../fixtures/images.js';

const PY = '/usr/bin/python3';
const script = path.join(clientFixtures, '..', 'py', 'scenarios.py');
const SCENARIOS = ['run_logs', 'exec', 'images', 'networks', 'volumes', 'events', 'stats', 'archive', 'swarm'];

function pyDockerOpts(): { skip: string | false } {
  const o = clientOpts(PY);
  if (o.skip) return o;
  if (!onPath('/usr/lib/python3/dist-packages/docker/__init__.py')) return { skip: "needs Debian's python3-docker" };
  return o;
}

t.setTimeout(600_000);
t.test('docker-py', pyDockerOpts(), async (t) => {
  const list = await engines(t);
  const tar = (await busyboxSaveTar()).path;
  for (const e of list) {
    await t.test(`on ${e.name}`, async (t) => {
      for (const s of SCENARIOS) {
        await t.test(s, async (t) => {
          // -I: isolated from user site-packages and PYTHON* variables, so Debian's docker module is the one imported
          const r = await e.run(PY, ['-I', script, s], { timeout: 180_000, env: { TSD_BUSYBOX_TAR: tar, TSD_CLIENTS_RUN: `${process.pid}${s.slice(0, 3)}` } });
          const lines = r.out.split('\n').filter((l) => /^(ok  |FAIL) /.test(l));
          for (const l of lines) t.ok(l.startsWith('ok'), l.slice(5));
          t.equal(r.code, 0, `${s} exited 0${r.code ? `:\n${r.out.slice(-1500)}\n${r.err.slice(-2000)}\n${e.logTail()}` : ''}`);
          t.ok(lines.length > 0, 'the scenario ran its checks');
        });
      }
    });
  }
});
