// A start failure is classified on what the init reports (its step and errno),
// never on the message text: the exit code Docker records and whose fault it is.
import t from 'tap';
import { startError } from '../../../runtime/errors.js';

t.test('command not found, not executable, file/dir mismatch: the caller\'s (400) with 127/126', async (t) => {
  const nf = startError({ step: 'exec', errno: 'ENOENT', message: 'exec: "nope": executable file not found in $PATH' });
  t.match(nf, { exitCode: 127, kind: 'invalid-parameter', step: 'exec', code: 'TSD_ERR_EXEC_NOT_FOUND' });
  const acc = startError({ step: 'exec', errno: 'EACCES', message: 'exec: "/etc/passwd": permission denied' });
  t.match(acc, { exitCode: 126, kind: 'invalid-parameter', code: 'TSD_ERR_EXEC_PERMISSION' });
  const nd = startError({ step: 'mounts', errno: 'ENOTDIR', message: 'mount /x: not a directory' });
  t.match(nd, { exitCode: 127, kind: 'invalid-parameter' });
  t.match(nd.message, /Are you trying to mount a directory onto a file/);
});

t.test('anything else is ours (500, 128), whatever its text says', async (t) => {
  // ENOENT outside the exec step (a missing mount source) is not "command not found"
  t.match(startError({ step: 'mounts', errno: 'ENOENT', message: 'mount /src: no such file or directory' }), { exitCode: 128, kind: 'system' });
  // the text alone, without errno, classifies nothing
  t.match(startError({ step: 'exec', message: 'exec: "x": executable file not found in $PATH' }), { exitCode: 128, kind: 'system' });
  t.match(startError({ step: 'cgroup', message: 'permission denied' }), { exitCode: 128, kind: 'system', code: 'TSD_ERR_RUNTIME_START' });
});
