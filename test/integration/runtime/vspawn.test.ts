// runtime/vspawn.ts: posix_spawn children (tsd-nsexec's) behave as Node's spawn
// leaves a child: fds 0-2 and 3 as asked, a new session, cwd "/", no environment,
// no signal ignored or blocked, and their exit (code or signal) reported once reaped.
import t from 'tap';
import { vspawn } from '../../../runtime/vspawn.js';
import { collect } from './helpers.js';

const exit = (c: ReturnType<typeof vspawn>) => new Promise<[number | null, string | null]>((r) => c.once('exit', (code, sig) => r([code, sig])));

t.test('exit code, output, the process state it starts with', async (t) => {
  const c = vspawn('/bin/sh', ['-c', 'read x; echo "got $x"; echo err >&2; pwd; env | wc -l; grep -E "^(SigIgn|SigBlk):" /proc/self/status; ps -o sid= -p $$ 2>/dev/null || cat /proc/self/stat | cut -d" " -f6; echo $$; ls /proc/self/fd; exit 3'], ['pipe', 'pipe', 'pipe', 'pipe']);
  const done = exit(c);
  c.stdin!.end('hello\n');
  const [out, err, [code, sig]] = await Promise.all([collect(c.stdout), collect(c.stderr), done]);
  t.same([code, sig], [3, null]);
  t.equal(c.exitCode, 3);
  t.equal(err, 'err\n');
  const l = out.trim().split('\n');
  t.equal(l[0], 'got hello', 'stdin and stdout');
  t.equal(l[1], '/', 'cwd /');
  t.ok(Number(l[2]) <= 3, 'an (almost) empty environment: the shell\'s own PWD, SHLVL, _');
  t.equal(l[3], 'SigBlk:\t0000000000000000', 'no signal blocked');
  // glibc's posix_spawn leaves its internal signals 32 and 33 ignored (tsd-nsexec resets them: exec-paths.test.ts)
  t.equal(BigInt(`0x${l[4]!.split('\t')[1]}`) & ~0x180000000n, 0n, 'no other signal ignored (the daemon ignores SIGPIPE)');
  t.equal(l[5]!.trim(), l[6], 'a session of its own');
  t.ok(['0', '1', '2', '3'].every((fd) => l.slice(7).includes(fd)), 'fds 0-3 as asked');
});

t.test('a signal, kill(), and a spawn that fails', async (t) => {
  const c = vspawn('/bin/sleep', ['100'], ['ignore', 'ignore', 'ignore']);
  const done = exit(c);
  t.ok(c.pid! > 0);
  t.ok(c.kill('SIGTERM'), 'kill delivers');
  t.same(await done, [null, 'SIGTERM']);
  t.equal(c.signalCode, 'SIGTERM');
  t.notOk(c.kill('SIGKILL'), 'nothing to kill once reaped');
  t.throws(() => vspawn('/nonexistent/program', [], ['ignore', 'ignore', 'ignore']), /ENOENT/);
});

t.test('many at once are each reaped once, nothing left a zombie', async (t) => {
  const cs = Array.from({ length: 20 }, (_, i) => vspawn('/bin/sh', ['-c', `exit ${i}`], ['ignore', 'ignore', 'ignore']));
  const codes = await Promise.all(cs.map((c) => exit(c).then(([code]) => code)));
  t.same(codes, Array.from({ length: 20 }, (_, i) => i));
});
