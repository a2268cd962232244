// The error-code table and the code that throws agree (as fastify's
// test/internals/errors.test.js keeps lib/errors.js honest): every code thrown
// is in errors/codes.ts, every code there is thrown somewhere, and where a
// throw names its kind and code together, the table allows that kind.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODES, kindsOf, type ErrorCode } from '../../../errors/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const FOLDERS = ['api', 'builder', 'cgroupfs', 'cli', 'daemon', 'errors', 'image', 'lib', 'netctl', 'rootfs', 'runtime', 'store', 'sys', 'wire'];

function sources(): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push({ file: path.relative(root, p), text: fs.readFileSync(p, 'utf8') });
    }
  };
  for (const f of FOLDERS) if (fs.existsSync(path.join(root, f))) walk(path.join(root, f));
  return out;
}

const files = sources();
const table = new Set(Object.keys(CODES));

t.test('the table: unique, well-formed codes, each with a kind and a meaning', async (t) => {
  t.ok(files.length > 100, `read the sources (${files.length} files)`);
  for (const [code, e] of Object.entries(CODES)) {
    t.match(code, /^TSD_ERR_[A-Z0-9_]+$/);
    t.ok(kindsOf(code as ErrorCode).length > 0 && e.means.length > 10, `${code} has a kind and a meaning`);
  }
});

t.test('every code thrown is in the table, every code in the table is thrown', async (t) => {
  const used = new Map<string, string>();
  for (const { file, text } of files) {
    if (file === path.join('errors', 'codes.ts')) continue;
    for (const m of text.matchAll(/'(TSD_ERR_[A-Z0-9_]+)'/g)) if (!used.has(m[1]!)) used.set(m[1]!, file);
  }
  t.same([...used.keys()].filter((c) => !table.has(c)).map((c) => `${c} (${used.get(c)})`), [], 'codes thrown but missing from errors/codes.ts');
  t.same([...table].filter((c) => !used.has(c)), [], 'codes in errors/codes.ts that nothing throws');
});

t.test('a throw that names kind and code uses a kind the table allows', async (t) => {
  const HELPERS: Record<string, string> = {
    notFound: 'not-found', invalidParameter: 'invalid-parameter', conflict: 'conflict', notImplemented: 'not-implemented',
    systemError: 'system', unauthorized: 'unauthorized', unavailable: 'unavailable', forbidden: 'forbidden',
  };
  const wrong: string[] = [];
  let checked = 0;
  for (const { file, text } of files) {
    for (const m of text.matchAll(/new DaemonError\(\s*'([a-z-]+)',\s*'(TSD_ERR_[A-Z0-9_]+)'/g)) {
      checked++;
      if (!kindsOf(m[2] as ErrorCode).includes(m[1] as never)) wrong.push(`${file}: ${m[2]} as ${m[1]}`);
    }
    for (const line of text.split('\n')) {
      const h = /\b(notFound|invalidParameter|conflict|notImplemented|systemError|unauthorized|unavailable|forbidden)\(/.exec(line);
      const c = /'(TSD_ERR_[A-Z0-9_]+)'\)/.exec(line);
      if (!h || !c || file.startsWith('errors')) continue;
      checked++;
      if (!kindsOf(c[1] as ErrorCode).includes(HELPERS[h[1]!] as never)) wrong.push(`${file}: ${c[1]} as ${HELPERS[h[1]!]}`);
    }
  }
  t.ok(checked > 40, `checked ${checked} throws`);
  t.same(wrong, []);
});
