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
 * docker's --format: a Go template subset. `{{.Field.Sub}}`, `{{json .}}`, `{{json .X}}`,
 * `{{index .Labels "k"}}`, `{{join .Names ","}}`, `{{lower .X}}`, `{{upper .X}}`, `{{len .X}}`,
 * `{{.X | json}}`; a leading `table` prints a header row (column titles from the field names);
 * `json` alone prints each object as one JSON line. `\t` and `\n` are escapes, as the CLI takes them.
 */
export interface Template {
  table: boolean;
  header: string | null;
  render(v: Value): string;
}

const FUNCS: Record<string, (...a: Value[]) => Value> = {
  json: (v) => JSON.stringify(v ?? null),
  lower: (v) => String(v ?? '').toLowerCase(),
  upper: (v) => String(v ?? '').toUpperCase(),
  title: (v) => String(v ?? '').replace(/\b\w/g, (c) => c.toUpperCase()),
  len: (v) => (Array.isArray(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : String(v ?? '').length),
  join: (v, sep) => (Array.isArray(v) ? v.join(String(sep)) : String(v ?? '')),
  index: (v, k) => (v && typeof v === 'object' ? (v as Record<string, Value>)[String(k)] : undefined),
  println: (v) => `${str(v)}\n`,
  print: (v) => str(v),
};

function str(v: Value): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'object') {
    if (Array.isArray(v)) return `[${v.map(str).join(' ')}]`;
    return `map[${Object.entries(v as Record<string, Value>).map(([k, x]) => `${k}:${str(x)}`).join(' ')}]`;
  }
  return String(v);
}

function tokenize(expr: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\|)|([^\s|"]+)/g;
  for (const m of expr.matchAll(re)) out.push(m[1] !== undefined ? JSON.stringify(JSON.parse(`"${m[1]}"`)) : (m[2] ?? m[3]!));
  return out;
}

function evalArg(tok: string, dot: Value): Value {
  if (tok.startsWith('"')) return JSON.parse(tok);
  if (tok === '.') return dot;
  if (tok.startsWith('.')) {
    let v: Value = dot;
    for (const part of tok.slice(1).split('.')) v = v && typeof v === 'object' ? (v as Record<string, Value>)[part] : undefined;
    return v;
  }
  if (/^-?\d+$/.test(tok)) return Number(tok);
  throw new UsageError(`template: unsupported "${tok}"`);
}

function evalPipeline(expr: string, dot: Value): Value {
  const stages: string[][] = [[]];
  for (const t of tokenize(expr)) t === '|' ? stages.push([]) : stages[stages.length - 1]!.push(t);
  let prev: Value = undefined;
  stages.forEach((toks, i) => {
    if (toks.length === 0) throw new UsageError(`template: missing value in "${expr}"`);
    const [head, ...rest] = toks;
    const fn = FUNCS[head!];
    if (fn) {
      const args = rest.map((a) => evalArg(a, dot));
      if (i > 0) args.push(prev);
      prev = fn(...args);
    } else {
      if (rest.length || i > 0) throw new UsageError(`template: function "${head}" not defined`);
      prev = evalArg(head!, dot);
    }
  });
  return prev;
}

export function compileTemplate(format: string): Template {
  let f = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  if (f.trim() === 'json') f = '{{json .}}';
  const isTable = /^table(\s|$)/.test(f);
  if (isTable) f = f.replace(/^table\s*/, '');
  const parts: Array<string | { expr: string }> = [];
  let i = 0;
  for (const m of f.matchAll(/\{\{-?\s*(.*?)\s*-?\}\}/g)) {
    parts.push(f.slice(i, m.index));
    const e = m[1]!;
    if (/^(range|if|with|end|else|define|template|block)\b/.test(e)) throw new UsageError(`template: "${e.split(/\s/)[0]}" is not supported by tsctl's --format`);
    parts.push({ expr: e });
    i = m.index! + m[0].length;
  }
  parts.push(f.slice(i));
  const render = (v: Value) => parts.map((p) => (typeof p === 'string' ? p : str(evalPipeline(p.expr, v)))).join('');
  const header = isTable
    ? parts.map((p) => (typeof p === 'string' ? p : headerOf(p.expr))).join('')
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
