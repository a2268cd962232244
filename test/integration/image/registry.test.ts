// Pull and push against a real (Debian) docker-registry on 127.0.0.1, layers
// unpacked and mounted with overlayfs on the real kernel.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { privilegedOpts } from '../../helpers/privileged.js';
import { registryAvailable, startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { busyboxImage, buildImage, layerFromTar, makeTar, pushBuilt, pushIndex, busyboxSaveTar } from '../../fixtures/images.js';
import { imageEnv, mountFor, layerDirsCount } from './helpers.js';
import type { ContainerUsage } from '../../../image/index.js';

const opts = privilegedOpts();
if (!opts.skip && !registryAvailable()) opts.skip = 'needs /usr/bin/docker-registry';

const drain = () => (() => undefined);

t.test('image service against a real registry', opts, async (t) => {
  const reg: TestRegistry = await startRegistry();
  t.teardown(() => reg.stop());

  t.test('push the fixture, delete it, pull it back, mount it; skopeo reads it', async (t) => {
    const env = imageEnv(t);
    const save = await busyboxSaveTar();
    const loaded = await env.svc.loadArchive(fs.createReadStream(save.path));
    t.same(loaded, ['Loaded image: busybox:fixture']);
    const ref = `${reg.host}/busybox:fixture`;
    env.svc.tag('busybox:fixture', ref);
    const events: string[] = [];
    const pushed = await env.svc.preparePush(`${reg.host}/busybox`, 'fixture').run((e) => events.push(e.status));
    t.equal(pushed.length, 1);
    t.match(pushed[0]!.Digest, /^sha256:[a-f0-9]{64}$/);
    t.ok(events.includes('Pushed'), 'the layer was pushed');
    t.match(events, [/The push refers to repository \[127\.0\.0\.1:\d+\/busybox\]/]);

    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as { Digest: string; Layers: string[]; Architecture: string };
    t.equal(inspect.Digest, pushed[0]!.Digest, 'skopeo sees the digest tsd pushed');
    t.equal(inspect.Layers.length, 1);
    t.equal(inspect.Architecture, 'amd64');

    // a second push finds everything there
    const again: string[] = [];
    await env.svc.preparePush(`${reg.host}/busybox`, 'fixture').run((e) => again.push(e.status));
    t.ok(again.includes('Layer already exists'));

    const del = env.svc.remove('busybox:fixture');
    t.same(del, [{ Untagged: 'busybox:fixture' }], 'other tag remains: untag only');
    const del2 = env.svc.remove(ref);
    t.ok(del2.some((d) => d.Deleted === save.id), 'image deleted');
    t.equal(env.svc.count(), 0);
    t.equal(layerDirsCount(env), 0, 'layers collected');

    const prepared = await env.svc.preparePull(`${reg.host}/busybox`, 'fixture');
    const progress: string[] = [];
    const r = await prepared.run((e) => progress.push(e.status));
    t.equal(r.imageId, save.id, 'same image id after the round trip');
    t.equal(r.digest, pushed[0]!.Digest);
    t.ok(progress.includes('Pull complete'));
    t.match(progress[progress.length - 1], `Status: Downloaded newer image for ${ref}`);
    const img = env.svc.resolveImage(ref);
    t.same(img.repoDigests, [`${reg.host}/busybox@${r.digest}`]);
    t.same(env.svc.resolveImage(r.imageId.slice(7, 19)).id, r.imageId, 'short id resolves');
    t.same(env.svc.resolveImage(`${reg.host}/busybox@${r.digest}`).id, r.imageId, 'digest ref resolves');

    const again2: string[] = [];
    await (await env.svc.preparePull(`${reg.host}/busybox`, 'fixture')).run((e) => again2.push(e.status));
    t.ok(again2.includes('Already exists'));
    t.match(again2[again2.length - 1], 'Status: Image is up to date');

    const plan = mountFor(env, ref);
    t.ok(fs.statSync(path.join(plan.target, 'bin/busybox')).isFile(), '/bin/busybox in the mounted rootfs');
    t.ok(fs.readdirSync(path.join(plan.target, 'bin')).includes('sh'));
  });

  t.test('unknown image and tag are 404 before any streaming', async (t) => {
    const env = imageEnv(t);
    await t.rejects(env.svc.preparePull(`${reg.host}/nonexist`, '1'), { kind: 'not-found', message: `manifest for ${reg.host}/nonexist:1 not found: manifest unknown: manifest unknown` });
    t.throws(() => env.svc.resolveImage('nosuchthing'), { kind: 'not-found', message: 'No such image: nosuchthing:latest' });
  });

  t.test('an index with two platforms pulls the amd64 one', async (t) => {
    const env = imageEnv(t);
    const amd = buildImage([layerFromTar(await makeTar([{ name: 'arch', content: 'amd64' }]))]);
    const arm = buildImage([layerFromTar(await makeTar([{ name: 'arch', content: 'arm64' }]))], { arch: 'arm64', variant: 'v8' });
    const idx = await pushIndex(reg.url, 'multi', 'v1', [{ img: arm, os: 'linux', arch: 'arm64', variant: 'v8' }, { img: amd, os: 'linux', arch: 'amd64' }]);
    const r = await (await env.svc.preparePull(`${reg.host}/multi:v1`, undefined)).run(drain());
    t.equal(r.imageId, amd.id);
    t.equal(r.digest, idx, 'the repo digest is the index digest');
    t.equal(fs.readFileSync(path.join(env.svc.resolveImage(r.imageId).layerDirs[0]!, 'arch'), 'utf8'), 'amd64');
    // a name without a tag pulls every tag
    await pushBuilt(reg.url, 'multi', 'v2', buildImage([layerFromTar(await makeTar([{ name: 'v2', content: '2' }]))]));
    const statuses: string[] = [];
    await (await env.svc.preparePull(`${reg.host}/multi`, undefined)).run((e) => statuses.push(e.status));
    t.ok(env.svc.findImage(`${reg.host}/multi:v2`), 'all tags pulled');
    t.equal(statuses[statuses.length - 1], `Status: Downloaded newer image for ${reg.host}/multi`);
    const dist = await env.svc.distribution(`${reg.host}/multi:v1`);
    t.equal(dist.descriptor.digest, idx);
    t.same(dist.platforms.map((p) => p.architecture).sort(), ['amd64', 'arm64']);
  });

  t.test('whiteouts and opaque dirs give the right merged view', async (t) => {
    const env = imageEnv(t);
    const l1 = layerFromTar(await makeTar([
      { name: 'etc/', type: 'directory' }, { name: 'etc/a', content: 'a' }, { name: 'etc/b', content: 'b' },
      { name: 'var/x/', type: 'directory' }, { name: 'var/x/old1', content: '1' }, { name: 'var/x/old2', content: '2' },
    ]));
    const l2 = layerFromTar(await makeTar([{ name: 'etc/.wh.a' }, { name: 'var/x/.wh..wh..opq' }, { name: 'var/x/new', content: 'n' }]));
    const l3 = layerFromTar(await makeTar([{ name: 'etc/c', content: 'c' }]));
    const img = buildImage([l1, l2, l3]);
    await pushBuilt(reg.url, 'wh', 'v1', img);
    await (await env.svc.preparePull(`${reg.host}/wh:v1`, undefined)).run(drain());
    const plan = mountFor(env, `${reg.host}/wh:v1`);
    t.same(fs.readdirSync(path.join(plan.target, 'etc')).sort(), ['b', 'c'], 'etc/a deleted by the whiteout');
    t.same(fs.readdirSync(path.join(plan.target, 'var/x')), ['new'], 'opaque dir hides the lower contents');
    // docker diff of a container that changes things
    fs.writeFileSync(path.join(plan.target, 'etc/b'), 'changed');
    fs.rmSync(path.join(plan.target, 'etc/c'));
    fs.writeFileSync(path.join(plan.target, 'added'), '');
    const ch = env.svc.changes(plan.upperdir, env.svc.resolveImage(`${reg.host}/wh:v1`));
    t.same(ch, [{ Path: '/added', Kind: 1 }, { Path: '/etc', Kind: 0 }, { Path: '/etc/b', Kind: 0 }, { Path: '/etc/c', Kind: 2 }]);
    // commit the container and check the new image's view
    const id = await env.svc.commit({ upperdir: plan.upperdir, baseImageId: img.id, changes: ['ENV X=1'], comment: 'c1', ref: 'committed:1' });
    const committed = env.svc.resolveImage('committed:1');
    t.equal(committed.id, id);
    t.equal(committed.layers.length, 4);
    t.same(committed.runConfig.Env?.includes('X=1'), true);
    const plan2 = mountFor(env, 'committed:1');
    t.same(fs.readdirSync(path.join(plan2.target, 'etc')).sort(), ['b']);
    t.equal(fs.readFileSync(path.join(plan2.target, 'etc/b'), 'utf8'), 'changed');
    t.ok(fs.existsSync(path.join(plan2.target, 'added')));
  });

  t.test('a blob that does not match its digest fails the pull and stores nothing', async (t) => {
    const env = imageEnv(t);
    const l1 = layerFromTar(await makeTar([{ name: 'good', content: 'good' }]));
    const l2 = layerFromTar(await makeTar([{ name: 'file', content: 'original content' }]));
    const img = buildImage([l1, l2]);
    await pushBuilt(reg.url, 'corrupt', 'v1', img);
    const blob = reg.blobPath(l2.digest);
    const data = fs.readFileSync(blob);
    const bad = layerFromTar(await makeTar([{ name: 'file', content: 'tampered content' }])).gz;
    t.equal(bad.length, data.length, 'same size, other bytes');
    fs.writeFileSync(blob, bad);
    const p = await env.svc.preparePull(`${reg.host}/corrupt:v1`, undefined);
    await t.rejects(p.run(drain()), { code: 'TSD_ERR_DIGEST_MISMATCH' });
    t.equal(env.svc.count(), 0, 'no image');
    t.equal(env.svc.layerRows.all().length, 0, 'no layer rows');
    t.equal(layerDirsCount(env), 0, 'no layer dirs');
    t.same(fs.readdirSync(path.join(env.dir, 'tmp')), [], 'no temp leftovers');
  });

  t.test('hostile layers are refused; the host is untouched', async (t) => {
    const env = imageEnv(t);
    const host = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-host-${process.pid}-`));
    t.teardown(() => fs.rmSync(host, { recursive: true, force: true }));
    fs.writeFileSync(path.join(host, 'victim'), 'original');
    const victimRel = '../'.repeat(12) + path.join(host, 'victim').slice(1);
    const hostile: Array<[string, Parameters<typeof makeTar>[0]]> = [
      ['dotdot', [{ name: victimRel, content: 'pwned' }]],
      ['symlink', [{ name: 'evil', type: 'symlink', linkname: host }, { name: 'evil/victim', content: 'pwned' }, { name: 'evil/new', content: 'pwned' }]],
      ['hardlink', [{ name: 'hl', type: 'link', linkname: victimRel }]],
    ];
    for (const [name, entries] of hostile) {
      const img = buildImage([layerFromTar(await makeTar(entries))]);
      await pushBuilt(reg.url, `hostile-${name}`, 'v1', img);
      const p = await env.svc.preparePull(`${reg.host}/hostile-${name}:v1`, undefined);
      await t.rejects(p.run(drain()), { code: 'TSD_ERR_HOSTILE_LAYER' }, `${name} refused`);
    }
    t.equal(fs.readFileSync(path.join(host, 'victim'), 'utf8'), 'original');
    t.same(fs.readdirSync(host), ['victim']);
    t.equal(fs.statSync(path.join(host, 'victim')).nlink, 1, 'no hardlink to the host file');
    t.equal(env.svc.count(), 0);
    t.equal(layerDirsCount(env), 0);
  });

  t.test('a 60-layer image mounts (short lowerdir paths)', async (t) => {
    const env = imageEnv(t);
    const layers = [];
    for (let i = 0; i < 60; i++) layers.push(layerFromTar(await makeTar([{ name: `f${i}`, content: String(i) }])));
    const img = buildImage(layers);
    await pushBuilt(reg.url, 'many', 'v1', img);
    await (await env.svc.preparePull(`${reg.host}/many:v1`, undefined)).run(drain());
    const plan = mountFor(env, `${reg.host}/many:v1`);
    t.ok(plan.mountOptions.length < 4096, `mount data is ${plan.mountOptions.length} bytes`);
    t.equal(plan.lowerdirs.length, 60);
    t.equal(fs.readdirSync(plan.target).length, 60);
    t.equal(fs.readFileSync(path.join(plan.target, 'f59'), 'utf8'), '59');
    t.equal(plan.cwd, undefined, 'absolute short paths fit');
  });

  t.test('128 layers under a long data root mount with relative lowerdirs', async (t) => {
    const env = imageEnv(t, 'x'.repeat(80));
    const layers = [];
    for (let i = 0; i < 128; i++) layers.push(layerFromTar(await makeTar([{ name: `f${i}`, content: String(i) }])));
    const img = buildImage(layers);
    await pushBuilt(reg.url, 'many128', 'v1', img);
    await (await env.svc.preparePull(`${reg.host}/many128:v1`, undefined)).run(drain());
    const plan = mountFor(env, `${reg.host}/many128:v1`);
    t.ok(plan.cwd, 'relative form used');
    t.ok(plan.mountOptions.length < 4096);
    t.equal(fs.readdirSync(plan.target).length, 128);
    t.equal(fs.readFileSync(path.join(plan.target, 'f0'), 'utf8'), '0');
  });
});

t.test('save -> rmi -> load round-trips; OCI layout loads; import makes an image', opts, async (t) => {
  let usage: ContainerUsage = () => null;
  const env = imageEnv(t, '', { containerUsage: (iid) => usage(iid) });
  const save = await busyboxSaveTar();
  await env.svc.loadArchive(fs.createReadStream(save.path));
  env.svc.tag('busybox:fixture', 'other/name:2');
  const out = path.join(env.dir, 'saved.tar');
  await new Promise<void>((resolve, reject) => env.svc.save(['busybox:fixture']).pipe(fs.createWriteStream(out)).on('finish', resolve).on('error', reject));
  const listing = execFileSync('tar', ['-tf', out], { encoding: 'utf8' });
  t.match(listing, /manifest\.json/);
  t.match(listing, /repositories/);
  t.match(listing, /layer\.tar/);
  env.svc.remove(save.id, { force: true });
  t.equal(env.svc.count(), 0);
  const loaded = await env.svc.loadArchive(fs.createReadStream(out));
  t.same(loaded, ['Loaded image: busybox:fixture']);
  t.equal(env.svc.resolveImage('busybox:fixture').id, save.id, 'same id after save/rmi/load');
  env.svc.remove('busybox:fixture');
  t.equal(env.svc.count(), 0);

  const { busyboxOciTar } = await import('../../fixtures/images.js');
  const oci = await busyboxOciTar();
  t.same(await env.svc.loadArchive(fs.createReadStream(oci.path)), ['Loaded image: busybox:fixture']);
  t.equal(env.svc.resolveImage('busybox:fixture').id, oci.id);

  const { busyboxRootfsTar } = await import('../../fixtures/busybox.js');
  const id = await env.svc.importTar(fs.createReadStream(busyboxRootfsTar()), { repo: 'imported', tag: '1', changes: ['CMD ["sh"]'], message: 'hello' });
  const imp = env.svc.resolveImage('imported:1');
  t.equal(imp.id, id);
  t.same(imp.runConfig.Cmd, ['sh']);
  t.equal(imp.config.comment, 'hello');
  t.equal(imp.layers[0]!.diffId, busyboxImage().layers[0]!.diffId, 'import shares the layer with the fixture');
  t.equal(env.svc.layerRows.all().length, 1, 'shared layer stored once');

  // a container using the image blocks deletion unless forced
  usage = (iid) => (iid === id ? { containerId: 'f'.repeat(64), running: false } : null);
  t.throws(() => env.svc.remove(id), { kind: 'conflict', message: `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is being used by stopped container ffffffffffff` });
  // forced: a running container's image is only untagged (dockerd's hard conflict, ignored after an untag);
  // a stopped container's goes, as dockerd's (the container's row holds its layers, not the image)
  usage = (iid) => (iid === id ? { containerId: 'f'.repeat(64), running: true } : null);
  t.same(env.svc.remove('imported:1', { force: true }), [{ Untagged: 'imported:1' }], 'forced while running: untagged');
  t.equal(env.svc.resolveImage(id).id, id, 'and kept (dangling)');
  env.svc.tag(id, 'imported', '1');
  usage = (iid) => (iid === id ? { containerId: 'f'.repeat(64), running: false } : null);
  t.same(env.svc.remove('imported:1', { force: true }), [{ Untagged: 'imported:1' }, { Deleted: id }], 'forced while stopped: untagged and deleted');
  t.throws(() => env.svc.resolveImage(id), { code: 'TSD_ERR_NO_SUCH_IMAGE' });
  t.equal(env.svc.layerRows.all().length, 1, 'the layer busybox:fixture shares stays');
  usage = () => null;
  t.throws(() => env.svc.remove('nosuch:1'), { code: 'TSD_ERR_NO_SUCH_IMAGE', kind: 'not-found' });
});

t.test('a restart removes half-written layers and temp dirs', async (t) => {
  const { openDatabase } = await import('../../../store/index.js');
  const { createImageService } = await import('../../../image/index.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsd-img-${process.pid}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(path.join(dir, 'tsd.db'));
  t.teardown(() => db.close());
  createImageService({ db, dataRoot: dir });
  fs.mkdirSync(path.join(dir, 'layers', 'a'.repeat(64), 'diff'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'tmp', 'layer-x'), { recursive: true });
  fs.symlinkSync('../layers/' + 'b'.repeat(64) + '/diff', path.join(dir, 'l', 'bbbbbbbbbbbb'));
  createImageService({ db, dataRoot: dir }).sweep();
  t.same(fs.readdirSync(path.join(dir, 'layers')), []);
  t.same(fs.readdirSync(path.join(dir, 'tmp')), []);
  t.same(fs.readdirSync(path.join(dir, 'l')), []);
});
