// docker build from the clients that build: docker-py's images.build (Debian's
// python3-docker 5.0.3), docker-compose 1.29's `up --build`, and
// testcontainers-node's GenericContainer.fromDockerfile. On tsd and, with
// TSD_COMPARE_SOCK, on dockerd first.
import t, { type Test } from 'tap';
import path from 'node:path';
import { engines, clientOpts, onPath, distDir, type Engine } from '../../clients/helpers.js';
import { contextDir } from './helpers.js';

const PY = '/usr/bin/python3';
const COMPOSE = '/usr/bin/docker-compose';
const here = path.join(distDir, '..', 'test', 'integration', 'builder');

t.setTimeout(600_000);

const lines = (t: Test, r: { code: number; out: string; err: string }, e: Engine) => {
  const checks = r.out.split('\n').filter((l) => /^(ok  |FAIL) /.test(l));
  for (const l of checks) t.ok(l.startsWith('ok'), l.slice(5));
  t.ok(checks.length > 0, 'the checks ran');
  t.equal(r.code, 0, `exit 0${r.code ? `:\n${r.out.slice(-1500)}\n${r.err.slice(-2000)}\n${e.logTail()}` : ''}`);
};

t.test('clients that build', clientOpts(), async (t) => {
  for (const e of await engines(t)) {
    await t.test(`on ${e.name}`, async (t) => {
      await t.test('docker-py images.build', { skip: onPath('/usr/lib/python3/dist-packages/docker/__init__.py') ? false : "needs Debian's python3-docker" }, async (t) => {
        const r = await e.run(PY, ['-I', path.join(here, 'py', 'build.py')], { timeout: 240_000, env: { TSD_BUILD_RUN: `${process.pid}` } });
        lines(t, r, e);
      });

      await t.test('docker-compose up --build', { skip: onPath(COMPOSE) ? false : 'needs docker-compose' }, async (t) => {
        const project = `tsdcb${process.pid % 100000}`;
        const dir = contextDir(t, {
          'docker-compose.yml': `version: "3.7"\nservices:\n  app:\n    build:\n      context: ./app\n      args:\n        MSG: built by compose\n    image: ${project}-app:latest\n    command: ["sh", "-c", "cat /msg; echo ready; exec sleep 300"]\n`,
          'app/Dockerfile': 'FROM busybox:fixture\nARG MSG\nRUN echo "$MSG" > /msg\n',
        });
        const compose = (...args: string[]) => e.run(COMPOSE, ['--no-ansi', '-p', project, ...args], { cwd: dir, timeout: 180_000 });
        t.teardown(async () => {
          await compose('down', '-v', '--rmi', 'local', '-t', '1');
          await e.run('docker', ['rmi', '-f', `${project}-app:latest`]);
        });
        const up = await compose('up', '--build', '-d');
        t.equal(up.code, 0, `up --build: ${up.err.slice(-2000)}`);
        t.match(up.out + up.err, /Successfully (built|tagged)/);
        let logs = '';
        for (let i = 0; i < 50 && !logs.includes('ready'); i++) {
          logs = (await compose('logs', '--no-color', 'app')).out;
          if (!logs.includes('ready')) await new Promise((r) => setTimeout(r, 200));
        }
        t.match(logs, /built by compose/, 'the service runs the image it built');
        const again = await compose('up', '--build', '-d');
        t.equal(again.code, 0);
        t.match(again.out + again.err, /Using cache/, 'the second build comes from the cache');
        t.match(again.err, /is up-to-date/, 'the same image: nothing recreated');
      });

      await t.test('testcontainers GenericContainer.fromDockerfile', async (t) => {
        const ctx = contextDir(t, { Dockerfile: 'FROM busybox:fixture\nARG GREETING=none\nRUN echo "$GREETING" > /greeting\nCMD ["sh", "-c", "echo ready; exec sleep 300"]\n' });
        t.teardown(async () => {
          const imgs = (await e.run('docker', ['images', '-q', 'tsd-tc-build'])).out.split('\n').filter(Boolean);
          if (imgs.length) await e.run('docker', ['rmi', '-f', ...new Set(imgs)]);
        });
        const r = await e.run(process.execPath, [path.join(distDir, 'test', 'integration', 'builder', 'testcontainers-build.js'), ctx], {
          timeout: 240_000, env: { TESTCONTAINERS_RYUK_DISABLED: 'true', DOCKER_HOST: e.env.DOCKER_HOST },
        });
        lines(t, r, e);
      });
    });
  }
});
