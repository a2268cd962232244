// .dockerignore with Docker's rules (moby/patternmatcher and its ignorefile
// reader): one pattern a line, `#` comments, `!` exceptions where the last
// matching line wins, Go's filepath.Match syntax per path component, `**` for
// any number of directories, and a pattern that matches a directory excluding
// everything below it. Also Go's filepath.Match itself, which COPY and ADD use
// for wildcard sources. Pure.

export class PatternError extends Error {
  constructor(message = 'syntax error in pattern') {
    super(message);
    this.name = 'PatternError';
  }
}

/** Go's path.Clean for slash-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  if (rooted) return '/' + s;
  return s === '' ? '.' : s;
}

/** Reads a .dockerignore file into patterns, as Docker's ignorefile.ReadAll does. */
export function readIgnoreFile(text: string | Buffer): string[] {
  let s = typeof text === 'string' ? text : text.toString('utf8');
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  const out: string[] = [];
  for (const raw of s.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = cleanPath(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? '!' + p : p);
  }
  return out;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface Pattern {
  cleaned: string;
  dirs: number;
  exclusion: boolean;
  type: MatchType;
  re?: RegExp;
}

const ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

function compile(cleaned: string): Pick<Pattern, 'type' | 're'> {
  let re = '^';
  let type: MatchType = 'exact';
  const cs = Array.from(cleaned);
  for (let i = 0; i < cs.length; i++) {
    const ch = cs[i]!;
    if (ch === '*') {
      if (cs[i + 1] === '*') {
        const start = i;
        i++;
        if (cs[i + 1] === '/') i++;
        if (i + 1 >= cs.length) {
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        // a leading ** matches any number of directories before the rest
        if (start === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (ESCAPED.has(ch)) {
      re += '\\' + ch;
    } else if (ch === '\\') {
      if (i + 1 < cs.length) {
        i++;
        re += /[A-Za-z0-9]/.test(cs[i]!) ? cs[i]! : '\\' + cs[i]!;
        type = 'regexp';
      } else re += '\\\\';
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else {
      re += ch;
    }
  }
  if (type !== 'regexp') return { type };
  try {
    return { type, re: new RegExp(re + '$') };
  } catch {
    throw new PatternError();
  }
}

function matchOne(p: Pattern, file: string): boolean {
  switch (p.type) {
    case 'exact':
      return file === p.cleaned;
    case 'prefix':
      return file.startsWith(p.cleaned.slice(0, -2));
    case 'suffix': {
      const suffix = p.cleaned.slice(2);
      if (file.endsWith(suffix)) return true;
      return suffix.startsWith('/') && file === suffix.slice(1);
    }
    case 'regexp':
      return p.re!.test(file);
  }
}

/** A compiled .dockerignore: matches paths relative to the context root. */
export class PatternMatcher {
  private readonly patterns: Pattern[] = [];
  readonly exclusions: boolean = false;

  constructor(patterns: readonly string[]) {
    for (let p of patterns) {
      p = p.trim();
      if (p === '') continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new PatternError('illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
        this.exclusions = true;
      }
      goMatch(p, '.'); // validates the syntax, as Docker does
      this.patterns.push({ cleaned: p, dirs: p.split('/').length, exclusion, ...compile(p) });
    }
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /**
   * Is `file` excluded? A pattern also matches when it matches one of the file's
   * parent directories at the pattern's depth, so `foo` excludes `foo/bar`.
   */
  matches(file: string): boolean {
    return this.match(file, (p, dirs) => p.dirs <= dirs.length && matchOne(p, dirs.slice(0, p.dirs).join('/')));
  }

  /** Like matches, but any parent directory matching counts (Docker's MatchesOrParentMatches). */
  matchesOrParentMatches(file: string): boolean {
    return this.match(file, (p, dirs) => dirs.some((_, i) => matchOne(p, dirs.slice(0, i + 1).join('/'))));
  }

  /** The patterns in order, each flipping the verdict; `parentMatches` says how a parent directory counts. */
  private match(file: string, parentMatches: (p: Pattern, parentDirs: string[]) => boolean): boolean {
    file = cleanPath(file);
    if (file === '.') return false;
    const parent = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : '.';
    const parentDirs = parent.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      if (matchOne(p, file) || (parent !== '.' && parentMatches(p, parentDirs))) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * Can a directory be skipped whole while walking? Only when it is excluded and no
   * exception pattern could re-include something below it.
   */
  canSkipDir(dir: string): boolean {
    if (!this.matches(dir)) return false;
    if (!this.exclusions) return true;
    const d = cleanPath(dir);
    for (const p of this.patterns) {
      if (!p.exclusion) continue;
      // an exception pattern with wildcards, or one that names something below this directory, may apply
      if (/[*?[\\]/.test(p.cleaned) || p.cleaned.startsWith(d + '/')) return false;
    }
    return true;
  }
}

/**
 * Go's filepath.Match on slash-separated paths: `*` any run of non-separators,
 * `?` one non-separator, `[...]` character classes (`^` negates, ranges), `\`
 * escapes. Throws PatternError for a malformed pattern.
 */
export function goMatch(pattern: string, name: string): boolean {
  const p = Array.from(pattern);
  const n = Array.from(name);
  return matchFrom(p, 0, n, 0);
}

function matchFrom(p: string[], pi: number, n: string[], ni: number): boolean {
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === '*') {
      while (p[pi] === '*') pi++;
      if (pi === p.length) {
        // validate nothing left; a trailing star matches the rest if it has no separator
        return !n.slice(ni).includes('/');
      }
      for (let k = ni; k <= n.length; k++) {
        if (k > ni && n[k - 1] === '/') break;
        if (matchFrom(p, pi, n, k)) return true;
      }
      // the rest of the pattern must still be well-formed
      validate(p, pi);
      return false;
    }
    if (ni >= n.length) {
      validate(p, pi);
      return false;
    }
    if (c === '?') {
      if (n[ni] === '/') {
        validate(p, pi + 1);
        return false;
      }
      pi++;
      ni++;
      continue;
    }
    if (c === '[') {
      const r = matchClass(p, pi, n[ni]!);
      if (!r.ok) {
        validate(p, r.next);
        return false;
      }
      pi = r.next;
      ni++;
      continue;
    }
    let lit = c;
    if (c === '\\') {
      pi++;
      if (pi >= p.length) throw new PatternError();
      lit = p[pi]!;
    }
    if (n[ni] !== lit) {
      validate(p, pi + 1);
      return false;
    }
    pi++;
    ni++;
  }
  return ni === n.length;
}

/** Matches one character against the class starting at p[pi] ('['); returns whether it matched and the index after ']'. */
function matchClass(p: string[], pi: number, ch: string): { ok: boolean; next: number } {
  let i = pi + 1;
  let negated = false;
  if (p[i] === '^') {
    negated = true;
    i++;
  }
  let matched = false;
  let count = 0;
  for (;;) {
    if (i >= p.length) throw new PatternError();
    if (p[i] === ']' && count > 0) {
      i++;
      break;
    }
    let lo = p[i]!;
    if (lo === '\\') {
      i++;
      if (i >= p.length) throw new PatternError();
      lo = p[i]!;
    } else if (lo === '-' || lo === ']') {
      throw new PatternError();
    }
    i++;
    let hi = lo;
    if (p[i] === '-') {
      i++;
      if (i >= p.length) throw new PatternError();
      hi = p[i]!;
      if (hi === '\\') {
        i++;
        if (i >= p.length) throw new PatternError();
        hi = p[i]!;
      } else if (hi === ']' || hi === '-') throw new PatternError();
      i++;
      if (hi < lo) throw new PatternError();
    }
    if (lo <= ch && ch <= hi) matched = true;
    count++;
  }
  return { ok: matched !== negated, next: i };
}

/** Throws if the rest of a pattern is malformed (Go reports syntax errors even after a mismatch). */
function validate(p: string[], pi: number): void {
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === '\\') {
      if (pi + 1 >= p.length) throw new PatternError();
      pi += 2;
    } else if (c === '[') {
      pi = matchClass(p, pi, '\0').next;
    } else pi++;
  }
}

/** Does a COPY source contain wildcards (Go's containsWildcards: *, ?, [ not escaped)? */
export function containsWildcards(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}
