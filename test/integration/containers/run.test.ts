// docker run / exec over the real CLI: output, exit codes, piped stdin, and
// interactive TTYs (tmux gives a real pty whose size we change).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { containerEnv, containerOpts, dockerSpawn, waitFor } from './helpers.js';

const opts = containerOpts();

t.test('docker run and exec', opts, async (t) => {
  const e = await containerEnv(t);
  const { docker, ok } = e;

  await t.test('run --rm echo', async (t) => {
    const r = await docker(['run', '--rm', 'busybox:fixture', 'echo', 'hi']);
    t.equal(r.code, 0);
    t.equal(r.out, 'hi\n');
  });

  await t.test('exit code propagates', async (t) => {
    const r = await docker(['run', '--rm', 'busybox:fixture', 'sh', '-c', 'exit 3']);
    t.equal(r.code, 3);
  });

  await t.test('stdin piped into run -i', async (t) => {
    const r = await docker(['run', '--rm', '-i', 'busybox:fixture', 'sh', '-c', 'tr a-z A-Z; echo done'], { input: 'hello stdin\n' });
    t.equal(r.code, 0, r.err);
    t.equal(r.out, 'HELLO STDIN\ndone\n');
  });

  await t.test('stdout and stderr are separate', async (t) => {
    const r = await docker(['run', '--rm', 'busybox:fixture', 'sh', '-c', 'echo out; echo err >&2']);
    t.equal(r.out, 'out\n');
    t.equal(r.err, 'err\n');
  });

  await t.test('short-lived containers run at once: none loses its output (the exit used to end it before the pipes were read)', async (t) => {
    const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => docker(['run', '--rm', 'busybox:fixture', 'sh', '-c', `echo out${i}; echo err${i} >&2; exit 3`])));
    runs.forEach((r, i) => {
      t.equal(r.code, 3, `run ${i}: exit code`);
      t.equal(r.out, `out${i}\n`, `run ${i}: stdout`);
      t.equal(r.err, `err${i}\n`, `run ${i}: stderr`);
    });
  });

  await t.test('signals: the CLI proxies TERM; an external kill ends run with 137', async (t) => {
    const name = e.name('sig');
    const run = dockerSpawn(e.d, ['run', '--name', name, 'busybox:fixture', 'sh', '-c', 'trap "exit 5" TERM; echo ready; while :; do sleep 0.1; done']);
    await waitFor(() => run.out().includes('ready'), 10_000, 'ready');
    run.child.kill('SIGTERM');
    t.equal(await run.done, 5, 'docker run exits with the trap status');
    const killed = e.name('killed');
    const run2 = dockerSpawn(e.d, ['run', '--name', killed, 'busybox:fixture', 'sh', '-c', 'echo ready; sleep 300']);
    await waitFor(() => run2.out().includes('ready'), 10_000, 'ready');
    await ok('kill', killed);
    t.equal(await run2.done, 137);
  });

  await t.test('run -it under a pty with a set size (script)', async (t) => {
    const out = execFileSync('script', ['-qec', 'stty rows 30 cols 100; docker run -it --rm busybox:fixture stty size', '/dev/null'],
      { env: e.d.dockerEnv, timeout: 30_000, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
    t.match(out, /30 100/);
  });

  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', `tsdt${process.pid}`, ...args], { env: e.d.dockerEnv, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const pane = (target: string) => tmux('capture-pane', '-p', '-t', target);
  t.teardown(() => { try { tmux('kill-server'); } catch { /* not started */ } });

  await t.test('run -it in tmux: shell round trip and resize', async (t) => {
    const name = e.name('it');
    tmux('new-session', '-d', '-s', 'run', '-x', '80', '-y', '24', `docker run -it --name ${name} busybox:fixture sh`);
    tmux('send-keys', '-t', 'run', 'echo $((6*7))', 'Enter');
    await waitFor(() => /^42$/m.test(pane('run')), 15_000, 'shell output');
    tmux('send-keys', '-t', 'run', 'stty size', 'Enter');
    await waitFor(() => /^24 80$/m.test(pane('run')), 10_000, 'initial size');
    tmux('resize-window', '-t', 'run', '-x', '100', '-y', '30');
    // The resize travels tmux → SIGWINCH → docker CLI → POST resize → ioctl: ask again until it has arrived.
    await waitFor(async () => {
      tmux('send-keys', '-t', 'run', 'clear; stty size', 'Enter');
      await new Promise((r) => setTimeout(r, 300));
      return /^30 100$/m.test(pane('run'));
    }, 10_000, 'resized size');
    tmux('send-keys', '-t', 'run', 'exit 5', 'Enter');
    await waitFor(async () => (await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).out.trim() === 'exited 5', 10_000, 'exit');
    t.pass('exited with 5');
  });

  await t.test('detach with ctrl-p ctrl-q, then docker attach', async (t) => {
    const name = e.name('det');
    tmux('new-session', '-d', '-s', 'det', '-x', '80', '-y', '24', `docker run -it --name ${name} busybox:fixture sh`);
    tmux('send-keys', '-t', 'det', 'echo $((5*5))', 'Enter');
    await waitFor(() => /^25$/m.test(pane('det')), 15_000, 'shell output');
    tmux('send-keys', '-t', 'det', 'C-p', 'C-q');
    await waitFor(() => { try { pane('det'); return false; } catch { return true; } }, 10_000, 'docker run detached and exited');
    t.equal((await ok('inspect', '-f', '{{.State.Status}}', name)).trim(), 'running', 'still running after detach');
    tmux('new-session', '-d', '-s', 'att', '-x', '70', '-y', '20', `docker attach ${name}`);
    await new Promise((r) => setTimeout(r, 500));
    tmux('send-keys', '-t', 'att', 'stty size', 'Enter');
    await waitFor(() => /^20 70$/m.test(pane('att')), 10_000, 'attached shell answers with the new size');
    tmux('send-keys', '-t', 'att', 'exit 3', 'Enter');
    await waitFor(async () => (await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).out.trim() === 'exited 3', 10_000, 'exit');
    t.pass('attached shell exited with 3');
  });

  await t.test('exec -it in tmux: shell round trip and resize', async (t) => {
    const name = e.name('exec-it');
    await ok('run', '-d', '--name', name, 'busybox:fixture', 'sleep', '300');
    tmux('new-session', '-d', '-s', 'exec', '-x', '90', '-y', '20', `docker exec -it ${name} sh`);
    tmux('send-keys', '-t', 'exec', 'echo $((7*6))x', 'Enter');
    await waitFor(() => /^42x$/m.test(pane('exec')), 15_000, 'exec output');
    tmux('send-keys', '-t', 'exec', 'stty size', 'Enter');
    await waitFor(() => /^20 90$/m.test(pane('exec')), 10_000, 'exec initial size');
    tmux('resize-window', '-t', 'exec', '-x', '110', '-y', '35');
    // The resize travels tmux → SIGWINCH → docker CLI → POST resize → ioctl: ask again until it has arrived.
    await waitFor(async () => {
      tmux('send-keys', '-t', 'exec', 'clear; stty size', 'Enter');
      await new Promise((r) => setTimeout(r, 300));
      return /^35 110$/m.test(pane('exec'));
    }, 10_000, 'exec resized size');
    tmux('send-keys', '-t', 'exec', 'exit', 'Enter');
    t.pass('exec shell resized');
    await ok('rm', '-f', name);
  });
});
