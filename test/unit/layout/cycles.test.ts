// No import circles in the engine's source, type-only imports included (#11):
// a circle, even of types, means two modules are one module in two files.
// The graph is read from the sources' import/export-from statements; the
// finder is checked on a small graph with a known circle first.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const FOLDERS = ['api', 'builder', 'cgroupfs', 'cli', 'daemon', 'errors', 'image', 'lib', 'netctl', 'rootfs', 'runtime', 'store', 'sys', 'wire'];
const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const folder of FOLDERS) {
    const dir = path.join(root, folder);
    if (!fs.existsSync(dir)) continue;
    for (const file of sources(dir)) {
      const text = fs.readFileSync(file, 'utf8');
      const deps: string[] = [];
      for (const m of text.matchAll(IMPORT)) {
        const target = path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts'));
        if (fs.existsSync(target)) deps.push(path.relative(root, target));
      }
      g.set(path.relative(root, file), deps);
    }
  }
  return g;
}

/** Every strongly connected component with more than one module (Tarjan), as sorted lists. */
export function circles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++; stack.push(v); on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

t.test('the finder finds a circle and nothing else', async (t) => {
  const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']], ['e', []]]);
  t.same(circles(g), [['a', 'b', 'c']]);
  t.same(circles(new Map([['a', ['b']], ['b', []]])), []);
});

t.test('the import statements are read', async (t) => {
  const g = graph();
  t.ok(g.size > 100, `${g.size} modules`);
  t.ok((g.get('daemon/daemon.ts') ?? []).length > 5, 'daemon/daemon.ts has its imports');
});

t.test('no import circles in the source tree', async (t) => {
  t.same(circles(graph()), [], 'no module reaches itself through its imports');
});
