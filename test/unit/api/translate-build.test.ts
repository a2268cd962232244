// POST /build's parameters as dockerd reads them (moby's newImageBuildOptions):
// rm/forcerm, booleans, JSON parameters and their errors, what the classic
// builder refuses; and the JSON lines of the build stream.
import t from 'tap';
import { fromDockerBuildQuery, registryConfig, errorLine, stderrMessage, progressMessage } from '../../../api/translate/build.js';

const q = (s: string) => {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(s)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
};
const tr = (s: string, headers = {}) => fromDockerBuildQuery(q(s), headers, '1.41');

t.test('rm, forcerm and booleans', async (t) => {
  t.equal(tr('').request.remove, true, 'rm defaults to true');
  t.equal(tr('rm=0').request.remove, false);
  t.equal(tr('rm=False').request.remove, false, "docker-py's False");
  t.equal(tr('rm=0&forcerm=1').request.remove, true, 'forcerm implies rm');
  t.equal(tr('forcerm=1').request.forceRemove, true);
  t.equal(tr('q=True').quiet, true);
  t.equal(tr('nocache=1&pull=true').request.noCache, true);
  t.equal(tr('nocache=none').request.noCache, false);
});

t.test('repeated and JSON parameters', async (t) => {
  t.same(tr('t=a:1&t=b').request.tags, ['a:1', 'b']);
  t.equal(tr('dockerfile=.dockerfile.abc&dockerfile=FROM+x').request.dockerfile, '.dockerfile.abc', "the first value, as Go's FormValue (docker-py sends two)");
  t.same(tr('buildargs=' + encodeURIComponent('{"A":"1","B":null}')).request.buildArgs, { A: '1', B: null });
  t.same(tr('labels=' + encodeURIComponent('{"x":"y"}')).request.labels, { x: 'y' });
  t.same(tr('cachefrom=' + encodeURIComponent('["img:1"]')).request.cacheFrom, ['img:1']);
  t.throws(() => tr('buildargs=nope'), /error reading build args/);
  t.throws(() => tr('cachefrom=' + encodeURIComponent('{"a":1}')), /error reading cache-from/);
  const hc = tr('memory=1048576&cpushares=512&cpusetcpus=0&networkmode=host&extrahosts=a:1.2.3.4&shmsize=65536').hostConfig;
  t.match(hc, { Memory: 1048576, CpuShares: 512, CpusetCpus: '0', NetworkMode: 'host', ExtraHosts: ['a:1.2.3.4'], ShmSize: 65536, LogConfig: { Type: 'none' } });
  t.equal(tr('').hostConfig.NetworkMode, 'default');
  t.equal(tr('memory=garbage').hostConfig.Memory, 0, 'Int64ValueOrZero');
  t.throws(() => tr('shmsize=x'), /strconv.ParseInt: parsing "x": invalid syntax/);
});

t.test('what the classic builder refuses', async (t) => {
  t.throws(() => tr('squash=1'), { message: 'squash is only supported with experimental mode' });
  t.throws(() => tr('securityopt=seccomp=unconfined'), { message: 'security options are not supported on linux' });
  t.throws(() => tr('version=2'), /BuildKit is not supported/);
  t.throws(() => tr('version=3'), /invalid version "3"/);
  t.equal(tr('remote=https://example.com/ctx.tar').request.remote, 'https://example.com/ctx.tar', 'remote: the daemon fetches the context');
  t.throws(() => tr('remote=client-session'), /BuildKit sessions are not supported/);
  t.equal(tr('version=1').request.tags.length, 0);
});

t.test('X-Registry-Config and the stream lines', async (t) => {
  const h = Buffer.from(JSON.stringify({ '127.0.0.1:5000': { username: 'u', password: 'p' } })).toString('base64url');
  t.same(registryConfig(h), { '127.0.0.1:5000': { username: 'u', password: 'p' } });
  t.same(registryConfig('%%%'), {}, 'a bad header is no credentials');
  t.same(errorLine('The command ... returned a non-zero code: 3', 3), { errorDetail: { code: 3, message: 'The command ... returned a non-zero code: 3' }, error: 'The command ... returned a non-zero code: 3' });
  t.same(errorLine('x'), { errorDetail: { message: 'x' }, error: 'x' }, 'no code when there is none');
  t.same(stderrMessage('err\n'), { stream: '\u001b[91merr\n\u001b[0m' });
  t.match(progressMessage({ status: 'Downloading', current: 5, total: 10 }), { status: 'Downloading', progressDetail: { current: 5, total: 10 }, progress: /\[=+>\s*\]/ });
  t.same(progressMessage({ status: 'Downloading', current: 5 }), { status: 'Downloading', progressDetail: { current: 5 } });
});
