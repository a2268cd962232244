// The context's index answers as the extracted tree does: where paths lead
// through symlinks (absolute, relative, `..` past the root, dangling, loops),
// what is there, and what is below a directory, entry for entry the answers
// of the fd-relative view over the same tar extracted by the layer extractor.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { LinuxSyscalls } from '../../../sys/index.js';
import { applyLayer } from '../../../image/index.js';
import { Root } from '../../../rootfs/index.js';
import { RootView, TarIndex } from '../../../builder/tree.js';

type E = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; body?: string };

async function tarOf(entries: E[]): Promise<Buffer> {
  const p = tar.pack();
  for (const e of entries) {
    const h = { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644 } as const;
    if (e.type && e.type !== 'file') p.entry(h);
    else p.entry(h, e.body ?? 'x');
  }
  p.finalize();
  const c: Buffer[] = [];
  for await (const x of p as unknown as AsyncIterable<Buffer>) c.push(x);
  return Buffer.concat(c);
}

const entries: E[] = [
  { name: 'Dockerfile' },
  { name: 'src/', type: 'directory' },
  { name: 'src/a.txt' },
  { name: 'src/sub/b.txt' }, // src/sub implied
  { name: 'abs', type: 'symlink', linkname: '/src/a.txt' },
  { name: 'rel', type: 'symlink', linkname: 'src/sub' },
  { name: 'up', type: 'symlink', linkname: '../../../src' },
  { name: 'dangling', type: 'symlink', linkname: 'nope/deeper' },
  { name: 'loop1', type: 'symlink', linkname: 'loop2' },
  { name: 'loop2', type: 'symlink', linkname: 'loop1' },
  { name: 'hard', type: 'link', linkname: 'src/a.txt' },
  { name: 'was-dir/', type: 'directory' },
  { name: 'was-dir/inside' },
  { name: 'was-dir' }, // a file replaces the directory and what was in it
  { name: 'twice', body: 'one' },
  { name: 'twice', body: 'two' },
  { name: 'src/sub/link-out', type: 'symlink', linkname: '/etc/passwd' },
];

const queries = ['Dockerfile', 'src', 'src/a.txt', 'abs', 'rel', 'rel/b.txt', 'up', 'up/a.txt', 'dangling', 'dangling/x', 'hard', 'was-dir', 'was-dir/inside',
  'twice', 'src/sub/link-out', 'src/../../Dockerfile', '/src/sub/../a.txt', 'nope', 'src/a.txt/x', '.', ''];

t.test('the tar index and the extracted tree agree', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-tree-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const buf = await tarOf(entries);
  await applyLayer(Readable.from([buf]), dir, new LinuxSyscalls(), { whiteouts: 'keep' });
  const root = Root.open(dir);
  t.teardown(() => root.close());
  const disk = new RootView(root);
  const index = new TarIndex();
  const ex = tar.extract();
  ex.on('entry', (h, s, next) => { index.add(h.name, h.type, h.linkname ?? undefined); s.resume(); s.on('end', next); });
  await new Promise<void>((resolve, reject) => { ex.on('finish', resolve); ex.on('error', reject); Readable.from([buf]).pipe(ex); });
  for (const q of queries) {
    for (const follow of [true, false]) {
      t.equal(index.resolvedPath(q, follow), disk.resolvedPath(q, follow), `resolvedPath ${q} ${follow}`);
      t.same(index.stat(q, follow)?.type ?? null, disk.stat(q, follow)?.type ?? null, `stat ${q} ${follow}`);
    }
  }
  t.throws(() => index.resolvedPath('loop1'), /too many levels of symbolic links/);
  for (const d of ['.', 'src', 'src/sub']) t.same(index.walk(d), disk.walk(d), `walk ${d}`);
  t.same(index.walk('abs'), [], 'a symlink is not walked into');
  index.remove('src/sub');
  t.same(index.walk('src'), ['src/a.txt'], 'remove takes what is below');
  t.equal(index.stat('rel/b.txt', true), null);
});

t.test('the index refuses what the extractor refuses', async (t) => {
  const i = new TarIndex();
  i.add('link', 'symlink', '/etc');
  t.throws(() => i.add('link/passwd', 'file', undefined), /refusing layer entry "link\/passwd": parent link is a symlink/);
  i.add('f', 'file', undefined);
  t.throws(() => i.add('f/g', 'file', undefined), /parent f is not a directory/);
  t.throws(() => i.add('../x', 'file', undefined), /path escapes the layer/);
  t.throws(() => i.add('/abs', 'file', undefined), /absolute path/);
});
