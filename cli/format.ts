// Output helpers shared by the verbs: docker's tabwriter tables, its --format
// templates (the subset people type), sizes and durations as docker prints them.
import { UsageError } from './client.js';

/** docker's tables: columns padded to the widest cell plus three spaces (text/tabwriter, padding 3). */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const n = Math.max(...rows.map((r) => r.length));
  const w = Array.from({ length: n }, (_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

/** Go's units.HumanSizeWithPrecision(n, 3): decimal units ("5.2MB", "1.23GB"). */
export function humanSize(n: number, precision = 3): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${Number(v.toPrecision(precision))}${units[i]}`;
}

/** Go's units.BytesSize: binary units with two decimals ("1.5MiB"), as docker stats prints them. */
export function bytesSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${Number(v.toFixed(2))}${units[i]}`;
}

/** Go's units.HumanDuration ("Less than a second", "3 minutes", "2 hours"). */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(ms / 60000);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(ms / 3600000);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

export const ago = (t: number | string): string => `${humanDuration(Date.now() - (typeof t === 'number' ? t * 1000 : Date.parse(t)))} ago`;

/** RAM sizes as docker's flags take them: 48m, 1g, 512k, 100 (bytes), "-1" unlimited. */
export function parseBytes(s: string, flag: string): number {
  if (s === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`invalid argument "${s}" for "${flag}" flag: invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/** Durations as Go's time.ParseDuration takes them ("10s", "1m30s", "500ms"); nanoseconds. */
export function parseDurationNs(s: string, flag: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let used = 0;
  for (const m of s.matchAll(re)) { total += Number(m[1]) * unit[m[2]!]!; used += m[0].length; }
  if (s === '0') return 0;
  if (used !== s.length || used === 0) throw new UsageError(`invalid argument "${s}" for "${flag}" flag: time: invalid duration "${s}"`);
  return Math.round(total);
}

// ---------------------------------------------------------------- --format

type Value = unknown;

/**
 * docker's --format: Go's text/template as the CLI people type it. Fields
 * (`{{.Field.Sub}}`, `{{$.X}}`, `{{$v.Y}}`), pipelines (`{{.X | json}}`),
 * parentheses, variables (`{{$n := len .X}}`), `{{if}}`/`{{else if}}`/`{{else}}`,
 * `{{range}}` (with `$i, $v :=`, over arrays and maps, keys sorted as Go's),
 * `{{with}}`, `{{end}}`, `{{- -}}` trimming, and the functions of text/template
 * (and or not eq ne lt le gt ge len index print printf println) and docker's
 * (json join split lower upper title truncate pad). A leading `table` prints a
 * header row (column titles from the field names); `json` alone prints each
 * object as one JSON line. `\t` and `\n` are escapes, as the CLI takes them.
 */
export interface Template {
  table: boolean;
  header: string | null;
  render(v: Value): string;
}

/** Go's truth: false, 0, nil, and empty strings, arrays and maps are false. */
function truth(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** fmt's verbs, the ones templates use: %s %v %d %q %f (%.Nf) %x %%, with widths. */
function sprintf(format: Value, ...args: Value[]): string {
  let i = 0;
  return String(format).replace(/%([-0 ]*)(\d+)?(?:\.(\d+))?([svdqfxXt%])/g, (_m, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    const v = args[i++];
    let out: string;
    switch (verb) {
      case 'd': out = String(Math.trunc(Number(v))); break;
      case 'f': out = Number(v).toFixed(prec === undefined ? 6 : Number(prec)); break;
      case 'q': out = JSON.stringify(String(v ?? '')); break;
      case 'x': out = typeof v === 'number' ? v.toString(16) : Buffer.from(String(v)).toString('hex'); break;
      case 'X': out = (typeof v === 'number' ? v.toString(16) : Buffer.from(String(v)).toString('hex')).toUpperCase(); break;
      default: out = str(v);
    }
    if (width) out = flags.includes('-') ? out.padEnd(Number(width)) : out.padStart(Number(width), flags.includes('0') && verb !== 's' ? '0' : ' ');
    return out;
  });
}

const cmp = (a: Value, b: Value): number => {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

const FUNCS: Record<string, (...a: Value[]) => Value> = {
  json: (v) => JSON.stringify(v ?? null),
  lower: (v) => String(v ?? '').toLowerCase(),
  upper: (v) => String(v ?? '').toUpperCase(),
  title: (v) => String(v ?? '').replace(/\b\w/g, (c) => c.toUpperCase()),
  len: (v) => (Array.isArray(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : String(v ?? '').length),
  join: (v, sep) => (Array.isArray(v) ? v.map((x) => (typeof x === 'object' ? str(x) : String(x))).join(String(sep)) : String(v ?? '')),
  split: (v, sep) => String(v ?? '').split(String(sep)),
  index: (v, ...keys) => keys.reduce<Value>((o, k) => (o && typeof o === 'object' ? (o as Record<string, Value>)[String(k)] : undefined), v),
  truncate: (v, n) => String(v ?? '').slice(0, Number(n)),
  pad: (v, l, r) => `${' '.repeat(Number(l))}${str(v)}${' '.repeat(Number(r))}`,
  println: (...v) => `${v.map(str).join(' ')}\n`,
  print: (...v) => v.map(str).join(''),
  printf: (f, ...v) => sprintf(f, ...v),
  not: (v) => !truth(v),
  and: (...v) => v.find((x) => !truth(x)) ?? v[v.length - 1],
  or: (...v) => v.find((x) => truth(x)) ?? v[v.length - 1],
  eq: (a, ...b) => b.some((x) => x === a || (x !== null && a !== null && typeof x !== 'object' && String(x) === String(a) && typeof x === typeof a)),
  ne: (a, b) => a !== b,
  lt: (a, b) => cmp(a, b) < 0,
  le: (a, b) => cmp(a, b) <= 0,
  gt: (a, b) => cmp(a, b) > 0,
  ge: (a, b) => cmp(a, b) >= 0,
};

function str(v: Value): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'object') {
    if (Array.isArray(v)) return `[${v.map(str).join(' ')}]`;
    return `map[${Object.keys(v as object).sort().map((k) => `${k}:${str((v as Record<string, Value>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

// -- parsing: text and actions into a tree

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; expr: string }
  | { kind: 'if' | 'with'; expr: string; then: Node[]; else: Node[] }
  | { kind: 'range'; vars: string[]; expr: string; body: Node[]; else: Node[] };

interface Scope { dot: Value; vars: Map<string, Value> }

function lex(f: string): Array<{ text: string } | { action: string }> {
  const out: Array<{ text: string } | { action: string }> = [];
  let i = 0;
  for (;;) {
    const open = f.indexOf('{{', i);
    if (open < 0) { out.push({ text: f.slice(i) }); return out; }
    let text = f.slice(i, open);
    let j = open + 2;
    if (f[j] === '-' && /\s/.test(f[j + 1] ?? '')) { text = text.replace(/\s+$/, ''); j++; }
    out.push({ text });
    // the action ends at the first }} outside a string
    let k = j;
    let inStr: string | null = null;
    for (; k < f.length; k++) {
      const c = f[k]!;
      if (inStr) { if (c === '\\') k++; else if (c === inStr) inStr = null; continue; }
      if (c === '"' || c === '`') inStr = c;
      else if (c === '}' && f[k + 1] === '}') break;
    }
    if (k >= f.length) throw new UsageError('template: unclosed action');
    let action = f.slice(j, k);
    let next = k + 2;
    if (/\s-$/.test(action)) {
      action = action.slice(0, -1);
      while (next < f.length && /\s/.test(f[next]!)) next++;
    }
    out.push({ action: action.trim() });
    i = next;
  }
}

function parse(items: Array<{ text: string } | { action: string }>): Node[] {
  let pos = 0;
  const block = (stops: string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (pos < items.length) {
      const it = items[pos++]!;
      if ('text' in it) { if (it.text) nodes.push({ kind: 'text', text: it.text }); continue; }
      const a = it.action;
      if (a.startsWith('/*')) continue; // a comment
      const word = /^(\w+)/.exec(a)?.[1] ?? '';
      if (word === 'end' || word === 'else') {
        if (!stops.includes(word)) throw new UsageError(`template: unexpected {{${a}}}`);
        return { nodes, stop: a };
      }
      if (word === 'if' || word === 'with') nodes.push(conditional(word, a.slice(word.length).trim()));
      else if (word === 'range') {
        let expr = a.slice(5).trim();
        const m = /^(\$\w*)(?:\s*,\s*(\$\w*))?\s*:=\s*/.exec(expr);
        const vars = m ? [m[1]!, ...(m[2] ? [m[2]] : [])] : [];
        if (m) expr = expr.slice(m[0].length);
        const body = block(['end', 'else']);
        let els: Node[] = [];
        if (body.stop !== 'end') els = block(['end']).nodes;
        nodes.push({ kind: 'range', vars, expr, body: body.nodes, else: els });
      } else if (['define', 'template', 'block', 'break', 'continue'].includes(word)) {
        throw new UsageError(`template: "${word}" is not supported by tsctl's --format`);
      } else nodes.push({ kind: 'action', expr: a });
    }
    if (stops.length) throw new UsageError('template: unexpected EOF (an {{end}} is missing)');
    return { nodes, stop: '' };
  };
  const conditional = (kind: 'if' | 'with', expr: string): Node => {
    const then = block(['end', 'else']);
    let els: Node[] = [];
    if (then.stop !== 'end') {
      const rest = then.stop.slice(4).trim(); // "else", "else if x", "else with x"
      const w = /^(if|with)\b/.exec(rest)?.[1] as 'if' | 'with' | undefined;
      els = w ? [conditional(w, rest.slice(w.length).trim())] : block(['end']).nodes;
    }
    return { kind, expr, then: then.nodes, else: els };
  };
  const out = block([]);
  return out.nodes;
}

// -- evaluation

function tokenize(expr: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|`([^`]*)`|(\|)|(\()|(\))|(:=|=)|([^\s|"`()]+)/g;
  for (const m of expr.matchAll(re)) {
    if (m[1] !== undefined) out.push(JSON.stringify(JSON.parse(`"${m[1]}"`)));
    else if (m[2] !== undefined) out.push(JSON.stringify(m[2]));
    else out.push(m[3] ?? m[4] ?? m[5] ?? m[6] ?? m[7]!);
  }
  return out;
}

function field(v: Value, path: string): Value {
  for (const part of path.split('.').filter(Boolean)) v = v && typeof v === 'object' ? (v as Record<string, Value>)[part] : undefined;
  return v;
}

function operand(tok: string, sc: Scope): Value {
  if (tok.startsWith('"')) return JSON.parse(tok);
  if (tok === '.') return sc.dot;
  if (tok.startsWith('.')) return field(sc.dot, tok);
  if (tok.startsWith('$')) {
    const [name, ...rest] = tok.split('.');
    if (!sc.vars.has(name!)) throw new UsageError(`template: undefined variable "${name}"`);
    return field(sc.vars.get(name!), rest.join('.'));
  }
  if (tok === 'true' || tok === 'false') return tok === 'true';
  if (tok === 'nil') return null;
  if (/^-?\d+(\.\d+)?$/.test(tok)) return Number(tok);
  throw new UsageError(`template: function "${tok}" not defined`);
}

/** A pipeline's tokens (already split): commands separated by `|`, each one's value fed to the next as its last argument. */
function pipeline(toks: string[], sc: Scope): Value {
  // split into commands, keeping parenthesized groups whole
  const cmds: Array<Array<string | string[]>> = [[]];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t === '|') { cmds.push([]); continue; }
    if (t === '(') {
      let depth = 1;
      const inner: string[] = [];
      for (i++; i < toks.length; i++) {
        if (toks[i] === '(') depth++;
        if (toks[i] === ')' && --depth === 0) break;
        inner.push(toks[i]!);
      }
      if (depth !== 0) throw new UsageError('template: unclosed left paren');
      cmds[cmds.length - 1]!.push(inner);
      continue;
    }
    if (t === ')') throw new UsageError('template: unexpected right paren');
    cmds[cmds.length - 1]!.push(t);
  }
  let prev: Value = undefined;
  cmds.forEach((c, i) => {
    if (c.length === 0) throw new UsageError('template: missing value for command');
    const arg = (x: string | string[]): Value => (Array.isArray(x) ? pipeline(x, sc) : operand(x, sc));
    const [head, ...rest] = c;
    const fn = typeof head === 'string' ? FUNCS[head] : undefined;
    if (!fn && typeof head === 'string' && /^[A-Za-z_]\w*$/.test(head) && !['true', 'false', 'nil'].includes(head)) throw new UsageError(`template: function "${head}" not defined`);
    if (fn) {
      const args = rest.map(arg);
      if (i > 0) args.push(prev);
      prev = fn(...args);
    } else {
      if (rest.length || i > 0) throw new UsageError(`template: can't give argument to non-function ${typeof head === 'string' ? head : '(...)'}`);
      prev = arg(head!);
    }
  });
  return prev;
}

/** An action's pipeline, with an optional `$x :=` (declares) or `$x =` (assigns). */
function evalAction(expr: string, sc: Scope): { value: Value; declared: boolean } {
  const toks = tokenize(expr);
  if (toks.length >= 2 && toks[0]!.startsWith('$') && (toks[1] === ':=' || toks[1] === '=')) {
    const value = pipeline(toks.slice(2), sc);
    if (toks[1] === '=' && !sc.vars.has(toks[0]!)) throw new UsageError(`template: undefined variable "${toks[0]}"`);
    sc.vars.set(toks[0]!, value);
    return { value, declared: true };
  }
  return { value: pipeline(toks, sc), declared: false };
}

function exec(nodes: Node[], sc: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.kind) {
      case 'text': out.push(n.text); break;
      case 'action': {
        const r = evalAction(n.expr, sc);
        if (!r.declared) out.push(str(r.value));
        break;
      }
      case 'if': {
        const inner: Scope = { dot: sc.dot, vars: new Map(sc.vars) };
        exec(truth(evalAction(n.expr, inner).value) ? n.then : n.else, inner, out);
        break;
      }
      case 'with': {
        const inner: Scope = { dot: sc.dot, vars: new Map(sc.vars) };
        const v = evalAction(n.expr, inner).value;
        if (truth(v)) exec(n.then, { dot: v, vars: inner.vars }, out);
        else exec(n.else, inner, out);
        break;
      }
      case 'range': {
        const v = pipeline(tokenize(n.expr), sc);
        const entries: Array<[Value, Value]> = Array.isArray(v) ? v.map((x, i) => [i, x])
          : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => [k, (v as Record<string, Value>)[k]])
            : typeof v === 'number' ? Array.from({ length: v }, (_, i) => [i, i]) : [];
        if (!entries.length) { exec(n.else, sc, out); break; }
        for (const [k, x] of entries) {
          const vars = new Map(sc.vars);
          if (n.vars.length === 1) vars.set(n.vars[0]!, x);
          if (n.vars.length === 2) { vars.set(n.vars[0]!, k); vars.set(n.vars[1]!, x); }
          exec(n.body, { dot: x, vars }, out);
        }
        break;
      }
    }
  }
}

export function compileTemplate(format: string): Template {
  let f = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  if (f.trim() === 'json') f = '{{json .}}';
  const isTable = /^table(\s|$)/.test(f);
  if (isTable) f = f.replace(/^table\s*/, '');
  const tree = parse(lex(f));
  const render = (v: Value) => {
    const out: string[] = [];
    exec(tree, { dot: v, vars: new Map([['$', v]]) }, out);
    return out.join('');
  };
  const header = isTable
    ? tree.map((n) => (n.kind === 'text' ? n.text : n.kind === 'action' ? headerOf(n.expr) : '')).join('')
    : null;
  return { table: isTable, header, render };
}

function headerOf(expr: string): string {
  const field = /\.([A-Za-z]+)\s*$/.exec(expr)?.[1] ?? expr;
  const known: Record<string, string> = { ID: 'CONTAINER ID', RunningFor: 'CREATED', CreatedSince: 'CREATED', Names: 'NAMES', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' };
  return known[field] ?? field.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

/** Prints rows through a --format template (or returns false when there is none). */
export function printFormatted(format: string | undefined, items: Value[], out: (s: string) => void = (s) => process.stdout.write(s)): boolean {
  if (!format) return false;
  const t = compileTemplate(format);
  if (t.table) {
    const cells = [t.header!.split('\t'), ...items.map((x) => t.render(x).split('\t'))];
    out(table(cells));
  } else {
    for (const x of items) out(t.render(x) + '\n');
  }
  return true;
}

/** Repeatable flags collect into an array (commander's custom option processing). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** "k=v" strings to an object (labels, build args); "k" alone maps to "". */
export function keyValues(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list ?? []) {
    const i = s.indexOf('=');
    if (i < 0) out[s] = '';
    else out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

/** docker's --filter k=v list as the API's filters JSON ({"k":{"v":true}}). */
export function filtersJson(list: string[] | undefined): string | undefined {
  if (!list?.length) return undefined;
  const f: Record<string, Record<string, boolean>> = {};
  for (const s of list) {
    const i = s.indexOf('=');
    if (i <= 0) throw new UsageError(`bad format of filter (expected name=value)`);
    (f[s.slice(0, i)] ??= {})[s.slice(i + 1)] = true;
  }
  return JSON.stringify(f);
}

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);
