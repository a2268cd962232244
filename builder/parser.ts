// The Dockerfile parser, with the rules of Docker's (buildkit's
// frontend/dockerfile/parser, which the classic builder uses): parser
// directives on the first lines, comments, line continuations with the escape
// token, empty continuation lines (a warning), `--flags` after the instruction
// name, and each instruction's argument form (JSON array, whitespace list,
// key=value pairs, a single string). Variables are not substituted here.
// Pure: text in, nodes out.

export class DockerfileParseError extends Error {
  constructor(message: string, readonly line = 0) {
    super(message);
    this.name = 'DockerfileParseError';
  }
}

/** One instruction as written. */
export interface Node {
  /** the instruction name as written (FROM, from, ...) */
  cmd: string;
  /** the `--name=value` words after the instruction name */
  flags: string[];
  /**
   * The arguments. For ENV and LABEL: triples of key, value and separator ('=' or '' for the
   * old `KEY value` form). For ONBUILD: the trigger's name then its arguments.
   */
  args: string[];
  /** the arguments were a JSON array */
  json: boolean;
  /** the line after continuations were joined (Docker prints it as the step) */
  original: string;
  /** ONBUILD's trigger */
  sub?: Node;
  startLine: number;
  endLine: number;
}

export interface ParseResult {
  nodes: Node[];
  escapeToken: string;
  /** parser directives found ({ syntax: 'docker/dockerfile:1' }) */
  directives: Record<string, string>;
  warnings: string[];
}

const WS = /[\t\v\f\r ]+/;
const MAX_LINE = 64 * 1024 - 1;
const VALID_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

class Directives {
  escape = '\\';
  continuation = continuationRegex('\\');
  private done = false;
  private readonly seen = new Map<string, string>();

  get found(): Record<string, string> {
    return Object.fromEntries(this.seen);
  }

  /** Looks at one line while directives may still appear; returns true if it was one. */
  check(line: string): boolean {
    if (this.done) return false;
    if (!line.startsWith('#')) {
      this.done = true;
      return false;
    }
    const m = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(line.slice(1).replace(/^\s+/, ''));
    if (!m) {
      this.done = true;
      return false;
    }
    const key = m[1]!.toLowerCase();
    if (!VALID_DIRECTIVES.has(key)) {
      this.done = true;
      return false;
    }
    if (this.seen.has(key)) throw new DockerfileParseError(`only one ${key} parser directive can be used`);
    this.seen.set(key, m[2]!);
    if (key === 'escape') {
      const v = m[2]!;
      if (v !== '`' && v !== '\\') throw new DockerfileParseError(`invalid escape token '${v}' does not match \` or \\`);
      this.escape = v;
      this.continuation = continuationRegex(v);
    }
    return true;
  }
}

function continuationRegex(esc: string): RegExp {
  const e = '\\' + esc;
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

const trimNewline = (s: string): string => s.replace(/[\r\n]+$/, '');
const trimLeft = (s: string): string => s.replace(/^\s+/u, '');
const isComment = (s: string): boolean => trimLeft(s).startsWith('#');
const isEmptyContinuationLine = (s: string): boolean => trimLeft(trimNewline(s)) === '';

/** Lines with their endings kept (a final line without a newline counts). */
function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const i = text.indexOf('\n', start);
    if (i < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
}

export function parseDockerfile(input: string | Buffer): ParseResult {
  let text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const d = new Directives();
  const lines = splitLines(text);
  const nodes: Node[] = [];
  const warnings: string[] = [];
  let current = 0;
  let i = 0;

  const processLine = (raw: string, stripLeft: boolean): string => {
    if (raw.length > MAX_LINE + 1) throw new DockerfileParseError(`dockerfile line greater than max allowed size of ${MAX_LINE}`, current);
    let tok = trimNewline(raw);
    if (stripLeft) tok = trimLeft(tok);
    try {
      d.check(tok);
    } catch (e) {
      if (e instanceof DockerfileParseError) throw new DockerfileParseError(e.message, current);
      throw e;
    }
    return isComment(tok) ? '' : tok;
  };
  const trimContinuation = (s: string): { text: string; end: boolean } => {
    if (d.continuation.test(s)) return { text: s.replace(d.continuation, '$1'), end: false };
    return { text: s, end: true };
  };

  while (i < lines.length) {
    const raw = lines[i++]!;
    const first = processLine(raw, true);
    current++;
    const startLine = current;
    let { text: part, end } = trimContinuation(first);
    if (end && part.length === 0) continue;
    let buf = part;
    let emptyContinuation = false;
    while (!end && i < lines.length) {
      const next = lines[i++]!;
      const tok = processLine(next, false);
      current++;
      if (isComment(next)) continue;
      if (isEmptyContinuationLine(tok)) {
        emptyContinuation = true;
        continue;
      }
      ({ text: part, end } = trimContinuation(tok));
      buf += part;
    }
    if (emptyContinuation) warnings.push(`Empty continuation line found in:\n    ${buf}`);
    try {
      const node = nodeFromLine(buf, d.escape);
      node.startLine = startLine;
      node.endLine = current;
      nodes.push(node);
    } catch (e) {
      if (e instanceof DockerfileParseError) throw new DockerfileParseError(e.message, startLine);
      throw e;
    }
  }
  if (nodes.length === 0) throw new DockerfileParseError('file with no instructions', current);
  return { nodes, escapeToken: d.escape, directives: d.found, warnings };
}

/** How Docker prints parser warnings (on the build's stderr). */
export function formatWarnings(warnings: string[]): string {
  if (!warnings.length) return '';
  return warnings.map((w) => `[WARNING]: ${w}\n`).join('') + '[WARNING]: Empty continuation lines will become errors in a future release.\n';
}

type ArgParser = (rest: string, esc: string) => { args: string[]; json?: boolean; sub?: Node };

const parsers: Record<string, ArgParser> = {
  add: maybeJsonToList,
  arg: nameOrNameVal,
  cmd: maybeJson,
  copy: maybeJsonToList,
  entrypoint: maybeJson,
  env: (rest, esc) => ({ args: nameVal(rest, 'ENV', esc) }),
  expose: whitespaceList,
  from: whitespaceList,
  healthcheck: healthConfig,
  label: (rest, esc) => ({ args: nameVal(rest, 'LABEL', esc) }),
  maintainer: singleString,
  onbuild: subCommand,
  run: maybeJson,
  shell: maybeJson,
  stopsignal: singleString,
  user: singleString,
  volume: maybeJsonToList,
  workdir: singleString,
};

function nodeFromLine(line: string, esc: string): Node {
  const { cmd, flags, rest } = splitCommand(line, esc);
  const parse = parsers[cmd.toLowerCase()];
  const r = parse ? parse(rest, esc) : { args: [] };
  return { cmd, flags, args: r.args, json: !!r.json, original: line, ...(r.sub ? { sub: r.sub } : {}), startLine: 0, endLine: 0 };
}

/** The instruction name, its leading --flags, and the rest of the line. */
export function splitCommand(line: string, esc: string): { cmd: string; flags: string[]; rest: string } {
  const trimmed = line.trim();
  const m = WS.exec(trimmed);
  if (!m) return { cmd: trimmed, flags: [], rest: '' };
  const cmd = trimmed.slice(0, m.index);
  const { rest, flags } = extractFlags(trimmed.slice(m.index + m[0].length), esc);
  return { cmd, flags, rest: rest.trim() };
}

/** Leading words starting with `--` are flags (quotes and escapes processed); `--` alone ends them. */
function extractFlags(line: string, esc: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = pos < line.length ? line[pos]! : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (/\s/.test(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags };
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags };
        if (blankOK || word.length > 0) flags.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === esc) {
        if (pos + 1 === line.length) continue;
        pos++;
        word += line[pos];
        continue;
      }
      word += ch;
      continue;
    }
    // quote
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === esc) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += line[pos];
      continue;
    }
    word += ch;
  }
  return { rest: '', flags };
}

/** Space-separated words with quotes kept (they are removed when variables are substituted). */
export function parseWords(rest: string, esc: string): string[] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let buf = '';
  const chars = Array.from(rest);
  for (let pos = 0; pos <= chars.length; pos++) {
    const ch = pos < chars.length ? chars[pos]! : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (/^\s$/u.test(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || buf.length) words.push(buf);
      break;
    }
    if (phase === 'word') {
      if (/^\s$/u.test(ch)) {
        phase = 'spaces';
        if (blankOK || buf.length) words.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === esc) {
        if (pos + 1 === chars.length) continue; // an escape at the end is dropped
        // an unquoted escape and the next character are both kept, even a quote
        buf += ch;
        pos++;
        buf += chars[pos]!;
        continue;
      }
      buf += ch;
      continue;
    }
    // quote
    let c = ch;
    if (c === quote) phase = 'word';
    if (c === esc && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      buf += c;
      pos++;
      c = chars[pos]!;
    }
    buf += c;
  }
  return words;
}

/** ENV and LABEL: `KEY value` (one pair, the rest of the line) or `K=v K2="v 2" ...`. */
function nameVal(rest: string, key: string, esc: string): string[] {
  const words = parseWords(rest, esc);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const m = WS.exec(rest);
    if (!m) throw new DockerfileParseError(`${key} must have two arguments`);
    return [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''];
  }
  const out: string[] = [];
  for (const w of words) {
    const i = w.indexOf('=');
    if (i < 0) throw new DockerfileParseError(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    out.push(w.slice(0, i), w.slice(i + 1), '=');
  }
  return out;
}

function nameOrNameVal(rest: string, esc: string): { args: string[] } {
  return { args: parseWords(rest, esc) };
}

function whitespaceList(rest: string): { args: string[] } {
  if (rest === '') return { args: [] };
  return { args: rest.split(WS) };
}

function singleString(rest: string): { args: string[] } {
  return { args: rest === '' ? [] : [rest] };
}

class NotStringArray extends DockerfileParseError {
  constructor() {
    super('when using JSON array syntax, arrays must be comprised of strings only');
  }
}

function parseJson(rest: string): { args: string[]; json: true } | null {
  const s = rest.replace(/^\s+/u, '');
  if (!s.startsWith('[')) return null;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return null;
  }
  if (!Array.isArray(v)) return null;
  if (!v.every((x) => typeof x === 'string')) throw new NotStringArray();
  return { args: v as string[], json: true };
}

function maybeJson(rest: string): { args: string[]; json?: boolean } {
  if (rest === '') return { args: [] };
  return parseJson(rest) ?? { args: [rest] };
}

function maybeJsonToList(rest: string): { args: string[]; json?: boolean } {
  return parseJson(rest) ?? whitespaceList(rest);
}

function healthConfig(rest: string): { args: string[]; json?: boolean } {
  const m = /\s/.exec(rest);
  const sep = m ? m.index : rest.length;
  if (sep === 0) return { args: [] };
  const typ = rest.slice(0, sep);
  const r = maybeJson(rest.slice(sep).replace(/^\s+/, ''));
  return { args: [typ, ...r.args], json: r.json };
}

function subCommand(rest: string, esc: string): { args: string[]; sub?: Node } {
  if (rest === '') return { args: [] };
  const sub = nodeFromLine(rest, esc);
  return { args: [sub.cmd, ...sub.args], sub };
}
