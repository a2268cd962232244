// Shell-word processing for Dockerfile instructions, as Docker's builder does it
// (buildkit's frontend/dockerfile/shell lexer): quotes, the escape token, and
// variable substitution ($VAR, ${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word},
// ${VAR+word}, ${VAR:?msg}, ${VAR?msg}, ${VAR#pat}, ${VAR##pat}, ${VAR%pat},
// ${VAR%%pat}, ${VAR/pat/repl}, ${VAR//pat/repl}).
//
// processWord keeps spaces (ENV values, paths); processWords splits the result
// into words after substitution, keeping quoted spaces (EXPOSE, heredoc names).
// Pure: no I/O; the environment is a lookup function.

/** Looks a variable up; undefined means unset (an empty string is set). */
export type EnvLookup = (name: string) => string | undefined;

export class ShellError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellError';
  }
}

export interface LexOptions {
  /** keep the quote characters in the result */
  rawQuotes?: boolean;
  /** keep escape tokens in the result */
  rawEscapes?: boolean;
  /** leave references to unset variables as they were written */
  skipUnsetEnv?: boolean;
}

/** A lookup over KEY=value strings (the last one wins, as in a container's env). */
export function envFromList(list: readonly string[]): EnvLookup {
  const m = new Map<string, string>();
  for (const e of list) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return (k) => m.get(k);
}

const EOF = '';
const isSpace = (c: string): boolean => /^\s$/u.test(c);
const isLetter = (c: string): boolean => /^\p{L}$/u.test(c);
const isDigit = (c: string): boolean => /^\p{Nd}$/u.test(c);
const isSpecialParam = (c: string): boolean => '@*#?-$!0'.includes(c) && c !== '';

/** Collects words: unquoted whitespace ends a word, quoted text never does. */
class Words {
  private buf = '';
  private inWord = false;
  readonly words: string[] = [];
  addChar(c: string): void {
    if (isSpace(c)) {
      if (this.inWord && this.buf.length) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else this.addRawChar(c);
  }
  addRawChar(c: string): void {
    this.buf += c;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const c of s) this.addChar(c);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.buf.length) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Scanner {
  private i = 0;
  constructor(private readonly chars: string[]) {}
  peek(): string {
    return this.i < this.chars.length ? this.chars[this.i]! : EOF;
  }
  next(): string {
    return this.i < this.chars.length ? this.chars[this.i++]! : EOF;
  }
}

export class ShellLex {
  constructor(readonly escapeToken: string = '\\', private readonly opts: LexOptions = {}) {}

  /** Substitutes variables and removes quotes; whitespace is kept. */
  processWord(word: string, env: EnvLookup): string {
    return this.run(word, env).result;
  }

  /** Substitutes variables, then splits into words (quoted whitespace stays inside a word). */
  processWords(word: string, env: EnvLookup): string[] {
    return this.run(word, env).words;
  }

  private run(word: string, env: EnvLookup): { result: string; words: string[] } {
    const p = new WordProcessor(this.escapeToken, this.opts, env, new Scanner(Array.from(word)));
    try {
      return p.processStopOn(EOF, !!this.opts.rawEscapes);
    } catch (e) {
      if (e instanceof ShellError) throw new ShellError(`failed to process ${goQuote(word)}: ${e.message}`);
      throw e;
    }
  }
}

class WordProcessor {
  private rawEscapes: boolean;
  constructor(private readonly esc: string, private readonly opts: LexOptions, private readonly env: EnvLookup, private readonly s: Scanner) {
    this.rawEscapes = !!opts.rawEscapes;
  }

  processStopOn(stop: string, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      while (this.s.peek() !== EOF) {
        const c = this.s.peek();
        if (stop !== EOF && c === stop) {
          this.s.next();
          return { result, words: words.finish() };
        }
        if (c === '$') {
          const v = this.processDollar();
          result += v;
          words.addString(v);
          continue;
        }
        if (c === "'" || c === '"') {
          const v = c === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += v;
          words.addRawString(v);
          continue;
        }
        let ch = this.s.next();
        if (ch === this.esc) {
          if (this.rawEscapes) {
            words.addRawChar(ch);
            result += ch;
          }
          ch = this.s.next();
          if (ch === EOF) break; // an escape at the end is dropped
          words.addRawChar(ch);
        } else {
          words.addChar(ch);
        }
        result += ch;
      }
      if (stop !== EOF) throw new ShellError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    let out = '';
    const open = this.s.next();
    if (this.opts.rawQuotes) out += open;
    for (;;) {
      const c = this.s.next();
      if (c === EOF) throw new ShellError('unexpected end of statement while looking for matching single-quote');
      if (c === "'") {
        if (this.opts.rawQuotes) out += c;
        return out;
      }
      out += c;
    }
  }

  private processDoubleQuote(): string {
    // Literal except $ (substitution) and the escape token, which escapes only " $ and itself.
    let out = '';
    const open = this.s.next();
    if (this.opts.rawQuotes) out += open;
    for (;;) {
      const p = this.s.peek();
      if (p === EOF) throw new ShellError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        this.s.next();
        if (this.opts.rawQuotes) out += p;
        return out;
      }
      if (p === '$') {
        out += this.processDollar();
        continue;
      }
      let c = this.s.next();
      if (c === this.esc) {
        const n = this.s.peek();
        if (n === EOF) continue; // the unterminated quote is reported next round
        if (n === '"' || n === '$' || n === this.esc) {
          if (this.rawEscapes) out += c;
          c = this.s.next();
        }
      }
      out += c;
    }
  }

  private lookup(name: string): string | undefined {
    return this.env(name);
  }

  private processDollar(): string {
    this.s.next(); // $
    if (this.s.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnsetEnv) return '$' + name;
      return v ?? '';
    }
    this.s.next(); // {
    const first = this.s.peek();
    if (first === EOF) throw new ShellError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.s.next();
    let chs = ch;
    if (ch === EOF) throw new ShellError("syntax error: missing '}'");
    if (ch === '}') {
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
      return v ?? '';
    }
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.s.next();
      chs += ch;
    }
    if ('+-?#%'.includes(ch) && ch !== EOF) {
      const raw = ch === '#' || ch === '%';
      if (nullIsUnset && raw) throw new ShellError(`unsupported modifier (${chs}) in substitution`);
      let word: string;
      try {
        word = this.processStopOn('}', raw).result;
      } catch (e) {
        if (this.s.peek() === EOF) throw new ShellError("syntax error: missing '}'");
        throw e;
      }
      const value = this.lookup(name);
      const set = value !== undefined;
      if (this.opts.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
      const empty = !set || (nullIsUnset && value === '');
      switch (ch) {
        case '-':
          return empty ? word : value!;
        case '+':
          return empty ? '' : word;
        case '?':
          if (!set) throw new ShellError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new ShellError(`${name}: ${word || 'is not allowed to be empty'}`);
          return value!;
        default: {
          // # and %: shortest match, ## and %%: longest
          let pat = word;
          let greedy = false;
          if (pat.startsWith(ch)) {
            greedy = true;
            pat = pat.slice(1);
          }
          return ch === '%' ? trimSuffix(pat, value ?? '', greedy) : trimPrefix(pat, value ?? '', greedy);
        }
      }
    }
    if (ch === '/' && !nullIsUnset) {
      const all = this.s.peek() === '/';
      if (all) this.s.next();
      let pattern: string;
      try {
        pattern = this.processStopOn('/', true).result;
      } catch (e) {
        if (this.s.peek() === EOF) throw new ShellError("syntax error: missing '/' in ${}");
        throw e;
      }
      let repl: string;
      try {
        repl = this.processStopOn('}', true).result;
      } catch (e) {
        if (this.s.peek() === EOF) throw new ShellError("syntax error: missing '}'");
        throw e;
      }
      const value = this.lookup(name);
      if (this.opts.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${repl}}`;
      const re = shellPatternToRegex(pattern, true, false, all);
      const v = value ?? '';
      if (all) return v.replace(re, () => repl);
      const m = re.exec(v);
      return m ? v.slice(0, m.index) + repl + v.slice(m.index + m[0].length) : v;
    }
    throw new ShellError(`unsupported modifier (${chs}) in substitution`);
  }

  /** A name: letters, digits and _; or a run of digits; or one special parameter. */
  private processName(): string {
    let name = '';
    while (this.s.peek() !== EOF) {
      const c = this.s.peek();
      if (name === '' && isDigit(c)) {
        while (this.s.peek() !== EOF && isDigit(this.s.peek())) name += this.s.next();
        return name;
      }
      if (name === '' && isSpecialParam(c)) return this.s.next();
      if (!isLetter(c) && !isDigit(c) && c !== '_') break;
      name += this.s.next();
    }
    return name;
  }
}

/**
 * A shell wildcard pattern (`*`, `?`, `\` escapes; no bracket expressions) as a
 * regular expression. `*` is greedy or not; anchored patterns match at the start.
 */
export function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      out += greedy ? '.*' : '.*?';
    } else if (c === '?') {
      out += '.';
    } else if (c === '\\') {
      const n = chars[i + 1];
      if (n === '}' || n === '/') continue; // escaped for ${}, not part of the pattern
      if (n !== '*' && n !== '?' && n !== '\\') throw new ShellError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      out += '\\' + n;
      i++;
    } else if ('[]{}.+()|^$/'.includes(c)) {
      out += '\\' + c;
    } else {
      out += c;
    }
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Reverses a pattern keeping each escape before the character it escapes. */
function reversePattern(pattern: string): string {
  const cs = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < cs.length; ) {
    if (cs[i] === '\\' && i !== cs.length - 1) {
      out.unshift(cs[i]!, cs[i + 1]!);
      i += 2;
    } else {
      out.unshift(cs[i]!);
      i++;
    }
  }
  return out.join('');
}

const reverse = (s: string): string => Array.from(s).reverse().join('');

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // The shortest rightmost match is the shortest leftmost match of the reversed pattern on the reversed value.
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** Go's %q of a string (strconv.Quote), as Docker prints commands and errors. */
export function goQuote(s: string): string {
  let out = '"';
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (c === '"' || c === '\\') out += '\\' + c;
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (c === '\x07') out += '\\a';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (c === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp >= 0x80 && cp <= 0x9f) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += c;
  }
  return out + '"';
}

/** Go's %q of a []string: ["a" "b"]. */
export function goQuoteList(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).map(goQuote).join(' ')}]`;
}

/** Go's %v of a []string: [a b]. */
export function goList(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).join(' ')}]`;
}
