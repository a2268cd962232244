// docker-compose (Debian's 1.29, the Python one) driving four projects the way
// its users do: up with health-gated depends_on, service names and aliases on
// two networks, published ports, env_file, logs -f, exec, run --rm, scale,
// restart, a second up that recreates nothing, and down -v. Each scenario runs
// on tsd and, with TSD_COMPARE_SOCK, on dockerd first.
import t from 'tap';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { engines, clientOpts, clientFixtures, waitFor, hostFetch, type Engine } from './helpers.js';

const COMPOSE = '/usr/bin/docker-compose';
const opts = clientOpts(COMPOSE);
// Python compose starts slowly; with a compare engine the file runs twice.
t.setTimeout(900_000);
const dir = (p: string) => path.join(clientFixtures, 'compose', p);

t.test('docker-compose', opts, async (t) => {
  const list = await engines(t);
  for (const e of list) {
    await t.test(`on ${e.name}`, async (t) => {
      let n = 0;
      const project = (base: string) => `tsdc${base}${process.pid % 10000}${n++}`;
      /** docker-compose -p <project> in the project's dir; down -v at teardown whatever happened. */
      const compose = (p: string, name: string) => {
        const run = (...args: string[]) => e.run(COMPOSE, ['--no-ansi', '-p', name, ...args], { cwd: dir(p), timeout: 180_000 });
        const ok = (...args: string[]) => e.ok(COMPOSE, ['--no-ansi', '-p', name, ...args], { cwd: dir(p), timeout: 180_000 });
        t.teardown(() => run('down', '-v', '--remove-orphans', '-t', '1'));
        return { run, ok };
      };
      const ids = async (name: string) => (await e.ok('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.compose.project=${name}`])).split('\n').filter(Boolean).sort();

      await t.test('webkv: health-gated up, service names, port, env_file, exec, logs -f, run --rm, up again recreates nothing, down -v', async (t) => {
        const name = project('webkv');
        const c = compose('webkv', name);
        await c.ok('up', '-d');
        const ps = await c.ok('ps');
        t.match(ps, /_kv_1 .*Up \(healthy\)/, 'kv healthy before its dependents started');
        t.match(ps, /_web_1 .*Up/);
        t.match(ps, /_worker_1 .*Up/);
        // the worker reaches kv by service name and stores a counter in the named volume
        const count = await waitFor(async () => {
          const v = (await c.run('exec', '-T', 'kv', 'cat', '/data/count')).out.trim();
          return Number(v) >= 2 ? v : null;
        }, 30_000, 'the worker to store a count through kv');
        t.ok(Number(count) >= 2, `count ${count}`);
        t.equal((await c.ok('exec', '-T', 'web', 'wget', '-q', '-O-', 'http://kv:8000/cgi-bin/kv?count')).trim().length > 0, true, 'web reaches kv by name');
        // env_file and exec
        t.equal((await c.ok('exec', '-T', 'web', 'sh', '-c', 'echo $GREETING-$MODE')).trim(), 'hello-test');
        // the published port, from the host (inside the engine's netns for the compare engine)
        const port = (await c.ok('port', 'web', '8000')).trim();
        t.match(port, /^0\.0\.0\.0:\d+$/);
        const body = await waitFor(() => hostFetch(e, `http://127.0.0.1:${port.split(':')[1]}/`), 15_000, 'the published port');
        t.equal(body.trim(), 'hello from web');
        // logs -f follows until we stop it
        const follow = spawn(COMPOSE, ['--no-ansi', '-p', name, 'logs', '-f', '--tail', '1', 'worker'], { cwd: dir('webkv'), env: e.env });
        let flog = '';
        follow.stdout.on('data', (d) => (flog += d));
        try {
          const before = (flog.match(/worker tick/g) ?? []).length;
          await waitFor(async () => (flog.match(/worker tick/g) ?? []).length >= before + 2, 20_000, 'logs -f to show new lines');
          t.pass('logs -f streams new lines');
        } finally {
          follow.kill('SIGINT');
        }
        // run --rm: a one-off container on the project network, removed afterwards
        const one = await c.ok('run', '--rm', '-T', 'worker', 'wget', '-q', '-O-', 'http://kv:8000/cgi-bin/kv?count');
        t.ok(Number(one.trim()) >= 1, 'the one-off container reaches kv');
        t.same((await e.ok('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${name}`, '--filter', 'label=com.docker.compose.oneoff=True'])).trim(), '', 'run --rm removed its container');
        // a second up of the unchanged project recreates nothing
        const before = await ids(name);
        const again = await c.ok('up', '-d');
        const againErr = (await c.run('up', '-d')).err;
        t.notMatch(againErr, /Recreating/, 'nothing recreated');
        t.match(againErr, /is up-to-date/);
        t.same(await ids(name), before, 'the same containers');
        void again;
        // down -v removes containers, the network and the named volume
        await c.ok('down', '-v', '-t', '1');
        t.same(await ids(name), []);
        const vols = (await e.ok('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${name}`])).trim();
        t.equal(vols, '', 'named volume removed');
        const nets = (await e.ok('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${name}`])).trim();
        t.equal(nets, '', 'project network removed');
      });

      await t.test('nets: two networks with aliases, isolation between them', async (t) => {
        const name = project('nets');
        const c = compose('nets', name);
        await c.ok('up', '-d');
        const get = (svc: string, host: string) => c.run('exec', '-T', svc, 'timeout', '5', 'wget', '-q', '-O-', `http://${host}:8000/`); // timeout(1), not wget -T: this busybox's wget -T crashes
        for (const host of ['api', 'backend', 'api.internal']) {
          const r = await waitFor(async () => { const x = await get('proxy', host); return x.code === 0 ? x : null; }, 15_000, `proxy → ${host}`);
          t.equal(r.out.trim(), 'api-ok', `proxy reaches the api as ${host}`);
        }
        t.not((await get('client', 'backend')).code, 0, 'client (front only) cannot reach the back network');
        t.equal((await c.ok('exec', '-T', 'client', 'ping', '-c', '1', '-W', '3', 'gateway')).includes('1 packets received'), true, 'client reaches the proxy by its front alias');
        const back = JSON.parse(await e.ok('docker', ['network', 'inspect', `${name}_back`]))[0];
        t.equal(back.Labels.tier, 'back', 'network labels');
        t.equal(Object.keys(back.Containers).length, 2, 'api and proxy on back');
        const proxy = JSON.parse(await e.ok('docker', ['inspect', `${name}_proxy_1`]))[0];
        t.same(Object.keys(proxy.NetworkSettings.Networks).sort(), [`${name}_back`, `${name}_front`]);
        t.ok(proxy.NetworkSettings.Networks[`${name}_front`].Aliases.includes('gateway'));
        const before = await ids(name);
        t.notMatch((await c.run('up', '-d')).err, /Recreating/, 'second up recreates nothing');
        t.same(await ids(name), before);
      });

      await t.test('scale: scale up and down, restart, restart policy', async (t) => {
        const name = project('scale');
        const c = compose('scale', name);
        await c.ok('up', '-d', '--scale', 'echo=3');
        const running = async () => (await e.ok('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${name}`, '--filter', 'label=com.docker.compose.service=echo'])).split('\n').filter(Boolean).length;
        t.equal(await running(), 3, 'three replicas');
        await c.ok('up', '-d', '--scale', 'echo=1');
        t.equal(await running(), 1, 'scaled down to one');
        const startedAt = async () => JSON.parse(await e.ok('docker', ['inspect', `${name}_echo_1`]))[0].State.StartedAt as string;
        const s0 = await startedAt();
        await c.ok('restart', '-t', '1', 'echo');
        t.not(await startedAt(), s0, 'restart started it again');
        // on-failure: exits 3 twice, then stays up
        const flaky = await waitFor(async () => {
          const i = JSON.parse(await e.ok('docker', ['inspect', `${name}_flaky_1`]))[0];
          return i.State.Running && i.RestartCount >= 2 ? i : null;
        }, 60_000, 'flaky to come up after two restarts');
        t.equal(flaky.RestartCount, 2, 'restarted twice by policy');
        t.match(await c.ok('logs', '--no-color', 'flaky'), /run 3/);
        await c.ok('stop', '-t', '1');
        t.equal(await running(), 0, 'stop stops them all');
        await c.ok('start');
        t.equal(await running(), 1, 'start starts them again');
      });

      await t.test('oneoff: run --rm waits for a healthy dependency, propagates exit codes; down -v', async (t) => {
        const name = project('oneoff');
        const c = compose('oneoff', name);
        const out = await c.ok('run', '--rm', '-T', 'migrate');
        t.equal(out.trim(), '42', 'the one-off read what the healthy db wrote to the shared volume');
        const st = JSON.parse(await e.ok('docker', ['inspect', `${name}_db_1`]))[0].State;
        t.equal(st.Health.Status, 'healthy');
        const r = await c.run('run', '--rm', '-T', 'migrate', 'sh', '-c', 'echo $STAGE; exit 7');
        t.equal(r.code, 7, 'exit code propagated');
        t.equal(r.out.trim(), 'migrate');
        t.same((await e.ok('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${name}`, '--filter', 'label=com.docker.compose.oneoff=True'])).trim(), '');
        await c.ok('down', '-v', '-t', '1');
        t.equal((await e.ok('docker', ['volume', 'ls', '-q', '--filter', `name=${name}_dbdata`])).trim(), '');
      });
    });
  }
});
