// LogConfig validation with moby's messages.
import t from 'tap';
import { parseLogConfig, fromHumanSize, readContainerLogs, ReadLogsNotSupportedError } from '../../../daemon/logs/index.js';

t.test('sizes are decimal like go-units FromHumanSize', async (t) => {
  t.equal(fromHumanSize('1k'), 1000);
  t.equal(fromHumanSize('10m'), 10_000_000);
  t.equal(fromHumanSize('2g'), 2_000_000_000);
  t.equal(fromHumanSize('123'), 123);
  t.equal(fromHumanSize('1.5kb'), 1500);
  t.equal(fromHumanSize('10MB'), 10_000_000);
  t.throws(() => fromHumanSize('ten'), { message: "invalid size: 'ten'" });
  t.throws(() => fromHumanSize('-1'), { message: "invalid size: '-1'" });
});

t.test('json-file options', async (t) => {
  t.match(parseLogConfig(undefined), { type: 'json-file', maxSize: -1, maxFile: 1 });
  t.match(parseLogConfig({ Type: '' }), { type: 'json-file' });
  t.match(parseLogConfig({ Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '3' } }), { type: 'json-file', maxSize: 1000, maxFile: 3 });
  t.match(parseLogConfig({ Type: 'json-file', Config: { mode: 'non-blocking', 'max-buffer-size': '4m', tag: 'x' } }), { type: 'json-file' });
  t.match(parseLogConfig({ Type: 'none' }), { type: 'none' });
  const bad: Array<[object, string]> = [
    [{ Type: 'syslog' }, "logger: no log driver named 'syslog' is registered"],
    [{ Type: 'json-file', Config: { 'max-sise': '1k' } }, "unknown log opt 'max-sise' for json-file log driver"],
    [{ Type: 'json-file', Config: { 'max-size': '0' } }, 'max-size must be a positive number'],
    [{ Type: 'json-file', Config: { 'max-size': 'big' } }, "invalid size: 'big'"],
    [{ Type: 'json-file', Config: { 'max-file': '0' } }, 'max-file cannot be less than 1'],
    [{ Type: 'json-file', Config: { 'max-file': 'x' } }, 'strconv.Atoi: parsing "x": invalid syntax'],
    [{ Type: 'json-file', Config: { compress: 'true' } }, 'compress cannot be true when max-file is less than 2 or max-size is not set'],
    [{ Type: 'json-file', Config: { mode: 'fast' } }, 'logger: logging mode not supported: fast'],
  ];
  for (const [cfg, msg] of bad) t.throws(() => parseLogConfig(cfg), { message: msg, kind: 'invalid-parameter' }, msg);
});

t.test('the none driver refuses reading', async (t) => {
  let err: unknown;
  try { readContainerLogs({ type: 'none', options: {} }, '/nonexistent', { stdout: true, stderr: true, follow: false }); } catch (e) { err = e; }
  t.ok(err instanceof ReadLogsNotSupportedError);
  t.throws(() => readContainerLogs({ type: 'none', options: {} }, '/x', { stdout: true, stderr: true, follow: false }), {
    message: 'configured logging driver does not support reading',
    kind: 'not-implemented',
  });
});
