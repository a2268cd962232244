// dockerode (npm) through its streaming APIs, as Node tools use them: attach
// (hijacked, stdin and output), logs follow, exec with demuxStream, events,
// pull progress from the loopback registry and modem.followProgress. On tsd
// and, with TSD_COMPARE_SOCK, dockerd first (pull skipped there: its loopback
// is another network namespace).
import t from 'tap';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { engines, clientOpts, registry, waitFor } from './helpers.js';

const IMAGE = 'busybox:fixture';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let buf = '';
  stream.on('data', (c) => (buf += c));
  return { stream, text: () => buf };
}

t.setTimeout(300_000);
t.test('dockerode', clientOpts(), async (t) => {
  const list = await engines(t);
  const reg = await registry(t);
  for (const e of list) {
    await t.test(`on ${e.name}`, async (t) => {
      const api = new Docker({ socketPath: e.socket });
      const labels = { 'tsd.clients': String(process.pid) };
      t.teardown(async () => {
        for (const c of await api.listContainers({ all: true, filters: { label: [`tsd.clients=${process.pid}`] } })) await api.getContainer(c.Id).remove({ force: true }).catch(() => {});
      });

      await t.test('attach with stdin, demuxed output, wait', async (t) => {
        const c = await api.createContainer({ Image: IMAGE, Labels: labels, Cmd: ['sh', '-c', 'read x; echo got-$x; echo err-$x >&2; exit 5'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
        const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
        const out = sink(), err = sink();
        c.modem.demuxStream(stream, out.stream, err.stream);
        const waiting = c.wait({ condition: 'next-exit' });
        await c.start();
        stream.write('ping\n');
        stream.end();
        t.equal(((await waiting) as { StatusCode: number }).StatusCode, 5);
        await waitFor(async () => out.text() && err.text(), 10_000, 'attach output');
        t.equal(out.text(), 'got-ping\n');
        t.equal(err.text(), 'err-ping\n');
      });

      await t.test('logs follow until exit', async (t) => {
        const c = await api.createContainer({ Image: IMAGE, Labels: labels, Cmd: ['sh', '-c', 'for i in 1 2 3; do echo tick$i; sleep 0.3; done'] });
        await c.start();
        const stream = await c.logs({ follow: true, stdout: true, stderr: true, tail: -1 });
        const out = sink(), err = sink();
        c.modem.demuxStream(stream, out.stream, err.stream);
        await new Promise((r) => stream.on('end', r));
        t.equal(out.text(), 'tick1\ntick2\ntick3\n', 'every line, then the stream ends at exit');
      });

      await t.test('exec with demux, inspect exit code', async (t) => {
        const c = await api.createContainer({ Image: IMAGE, Labels: labels, Cmd: ['sleep', '300'] });
        await c.start();
        const ex = await c.exec({ Cmd: ['sh', '-c', 'echo o; echo e >&2; exit 9'], AttachStdout: true, AttachStderr: true });
        const stream = await ex.start({ hijack: true, stdin: false });
        const out = sink(), err = sink();
        c.modem.demuxStream(stream, out.stream, err.stream);
        await new Promise((r) => stream.on('end', r));
        t.equal(out.text(), 'o\n');
        t.equal(err.text(), 'e\n');
        t.equal((await ex.inspect()).ExitCode, 9);
        // without hijack (plain 200 raw stream, as testcontainers starts execs)
        const ex2 = await c.exec({ Cmd: ['echo', 'plain'], AttachStdout: true, AttachStderr: true });
        const s2 = await ex2.start({ Detach: false, Tty: false });
        const o2 = sink();
        c.modem.demuxStream(s2, o2.stream, new PassThrough());
        await new Promise((r) => s2.on('end', r));
        t.equal(o2.text(), 'plain\n');
      });

      await t.test('events stream with filters', async (t) => {
        const stream = await api.getEvents({ filters: { type: ['container'], label: [`tsd.clients=${process.pid}`] } }) as NodeJS.ReadableStream & { destroy(): void };
        const seen: Array<{ Action: string; Actor: { Attributes: Record<string, string> } }> = [];
        let buf = '';
        stream.on('data', (d: Buffer) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) { seen.push(JSON.parse(buf.slice(0, i))); buf = buf.slice(i + 1); }
        });
        const c = await api.createContainer({ Image: IMAGE, Labels: labels, Cmd: ['sh', '-c', 'exit 4'] });
        await c.start();
        await c.wait();
        await waitFor(async () => seen.some((x) => x.Action === 'die'), 10_000, 'the die event');
        stream.destroy();
        t.ok(['create', 'start', 'die'].every((a) => seen.some((x) => x.Action === a)), `create, start, die: ${seen.map((x) => x.Action)}`);
        t.equal(seen.find((x) => x.Action === 'die')!.Actor.Attributes.exitCode, '4');
      });

      await t.test('pull progress and modem.followProgress', { skip: !reg ? 'no docker-registry' : e.name !== 'tsd' ? 'the registry is on the host loopback, which the compare engine does not share' : false }, async (t) => {
        const ref = `${reg!.host}/tsdc/busybox:${process.pid}`;
        await e.ok('docker', ['tag', IMAGE, ref]);
        await e.ok('docker', ['push', ref]);
        await e.ok('docker', ['rmi', ref]);
        const stream = await api.pull(ref);
        const progress: Array<{ status?: string; id?: string }> = [];
        const done = await new Promise<unknown[]>((resolve, reject) => api.modem.followProgress(stream, (err: Error | null, out: unknown[]) => (err ? reject(err) : resolve(out)), (ev: { status?: string }) => progress.push(ev)));
        t.ok(done.length > 0 && progress.length === done.length, 'followProgress saw every event');
        t.ok(progress.some((p) => /Pull complete|Already exists/.test(p.status ?? '')), 'layer progress');
        t.match(progress[progress.length - 1]!.status, /Downloaded newer image|Image is up to date/);
        const img = await api.getImage(ref).inspect();
        t.ok(img.Id.startsWith('sha256:'));
        const bad = await api.pull(`${reg!.host}/tsdc/nope:1`).then(() => 'ok', (err: { statusCode?: number }) => err.statusCode);
        t.equal(bad, 404, 'a missing image is a 404 before the stream');
        await api.getImage(ref).remove();
      });
    });
  }
});
