// testcontainers-node (npm, pinned to 11.x: 12 needs Node 22) the way its users
// write tests: log, health-check, port and HTTP waits, mapped ports, exec, copy
// to and from, networks with aliases, reuse, and the Ryuk pattern. Scenarios
// run in a child process per engine (testcontainers-scenarios.ts); each
// "ok"/"FAIL" line is one assertion. Ryuk itself is disabled (its image is on
// Docker Hub); a local reaper image stands in for it: busybox + the host's
// static docker CLI + fixtures/reaper.sh, built through docker cp and commit.
import t from 'tap';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { engines, clientOpts, clientFixtures, distDir, type Engine } from './helpers.js';

const scenarios = path.join(distDir, 'test', 'clients', 'testcontainers-scenarios.js');

function staticDockerCli(): string | null {
  try {
    const p = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
    return /statically linked/.test(execFileSync('file', ['-L', p], { encoding: 'utf8' })) ? p : null;
  } catch {
    return null;
  }
}

async function buildReaper(e: Engine, cli: string): Promise<string> {
  const image = `tsd-test/reaper:${process.pid}`;
  const name = `tsd-reaper-build-${process.pid}`;
  await e.ok('docker', ['create', '--name', name, 'busybox:fixture']);
  try {
    await e.ok('docker', ['cp', cli, `${name}:/bin/docker`]);
    await e.ok('docker', ['cp', path.join(clientFixtures, 'reaper.sh'), `${name}:/reaper.sh`]);
    await e.ok('docker', ['commit', '--change', 'CMD ["/reaper.sh"]', '--change', 'LABEL org.testcontainers.ryuk=true', name, image]);
  } finally {
    await e.run('docker', ['rm', '-f', name]);
  }
  return image;
}

t.setTimeout(600_000);
t.test('testcontainers-node', clientOpts(), async (t) => {
  const list = await engines(t);
  const cli = staticDockerCli();
  for (const e of list) {
    await t.test(`on ${e.name}`, async (t) => {
      const hostPorts = e.name === 'tsd';
      if (!hostPorts) t.comment('port, HTTP and reaper checks skipped: the compare engine publishes ports only inside its network namespace');
      const reaper = cli && hostPorts ? await buildReaper(e, cli) : undefined;
      if (!cli) t.comment('reaper check skipped: no statically linked docker CLI to put in the reaper image');
      t.teardown(async () => { if (reaper) await e.run('docker', ['rmi', '-f', reaper]); });
      const r = await e.run(process.execPath, [scenarios], {
        timeout: 300_000,
        env: {
          TESTCONTAINERS_RYUK_DISABLED: 'true', TSD_TC_HOST_PORTS: hostPorts ? '1' : '0', TSD_CLIENTS_RUN: String(process.pid),
          TSD_TC_SOCKET: e.socket, ...(reaper ? { TSD_TC_REAPER_IMAGE: reaper } : {}),
        },
      });
      const lines = r.out.split('\n').filter((l) => /^(ok  |FAIL) /.test(l));
      for (const l of lines) t.ok(l.startsWith('ok'), l.slice(5));
      t.equal(r.code, 0, `scenarios exited 0${r.code ? `:\n${r.err.slice(-3000)}\n${e.logTail()}` : ''}`);
      t.ok(lines.length >= (hostPorts ? 14 : 9), `every scenario ran (${lines.length} checks)`);
      const left = (await e.run('docker', ['ps', '-aq', '--filter', `label=tsd.clients=${process.pid}`])).out.trim();
      t.equal(left, '', 'nothing left behind');
      if (left) await e.run('docker', ['rm', '-f', ...left.split('\n')]);
    });
  }
});
