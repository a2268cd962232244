// docker commit: a container's changes become an image that runs.
import t from 'tap';
import { containerEnv, containerOpts } from './helpers.js';

t.test('commit a container and run the result', containerOpts(), async (t) => {
  const e = await containerEnv(t);
  const { ok } = e;
  const src = e.name('src');
  await ok('run', '--name', src, 'busybox:fixture', 'sh', '-c', 'echo hi > /hello; rm /bin/vi');
  const id = (await ok('commit', '-c', 'ENV FOO=bar', '-c', 'CMD ["sh","-c","cat /hello; echo $FOO"]', '-m', 'made by a test', '-a', 'tsd', src, 'committed:1')).trim();
  t.match(id, /^sha256:[0-9a-f]{64}$/);
  t.equal((await ok('run', '--rm', 'committed:1')).trim(), 'hi\nbar', 'files and config changes are in the image');
  t.equal((await ok('run', '--rm', 'committed:1', 'sh', '-c', 'test -e /bin/vi -o -L /bin/vi && echo there || echo deleted')).trim(), 'deleted', 'a deletion is a whiteout in the new layer');
  const inspect = JSON.parse(await ok('image', 'inspect', 'committed:1'))[0];
  t.equal(inspect.Comment, 'made by a test');
  t.equal(inspect.Author, 'tsd');
  t.ok(inspect.Config.Env.includes('FOO=bar'));
  t.equal(inspect.RootFS.Layers.length, 2, 'the base layer plus one');
  const base = JSON.parse(await ok('image', 'inspect', 'busybox:fixture'))[0];
  t.equal(inspect.RootFS.Layers[0], base.RootFS.Layers[0], 'the base layer is shared');
  t.match(await ok('history', 'committed:1'), /made by a test/);
  await ok('rm', src);
  await ok('rmi', 'committed:1');
  const gone = await e.docker(['image', 'inspect', 'committed:1']);
  t.not(gone.code, 0);
});
