// docker build with a hostile context and hostile images: every COPY/ADD,
// WORKDIR and the context's extraction go through rootfs/ (openat2
// RESOLVE_IN_ROOT), so a symlink in the context, in a stage or in the image
// being built resolves inside its own tree and never reads or writes a host
// file. A builder that joined paths as strings (path.join(root, dest), a
// plain `tar -x` of the context) fails every case here: it would copy the
// host's sentinel into the image or write through the symlink onto the host.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { makeTar } from '../fixtures/images.js';
import { secEnv, containerOpts, hostSnapshot, assertHostUntouched, makeSentinel, hostDir } from './helpers.js';

t.setTimeout(240_000);

t.test('docker build against hostile contexts and images', containerOpts(), async (t) => {
  const env = await secEnv(t);
  const before = hostSnapshot();
  const host = hostDir(env, 'build-host');
  const sentinel = makeSentinel(host);
  // an account only the host has: a --chown that found it would have read the host's file
  const passwd = makeSentinel(host, 'passwd', 'evil:x:4242:4242::/:/bin/sh\n');
  const ctxRoot = hostDir(env, 'build-ctx');
  let n = 0;
  const context = (files: Record<string, string | { link: string }>): string => {
    const dir = path.join(ctxRoot, String(n++));
    for (const [name, v] of Object.entries(files)) {
      const p = path.join(dir, name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      if (typeof v === 'string') fs.writeFileSync(p, v);
      else fs.symlinkSync(v.link, p);
    }
    return dir;
  };
  const build = (dir: string, ...args: string[]) => env.docker(['build', ...args, dir], { timeout: 120_000 });
  const tag = `tsd-sec-build${process.pid}`;
  t.teardown(async () => {
    const ids = (await env.docker(['images', '-q', '--filter', `reference=${tag}*`])).out.split('\n').filter(Boolean);
    if (ids.length) await env.docker(['rmi', '-f', ...new Set(ids)]);
  });
  /** What a file of the built image holds ('' when it is not there). */
  const cat = async (image: string, file: string): Promise<string> => (await env.docker(['run', '--rm', image, 'cat', file])).out;
  const hostFiles = ['passwd', 'sentinel'];
  const noHostWrites = (t: Test) => t.same(fs.readdirSync(host).sort(), hostFiles, 'nothing written into the host directory');

  await t.test('context symlinks pointing out: COPY reads inside the context only', async (t) => {
    const dir = context({
      Dockerfile: 'FROM busybox:fixture\nCOPY tree /tree/\n',
      'tree/abs': { link: sentinel.path },
      'tree/rel': { link: `../../../../../../../../..${sentinel.path}` },
      'tree/dir': { link: host },
      'abs': { link: sentinel.path },
      'up': { link: '../../../../../../../../..' + host },
    });
    const r = await build(dir, '-t', `${tag}:links`);
    t.equal(r.code, 0, r.code ? r.err : 'built');
    // a directory's symlinks are copied as symlinks: inside the image they point at the image's own (absent) paths
    t.equal(await cat(`${tag}:links`, '/tree/abs'), '', 'a copied symlink does not carry the host file');
    t.equal((await env.docker(['run', '--rm', `${tag}:links`, 'readlink', '/tree/abs'])).out, `${sentinel.path}\n`, 'the symlink itself is copied');
    // a top-level source symlink is followed, inside the context: its target does not exist there
    for (const src of ['abs', 'up/sentinel', 'tree/abs', 'tree/rel', 'tree/dir/sentinel']) {
      const c = context({ Dockerfile: `FROM busybox:fixture\nCOPY ${src} /got\n`, abs: { link: sentinel.path }, up: { link: '../../../../../../../../..' + host }, 'tree/abs': { link: sentinel.path }, 'tree/rel': { link: `../../../../../../../../..${sentinel.path}` }, 'tree/dir': { link: host } });
      const x = await build(c, '-t', `${tag}:src`);
      t.equal(x.code, 1, `COPY ${src}: refused`);
      t.match(x.err, /not found|no such file|does not exist/, `COPY ${src}: the target is not in the context`);
      t.notMatch(x.out + x.err, new RegExp(sentinel.content.trim()), 'the sentinel never shows');
    }
    const a = await build(context({ Dockerfile: 'FROM busybox:fixture\nADD abs /got\n', abs: { link: sentinel.path } }));
    t.equal(a.code, 1, 'ADD of a symlink out: refused');
    noHostWrites(t);
  });

  await t.test('a context tar writing through its own symlink is refused', async (t) => {
    const body = await makeTar([
      { name: 'Dockerfile', content: 'FROM busybox:fixture\nCOPY . /ctx/\n' },
      { name: 'evil', type: 'symlink', linkname: host },
      { name: 'evil/pwned', content: 'written through the context\n' },
      { name: 'rel', type: 'symlink', linkname: '../../../../../../../../..' + host },
      { name: 'rel/pwned2', content: 'written through the context\n' },
    ]);
    const r = await env.d.request('POST', '/v1.41/build?t=' + `${tag}:tar`, Buffer.from(body), { 'content-type': 'application/x-tar' });
    t.match(r.text, /parent link is a symlink|refusing/, `refused: ${r.status} ${r.text.slice(0, 300)}`);
    t.notMatch(r.text, /Successfully built/);
    noHostWrites(t);
  });

  await t.test('symlinks out in the image being built: COPY, ADD and WORKDIR write inside its rootfs', async (t) => {
    const files = await makeTar([{ name: 'x/from-tar', content: 'from the tar\n' }]);
    const dir = context({
      Dockerfile: [
        'FROM busybox:fixture',
        `RUN mkdir -p /real && ln -s ${host} /out && ln -s ../../../../../../../..${host} /rel && ln -s ${sentinel.path} /over`,
        'COPY f /out/pwned',
        'COPY f /rel/pwned-rel',
        'COPY f /over',
        'ADD files.tar /out/',
        `WORKDIR /out/made-by-workdir`,
        'COPY f made-by-copy',
      ].join('\n') + '\n',
      f: 'copied\n',
    });
    fs.writeFileSync(path.join(dir, 'files.tar'), files);
    const r = await build(dir, '-t', `${tag}:dest`);
    t.equal(r.code, 0, r.code ? r.err : 'built');
    noHostWrites(t);
    // the writes landed in the image, at the symlinks' targets read inside it
    t.equal(await cat(`${tag}:dest`, `${host}/pwned`), 'copied\n', 'COPY through an absolute symlink: inside the image');
    t.equal(await cat(`${tag}:dest`, `${host}/pwned-rel`), 'copied\n', 'through a relative one climbing past /: inside the image');
    t.equal(await cat(`${tag}:dest`, sentinel.path), 'copied\n', 'the symlink to the sentinel\'s path: replaced inside the image');
    t.equal(await cat(`${tag}:dest`, `${host}/x/from-tar`), 'from the tar\n', 'ADD of a tar through the symlink: inside the image');
    t.equal(await cat(`${tag}:dest`, `${host}/made-by-workdir/made-by-copy`), 'copied\n', 'WORKDIR through the symlink: inside the image');
  });

  await t.test('COPY --from a stage whose files point out, and --chown with /etc/passwd pointing out', async (t) => {
    const dir = context({
      Dockerfile: [
        'FROM busybox:fixture AS evil',
        `RUN ln -s ${sentinel.path} /s && ln -s ${host} /d && rm /etc/passwd && ln -s ${passwd.path} /etc/passwd`,
        'COPY --chown=evil f /f',
      ].join('\n') + '\n',
      f: 'f\n',
    });
    const r = await build(dir, '-t', `${tag}:chown`);
    t.equal(r.code, 1, '--chown=evil: refused');
    t.match(r.err, /can't find uid for user evil|no such user/, 'the user is looked up in the image\'s /etc/passwd, whose target is not in the image');
    const stage = await build(context({ Dockerfile: `FROM busybox:fixture\nRUN ln -s ${sentinel.path} /s && ln -s ${host} /d\n` }), '-t', `${tag}:stage`);
    t.equal(stage.code, 0, stage.code ? stage.err : 'built');
    const s = await build(context({ Dockerfile: `FROM ${tag}:stage\nFROM busybox:fixture\nCOPY --from=0 /s /got\n` }));
    t.equal(s.code, 1, 'COPY --from of a symlink out: its target is not in the stage');
    t.notMatch(s.out + s.err, new RegExp(sentinel.content.trim()));
    const d = await build(context({ Dockerfile: `FROM ${tag}:stage\nFROM busybox:fixture\nCOPY --from=0 /d/sentinel /got\n` }));
    t.equal(d.code, 1, 'COPY --from through a directory symlink out: not in the stage');
    noHostWrites(t);
  });

  await assertHostUntouched(t, env, before, [sentinel, passwd]);
});
