// tsctl, the companion CLI, driving a daemon: run (attach, exit code), ps, logs, images, rm, errors.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDaemon, tsctlMain } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';

const run = promisify(execFile);

t.test('tsctl run/ps/logs/images/rm', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  await run('docker', ['load', '-i', (await busyboxSaveTar()).path], { env: d.dockerEnv });
  const env = { ...process.env, TSD_HOST: `unix://${d.socket}` };
  const tsctl = (...args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> => run(process.execPath, [tsctlMain, ...args], { env }).catch((e) => e as { code: number; stdout: string; stderr: string });

  const r = await tsctl('run', '--rm', 'busybox:fixture', 'sh', '-c', 'echo out; echo err >&2; exit 4');
  t.equal(r.code, 4, 'exit code of the container');
  t.equal(r.stdout, 'out\n');
  t.equal(r.stderr, 'err\n');

  const id = (await tsctl('run', '-d', '--name', 'bg', 'busybox:fixture', 'sh', '-c', 'echo logged; sleep 30')).stdout.trim();
  t.match(id, /^[0-9a-f]{64}$/);
  const ps = (await tsctl('ps')).stdout;
  t.match(ps, /busybox:fixture/);
  t.match(ps, /\bbg\b/);
  t.match(ps, /Up /);
  for (let i = 0; i < 20 && !(await tsctl('logs', 'bg')).stdout.includes('logged'); i++) await new Promise((r) => setTimeout(r, 100));
  t.equal((await tsctl('logs', 'bg')).stdout, 'logged\n');
  t.match((await tsctl('images')).stdout, /busybox\s+fixture\s+[0-9a-f]{12}/);
  t.equal((await tsctl('rm', '-f', 'bg')).stdout.trim(), 'bg');
  t.notMatch((await tsctl('ps', '-a')).stdout, /\bbg\b/);
  const missing = await tsctl('rm', 'nope');
  t.equal(missing.code, 1, 'a daemon error exits 1, as docker rm does');
  t.equal(missing.stderr, 'Error response from daemon: No such container: nope\n');
  const down = await run(process.execPath, [tsctlMain, '--host', 'unix:///nonexistent.sock', 'ps']).catch((e) => e);
  t.equal(down.code, 1);
  t.match(down.stderr, 'Cannot connect to the tsd daemon at unix:///nonexistent.sock');
});
