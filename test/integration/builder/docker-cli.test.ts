// docker build through the real docker CLI (the classic builder it uses when
// no buildx is installed): a multi-stage Dockerfile with every instruction,
// -f, --target, --build-arg, --no-cache, ADD of a local tar and of a URL,
// .dockerignore, the cache (a rebuild is all cache hits and the same image ID),
// --cache-from after the cache is gone, the build cache in system df and
// builder prune, Docker's messages and exit codes for bad Dockerfiles and a
// failing RUN. The scenarios that dockerd runs the same way also run on it
// when TSD_COMPARE_SOCK names its socket.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { engines, clientOpts, registry, type Engine } from '../../clients/helpers.js';
import { registryAvailable } from '../../fixtures/registry.js';
import { contextDir, fileServer, leftovers, settle } from './helpers.js';

t.setTimeout(300_000);

const tarOf = (dir: string, files: string[]): Buffer => execFileSync('tar', ['-c', '--owner=0', '--group=0', '-C', dir, ...files]);

const multiStage = `# syntax=docker/dockerfile:1
ARG BASE=busybox:fixture
FROM $BASE AS build
ARG GREETING=hello
ENV OUT=/out \\
    NAME="two words"
WORKDIR /src
COPY src/ ./
RUN mkdir -p $OUT && echo "$GREETING from $NAME" > $OUT/msg && cat a.txt >> $OUT/msg
FROM busybox:fixture
LABEL org.example.stage=final maintainer="tsd test"
COPY --from=build /out/msg /app/msg
COPY --chown=1000:1000 src/a.txt link /app/owned/
ADD files.tar /app/unpacked/
EXPOSE 8080 53/udp
USER 1000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s CMD ["true"]
STOPSIGNAL SIGUSR1
ENTRYPOINT ["/bin/cat"]
CMD ["/app/msg"]
`;

t.test('docker build', clientOpts(), async (t) => {
  for (const e of await engines(t)) {
    await t.test(`on ${e.name}`, async (t) => {
      const tag = `tsdbuild${process.pid}-${e.name}`;
      t.teardown(async () => {
        const imgs = (await e.run('docker', ['images', '-q', '--filter', `reference=${tag}*`])).out.split('\n').filter(Boolean);
        if (imgs.length) await e.run('docker', ['rmi', '-f', ...new Set(imgs)]);
        await e.run('docker', ['builder', 'prune', '-af']);
      });
      const filesDir = contextDir(t, { 'x/y.txt': 'from the tar\n' });
      const ctx = contextDir(t, {
        Dockerfile: multiStage,
        'src/a.txt': 'a file\n',
        link: { link: 'src/a.txt' },
        'secret.txt': 'never copied\n',
        '.dockerignore': 'secret.txt\n',
      });
      fs.writeFileSync(path.join(ctx, 'files.tar'), tarOf(filesDir, ['x']));

      let firstId = '';
      await t.test('a multi-stage build with every instruction', async (t) => {
        const r = await e.run('docker', ['build', '-t', `${tag}:1`, ctx]);
        t.equal(r.code, 0, `exit 0${r.code ? `\n${r.out}\n${r.err}\n${e.logTail()}` : ''}`);
        t.match(r.out, /Sending build context to Docker daemon\s+\d/, 'the CLI sent the context');
        t.match(r.out, /^(\u001b\[0m)?Step 1\/19 : ARG BASE=busybox:fixture$/m, 'after the syntax directive\'s warning');
        if (e.name === 'tsd') t.match(r.out, /\[WARNING\]: the syntax directive \(# syntax=docker\/dockerfile:1\) needs BuildKit/);
        t.match(r.out, /^Step 3\/19 : ARG GREETING=hello$/m);
        t.match(r.out, /^Step 8\/19 : FROM busybox:fixture$/m, 'both stages are counted');
        t.match(r.out, / ---> Running in [0-9a-f]{12}\n/);
        t.match(r.out, /Removing intermediate container [0-9a-f]{12}/);
        const m = /Successfully built ([0-9a-f]{12})\nSuccessfully tagged (\S+)/.exec(r.out);
        t.ok(m, 'Successfully built / tagged');
        t.equal(m?.[2], `${tag}:1`);
        firstId = (await e.ok('docker', ['image', 'inspect', '--format', '{{.Id}}', `${tag}:1`])).trim();
        t.equal(firstId.slice(7, 19), m?.[1]);

        const run = (cmd: string) => e.ok('docker', ['run', '--rm', '--entrypoint', 'sh', `${tag}:1`, '-c', cmd]);
        t.equal(await e.ok('docker', ['run', '--rm', `${tag}:1`]), 'hello from two words\na file\n', 'ENTRYPOINT + CMD, a file made in the first stage');
        t.equal(await run('cat /app/unpacked/x/y.txt'), 'from the tar\n', 'ADD extracted the local tar');
        t.equal(await run('stat -c "%u:%g %a" /app/owned/a.txt /app/owned/link /app/owned'), '1000:1000 644\n1000:1000 644\n1000:1000 755\n', 'COPY --chown, a symlink source copied as its target');
        t.equal(await run('cat /app/owned/link'), 'a file\n');
        t.equal(await run('ls /app; id -u'), 'msg\nowned\nunpacked\n1000\n', 'USER');
        const cfg = JSON.parse(await e.ok('docker', ['image', 'inspect', '--format', '{{json .Config}}', `${tag}:1`]));
        t.same(cfg.Labels, { 'org.example.stage': 'final', maintainer: 'tsd test' });
        t.same(cfg.ExposedPorts, { '8080/tcp': {}, '53/udp': {} });
        t.same(cfg.Volumes, { '/data': {} });
        t.same(cfg.Healthcheck, { Test: ['CMD', 'true'], Interval: 30e9, Timeout: 3e9 });
        t.equal(cfg.StopSignal, 'SIGUSR1');
        t.equal(cfg.User, '1000');
        t.same(cfg.Entrypoint, ['/bin/cat']);
        t.same(cfg.Cmd, ['/app/msg']);
        t.same(cfg.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
        const hist = (await e.ok('docker', ['history', '--no-trunc', '--format', '{{.CreatedBy}}', `${tag}:1`])).split('\n').filter(Boolean);
        t.equal(hist[0], '/bin/sh -c #(nop)  CMD ["/app/msg"]');
        t.equal(hist[1], '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/cat"]');
        t.equal(hist[4], '/bin/sh -c #(nop)  VOLUME [/data]');
        t.equal(hist[6], '/bin/sh -c #(nop)  EXPOSE 53/udp 8080');
        // the tarsum of src/a.txt as the CLI packs it ("a file\n", 0644, root): dockerd computes the same
        // dockerd 20.10's lines for this context, byte for byte (tarsums of the files as the CLI packs them)
        t.equal(hist[3], `/bin/sh -c #(nop)  HEALTHCHECK &{["CMD" "true"] "30s" "3s" "0s" '\\x00'}`);
        t.match(hist[7], /^\/bin\/sh -c #\(nop\) ADD file:[0-9a-f]{64} in \/app\/unpacked\/ $/);
        t.equal(hist[8], '/bin/sh -c #(nop) COPY --chown=1000:1000multi:52ae67d580ff379970e895720a46eabd2ec954ef110b3532549a5d7bd73120eb in /app/owned/ ');
        t.equal(hist[9], '/bin/sh -c #(nop) COPY file:bee625db3874714915fabb94d61f999f5b98b311bcd7c72190e262717f67b730 in /app/msg ');
        t.equal(hist[10], '/bin/sh -c #(nop)  LABEL org.example.stage=final maintainer=tsd test');
      });

      await t.test('.dockerignore: excluded files and the Dockerfile are not in the context', async (t) => {
        const c = contextDir(t, {
          Dockerfile: 'FROM busybox:fixture\nCOPY . /ctx/\nCMD ["find", "/ctx"]\n',
          'keep.txt': 'k', 'skip.log': 's', 'dir/a.log': 'a', 'dir/important.log': 'i',
          '.dockerignore': '*.log\n**/*.log\n!dir/important.log\nDockerfile\n.dockerignore\n',
        });
        await e.ok('docker', ['build', '-q', '-t', `${tag}:ignore`, c]);
        const found = (await e.ok('docker', ['run', '--rm', `${tag}:ignore`])).split('\n').filter(Boolean).sort();
        t.same(found, ['/ctx', '/ctx/dir', '/ctx/dir/important.log', '/ctx/keep.txt']);
      });

      await t.test('a rebuild of the unchanged context is all cache hits and the same image', async (t) => {
        const before = (await e.ok('docker', ['images', '-aq'])).split('\n').filter(Boolean).length;
        const r = await e.run('docker', ['build', '-t', `${tag}:1`, ctx]);
        t.equal(r.code, 0, r.err);
        const steps = (r.out.match(/^Step \d+\/\d+ : (?!FROM|ARG BASE)/gm) ?? []).length;
        t.equal((r.out.match(/ ---> Using cache/g) ?? []).length, steps, 'every step after FROM is a cache hit');
        t.notMatch(r.out, /Running in/);
        t.equal((await e.ok('docker', ['image', 'inspect', '--format', '{{.Id}}', `${tag}:1`])).trim(), firstId);
        t.equal((await e.ok('docker', ['images', '-aq'])).split('\n').filter(Boolean).length, before, 'no new image');
      });

      await t.test('--no-cache, --build-arg, -f and --target', async (t) => {
        const r = await e.run('docker', ['build', '--no-cache', '--build-arg', 'GREETING=bonjour', '-t', `${tag}:2`, ctx]);
        t.equal(r.code, 0, r.err);
        t.notMatch(r.out, /Using cache/);
        t.equal(await e.ok('docker', ['run', '--rm', `${tag}:2`]), 'bonjour from two words\na file\n');
        t.not((await e.ok('docker', ['image', 'inspect', '--format', '{{.Id}}', `${tag}:2`])).trim(), firstId);
        // a changed build arg misses from the RUN that sees it on (the RUN's cache key holds it)
        const r2 = await e.run('docker', ['build', '--build-arg', 'GREETING=hi', '-t', `${tag}:3`, ctx]);
        t.match(r2.out, /Step 6\/19 : COPY src\/ \.\/\n ---> Using cache/);
        t.match(r2.out, /Step 7\/19 : RUN [^\n]+\n ---> Running in/);
        // -f from outside the context, --target stops at the first stage
        const df = path.join(contextDir(t, {}), 'Other.Dockerfile');
        fs.writeFileSync(df, multiStage.replace('echo "$GREETING from $NAME"', 'echo "other $GREETING"'));
        const r3 = await e.run('docker', ['build', '-f', df, '--target', 'build', '-t', `${tag}:target`, ctx]);
        t.equal(r3.code, 0, r3.err);
        t.match(r3.out, /Step 7\/7 : RUN/, 'the stages after the target are not counted');
        t.equal(await e.ok('docker', ['run', '--rm', `${tag}:target`, 'cat', '/out/msg']), 'other hello\na file\n');
        t.equal((await e.ok('docker', ['run', '--rm', `${tag}:target`, 'pwd'])).trim(), '/src', 'WORKDIR');
        const sub = contextDir(t, { 'docker/Build.df': 'FROM busybox:fixture\nCMD ["echo", "sub"]\n' });
        await e.ok('docker', ['build', '-f', 'docker/Build.df', '-t', `${tag}:sub`, sub], { cwd: sub });
        t.equal(await e.ok('docker', ['run', '--rm', `${tag}:sub`]), 'sub\n', '-f inside the context');
      });

      await t.test('the language: escape directive, substitution, SHELL, ONBUILD, MAINTAINER; the build\'s limits, network and hosts', async (t) => {
        const base = contextDir(t, {
          Dockerfile: '# escape=`\nFROM busybox:fixture\nMAINTAINER tsd test <t@example.com>\nRUN echo base > /stage\nONBUILD RUN echo "triggered in $(cat /stage)" > /onbuild\nONBUILD COPY marker `\n    /marker\n',
        });
        await e.ok('docker', ['build', '-q', '-t', `${tag}:onbuild`, base]);
        const inspect = JSON.parse(await e.ok('docker', ['image', 'inspect', `${tag}:onbuild`]))[0];
        t.equal(inspect.Author, 'tsd test <t@example.com>', 'MAINTAINER');
        t.same(inspect.Config.OnBuild, ['RUN echo "triggered in $(cat /stage)" > /onbuild', 'COPY marker     /marker'], 'a line continued with the escape directive\'s `');
        const child = contextDir(t, {
          Dockerfile: [
            `FROM ${tag}:onbuild`,
            'ARG DIR=/srv',
            'ENV APP=${DIR}/app USERNAME=user PORT=8080',
            'RUN echo child > /stage',
            'WORKDIR $APP',
            'COPY --chown=${USERNAME} f.txt ${APP}/',
            'LABEL path="${APP:-none}" unset="${NOPE:-fallback}" set="${APP:+yes}" literal=\\$APP',
            'EXPOSE ${PORT}/tcp',
            'SHELL ["/bin/sh", "-e", "-c"]',
            'RUN test "$0" = /bin/sh && echo "shell form through SHELL" > shell.txt',
            'USER ${USERNAME}',
            'RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | head -1 > /tmp/mem; grep -c . /proc/net/dev > /tmp/ifaces; grep buildhost /etc/hosts > /tmp/hosts; true',
            'CMD ["sh", "-c", "pwd; cat /onbuild /marker shell.txt; stat -c %U f.txt; id -un; cat /tmp/mem /tmp/ifaces /tmp/hosts"]',
          ].join('\n') + '\n',
          marker: 'marker\n', 'f.txt': 'f\n',
        });
        const r = await e.run('docker', ['build', '--memory', '64m', '--network', 'none', '--add-host', 'buildhost:10.1.2.3', '-t', `${tag}:child`, child]);
        t.equal(r.code, 0, r.err);
        t.match(r.out, /# Executing 2 build triggers/);
        const out = (await e.ok('docker', ['run', '--rm', `${tag}:child`])).split('\n');
        t.equal(out[0], '/srv/app', 'WORKDIR from ENV from ARG');
        t.equal(out[1], 'triggered in base', 'the ONBUILD RUN ran at the child\'s FROM, before the child\'s own steps');
        t.equal(out[2], 'marker', 'the ONBUILD COPY took the child\'s context');
        t.equal(out[3], 'shell form through SHELL');
        t.equal(out[4], 'user', 'COPY --chown with a name');
        t.equal(out[5], 'user', 'USER from ENV');
        t.equal(out[6], String(64 * 1024 * 1024), 'RUN under the build\'s --memory');
        t.equal(out[7], '3', '--network none: /proc/net/dev has its two header lines and lo');
        t.match(out[8] ?? '', /10\.1\.2\.3\s+buildhost/, '--add-host');
        const cfg = JSON.parse(await e.ok('docker', ['image', 'inspect', '--format', '{{json .Config}}', `${tag}:child`]));
        t.same(cfg.Labels, { path: '/srv/app', unset: 'fallback', set: 'yes', literal: '$APP' });
        t.same(cfg.ExposedPorts, { '8080/tcp': {} });
        t.same(cfg.Shell, ['/bin/sh', '-e', '-c']);
        t.same(cfg.OnBuild, null, 'triggers do not carry over');
      });

      await t.test('ADD of a URL (the daemon fetches it)', async (t) => {
        if (e.name !== 'tsd') return; // the compare dockerd lives in its own network namespace: our loopback server is not its
        const srv = await fileServer(t, { '/dl/data.bin': { body: 'downloaded\n', lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' }, '/plain': { body: 'x', disposition: 'attachment; filename="named.txt"' } });
        const c = contextDir(t, { Dockerfile: `FROM busybox:fixture\nADD ${srv.url('/dl/data.bin')} /d/\nADD ${srv.url('/dl/data.bin')} /renamed\nCMD ["sh", "-c", "cat /d/data.bin; stat -c '%a %Y' /d/data.bin /renamed"]\n` });
        const r = await e.run('docker', ['build', '-t', `${tag}:url`, c]);
        t.equal(r.code, 0, r.err);
        t.equal(await e.ok('docker', ['run', '--rm', `${tag}:url`]), 'downloaded\n600 1445412480\n600 1445412480\n', 'mode 0600, mtime from Last-Modified');
        const hits = srv.hits();
        const again = await e.run('docker', ['build', '-t', `${tag}:url`, c]);
        t.equal((again.out.match(/Using cache/g) ?? []).length, 3, 'the same content hits the cache');
        t.ok(srv.hits() > hits, 'the URL is fetched again to compare its content');
        const bad = await e.run('docker', ['build', '-f', '-', c], { input: `FROM busybox:fixture\nADD ${srv.url('/missing')} /x\n` });
        t.not(bad.code, 0);
        t.match(bad.err, /404/);
      });

      await t.test("Docker's errors and exit codes", async (t) => {
        const fail = contextDir(t, { Dockerfile: 'FROM busybox:fixture\nRUN echo out; echo err >&2; exit 3\n' });
        // --force-rm: dockerd keeps a failed step's container otherwise (tsd never does: cleanup.test)
        const r = await e.run('docker', ['build', '--force-rm', fail]);
        t.equal(r.code, 3, 'the CLI exits with the RUN\'s status');
        t.match(r.err, /The command '\/bin\/sh -c echo out; echo err >&2; exit 3' returned a non-zero code: 3/);
        t.match(r.out, /out\n/);
        const cases: Array<[string, RegExp]> = [
          ['FROM busybox:fixture\nFOO bar\n', /dockerfile parse error line 2: unknown instruction: FOO/],
          ['FROM busybox:fixture\nCOPY nope /\n', /COPY failed: file not found in build context or excluded by \.dockerignore: stat nope: file does not exist/],
          ['FROM busybox:fixture\nENV A\n', /failed to parse (Dockerfile|-): ENV must have two arguments/],
          ['RUN true\n', /no build stage in current context/],
          ['FROM busybox:fixture\nSTOPSIGNAL FOO\n', /Invalid signal: FOO/],
          ['FROM busybox:fixture\nCOPY --from=127.0.0.1:1/nosuch:tag /x /y\n', /invalid from flag value 127\.0\.0\.1:1\/nosuch:tag/],
          ['FROM busybox:fixture\nRUN --mount=type=cache,target=/x true\n', /the --mount option requires BuildKit/],
        ];
        for (const [df, re] of cases) {
          const c = contextDir(t, { Dockerfile: df });
          const x = await e.run('docker', ['build', c]);
          t.equal(x.code, 1, `exit 1: ${df.split('\n')[1] || df}`);
          t.match(x.err, re);
        }
        const tgt = await e.run('docker', ['build', '--target', 'nope', fail]);
        t.match(tgt.err, /failed to reach build target nope in Dockerfile|target stage "?nope"? could not be found/);
      });

      await t.test('FROM an image the build pulls, and --pull', { skip: e.name === 'tsd' && registryAvailable() ? false : 'needs Debian\'s docker-registry (and a loopback the engine shares)' }, async (t) => {
        const reg = await registry(t);
        const ref = `${reg!.host}/tsdbuild/base:${process.pid}`;
        await e.ok('docker', ['tag', 'busybox:fixture', ref]);
        await e.ok('docker', ['push', ref]);
        await e.ok('docker', ['rmi', ref]);
        const c = contextDir(t, { Dockerfile: `FROM ${ref}\nRUN echo pulled > /p\n` });
        const r = await e.run('docker', ['build', '-t', `${tag}:pulled`, c]);
        t.equal(r.code, 0, r.err);
        t.match(r.out, /Pulling from tsdbuild\/base|Pull complete|Already exists|Downloaded newer image/, 'pull progress in the build output');
        t.equal((await e.ok('docker', ['run', '--rm', `${tag}:pulled`, 'cat', '/p'])).trim(), 'pulled');
        t.ok((await e.run('docker', ['image', 'inspect', ref])).code === 0, 'the base image is local now');
        const again = await e.run('docker', ['build', '--pull', '-t', `${tag}:pulled`, c]);
        t.equal(again.code, 0, again.err);
        t.match(again.out, /Image is up to date|Pulling from/, '--pull asks the registry again');
        t.match(again.out, /Using cache/, 'the same base: the RUN is cached');
        const gone = contextDir(t, { Dockerfile: `FROM ${reg!.host}/tsdbuild/nope:1\n` });
        const x = await e.run('docker', ['build', gone]);
        t.equal(x.code, 1);
        t.match(x.err, /not found|manifest unknown/);
      });

      await t.test('the build cache: system df, builder prune, --cache-from', async (t) => {
        if (e.name !== 'tsd') return; // dockerd's classic builder keeps no separate build cache
        const df = await e.ok('docker', ['system', 'df']);
        const line = /^Build Cache\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)/m.exec(df);
        t.ok(line && Number(line[1]) > 10, `build cache records in system df: ${line?.[0]}`);
        // the image outlives the cache; its layers too
        const saved = path.join(contextDir(t, {}), 'img.tar');
        await e.ok('docker', ['save', '-o', saved, `${tag}:1`]);
        const pruned = await e.ok('docker', ['builder', 'prune', '-af']);
        t.match(pruned, /Total reclaimed space:\s+\S+/);
        t.match(await e.ok('docker', ['system', 'df']), /^Build Cache\s+0\s+0\s+0B/m);
        t.equal(await e.ok('docker', ['run', '--rm', `${tag}:1`]), 'hello from two words\na file\n', 'the tagged image still runs');
        const r = await e.run('docker', ['build', '-t', `${tag}:1`, ctx]);
        t.notMatch(r.out, /Using cache/, 'no cache after prune');
        // a loaded image as --cache-from: every step hits and the result is that image
        const imgs = (await e.ok('docker', ['images', '-q', '--filter', `reference=${tag}*`])).split('\n').filter(Boolean);
        await e.ok('docker', ['rmi', '-f', ...new Set(imgs)]);
        await e.ok('docker', ['builder', 'prune', '-af']);
        await e.ok('docker', ['image', 'prune', '-f']);
        await e.ok('docker', ['load', '-i', saved]);
        const cf = await e.run('docker', ['build', '--cache-from', `${tag}:1`, '-t', `${tag}:cf`, ctx]);
        t.equal(cf.code, 0, cf.err);
        t.match(cf.out, /Step 19\/19 : CMD \["\/app\/msg"\]\n ---> Using cache/);
        t.equal((await e.ok('docker', ['image', 'inspect', '--format', '{{.Id}}', `${tag}:cf`])).trim(), firstId, 'the result is the cache-from image');
        await e.ok('docker', ['builder', 'prune', '-af']);
        t.same(await settle(() => leftovers(e)), [], 'nothing of the builds is left but images');
      });
    });
  }
});

export type { Engine };
