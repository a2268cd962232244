// .dockerignore rules: the examples of Docker's documentation, the pattern
// tables of moby/patternmatcher, and Go's filepath.Match (COPY wildcards).
import t from 'tap';
import { PatternMatcher, readIgnoreFile, goMatch, cleanPath, containsWildcards } from '../../../builder/dockerignore.js';

const excluded = (lines: string, files: string[]) => {
  const pm = new PatternMatcher(readIgnoreFile(lines));
  return files.filter((f) => pm.matches(f));
};

t.test('the documentation\'s examples', async (t) => {
  const files = ['somedir/temporary.txt', 'somedir/temp', 'somedir/subdir/temporary.txt', 'tempa', 'tempb', 'temp', 'x/tempa', 'a.go', 'x/y/z.go', 'README.md'];
  t.same(excluded('# comment\n*/temp*\n*/*/temp*\ntemp?\n', files), ['somedir/temporary.txt', 'somedir/temp', 'somedir/subdir/temporary.txt', 'tempa', 'tempb', 'x/tempa']);
  t.same(excluded('**/*.go\n', files), ['a.go', 'x/y/z.go']);
  const md = ['README.md', 'README-secret.md', 'README-x.md', 'CHANGES.md', 'docs/a.md', 'a.txt'];
  t.same(excluded('*.md\n!README.md\n', md), ['README-secret.md', 'README-x.md', 'CHANGES.md']);
  t.same(excluded('*.md\n!README*.md\nREADME-secret.md\n', md), ['README-secret.md', 'CHANGES.md']);
  t.same(excluded('*.md\nREADME-secret.md\n!README*.md\n', md), ['CHANGES.md']);
  // a directory pattern excludes what is below it; an exception re-includes
  t.same(excluded('node_modules\n', ['node_modules', 'node_modules/a/b.js', 'src/node_modules/x']), ['node_modules', 'node_modules/a/b.js']);
  t.same(excluded('build\n!build/keep\n', ['build/a', 'build/keep', 'build/keep/x']), ['build/a']);
  // leading slash and ./ are the root; comments only at the start of a line
  t.same(excluded('/secret\n./other\n  # not a comment\n', ['secret', 'other', '# not a comment']), ['secret', 'other', '# not a comment']);
});

t.test('reading the file', async (t) => {
  t.same(readIgnoreFile('\ufeff# c\n\n  a/b/../c  \r\n! d/ \n/e\n**/\n'), ['a/c', '!d', 'e', '**']);
  t.throws(() => new PatternMatcher(['!']), /illegal exclusion pattern: "!"/);
  t.throws(() => new PatternMatcher(['a[']), /syntax error in pattern/);
});

t.test('moby/patternmatcher: MatchesOrParentMatches table', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['**', 'file', true], ['**', 'file/', true], ['**/', 'file', true], ['**', 'dir/file', true], ['**/**', 'dir/file', true],
    ['dir/**', 'dir/file', true], ['dir/**', 'dir/dir2/file', true], ['**/dir', 'dir', true], ['**/dir', 'dir/file', true],
    ['**/dir2/*', 'dir/dir2/file', true], ['**/dir2/**', 'dir/dir2/dir3/file', true], ['**file', 'file', true], ['**file', 'dir/file', true],
    ['**/file', 'dir/file', true], ['**file', 'dir/dir/file', true], ['**/file*', 'dir/dir/file.txt', true], ['**/file*txt', 'dir/dir/file.txt', true],
    ['**/**/*.txt', 'dir/dir/file.txt', true], ['**/**/*.txt2', 'dir/dir/file.txt', false], ['**/*.txt', 'file.txt', true], ['**/**/*.txt', 'file.txt', true],
    ['a**/*.txt', 'a/file.txt', true], ['a**/*.txt', 'a/dir/dir/file.txt', true], ['a/*.txt', 'a/dir/file.txt', false], ['a/*.txt', 'a/file.txt', true],
    ['a/*.txt**', 'a/file.txt', true], ['a[b-d]e', 'ae', false], ['a[b-d]e', 'ace', true], ['a[^b-d]e', 'aze', true], ['.*', '.foo', true], ['.*', 'foo', false],
    ['abc.def', 'abcdef', false], ['abc.def', 'abc.def', true], ['abc?def', 'abcZdef', true], ['abc?def', 'abcdef', false], ['a\\\\', 'a\\', true],
    ['**/foo/bar', 'foo/bar', true], ['**/foo/bar', 'dir/dir2/foo/bar', true], ['abc/**', 'abc', false], ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true], ['**/.foo', 'bar.foo', false], ['a(b)c/def', 'a(b)c/def', true], ['a(b)c/def', 'a(b)c/xyz', false],
    ['a.|)$(}+{bc', 'a.|)$(}+{bc', true], ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true], ['a\\*b', 'a*b', true],
  ];
  for (const [p, f, want] of cases) t.equal(new PatternMatcher([p]).matchesOrParentMatches(f), want, `${p} ~ ${f}`);
  const multi: Array<[string[], string, boolean]> = [
    [['**', '!util/docker/web'], 'util/docker/web/foo', false],
    [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
    [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
  ];
  for (const [ps, f, want] of multi) t.equal(new PatternMatcher(ps).matchesOrParentMatches(f), want, `${ps.join(',')} ~ ${f}`);
});

t.test('Go filepath.Match (COPY wildcards)', async (t) => {
  const cases: Array<[string, string, boolean | null]> = [
    ['abc', 'abc', true], ['*', 'abc', true], ['*c', 'abc', true], ['a*', 'a', true], ['a*', 'abc', true], ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true], ['a*/b', 'a/c/b', false], ['a*b*c*d*e*/f', 'axbxcxdxe/f', true], ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false], ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false], ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false], ['ab[c]', 'abc', true], ['ab[b-d]', 'abc', true], ['ab[e-g]', 'abc', false], ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false], ['ab[^e-g]', 'abc', true], ['a\\*b', 'a*b', true], ['a\\*b', 'ab', false], ['a?b', 'a☺b', true], ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false], ['[a-ζ]*', 'α', true], ['*[a-ζ]', 'A', false], ['a?b', 'a/b', false], ['a*b', 'a/b', false], ['[\\]a]', ']', true],
    ['[\\-]', '-', true], ['[x\\-]', '-', true], ['[x\\-]', 'z', false], ['[]a]', ']', null], ['[-]', '-', null], ['[x-]', 'x', null], ['\\', 'a', null],
    ['[a-b-c]', 'a', null], ['[', 'a', null], ['[^bc', 'a', null], ['a[', 'a', null], ['a[', 'ab', null], ['*x', 'xxx', true],
  ];
  for (const [p, n, want] of cases) {
    if (want === null) t.throws(() => goMatch(p, n), /syntax error in pattern/, `${p} is malformed`);
    else t.equal(goMatch(p, n), want, `${p} ~ ${n}`);
  }
  t.equal(containsWildcards('a/b*'), true);
  t.equal(containsWildcards('a\\*b'), false);
  t.equal(cleanPath('./a//b/../c/'), 'a/c');
  t.equal(cleanPath('/../x'), '/x');
});
