// POST /build?remote=: contexts the daemon fetches itself (what docker-py's
// images.build(path=<url>) and `docker build` against the API send): a
// gzipped tar and a bare Dockerfile over HTTP, and a git repository (over
// git's dumb HTTP, from a loopback server) with a ref and a subdirectory; a
// submodule that points at a file:// repository on the host is refused. Each
// leaves nothing of the fetch behind.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { engines, clientOpts } from '../../clients/helpers.js';
import { contextDir, leftovers, settle } from './helpers.js';

t.setTimeout(180_000);

/** Serves the files below `dir` on 127.0.0.1 (a .tar.gz as application/gzip). */
async function staticServer(t: { teardown(fn: () => unknown): void }, dir: string): Promise<(p: string) => string> {
  const srv = http.createServer((req, res) => {
    const rel = path.posix.normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^\/+/, '');
    const p = path.join(dir, rel);
    if (rel.startsWith('..') || !fs.existsSync(p) || !fs.statSync(p).isFile()) {
      res.writeHead(404).end('no such file');
      return;
    }
    res.writeHead(200, { 'Content-Type': p.endsWith('.gz') ? 'application/gzip' : 'application/octet-stream' });
    fs.createReadStream(p).pipe(res);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as AddressInfo).port;
  return (p) => `http://127.0.0.1:${port}/${p}`;
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', '-c', 'protocol.file.allow=always', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

t.test('remote build contexts', clientOpts(), async (t) => {
  const [e] = await engines(t);
  const tsd = e!;
  const d = tsd.daemon!;
  const served = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-build-remote-'));
  t.teardown(() => fs.rmSync(served, { recursive: true, force: true }));
  const url = await staticServer(t, served);
  const build = async (q: string) => {
    const r = await d.request('POST', `/v1.41/build?${q}`);
    const lines = r.text.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return { raw: l }; } });
    const error = lines.find((l) => l.error)?.error as string | undefined;
    return { status: r.status, text: r.text, error, out: lines.map((l) => (l.stream as string) ?? '').join('') };
  };
  const run = (img: string, ...cmd: string[]) => tsd.ok('docker', ['run', '--rm', img, ...cmd]);
  const tag = `tsdremote${process.pid}`;
  t.teardown(async () => {
    const imgs = (await tsd.run('docker', ['images', '-q', '--filter', `reference=${tag}*`])).out.split('\n').filter(Boolean);
    if (imgs.length) await tsd.run('docker', ['rmi', '-f', ...new Set(imgs)]);
  });

  await t.test('a gzipped tar and a bare Dockerfile over HTTP', async (t) => {
    const c = contextDir(t, { Dockerfile: 'FROM busybox:fixture\nCOPY hello.txt /\nCMD ["cat", "/hello.txt"]\n', 'hello.txt': 'from a remote tar\n' });
    execFileSync('tar', ['-czf', path.join(served, 'ctx.tar.gz'), '-C', c, '.']);
    const r = await build(`remote=${encodeURIComponent(url('ctx.tar.gz'))}&t=${tag}:tar`);
    t.equal(r.error, undefined, r.error ? r.text.slice(-800) : 'built');
    t.equal(await run(`${tag}:tar`), 'from a remote tar\n');
    fs.writeFileSync(path.join(served, 'Dockerfile'), 'FROM busybox:fixture\nRUN echo "from a remote Dockerfile" > /m\nCMD ["cat", "/m"]\n');
    const f = await build(`remote=${encodeURIComponent(url('Dockerfile'))}&t=${tag}:df`);
    t.equal(f.error, undefined, f.error ? f.text.slice(-800) : 'built');
    t.equal(await run(`${tag}:df`), 'from a remote Dockerfile\n', 'a text response is the Dockerfile');
    const missing = await build(`remote=${encodeURIComponent(url('nope.tar'))}`);
    t.not(missing.status, 200);
    t.match(missing.text, /unable to prepare context: unable to download remote context .*status 404/);
    const bad = await build('remote=not-a-url');
    t.equal(bad.status, 400);
    t.match(bad.text, /remoteURL \(not-a-url\) could not be recognized as URL/);
  });

  await t.test('a git repository: the default branch, a ref and a subdirectory', async (t) => {
    const work = path.join(served, 'work');
    fs.mkdirSync(path.join(work, 'sub'), { recursive: true });
    git(work, 'init', '-q');
    fs.writeFileSync(path.join(work, 'Dockerfile'), 'FROM busybox:fixture\nCOPY . /ctx/\nCMD ["cat", "/ctx/v"]\n');
    fs.writeFileSync(path.join(work, 'v'), 'one\n');
    fs.writeFileSync(path.join(work, 'sub', 'Dockerfile'), 'FROM busybox:fixture\nCOPY x /x\nCMD ["cat", "/x"]\n');
    fs.writeFileSync(path.join(work, 'sub', 'x'), 'from the subdirectory\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'one');
    git(work, 'tag', 'v1');
    fs.writeFileSync(path.join(work, 'v'), 'two\n');
    git(work, 'commit', '-qam', 'two');
    git(served, 'clone', '-q', '--bare', 'work', 'repo.git');
    git(path.join(served, 'repo.git'), 'update-server-info');
    const r = await build(`remote=${encodeURIComponent(url('repo.git'))}&t=${tag}:git`);
    t.equal(r.error, undefined, r.error ? r.text.slice(-800) : 'built');
    t.equal(await run(`${tag}:git`), 'two\n', 'the default branch');
    t.equal((await run(`${tag}:git`, 'test', '-d', '/ctx/.git')), '', 'the clone is the context, .git too (as dockerd)');
    const v1 = await build(`remote=${encodeURIComponent(url('repo.git') + '#v1')}&t=${tag}:v1`);
    t.equal(v1.error, undefined, v1.error ? v1.text.slice(-800) : 'built');
    t.equal(await run(`${tag}:v1`), 'one\n', '#v1: the tag');
    const sub = await build(`remote=${encodeURIComponent(url('repo.git') + '#main:sub')}&t=${tag}:sub`);
    t.equal(sub.error, undefined, sub.error ? sub.text.slice(-800) : 'built');
    t.equal(await run(`${tag}:sub`), 'from the subdirectory\n', '#main:sub');
    // a subdirectory climbing out is resolved inside the clone (as moby's FollowSymlinkInScope): the clone's root
    const up = await build(`remote=${encodeURIComponent(url('repo.git') + '#main:../../..')}&t=${tag}:up`);
    t.equal(up.error, undefined, up.error ?? 'built');
    t.equal(await run(`${tag}:up`), 'two\n', 'a subdirectory climbing out stays in the clone');
    const file = await build(`remote=${encodeURIComponent(url('repo.git') + '#main:v')}`);
    t.match(file.text, /not a directory: v/, 'a subdirectory that is a file');
  });

  await t.test('a submodule at a file:// repository of the host is refused', async (t) => {
    const secret = path.join(served, 'host-secret');
    fs.mkdirSync(secret);
    git(secret, 'init', '-q');
    fs.writeFileSync(path.join(secret, 'key'), 'host secret\n');
    git(secret, 'add', '.');
    git(secret, 'commit', '-qm', 'secret');
    const evil = path.join(served, 'evilwork');
    fs.mkdirSync(evil);
    git(evil, 'init', '-q');
    fs.writeFileSync(path.join(evil, 'Dockerfile'), 'FROM busybox:fixture\nCOPY s /s\n');
    git(evil, 'submodule', 'add', '-q', `file://${secret}`, 's');
    git(evil, 'commit', '-qm', 'evil');
    git(served, 'clone', '-q', '--bare', 'evilwork', 'evil.git');
    git(path.join(served, 'evil.git'), 'update-server-info');
    const r = await build(`remote=${encodeURIComponent(url('evil.git'))}&t=${tag}:evil`);
    t.ok(r.error !== undefined || r.status !== 200, 'the build fails');
    t.match(r.text, /unable to 'git clone'|transport 'file' not allowed/);
    t.notMatch(r.text, /host secret/);
    t.equal((await tsd.run('docker', ['image', 'inspect', `${tag}:evil`])).code, 1, 'no image');
  });

  t.same(await settle(() => leftovers(tsd)), [], 'no clone, download or context left');
});
