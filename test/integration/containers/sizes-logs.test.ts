// Sizes (ps -s, inspect -s: SizeRw/SizeRootFs) and json-file log rotation through the docker CLI.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { containerEnv, containerOpts, waitFor } from './helpers.js';

t.test('sizes and log rotation', containerOpts(), async (t) => {
  const e = await containerEnv(t);
  const { ok } = e;

  const sz = e.name('sz');
  await ok('run', '-d', '--name', sz, 'busybox:fixture', 'sh', '-c', 'head -c 300000 /dev/zero > /big; sleep 30');
  await waitFor(async () => (await e.docker(['exec', sz, 'test', '-f', '/big'])).code === 0, 10_000, 'file written');
  const inspect = JSON.parse(await ok('inspect', '-s', sz))[0];
  t.ok(inspect.SizeRw >= 300000, `SizeRw ${inspect.SizeRw} counts the new file`);
  t.ok(inspect.SizeRootFs > inspect.SizeRw, 'SizeRootFs includes the image');
  const ps = await ok('ps', '-s', '--filter', `name=${sz}`, '--format', '{{.Size}}');
  t.match(ps.trim(), /^30\dkB \(virtual \d/, `ps -s shows the writable layer: ${ps.trim()}`);

  const df = (await ok('system', 'df', '--format', '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}')).trim().split('\n');
  const row = (type: string) => df.find((l) => l.startsWith(`${type}|`))!.split('|');
  t.same(row('Images').slice(0, 3), ['Images', '1', '1'], 'system df: the image is in use');
  t.ok(Number(row('Containers')[2]) >= 1, 'system df: a running container is active');
  t.match(row('Containers')[3], /^30\dkB$/, `system df counts the writable layers (${row('Containers')[3]})`);

  const lg = e.name('lg');
  await ok('run', '--name', lg, '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', 'busybox:fixture', 'sh', '-c',
    'i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done');
  const logPath = (await ok('inspect', '-f', '{{.LogPath}}', lg)).trim();
  const files = fs.readdirSync(path.dirname(logPath)).filter((f) => f.startsWith(path.basename(logPath)));
  t.same(files.sort(), [path.basename(logPath), `${path.basename(logPath)}.1`, `${path.basename(logPath)}.2`], 'rotated into max-file files');
  for (const f of files) t.ok(fs.statSync(path.join(path.dirname(logPath), f)).size <= 2000 + 200, `${f} stays near max-size`);
  const tail = (await ok('logs', '--tail', '2', lg)).trim().split('\n');
  t.same(tail, ['line-398', 'line-399'], 'the newest lines are kept');
  const all = (await ok('logs', lg)).trim().split('\n');
  t.ok(all.length < 400 && all.length > 50, `older lines were rotated away (${all.length} kept)`);
  t.equal(all.at(-1), 'line-399');
  const errs = await e.docker(['logs', lg]);
  t.notMatch(errs.err, /write error/, 'stdout is a blocking pipe: a fast writer never sees EAGAIN');
  const bad = await e.docker(['run', '--rm', '--log-opt', 'max-size=-1', 'busybox:fixture', 'true']);
  t.not(bad.code, 0);
  t.match(bad.err, /max-size|invalid/);
  const none = e.name('none');
  await ok('run', '--name', none, '--log-driver', 'none', 'busybox:fixture', 'echo', 'hi');
  const r = await e.docker(['logs', none]);
  t.not(r.code, 0);
  t.match(r.err, 'configured logging driver does not support reading');
});
