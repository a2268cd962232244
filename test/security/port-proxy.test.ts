// Issue #9 items 17 and 18: the published-port path keeps half-open TCP in both
// directions (docker-proxy forwards each FIN on its own, CloseWrite), and
// `docker rm -f` of a container finishes within seconds whatever its
// published-port connections are doing. Through 127.0.0.1, which the userland
// proxy serves (the kernel cannot DNAT loopback without route_localnet).
import t from 'tap';
import net from 'node:net';
import { containerEnv, containerOpts, waitFor } from '../integration/containers/helpers.js';

const MB = 1024 * 1024;

/** Connects, retrying while the server in the container is not listening yet. */
async function connect(port: number, ms = 10_000): Promise<net.Socket> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

t.test('published ports keep half-closed TCP connections, rm -f never hangs', containerOpts(), async (t) => {
  const { ok, docker, name } = await containerEnv(t);
  const portOf = async (c: string) => Number(/127\.0\.0\.1:(\d+)/.exec(await ok('port', c, '9000'))?.[1]);

  await t.test('client sends, shuts down its write side, then reads the reply', async (t) => {
    const c = name('wc');
    // The server reads to EOF (the client's FIN), then answers with the byte count.
    await ok('run', '-d', '--name', c, '-p', '127.0.0.1::9000', 'busybox:fixture', 'nc', '-ll', '-p', '9000', '-e', 'wc', '-c');
    const port = await portOf(c);
    // The container's nc may not listen yet: the proxy then accepts and drops, so retry the whole exchange.
    let reply = '';
    const body = Buffer.alloc(3 * MB, 'x');
    for (let i = 0; i < 50 && !/\d/.test(reply); i++) {
      const s = await connect(port);
      reply = await new Promise<string>((resolve) => {
        let got = '';
        s.setEncoding('utf8');
        s.on('data', (d) => (got += d));
        s.on('end', () => resolve(got));
        s.on('error', () => resolve(got));
        s.setTimeout(10_000, () => s.destroy());
        s.end(body); // write, then shutdown(SHUT_WR)
      });
      s.destroy();
      if (!/\d/.test(reply)) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(reply.trim(), String(body.length), 'the reply written after the client FIN arrives whole');
  });

  await t.test('server half-closes first; a 400 MB upload still arrives whole', async (t) => {
    const c = name('sink');
    // stdin is /dev/null: nc reads EOF at once and half-closes its side (FIN) before the upload starts.
    await ok('run', '-d', '--name', c, '-p', '127.0.0.1::9000', 'busybox:fixture', 'sh', '-c', 'nc -l -p 9000 < /dev/null | wc -c; echo done');
    const port = await portOf(c);
    const total = 400 * MB;
    const s = await connect(port);
    const sawFin = new Promise<void>((resolve) => s.once('end', resolve));
    s.on('data', () => undefined);
    const chunk = Buffer.alloc(MB, 'y');
    const t0 = Date.now();
    const sent = await new Promise<number>((resolve) => {
      let n = 0;
      const pump = () => {
        while (n < total) {
          n += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end(() => resolve(n));
      };
      s.once('error', () => resolve(n));
      s.setTimeout(60_000, () => { s.destroy(); resolve(-n); });
      pump();
    });
    t.equal(sent, total, 'every byte was accepted (no stall after the server FIN)');
    await Promise.race([sawFin, new Promise((r) => setTimeout(r, 5_000))]);
    t.comment(`400 MB in ${Date.now() - t0} ms`);
    let logs = '';
    await waitFor(async () => (logs = (await docker(['logs', c])).out).includes('done'), 30_000, 'the sink to finish').catch(() => undefined);
    t.equal(logs.split('\n')[0]?.trim(), String(total), 'the container received all 400 MB');
    s.destroy();
  });

  await t.test('rm -f finishes within seconds while connections are stuck in both directions', async (t) => {
    const c = name('stuck');
    // 9000: the sink of the issue (half-closes first, then reads); 9001: accepts and never reads,
    // so an upload fills every buffer on the way and stalls.
    await ok('run', '-d', '--name', c, '-p', '127.0.0.1::9000', '-p', '127.0.0.1::9001', 'busybox:fixture', 'sh', '-c',
      'nc -l -p 9000 </dev/null >/dev/null & nc -ll -p 9001 -e sleep 1000 & exec sleep 1000');
    const sinkPort = await portOf(c);
    const stuckPort = Number(/127\.0\.0\.1:(\d+)/.exec(await ok('port', c, '9001'))?.[1]);
    const socks: net.Socket[] = [];
    t.teardown(() => socks.forEach((s) => s.destroy()));
    const open = async (port: number) => {
      const s = await connect(port);
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      socks.push(s);
      return s;
    };
    const chunk = Buffer.alloc(4 * MB, 'z');
    // An endless upload into the sink (it stalled there before the fix) and one into the non-reader.
    for (const s of [await open(sinkPort), await open(stuckPort)]) {
      const pump = () => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    }
    (await open(stuckPort)).end(); // one half-closed by the client
    await open(stuckPort); // one idle
    await new Promise((r) => setTimeout(r, 2_000));
    const t0 = Date.now();
    const r = await docker(['rm', '-f', c], { timeout: 60_000 });
    const ms = Date.now() - t0;
    t.equal(r.code, 0, r.err);
    t.ok(ms < 15_000, `rm -f took ${ms} ms`);
    const ls = await ok('ps', '-a', '--filter', `name=${c}`, '--format', '{{.Names}}');
    t.equal(ls.trim(), '', 'the container is gone');
    await waitFor(() => socks.every((s) => s.destroyed || s.readableEnded), 10_000, 'the proxied connections to close').then(
      () => t.pass('every proxied connection was closed'),
      () => t.fail('proxied connections left open'),
    );
  });
});
