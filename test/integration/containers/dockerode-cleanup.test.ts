// dockerode (the API client most Node tools use) drives a container and an
// exec; and after `docker rm` nothing of a container is left on the host:
// mounts, cgroups, log file, container dir, netns file, veth, row.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { containerEnv, containerOpts, waitFor } from './helpers.js';

const opts = containerOpts();

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let buf = '';
  stream.on('data', (c) => (buf += c));
  return { stream, text: () => buf };
}

t.test('dockerode and cleanup after rm', opts, async (t) => {
  const e = await containerEnv(t);
  const { ok, docker, d } = e;
  const api = new Docker({ socketPath: d.socket });

  await t.test('dockerode: create, start, wait, logs', async (t) => {
    const c = await api.createContainer({
      Image: 'busybox:fixture', name: e.name('dode'), Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; exit 6'],
      Labels: { via: 'dockerode' }, HostConfig: { Memory: 64 * 1024 * 1024 },
    });
    t.match(c.id, /^[0-9a-f]{64}$/);
    const waiting = c.wait({ condition: 'next-exit' });
    await c.start();
    const res = await waiting as { StatusCode: number };
    t.equal(res.StatusCode, 6);
    const logs = await c.logs({ stdout: true, stderr: true, follow: false }) as unknown as Buffer;
    const out = collect();
    const err = collect();
    c.modem.demuxStream(PassThrough.from([logs]) as unknown as NodeJS.ReadableStream, out.stream, err.stream);
    await new Promise((r) => setImmediate(r));
    t.equal(out.text(), 'to-out\n');
    t.equal(err.text(), 'to-err\n');
    const info = await c.inspect();
    t.equal(info.State.ExitCode, 6);
    t.equal(info.Config.Labels.via, 'dockerode');
    t.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
    const list = await api.listContainers({ all: true, filters: { label: ['via=dockerode'] } });
    t.equal(list.length, 1);
    t.equal(list[0]!.Id, c.id);
    await c.remove();
    const gone = await c.inspect().then(() => 0, (err: { statusCode?: number }) => err.statusCode);
    t.equal(gone, 404, 'inspect after remove is a 404');
  });

  await t.test('dockerode: exec with hijack', async (t) => {
    const c = await api.createContainer({ Image: 'busybox:fixture', name: e.name('dexec'), Cmd: ['sleep', '300'] });
    await c.start();
    const ex = await c.exec({ Cmd: ['sh', '-c', 'echo exec-out; echo exec-err >&2; exit 3'], AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: false });
    const out = collect();
    const err = collect();
    c.modem.demuxStream(stream, out.stream, err.stream);
    await new Promise<void>((resolve, reject) => { stream.on('end', resolve); stream.on('close', resolve); stream.on('error', reject); });
    t.equal(out.text(), 'exec-out\n');
    t.equal(err.text(), 'exec-err\n');
    const xi = await ex.inspect();
    t.equal(xi.ExitCode, 3);
    t.equal(xi.Running, false);

    const ex2 = await c.exec({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
    const s2 = await ex2.start({ hijack: true, stdin: true });
    const o2 = collect();
    c.modem.demuxStream(s2, o2.stream, o2.stream);
    s2.end('piped through exec\n');
    await new Promise<void>((resolve) => { s2.on('end', resolve); s2.on('close', resolve); });
    t.equal(o2.text(), 'piped through exec\n', 'stdin reaches the exec');

    // without hijack: a plain POST with a JSON body, answered with the raw stream
    const ex3 = await c.exec({ Cmd: ['sh', '-c', 'echo plain; exit 5'], AttachStdout: true, AttachStderr: true });
    const s3 = await ex3.start({});
    const o3 = collect();
    c.modem.demuxStream(s3, o3.stream, o3.stream);
    await new Promise<void>((resolve) => { s3.on('end', resolve); s3.on('close', resolve); });
    t.equal(o3.text(), 'plain\n', 'non-hijacked exec start streams output');
    t.equal((await ex3.inspect()).ExitCode, 5);

    // detached: a plain POST with {"Detach":true}, as `docker exec -d` sends
    const ex4 = await c.exec({ Cmd: ['sh', '-c', 'echo detached > /tmp/d'], AttachStdout: false, AttachStderr: false });
    await ex4.start({ Detach: true });
    await waitFor(async () => (await ex4.inspect()).Running === false && (await ex4.inspect()).ExitCode === 0, 5000, 'detached exec');
    t.equal(await ok('exec', c.id, 'cat', '/tmp/d'), 'detached\n');
    await c.remove({ force: true });
  });

  await t.test('nothing is left behind after rm', async (t) => {
    const vol = e.name('cv');
    const name = e.name('full');
    const id = (await ok('run', '-d', '--name', name, '-v', `${vol}:/v`, '--tmpfs', '/t', '-p', '127.0.0.1:0:80', '--memory', '32m',
      'busybox:fixture', 'sh', '-c', 'echo logged; sleep 300')).trim();
    const c = (JSON.parse(await ok('inspect', id)) as Array<Record<string, any>>)[0]!;
    const cgroups = () => execFileSync('find', ['/sys/fs/cgroup', '-name', `${id}*`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const mounts = () => fs.readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(id));
    const veths = () => execFileSync('ip', ['-o', 'link', 'show', 'master', d.bridge], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const containerDir = path.join(d.dataRoot, 'containers', id);
    t.ok(cgroups().length > 0, 'cgroups exist while running');
    t.ok(mounts().length > 0, 'mounts exist while running');
    t.ok(fs.existsSync(c.LogPath), 'log file exists while running');
    t.equal(veths().length, 1, 'one veth on the bridge while running');
    t.ok(fs.existsSync(c.NetworkSettings.SandboxKey), 'netns file exists while running');

    // a --rm container next to it, torn down by the daemon itself
    const rmId = (await ok('run', '-d', '--rm', '-v', '/anon', 'busybox:fixture', 'sleep', '0.3')).trim();
    t.match(rmId, /^[0-9a-f]{64}$/);
    await waitFor(async () => (await docker(['inspect', rmId])).code !== 0, 10_000, '--rm container removed');

    t.equal((await ok('rm', '-f', name)).trim(), name);
    t.same(mounts(), [], 'no mount mentions the id');
    t.same(cgroups(), [], 'no cgroup named after the id');
    t.notOk(fs.existsSync(c.LogPath), 'log file removed');
    t.notOk(fs.existsSync(containerDir), 'container dir removed');
    t.notOk(fs.existsSync(c.NetworkSettings.SandboxKey), 'netns file removed');
    t.same(veths(), [], 'no veth left on the bridge');
    if (rmId) {
      t.same(fs.readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(rmId)), [], '--rm: no mounts');
      t.same(execFileSync('find', ['/sys/fs/cgroup', '-name', `${rmId}*`], { encoding: 'utf8' }).trim(), '', '--rm: no cgroups');
      t.notOk(fs.existsSync(path.join(d.dataRoot, 'containers', rmId)), '--rm: no container dir');
    }
    t.equal((await ok('ps', '-aq')).trim(), '', 'docker ps -a is empty');
    t.equal((await ok('volume', 'ls', '-q')).trim(), vol, 'only the named volume remains (--rm removed the anonymous one)');
    t.equal((await docker(['volume', 'rm', vol])).code, 0);
  });
});
