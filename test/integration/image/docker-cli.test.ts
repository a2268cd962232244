// The real docker CLI against a tsd daemon: pull, images, inspect, tag, rmi,
// save, load, import, push, history (registry: Debian's docker-registry on 127.0.0.1).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { privilegedOpts } from '../../helpers/privileged.js';
import { startDaemon } from '../../helpers/daemon.js';
import { registryAvailable, startRegistry } from '../../fixtures/registry.js';
import { busyboxSaveTar } from '../../fixtures/images.js';
import { busyboxRootfsTar } from '../../fixtures/busybox.js';

const opts = privilegedOpts();
if (!opts.skip && !registryAvailable()) opts.skip = 'needs /usr/bin/docker-registry';
if (!opts.skip && !process.env.PATH?.split(':').some((p) => fs.existsSync(path.join(p, 'docker')))) opts.skip = 'needs the docker CLI';

t.test('docker CLI image commands', opts, async (t) => {
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const d = await startDaemon(t);
  const docker = (...args: string[]): Promise<{ code: number; out: string; err: string }> =>
    new Promise((resolve) => {
      execFile('docker', args, { env: d.dockerEnv, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => {
        resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: String(out), err: String(err) });
      });
    });
  const ok = async (...args: string[]) => {
    const r = await docker(...args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.err}\n${d.output().slice(-3000)}`);
    return r.out;
  };

  const save = await busyboxSaveTar();
  t.match(await ok('load', '-i', save.path), /Loaded image: busybox:fixture/);
  const images = await ok('images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}');
  t.match(images, `busybox:fixture ${save.id.slice(7, 19)}`);

  // the daemon's image service knows which containers use an image
  const cid = (await ok('create', 'busybox:fixture', 'true')).trim();
  const used = await docker('rmi', 'busybox:fixture');
  t.not(used.code, 0);
  t.match(used.err, `container ${cid.slice(0, 12)} is using its referenced image ${save.id.slice(7, 19)}`);
  await ok('rm', cid);

  const remote = `${reg.host}/busybox:fixture`;
  await ok('tag', 'busybox:fixture', remote);
  const push = await ok('push', remote);
  t.match(push, /fixture: digest: sha256:[a-f0-9]{64} size: \d+/);

  const rmi = await ok('rmi', remote, 'busybox:fixture');
  t.match(rmi, `Untagged: ${remote}`);
  t.match(rmi, `Deleted: ${save.id}`);
  t.equal((await ok('images', '-q')).trim(), '', 'no images left');

  const pull = await ok('pull', remote);
  t.match(pull, /Pull complete|Download complete|Digest: sha256:/);
  t.match(pull, remote);
  const inspect = JSON.parse(await ok('image', 'inspect', remote)) as Array<Record<string, any>>;
  t.equal(inspect[0]!.Id, save.id, 'pulled back the same image');
  t.same(inspect[0]!.Config.Cmd, ['sh']);
  t.equal(inspect[0]!.RootFS.Type, 'layers');
  t.equal(inspect[0]!.GraphDriver.Name, 'overlay2');
  t.match(inspect[0]!.RepoDigests[0], `${reg.host}/busybox@sha256:`);

  const hist = await ok('history', '--format', '{{.ID}} {{.CreatedBy}}', remote);
  t.match(hist, save.id.slice(7, 19));

  const missing = await docker('pull', `${reg.host}/nonexist:1`);
  t.not(missing.code, 0);
  t.match(missing.err, /manifest unknown/);
  const noSuch = await docker('image', 'inspect', 'nosuchthing');
  t.not(noSuch.code, 0);
  t.match(noSuch.err, /No such image/i);

  const out = path.join(d.dir, 'saved.tar');
  await ok('save', '-o', out, remote);
  t.ok(fs.statSync(out).size > 1_000_000);
  await ok('rmi', remote);
  t.match(await ok('load', '-i', out), `Loaded image: ${remote}`);
  const again = JSON.parse(await ok('image', 'inspect', remote)) as Array<Record<string, any>>;
  t.equal(again[0]!.Id, save.id, 'save -> rmi -> load keeps the id');

  const imp = await ok('import', '--change', 'CMD ["sh"]', '-m', 'imported', busyboxRootfsTar(), 'imp:1');
  t.match(imp.trim(), /^sha256:[a-f0-9]{64}$/);
  const impInspect = JSON.parse(await ok('image', 'inspect', 'imp:1')) as Array<Record<string, any>>;
  t.same(impInspect[0]!.Config.Cmd, ['sh']);
  t.equal(impInspect[0]!.Comment, 'imported');

  const rmAll = await docker('rmi', 'imp:1', remote);
  t.equal(rmAll.code, 0, rmAll.err);
  t.equal((await ok('images', '-q')).trim(), '');
});
