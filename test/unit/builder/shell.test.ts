// Shell-word processing: the cases of Docker's Dockerfile reference
// ("Environment replacement") and of buildkit's lexer test tables.
import t from 'tap';
import { ShellLex, envFromList, goQuote, goQuoteList } from '../../../builder/shell.js';

const env = envFromList(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL=']);
const lex = new ShellLex('\\');

// [word, expected result (null: an error)]
const words: Array<[string, string | null]> = [
  ['hello', 'hello'],
  ["he'll'o", 'hello'],
  ["he'llo", null],
  ["he\\'llo", "he'llo"],
  ["he\\\\'llo", null],
  ['abc\\tdef', 'abctdef'],
  ['"abc\\tdef"', 'abc\\tdef'],
  ['"abc\\\\tdef"', 'abc\\tdef'],
  ["'abc\\tdef'", 'abc\\tdef'],
  ['hello\\', 'hello'],
  ['hello\\\\', 'hello\\'],
  ['"hello', null],
  ['"hello\\"', null],
  ['"hel\'lo"', "hel'lo"],
  ["'hello", null],
  ["'hello\\'", 'hello\\'],
  ["'hello\\there'", 'hello\\there'],
  ['"\'\'"', "''"],
  ['$.', '$.'],
  ['he$1x', 'hex'],
  ['he$.x', 'he$.x'],
  ['he$pwd.', 'he.'],
  ['he$PWD', 'he/home'],
  ['he\\$PWD', 'he$PWD'],
  ['he\\\\$PWD', 'he\\/home'],
  ['"he\\$PWD"', 'he$PWD'],
  ['"he\\\\$PWD"', 'he\\/home'],
  ['\\${}', '${}'],
  ['he\\${}xx', 'he${}xx'],
  ['${}', null],
  ['he${}xx', null],
  ['he${hi}xx', 'hexx'],
  ['he${PWD}', 'he/home'],
  ['he${.}', null],
  ['he${XXX:-000}xx', 'he000xx'],
  ['he${PWD:-000}xx', 'he/homexx'],
  ['he${XXX:-$PWD}xx', 'he/homexx'],
  ['he${XXX:-${PWD:-yyy}}xx', 'he/homexx'],
  ['he${XXX:-${YYY:-yyy}}xx', 'heyyyxx'],
  ['he${XXX:YYY}', null],
  ['he${XXX?}', null],
  ['he${XXX:?}', null],
  ['he${PWD?}', 'he/home'],
  ['he${NULL?}', 'he'],
  ['he${NULL:?}', null],
  ['he${NULL:-x}', 'hex'],
  ['he${NULL-x}', 'he'],
  ['he${NULL:+x}', 'he'],
  ['he${NULL+x}', 'hex'],
  ['he${XXX:+${PWD}}xx', 'hexx'],
  ['he${PWD:+${SHELL}}xx', 'hebashxx'],
  ['he${PWD:+000}xx', 'he000xx'],
  ["'he${XX}'", 'he${XX}'],
  ['"he${PWD}"', 'he/home'],
  ['"he\'$PWD\'"', "he'/home'"],
  ["'$PWD'", '$PWD'],
  ["'\"hello\"'", '"hello"'],
  ['he${PWD', null],
  ['he${PWD:=000}xx', null],
  ['he${PWD:+${PWD}:}xx', 'he/home:xx'],
  ['he${XXX:-\\$PWD:}xx', 'he$PWD:xx'],
  ['he${XXX:-\\${PWD}z}xx', 'he${PWDz}xx'],
  ['안\'녕\'하세요', '안녕하세요'],
  ['안녕$KOREAN', '안녕한국어'],
  ['${{aaa}', null],
  ['${aaa}}', '}'],
  ['${aaa:-bbb}}', 'bbb}'],
  ['${aaa:-bbb', null],
  ['${aaa:-bbb {foo}', 'bbb {foo'],
  ['${:}', null],
  ['${:-bbb}', null],
  ['$1', ''],
  ['${1:-bbb}', 'bbb'],
  ['$999aaa', 'aaa'],
  ['${001:-bbb}aaa', 'bbbaaa'],
  ['$@@@', '@@'],
  ['${@:-bbb}aaa', 'bbbaaa'],
  ['${#:-bbb}', 'bbb'],
  ['$$', ''],
  ['${0:-bbb}', 'bbb'],
];

t.test('processWord (buildkit lexer table)', async (t) => {
  for (const [word, want] of words) {
    if (want === null) t.throws(() => lex.processWord(word, env), { name: 'ShellError' }, `${word} is an error`);
    else t.equal(lex.processWord(word, env), want, word);
  }
});

t.test('the Dockerfile reference: environment replacement', async (t) => {
  const e = envFromList(['FOO=/bar', 'str=foobarbaz', 'string=foobarbaz']);
  const cases: Array<[string, string]> = [
    ['${FOO}', '/bar'],
    ['$FOO', '/bar'],
    ['\\$FOO', '$FOO'],
    ['\\${FOO}', '${FOO}'],
    ['${variable:-word}', 'word'],
    ['${FOO:-word}', '/bar'],
    ['${variable:+word}', ''],
    ['${FOO:+word}', 'word'],
    ['${str#f*b}', 'arbaz'],
    ['${str##f*b}', 'az'],
    ['${string%b*}', 'foobar'],
    ['${string%%b*}', 'foo'],
    ['${string/ba/fo}', 'fooforbaz'],
    ['${string//ba/fo}', 'fooforfoz'],
    ['${string/#foo/x}', 'foobarbaz'],
    ['${str#nomatch}', 'foobarbaz'],
    ['${str:#x}', ''],
  ];
  for (const [w, want] of cases) {
    if (w === '${str:#x}') t.throws(() => lex.processWord(w, e), /unsupported modifier \(:#\) in substitution/);
    else t.equal(lex.processWord(w, e), want, w);
  }
  t.throws(() => lex.processWord('${FOO:?must be set}x${NOPE:?must be set}', e), /failed to process ".*": NOPE: must be set/);
  t.throws(() => lex.processWord('${NOPE?}', e), /NOPE: is not allowed to be unset/);
});

t.test('the backtick escape token', async (t) => {
  const l = new ShellLex('`');
  t.equal(l.processWord('c:\\dir`$x', envFromList([])), 'c:\\dir$x');
  t.equal(l.processWord('"a`"b"', envFromList([])), 'a"b');
});

t.test('processWords splits after substitution, quotes hold words together (buildkit words table)', async (t) => {
  const e = envFromList(['hi=hi', 'space=abc  def', 'leading=  ab c', 'trailing=ab c   ']);
  const cases: Array<[string, string[] | null]> = [
    ['hello', ['hello']],
    ['hello${hi}bye', ['hellohibye']],
    ['hello${space}bye', ['helloabc', 'defbye']],
    ['hello"${space}"bye', ['helloabc  defbye']],
    ['hello "${space}"bye', ['hello', 'abc  defbye']],
    ['hello${leading}def', ['hello', 'ab', 'cdef']],
    ['hello"${leading}" def', ['hello  ab c', 'def']],
    ['hello${trailing}d', ['helloab', 'c', 'd']],
    ['hel"lo${trailing}"', ['helloab c   ']],
    ['hello" there  "', ['hello there  ']],
    ['hello there     ', ['hello', 'there']],
    ['hello\\ there', ['hello there']],
    ['hello" there', null],
    ['hello\\" there', ['hello"', 'there']],
    ['hello"\\\\there"', ['hello\\there']],
    ["hello'$there'", ['hello$there']],
    ['80/tcp 8080', ['80/tcp', '8080']],
  ];
  for (const [w, want] of cases) {
    if (want === null) t.throws(() => lex.processWords(w, e), w);
    else t.same(lex.processWords(w, e), want, w);
  }
});

t.test('Go quoting as Docker prints commands', async (t) => {
  t.equal(goQuote('a"b\\c\n'), '"a\\"b\\\\c\\n"');
  t.equal(goQuoteList(['cat', '/y']), '["cat" "/y"]');
  t.equal(goQuoteList(['/bin/sh', '-c', 'echo "hi"']), '["/bin/sh" "-c" "echo \\"hi\\""]');
});
