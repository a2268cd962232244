// testcontainers-node scenarios, run as their own process (testcontainers keeps
// one container runtime per process, chosen from DOCKER_HOST at first use):
// `node testcontainers-scenarios.js` prints one "ok"/"FAIL" line per check.
// TSD_TC_HOST_PORTS=0 leaves out the checks that connect to published ports from
// the host (the compare engine's ports live in another network namespace).
// testcontainers' own Ryuk is disabled (no Docker Hub here); the Ryuk pattern is
// tested with a local reaper image (TSD_TC_REAPER_IMAGE) that has the engine's
// socket bind-mounted and removes labelled containers when its client goes away.
import net from 'node:net';
import { GenericContainer, Network, Wait, type StartedTestContainer } from 'testcontainers';
import tar from 'tar-stream';

const IMAGE = 'busybox:fixture';
const hostPorts = process.env.TSD_TC_HOST_PORTS !== '0';
const RUN = process.env.TSD_CLIENTS_RUN ?? String(process.pid);
const labels = { 'tsd.clients': RUN };
let failures = 0;
const check = (cond: boolean, what: string) => {
  process.stdout.write(`${cond ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!cond) failures++;
};
const started: StartedTestContainer[] = [];
const base = () => new GenericContainer(IMAGE).withLabels(labels);
const httpd = (body: string) => ['sh', '-c', `mkdir -p /w && echo ${body} > /w/index.html && echo ready && exec httpd -f -p 8000 -h /w`];

async function untar(stream: NodeJS.ReadableStream): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const x = tar.extract();
  await new Promise<void>((resolve, reject) => {
    x.on('entry', (h, s, next) => { let b = ''; s.on('data', (d: unknown) => (b += String(d))); s.on('end', () => { out[h.name] = b; next(); }); });
    x.on('finish', resolve);
    x.on('error', reject);
    stream.pipe(x);
  });
  return out;
}

async function scenario(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    check(false, `${name} threw: ${(e as Error).stack ?? e}`);
  }
}

async function main(): Promise<void> {
  await scenario('log wait, exec, copy to and from', async () => {
    const c = await base().withCommand(['sh', '-c', 'echo booting; sleep 1; echo "service ready"; exec sleep 300']).withWaitStrategy(Wait.forLogMessage(/service ready/)).start();
    started.push(c);
    check(true, 'forLogMessage resolved');
    const r = await c.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    check(r.exitCode === 3 && r.stdout === 'out\n' && r.stderr === 'err\n', `exec: ${JSON.stringify(r)}`);
    await c.copyContentToContainer([{ content: 'copied in\n', target: '/tmp/in.txt' }]);
    check((await c.exec(['cat', '/tmp/in.txt'])).output === 'copied in\n', 'copyContentToContainer');
    const files = await untar(await c.copyArchiveFromContainer('/tmp/in.txt'));
    check(files['in.txt'] === 'copied in\n', `copyArchiveFromContainer: ${JSON.stringify(Object.keys(files))}`);
    const logs = await c.logs();
    let text = '';
    await new Promise<void>((resolve) => { logs.on('data', (d) => (text += d)); logs.on('end', resolve); setTimeout(resolve, 3000); });
    check(text.includes('booting'), 'logs()');
    await c.stop();
  });

  await scenario('health-check wait', async () => {
    const c = await base().withCommand(['sh', '-c', 'sleep 1; touch /tmp/up; exec sleep 300'])
      .withHealthCheck({ test: ['CMD', 'test', '-f', '/tmp/up'], interval: 500, timeout: 1000, retries: 20, startPeriod: 0 })
      .withWaitStrategy(Wait.forHealthCheck()).withStartupTimeout(30_000).start();
    started.push(c);
    check(true, 'forHealthCheck resolved');
    await c.stop();
  });

  if (hostPorts) {
    await scenario('port and HTTP waits, mapped ports', async () => {
      const c = await base().withCommand(httpd('hello-tc')).withExposedPorts(8000).withWaitStrategy(Wait.forListeningPorts()).start();
      started.push(c);
      const port = c.getMappedPort(8000);
      check(port > 0, `mapped port ${port}`);
      const res = await fetch(`http://${c.getHost()}:${port}/`);
      check((await res.text()) === 'hello-tc\n', 'reached through the mapped port');
      await c.stop();
      const h = await base().withCommand(httpd('http-wait')).withExposedPorts(8000).withWaitStrategy(Wait.forHttp('/', 8000).forStatusCode(200)).start();
      started.push(h);
      check(true, 'forHttp resolved');
      await h.stop();
    });
  }

  await scenario('networks and aliases', async () => {
    const n = await new Network().start();
    try {
      const srv = await base().withNetwork(n).withNetworkAliases('websrv').withCommand(httpd('on-net')).withWaitStrategy(Wait.forLogMessage('ready')).start();
      started.push(srv);
      const cli = await base().withNetwork(n).withCommand(['sleep', '300']).start();
      started.push(cli);
      let out = '';
      for (let i = 0; i < 20 && out !== 'on-net\n'; i++) {
        out = (await cli.exec(['wget', '-q', '-O-', 'http://websrv:8000/'])).output;
        if (out !== 'on-net\n') await new Promise((r) => setTimeout(r, 250));
      }
      check(out === 'on-net\n', `reached the alias on the network: ${JSON.stringify(out)}`);
      check(srv.getNetworkNames().includes(n.getName()), 'getNetworkNames');
      await cli.stop();
      await srv.stop();
    } finally {
      await n.stop();
    }
  });

  await scenario('reuse', async () => {
    process.env.TESTCONTAINERS_REUSE_ENABLE = 'true';
    const mk = () => base().withCommand(['sleep', '300']).withLabels({ ...labels, reuse: RUN }).withReuse().start();
    const a = await mk();
    const b = await mk();
    started.push(a);
    check(a.getId() === b.getId(), 'a second start with reuse returns the same container');
    await a.stop();
  });

  const reaper = process.env.TSD_TC_REAPER_IMAGE;
  const socket = process.env.TSD_TC_SOCKET;
  if (hostPorts && reaper && socket) {
    await scenario('Ryuk pattern: a reaper with the socket bind-mounted removes labelled containers when its client disconnects', async () => {
      const session = `s${RUN}`;
      const r = await new GenericContainer(reaper).withExposedPorts(8080).withBindMounts([{ source: socket, target: '/var/run/docker.sock' }])
        .withAutoRemove(true).withWaitStrategy(Wait.forLogMessage(/Started/)).start();
      const victim = await base().withLabels({ ...labels, 'tsd.session': session }).withCommand(['sleep', '300']).start();
      const conn = net.connect(r.getMappedPort(8080), r.getHost());
      await new Promise<void>((resolve, reject) => { conn.once('connect', resolve); conn.once('error', reject); });
      conn.write(`label=tsd.session=${session}\n`);
      await new Promise((res) => setTimeout(res, 500));
      conn.end();
      const { getContainerRuntimeClient } = await import('testcontainers');
      const client = await getContainerRuntimeClient();
      let gone = false;
      for (let i = 0; i < 60 && !gone; i++) {
        const list = await client.container.list();
        gone = !list.some((x) => x.Id === victim.getId());
        if (!gone) await new Promise((res) => setTimeout(res, 500));
      }
      check(gone, 'the labelled container was removed by the reaper');
      let reaperGone = false;
      for (let i = 0; i < 60 && !reaperGone; i++) {
        reaperGone = !(await client.container.list()).some((x) => x.Id === r.getId());
        if (!reaperGone) await new Promise((res) => setTimeout(res, 500));
      }
      check(reaperGone, 'the reaper exited and was auto-removed');
    });
  }
}

main().catch((e) => check(false, `crashed: ${(e as Error).stack}`)).finally(async () => {
  for (const c of started) await c.stop({ remove: true, removeVolumes: true }).catch(() => {});
  process.stdout.write(`${failures} failed\n`);
  process.exit(failures ? 1 : 0);
});
