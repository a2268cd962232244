// The Dockerfile parser and instruction checks: the examples of Docker's
// Dockerfile reference, and Docker 20.10's messages for bad input (recorded
// against dockerd's classic builder).
import t from 'tap';
import { parseDockerfile, formatWarnings, splitCommand, parseWords } from '../../../builder/parser.js';
import { parseDockerfileStages, parseGoDuration, goDuration, type Instruction } from '../../../builder/instructions.js';

const nodes = (s: string) => parseDockerfile(s).nodes.map((n) => ({ cmd: n.cmd, flags: n.flags, args: n.args, json: n.json, lines: [n.startLine, n.endLine] }));

t.test('forms of arguments', async (t) => {
  const cases: Array<[string, Array<{ cmd: string; args: string[]; json?: boolean; flags?: string[] }>]> = [
    ['FROM busybox', [{ cmd: 'FROM', args: ['busybox'] }]],
    ['from  busybox  AS  build', [{ cmd: 'from', args: ['busybox', 'AS', 'build'] }]],
    ['RUN echo hello', [{ cmd: 'RUN', args: ['echo hello'] }]],
    ['RUN ["echo", "hello"]', [{ cmd: 'RUN', args: ['echo', 'hello'], json: true }]],
    ['RUN [ "echo", "a b" ]  ', [{ cmd: 'RUN', args: ['echo', 'a b'], json: true }]],
    // not valid JSON: the shell form, as written
    ["RUN ['echo', 'x']", [{ cmd: 'RUN', args: ["['echo', 'x']"] }]],
    ['CMD ["a"] extra', [{ cmd: 'CMD', args: ['["a"] extra'] }]],
    ['ENTRYPOINT []', [{ cmd: 'ENTRYPOINT', args: [], json: true }]],
    ['COPY a b c /d/', [{ cmd: 'COPY', args: ['a', 'b', 'c', '/d/'] }]],
    ['COPY ["a b", "/d/"]', [{ cmd: 'COPY', args: ['a b', '/d/'], json: true }]],
    ['COPY --from=build --chown=1:2 /x /y', [{ cmd: 'COPY', args: ['/x', '/y'], flags: ['--from=build', '--chown=1:2'] }]],
    ['COPY --chown="a b" -- --x /y', [{ cmd: 'COPY', args: ['--x', '/y'], flags: ['--chown=a b'] }]],
    ['ENV A=1 B="two words" C=three\\ words', [{ cmd: 'ENV', args: ['A', '1', '=', 'B', '"two words"', '=', 'C', 'three\\ words', '='] }]],
    ['ENV MY_NAME John Doe', [{ cmd: 'ENV', args: ['MY_NAME', 'John Doe', ''] }]],
    ['LABEL "com.example.vendor"="ACME Incorporated" version=1.0', [{ cmd: 'LABEL', args: ['"com.example.vendor"', '"ACME Incorporated"', '=', 'version', '1.0', '='] }]],
    ['ARG user1 buildno=1', [{ cmd: 'ARG', args: ['user1', 'buildno=1'] }]],
    ['EXPOSE 80/tcp 80/udp', [{ cmd: 'EXPOSE', args: ['80/tcp', '80/udp'] }]],
    ['VOLUME ["/data"]', [{ cmd: 'VOLUME', args: ['/data'], json: true }]],
    ['VOLUME /a /b', [{ cmd: 'VOLUME', args: ['/a', '/b'] }]],
    ['USER patrick:staff', [{ cmd: 'USER', args: ['patrick:staff'] }]],
    ['HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1', [{ cmd: 'HEALTHCHECK', args: ['CMD', 'curl -f http://localhost/ || exit 1'], flags: ['--interval=5m', '--timeout=3s'] }]],
    ['HEALTHCHECK CMD ["true"]', [{ cmd: 'HEALTHCHECK', args: ['CMD', 'true'], json: true }]],
    ['ONBUILD RUN /usr/local/bin/python-build --dir /app/src', [{ cmd: 'ONBUILD', args: ['RUN', '/usr/local/bin/python-build --dir /app/src'] }]],
    ['SHELL ["powershell", "-command"]', [{ cmd: 'SHELL', args: ['powershell', '-command'], json: true }]],
    ['FOO bar baz', [{ cmd: 'FOO', args: [] }]],
  ];
  for (const [src, want] of cases) {
    t.same(nodes(src).map(({ cmd, args, json, flags }) => ({ cmd, args, json, flags })), want.map((w) => ({ json: false, flags: [], ...w })), src);
  }
  t.throws(() => parseDockerfile('RUN ["a", 1]'), /when using JSON array syntax, arrays must be comprised of strings only/);
});

t.test('comments, whitespace and continuations (the Dockerfile reference)', async (t) => {
  const df = [
    '# Comment',
    'RUN echo \'we are running some # of cool things\'',
    '        # this is a comment-line',
    '    RUN echo hello',
    'RUN echo world',
    'RUN echo hello \\',
    '# comment',
    'world',
    'RUN yum -y install \\',
    '    wget \\',
    '',
    '    curl',
    '',
    '\t\tRUN echo "\\',
    '     hello\\',
    '     world"',
  ].join('\n');
  const r = parseDockerfile(df);
  t.same(r.nodes.map((n) => n.args[0]), [
    "echo 'we are running some # of cool things'",
    'echo hello',
    'echo world',
    'echo hello world',
    'yum -y install     wget     curl',
    'echo "     hello     world"',
  ]);
  t.same(r.nodes.map((n) => [n.startLine, n.endLine]), [[2, 2], [4, 4], [5, 5], [6, 8], [9, 12], [14, 16]]);
  t.same(r.warnings, ['Empty continuation line found in:\n    RUN yum -y install     wget     curl']);
  t.equal(formatWarnings(r.warnings), '[WARNING]: Empty continuation line found in:\n    RUN yum -y install     wget     curl\n[WARNING]: Empty continuation lines will become errors in a future release.\n');
  t.same(nodes('RUN a \\\r\n  b\r\n'), [{ cmd: 'RUN', flags: [], args: ['a   b'], json: false, lines: [1, 2] }]);
  t.same(nodes('\ufeffFROM x\nRUN y \\'), [{ cmd: 'FROM', flags: [], args: ['x'], json: false, lines: [1, 1] }, { cmd: 'RUN', flags: [], args: ['y'], json: false, lines: [2, 2] }], 'BOM, continuation at EOF');
});

t.test('parser directives (the Dockerfile reference)', async (t) => {
  let r = parseDockerfile('# escape=`\n\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n');
  t.equal(r.escapeToken, '`');
  t.same(r.nodes.map((n) => n.args), [['microsoft/nanoserver'], ['testfile.txt', 'c:\\'], ['dir c:\\']]);
  r = parseDockerfile('FROM microsoft/nanoserver\nCOPY testfile.txt c:\\\\\nRUN dir c:\\\n');
  t.same(r.nodes.map((n) => n.args), [['microsoft/nanoserver'], ['testfile.txt', 'c:\\\\'], ['dir c:']], 'without the directive, \\ continues the line');
  r = parseDockerfile('# syntax=docker/dockerfile:1\n#  ESCAPE = `\nFROM a\nRUN b `\n c\n');
  t.same(r.directives, { syntax: 'docker/dockerfile:1', escape: '`' });
  t.equal(r.nodes[1]!.args[0], 'b  c');
  // invalid forms are comments: the directive must come first, and one line each
  for (const src of ['# about my dockerfile\n# escape=`\nFROM a\nRUN b `\n', 'FROM a\n# escape=`\nRUN b `\n', '# unknowndirective=value\n# escape=`\nFROM a\nRUN b `\n', '# esc\\\n# ape=`\nFROM a\nRUN b `\n', '\n# escape=`\nFROM a\nRUN b `\n']) {
    const p = parseDockerfile(src);
    t.equal(p.escapeToken, '\\', JSON.stringify(src));
    t.equal(p.nodes.at(-1)!.args[0], 'b `');
  }
  t.throws(() => parseDockerfile('# escape=\\\n# escape=`\nFROM a'), /only one escape parser directive can be used/);
  t.throws(() => parseDockerfile('# escape=x\nFROM a'), { message: "invalid escape token 'x' does not match ` or \\" });
  t.throws(() => parseDockerfile('\n\n# only a comment\n'), { message: 'file with no instructions' });
});

t.test('flags and words', async (t) => {
  t.same(splitCommand('COPY --from=a --chown=b c d', '\\'), { cmd: 'COPY', flags: ['--from=a', '--chown=b'], rest: 'c d' });
  t.same(splitCommand('RUN -x --y', '\\'), { cmd: 'RUN', flags: [], rest: '-x --y' });
  t.same(parseWords('a "b c" d\\ e \'f g\'', '\\'), ['a', '"b c"', 'd\\ e', "'f g'"]);
  t.same(parseWords('A="" B=\'\'', '\\'), ['A=""', "B=''"]);
});

const stagesOf = (src: string) => parseDockerfileStages(src);
const first = (src: string): Instruction => stagesOf(`FROM busybox\n${src}`).stages[0]!.commands[0]!;

t.test('instructions: stages, meta args, typed commands', async (t) => {
  const df = stagesOf('ARG BASE=busybox\nFROM $BASE AS Build\nRUN make\nFROM --platform=linux/amd64 busybox\nCOPY --from=build /out /\nCMD ["/out"]\n');
  t.same(df.metaArgs.map((a) => a.args), [[{ key: 'BASE', value: 'busybox' }]]);
  t.same(df.stages.map((s) => [s.baseName, s.name, s.platform, s.commands.map((c) => c.kind)]), [['$BASE', 'build', '', ['run']], ['busybox', '', 'linux/amd64', ['copy', 'cmd']]]);
  t.equal(df.stages[1]!.code, 'FROM --platform=linux/amd64 busybox');
  t.match(first('COPY --from=build --chown=1:2 --chmod=0755 a b /d/'), { kind: 'copy', sources: ['a', 'b'], dest: '/d/', from: 'build', chown: '1:2', chmod: '0755' });
  t.match(first('ENV A=1 B=2'), { kind: 'env', env: [{ key: 'A', value: '1', noDelim: false }, { key: 'B', value: '2', noDelim: false }] });
  t.match(first('ENV A 1 2'), { kind: 'env', env: [{ key: 'A', value: '1 2', noDelim: true }] });
  t.match(first('RUN echo hi'), { kind: 'run', cmdLine: ['echo hi'], prependShell: true });
  t.match(first('RUN ["echo","hi"]'), { kind: 'run', cmdLine: ['echo', 'hi'], prependShell: false });
  t.match(first('RUN --mount=type=cache,target=/x true'), { kind: 'run', flagsUsed: ['mount'] });
  t.match(first('ENTRYPOINT []'), { kind: 'entrypoint', cmdLine: null });
  t.match(first('EXPOSE 8080 80/udp 443'), { kind: 'expose', ports: ['443', '80/udp', '8080'] });
  t.match(first('ONBUILD  ADD . /app/src'), { kind: 'onbuild', expression: 'ADD . /app/src' });
  t.match(first('HEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD curl -f http://localhost/'), { kind: 'healthcheck', health: { test: ['CMD-SHELL', 'curl -f http://localhost/'], interval: 300e9, timeout: 3e9, retries: 3 } });
  t.match(first('HEALTHCHECK NONE'), { kind: 'healthcheck', health: { test: ['NONE'] } });
  t.match(first('ARG a b=c d='), { kind: 'arg', args: [{ key: 'a', value: null }, { key: 'b', value: 'c' }, { key: 'd', value: '' }] });
  t.match(first('USER a b'), { kind: 'user', user: 'a b' });
});

t.test("Docker 20.10's errors for bad Dockerfiles", async (t) => {
  const cases: Array<[string, string]> = [
    ['FROM busybox\nFOO bar\n', 'dockerfile parse error line 2: unknown instruction: FOO'],
    ['FROM busybox\nCOPY --frm=x a /\n', 'dockerfile parse error line 2: Unknown flag: frm'],
    ['FROM busybox\nCOPY a\n', 'dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined'],
    ['FROM busybox\nENV\n', 'dockerfile parse error line 2: ENV requires at least one argument'],
    ['FROM busybox\nENV A\n', 'ENV must have two arguments'],
    ['FROM busybox\nENV A=1 B\n', 'Syntax error - can\'t find = in "B". Must be of the form: name=value'],
    ['FROM busybox a b\n', 'dockerfile parse error line 1: FROM requires either one or three arguments'],
    ['FROM busybox AS 1x\n', 'dockerfile parse error line 1: invalid name for build stage: "1x", name can\'t start with a number or contain symbols'],
    ['RUN true\n', 'no build stage in current context'],
    ['FROM busybox\nSHELL sh -c\n', 'dockerfile parse error line 2: SHELL requires the arguments to be in JSON form'],
    ['FROM busybox\nONBUILD ONBUILD RUN x\n', 'dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed'],
    ['FROM busybox\nONBUILD FROM x\n', "dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger"],
    ['FROM busybox\nHEALTHCHECK --interval=1 CMD true\n', 'dockerfile parse error line 2: time: missing unit in duration "1"'],
    ['FROM busybox\nHEALTHCHECK --interval=1us CMD true\n', 'dockerfile parse error line 2: Interval "interval" cannot be less than 1ms'],
    ['FROM busybox\nHEALTHCHECK CMD\n', 'dockerfile parse error line 2: Missing command after HEALTHCHECK CMD'],
    ['FROM busybox\nHEALTHCHECK RUN x\n', 'dockerfile parse error line 2: Unknown type "RUN" in HEALTHCHECK (try CMD)'],
    ['FROM busybox\nWORKDIR\n', 'dockerfile parse error line 2: WORKDIR requires exactly one argument'],
    ['FROM busybox\nLABEL\n', 'dockerfile parse error line 2: LABEL requires at least one argument'],
    ['FROM busybox\nARG =x\n', 'dockerfile parse error line 2: ARG names can not be blank'],
    ['FROM busybox\nCOPY --from a /\n', 'dockerfile parse error line 2: Missing a value on flag: from'],
    ['FROM busybox\nCOPY --from=a --from=b a /\n', 'dockerfile parse error line 2: Duplicate flag specified: from'],
    ['FROM busybox\n\nRUN \\\n  --nope true\n', 'dockerfile parse error line 3: Unknown flag: nope'],
  ];
  for (const [src, msg] of cases) t.throws(() => stagesOf(src), { message: msg }, msg);
});

t.test('Go durations', async (t) => {
  for (const [s, ns] of [['5m', 300e9], ['1.5s', 1.5e9], ['300ms', 3e8], ['1h2m3s', 3723e9], ['0', 0], ['2us', 2000]] as const) t.equal(parseGoDuration(s), ns, s);
  for (const s of ['', 'x', '1', '1x', '.s']) t.throws(() => parseGoDuration(s), s);
  for (const [ns, s] of [[0, '0s'], [30e9, '30s'], [90e9, '1m30s'], [3600e9, '1h0m0s'], [1.5e9, '1.5s'], [5e8, '500ms']] as const) t.equal(goDuration(ns), s);
});
