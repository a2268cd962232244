// --ipc and --pid: a container's own namespaces by default, the host's, or another container's (pods).
import t from 'tap';
import fs from 'node:fs';
import { containerEnv, containerOpts } from './helpers.js';

t.test('ipc and pid namespace sharing', containerOpts(), async (t) => {
  const e = await containerEnv(t);
  const { ok } = e;
  const holder = e.name('holder');
  await ok('run', '-d', '--name', holder, '--ipc', 'shareable', 'busybox:fixture', 'sleep', '60');
  const pid = Number((await ok('inspect', '-f', '{{.State.Pid}}', holder)).trim());
  const ns = (kind: string) => fs.readlinkSync(`/proc/${pid}/ns/${kind}`);
  const inside = async (args: string[], cmd: string) => (await ok('run', '--rm', ...args, 'busybox:fixture', 'sh', '-c', cmd)).trim();

  t.not(await inside([], 'readlink /proc/self/ns/ipc'), ns('ipc'), 'a container has its own IPC namespace');
  t.equal(await inside(['--ipc', `container:${holder}`], 'readlink /proc/self/ns/ipc'), ns('ipc'), '--ipc container: joins it');
  t.equal(await inside(['--ipc', 'host'], 'readlink /proc/self/ns/ipc'), fs.readlinkSync('/proc/self/ns/ipc'), '--ipc host');

  const ps = await inside(['--pid', `container:${holder}`], 'ps -o pid,args');
  t.match(ps, /^\s*1\s+sleep 60$/m, "--pid container: sees the other container's PID 1");
  t.equal(await inside(['--pid', `container:${holder}`], 'readlink /proc/self/ns/pid'), ns('pid'));
  t.equal(await inside(['--pid', 'host'], 'readlink /proc/self/ns/pid'), fs.readlinkSync('/proc/self/ns/pid'), '--pid host');
  t.match(await inside([], 'ps -o pid,args'), /^\s*1\s+.*sh -c ps -o pid,args$/m, 'by default the entrypoint is PID 1 of its own namespace');

  const bad = await e.d.request('POST', '/v1.44/containers/create', { Image: 'busybox:fixture', Cmd: ['true'], HostConfig: { IpcMode: 'bogus' } });
  t.equal(bad.status, 400);
  t.same(bad.body, { message: 'invalid IPC mode: bogus' });
  const gone = await e.docker(['run', '--rm', '--pid', 'container:nosuch', 'busybox:fixture', 'true']);
  t.not(gone.code, 0);
  t.match(gone.err, 'No such container: nosuch');
  t.notMatch(gone.err, 'Unable to find image', 'a 400, not a 404 that would send the CLI pulling');
  const gone2 = await e.docker(['run', '--rm', '--network', 'container:nosuch', 'busybox:fixture', 'true']);
  t.match(gone2.err, 'No such container: nosuch');
  t.notMatch(gone2.err, 'Unable to find image');
  await ok('stop', '-t', '0', holder);
  const stopped = await e.docker(['run', '--rm', '--ipc', `container:${holder}`, 'busybox:fixture', 'true']);
  t.not(stopped.code, 0);
  t.match(stopped.err, 'cannot join IPC of a non running container');
  await ok('rm', holder);
});

t.test('--init runs tini as PID 1, which forwards signals', containerOpts(), async (t) => {
  const e = await containerEnv(t);
  const { ok } = e;
  const ps = await ok('run', '--rm', '--init', 'busybox:fixture', 'ps', '-o', 'pid,args');
  t.match(ps, /^\s*1\s+\/sbin\/docker-init -- ps -o pid,args$/m, 'PID 1 is the init, the command its child');
  const name = e.name('tini');
  await ok('run', '-d', '--init', '--name', name, 'busybox:fixture', 'sleep', '100');
  const t0 = Date.now();
  await ok('stop', '-t', '8', name);
  t.ok(Date.now() - t0 < 6000, 'SIGTERM reached sleep through the init (no wait for the kill timeout)');
  t.equal((await ok('inspect', '-f', '{{.State.ExitCode}} {{.HostConfig.Init}}', name)).trim(), '143 true');
  t.match(await ok('info', '--format', '{{.InitBinary}}'), 'docker-init');
  await ok('rm', name);
});
