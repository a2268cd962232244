// tsctl driven as a person at a terminal would: run -it and exec -it under a pty
// (typing, tty size, exit status), stats redrawn in place, pull/push drawing one
// progress bar per layer against a local registry.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDaemon, tsctlMain } from '../../helpers/daemon.js';
import { privilegedOpts } from '../../helpers/privileged.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { registryAvailable, startRegistry } from '../../fixtures/registry.js';
import { pty } from './pty.js';
import { parseMetrics, sample } from '../../helpers/metrics.js';

const run = promisify(execFile);

t.test('tsctl at a terminal', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  await run('docker', ['load', '-i', (await busyboxSaveTar()).path], { env: d.dockerEnv });
  const env = { ...process.env, TSD_HOST: `unix://${d.socket}` };
  const tsctl = (...args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> => run(process.execPath, [tsctlMain, ...args], { env }).catch((e) => e as { code: number; stdout: string; stderr: string });

  await t.test('run -it: a shell on a tty of our size, typed into, its exit status', async (t) => {
    const s = pty([process.execPath, tsctlMain, 'run', '-it', '--rm', '--name', 'itty', 'busybox:fixture', 'sh'], env, { rows: 33, cols: 111 });
    t.teardown(() => s.kill());
    await s.waitFor(/# /);
    s.type('echo "answer $((6*7))"; tty; stty size\n');
    await s.waitFor(/answer 42/);
    await s.waitFor(/\/dev\/pts\/\d+/);
    await s.waitFor(/33 111/);
    s.type('exit 5\n');
    t.equal(await s.exited, 5, 'the exit status of the shell');
    t.equal((await tsctl('ps', '-a', '-q', '--filter', 'name=itty')).stdout, '', '--rm removed it');
  });

  await t.test('exec -it into a running container', async (t) => {
    await tsctl('run', '-d', '--name', 'target', '--hostname', 'boxhost', 'busybox:fixture', 'sleep', '300');
    const s = pty([process.execPath, tsctlMain, 'exec', '-it', '-e', 'GREETING=hello', '-w', '/tmp', 'target', 'sh'], env);
    t.teardown(() => s.kill());
    await s.waitFor(/# /);
    s.type('echo "$GREETING from $(hostname) in $(pwd)"; tty\n');
    await s.waitFor(/hello from boxhost in \/tmp/);
    await s.waitFor(/\/dev\/pts\/\d+/);
    s.type('exit 7\n');
    t.equal(await s.exited, 7);
  });

  await t.test('detach with ctrl-p ctrl-q leaves the container running', async (t) => {
    const s = pty([process.execPath, tsctlMain, 'run', '-it', '--name', 'detachme', 'busybox:fixture', 'sh'], env);
    t.teardown(() => s.kill());
    await s.waitFor(/# /);
    s.type('\x10\x11');
    t.equal(await s.exited, 0);
    t.equal((await tsctl('inspect', '-f', '{{.State.Running}}', 'detachme')).stdout, 'true\n');
    await tsctl('rm', '-f', 'detachme');
  });

  await t.test('stats redraws a live table in place', async (t) => {
    await tsctl('run', '-d', '--name', 'busy', '--cpus', '0.5', 'busybox:fixture', 'sh', '-c', 'while :; do :; done');
    const s = pty([process.execPath, tsctlMain, 'stats', 'busy', 'target'], env);
    t.teardown(() => s.kill());
    // frames start with cursor-home; wait for several, the later ones with a real CPU figure for busy
    await s.waitFor(/(\x1b\[H[^]*?){4}/, 20_000);
    await s.waitFor(/\x1b\[H[^\x1b]*CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT[^]*busy\s+(?:[1-9]\d*|0*[1-9])\.\d\d%/, 20_000);
    s.kill();
    const frames = s.screen().split('\x1b[H').filter((f) => f.includes('CONTAINER ID'));
    t.ok(frames.length >= 4, `${frames.length} frames drawn`);
    const last = frames[frames.length - 1]!;
    t.match(last, /busy\s+\d+\.\d\d%\s+[\d.]+[KMG]?i?B \/ [\d.]+[KMG]iB/);
    t.match(last, /target\s+0\.00%/);
    const pct = Number(/busy\s+([\d.]+)%/.exec(last)![1]);
    t.ok(pct > 5 && pct < 80, `busy loop capped by --cpus 0.5 shows ${pct}%`);
    await tsctl('rm', '-f', 'busy', 'target');
  });

  await t.test('push and pull draw a progress line per layer', { skip: registryAvailable() ? false : 'docker-registry not installed' }, async (t) => {
    const reg = await startRegistry();
    t.teardown(() => reg.stop());
    const name = `${reg.host}/cli/busybox:v1`;
    t.equal((await tsctl('tag', 'busybox:fixture', name)).stdout, '');
    const push = pty([process.execPath, tsctlMain, 'push', name], env);
    t.teardown(() => push.kill());
    t.equal(await push.exited, 0, push.screen());
    t.match(push.screen(), /The push refers to repository \[[^\]]+\/cli\/busybox\]/);
    t.match(push.screen(), /[0-9a-f]{12}: Pushed/);
    t.match(push.screen(), /v1: digest: sha256:[0-9a-f]{64} size: \d+/);

    t.equal((await tsctl('rmi', name)).code, undefined);
    t.equal((await tsctl('rmi', 'busybox:fixture')).code, undefined);
    const pull = pty([process.execPath, tsctlMain, 'pull', name], env);
    t.teardown(() => pull.kill());
    t.equal(await pull.exited, 0, pull.screen());
    const screen = pull.screen();
    t.match(screen, /v1: Pulling from (?:[\d.:]+\/)?cli\/busybox/);
    // one bar per layer while it downloads, drawn as docker draws it, and the line rewritten in place to its final state
    t.match(screen, /([0-9a-f]{12}): (?:Downloading|Extracting) \[=*>? *\]\s+[\d.]+[kM]?B\/[\d.]+[kM]?B/);
    const layer = /([0-9a-f]{12}): Downloading/.exec(screen)?.[1] ?? /([0-9a-f]{12}): Extracting/.exec(screen)![1]!;
    t.match(screen, new RegExp(`${layer}: Pull complete`));
    t.match(screen, /\x1b\[\d*A|\x1b\[\d+F|\x1b\[1A|\x1b\[\d*G/, 'the cursor moves back to redraw the lines');
    t.match(screen, /Digest: sha256:[0-9a-f]{64}/);
    t.match(screen, new RegExp(`Status: Downloaded newer image for ${reg.host}/cli/busybox:v1`));
    t.match(screen, new RegExp(`${reg.host}/cli/busybox:v1\\s*$`));
    // off a terminal: plain lines, one per status change, no bars
    t.equal((await tsctl('rmi', name)).code, undefined);
    const plain = await tsctl('pull', name);
    t.equal(plain.code, undefined, plain.stderr);
    t.notMatch(plain.stdout, /\[=+/);
    t.match(plain.stdout, /[0-9a-f]{12}: Pull complete\n/);
    const m = parseMetrics((await d.request('GET', '/metrics')).text);
    t.equal(sample(m, 'tsd_image_pulls_total'), 2, 'two pulls in the metrics');
    t.ok(sample(m, 'tsd_image_pull_bytes_total')! > 500_000, 'and their layer bytes');
    t.equal((await tsctl('images', '--format', '{{.Repository}}:{{.Tag}}', `${reg.host}/cli/busybox`)).stdout, `${reg.host}/cli/busybox:v1\n`);
    const missing = await tsctl('pull', `${reg.host}/cli/nothing:here`);
    t.equal(missing.code, 1);
    t.match(missing.stderr, /not found|unknown|manifest/i);
  });
});
