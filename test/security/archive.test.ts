// Archive inputs that once killed the daemon (issue #9 items 6 and 7, for
// docker cp, export, commit and layer apply) and layer xattrs that steered
// overlayfs (item 11). Each ends with the daemon answering _ping.
import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeTar } from '../fixtures/images.js';
import { listxattrAt, AT_FDCWD } from '../../sys/fsat.js';
import { secEnv, containerOpts, tarEntries, hostSnapshot, assertHostUntouched, loadCustomImage, type SecEnv } from './helpers.js';

/** A raw PUT over the daemon's socket: `body` sent with `contentLength` announced; `cut` destroys the socket after the body. */
function rawPut(env: SecEnv, urlPath: string, body: Buffer, opts: { contentLength?: number; cut?: boolean } = {}): Promise<{ status: number | null; text: string }> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: env.d.socket, method: 'PUT', path: urlPath, headers: { 'content-type': 'application/x-tar', 'content-length': String(opts.contentLength ?? body.length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? null, text }));
      res.on('error', () => resolve({ status: res.statusCode ?? null, text }));
    });
    req.on('error', () => resolve({ status: null, text: '' }));
    req.write(body);
    if (opts.cut) setTimeout(() => req.destroy(), 200);
    else req.end();
  });
}

t.test('archive inputs', containerOpts(), async (t) => {
  const env = await secEnv(t);
  const { ok, docker, dockerBin, name } = env;
  const before = hostSnapshot();
  const c = name('arch');
  await ok('run', '-d', '--name', c, 'busybox:fixture', 'sh', '-c',
    // /live grows without pause (emptied every 2 s to stay small); /flip is rewritten between 0 and 200 KB
    'mkdir -p /work; (while :; do echo "a line of a live log file, appended as fast as sh can"; done >> /work/live) & '
    + '(while sleep 2; do : > /work/live; done) & '
    + '(while :; do head -c 204800 /dev/zero > /work/flip; : > /work/flip; done) & exec sleep 600');
  for (let i = 0; i < 100 && (await docker(['exec', c, 'test', '-s', '/work/live'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));

  await t.test('item 6: PUT bodies that end mid-file, lie about sizes, or stop mid-upload', async (t) => {
    const big = await makeTar([{ name: 'big', content: Buffer.alloc(1 << 20, 7) }, { name: 'after', content: 'after\n' }]);
    const pax = Buffer.from(await makeTar([{ name: 'p', content: 'short body', pax: { size: '9999999' } }]));
    const cases: Array<[string, Buffer, { contentLength?: number; cut?: boolean }]> = [
      ['the body ends mid-file', big.subarray(0, 512 + 1000), {}],
      ['a PAX size larger than the body', pax, {}],
      ['only a header', big.subarray(0, 512), {}],
      ['garbage', Buffer.from('not a tar at all, but long enough to fill a header block?'.repeat(20)), {}],
      ['the client goes away mid-upload', big.subarray(0, 300_000), { contentLength: big.length, cut: true }],
    ];
    for (const [label, body, opts] of cases) {
      const r = await rawPut(env, `/containers/${c}/archive?path=/tmp`, body, opts);
      if (!opts.cut) t.ok(r.status !== null && r.status >= 400, `${label}: an error answer (${r.status} ${r.text.trim().slice(0, 80)})`);
      t.ok(await env.ping(), `${label}: the daemon still answers`);
    }
    // and a good one still works
    const r = await rawPut(env, `/containers/${c}/archive?path=/tmp`, await makeTar([{ name: 'fine', content: 'fine\n' }]));
    t.equal(r.status, 200);
    t.equal(await ok('exec', c, 'cat', '/tmp/fine'), 'fine\n');
  });

  await t.test('item 7: docker cp of a file being written, export and commit of a container writing', async (t) => {
    for (let i = 0; i < 6; i++) {
      const r = await dockerBin(['cp', `${c}:/work/live`, '-']);
      t.equal(r.code, 0, `cp of the growing file #${i}: ${r.err.trim()}`);
      const es = await tarEntries(r.out);
      t.equal(es[0]?.name, 'live');
      const f = await dockerBin(['cp', `${c}:/work`, '-']);
      t.equal(f.code, 0, `cp of the directory with a file flipping size #${i}`);
      t.ok((await tarEntries(f.out)).some((e) => e.name === 'work/flip'));
    }
    const exp = await dockerBin(['export', c]);
    t.equal(exp.code, 0, `export while files change: ${exp.err.trim()}`);
    t.ok((await tarEntries(exp.out)).some((e) => e.name === 'work/live'));
    const img = name('committed').toLowerCase();
    const cm = await docker(['commit', '--pause=false', c, img]);
    t.equal(cm.code, 0, `commit --pause=false while files change: ${cm.err.trim()}`);
    t.match(await ok('run', '--rm', img, 'sh', '-c', 'test -f /work/live && echo there'), /there/);
    t.ok(await env.ping());
  });

  await t.test('item 6 (layer apply): an image whose layer tar is cut mid-file', async (t) => {
    const layer = await makeTar([{ name: 'f', content: Buffer.alloc(100_000, 1) }]);
    const cut = layer.subarray(0, 512 + 4096);
    const dir = path.join(env.d.dir, 'cut-layer');
    fs.mkdirSync(dir);
    // hand-made docker-save layout with the truncated layer (the archive around it is whole)
    // its diff ID is the truncated tar's own digest: the digest check passes, the tar reader meets the cut
    const diffId = 'sha256:' + crypto.createHash('sha256').update(cut).digest('hex');
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
    const save = await makeTar([
      { name: 'l/layer.tar', content: cut }, { name: 'c.json', content: cfg },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['tsd-sec:cutlayer'], Layers: ['l/layer.tar'] }]) },
    ]);
    const r = await dockerBin(['load'], save);
    t.not(r.code, 0, `refused: ${r.err.trim().slice(0, 100)}`);
    t.ok(await env.ping(), 'the daemon still answers');
  });

  await t.test('item 11: trusted.* and security.* xattrs (but capabilities) are dropped from layers', async (t) => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // v2: cap_net_raw permitted
    await loadCustomImage(env, 'tsd-sec:xattrs', [
      [{ name: 'opq/', type: 'directory' }, { name: 'opq/from-lower', content: 'lower\n' }],
      [
        // would make /opq opaque (hiding the lower layer) or redirect it, if applied
        { name: 'opq/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } },
        { name: 'x', content: 'x', pax: {
          'SCHILY.xattr.security.selinux': 'system_u:object_r:shadow_t:s0', 'SCHILY.xattr.trusted.evil': '1',
          'SCHILY.xattr.user.kept': 'yes', 'SCHILY.xattr.security.capability': cap.toString('latin1'),
        } },
      ],
    ]);
    t.equal(await ok('run', '--rm', 'tsd-sec:xattrs', 'cat', '/opq/from-lower'), 'lower\n', 'the lower layer is not hidden');
    const names = new Set<string>();
    const layers = path.join(env.d.dataRoot, 'layers');
    for (const l of fs.readdirSync(layers)) {
      for (const rel of ['diff/x', 'diff/opq']) {
        const p = path.join(layers, l, rel);
        if (fs.existsSync(p)) for (const n of listxattrAt(AT_FDCWD, p)) names.add(n);
      }
    }
    t.same([...names].sort(), ['security.capability', 'user.kept'], 'only user.* and the capability are on disk');
    await assertHostUntouched(t, env, before);
  });
});
