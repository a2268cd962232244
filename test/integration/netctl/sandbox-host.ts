// Not a test file: run by forward-drop.test.ts inside `unshare --net --mount`
// (a private "host" network namespace with its own sysfs and iptables), so it
// can set the FORWARD policy to DROP and build a fake outside network without
// touching the real host. Prints one JSON line with what it observed.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { openDatabase } from '../../../store/index.js';
import { createNetworkController } from '../../../netctl/index.js';

const tmp = process.argv[2]!;
const BB = '/bin/busybox';
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const tryRun = (cmd: string, args: string[]) => {
  try {
    return run(cmd, args).trim();
  } catch (e) {
    return `ERR ${(e as Error).message.split('\n')[0]}`;
  }
};

async function main(): Promise<Record<string, unknown>> {
  run('ip', ['link', 'set', 'lo', 'up']);
  run('iptables', ['-P', 'FORWARD', 'DROP']);
  // the outside world: a netns at 192.0.2.2 behind a host interface 192.0.2.1, no route back to containers
  const outside = path.join(tmp, 'outside');
  fs.writeFileSync(outside, '');
  run('unshare', [`--net=${outside}`, 'ip', 'link', 'set', 'lo', 'up']);
  run('ip', ['link', 'add', 'tsdx0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside]);
  run('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'tsdx0']);
  run('ip', ['link', 'set', 'tsdx0', 'up']);
  run('nsenter', [`--net=${outside}`, 'ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
  run('nsenter', [`--net=${outside}`, 'ip', 'link', 'set', 'eth0', 'up']);
  const www = path.join(tmp, 'www');
  fs.mkdirSync(path.join(www, 'cgi-bin'), { recursive: true });
  fs.writeFileSync(path.join(www, 'cgi-bin', 'addr'), '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "peer=$REMOTE_ADDR"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(www, 'index.html'), 'inside\n');
  const httpd = spawn('nsenter', [`--net=${outside}`, BB, 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });

  const db = openDatabase(path.join(tmp, 'db'));
  db.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created_at, state, config, host_config) VALUES ('c1', '/c1', 'i', 'r', 'now', 'running', '{}', '{}')`).run();
  const ctl = createNetworkController({ db, execRoot: path.join(tmp, 'run'), bridge: 'tsdsb0', bip: '10.220.0.1/24' });
  const out: Record<string, unknown> = {};
  try {
    await ctl.init();
    out.policy = tryRun('iptables', ['-S', 'FORWARD']).split('\n')[0];
    const e = await ctl.attach('c1', { network: 'bridge', hostname: 'c1', ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }] });
    const ns = ctl.netnsPath('c1');
    // (busybox-static's wget segfaults; nc speaks HTTP/1.0 well enough)
    const wget = () => {
      try {
        const res = execFileSync('nsenter', [`--net=${ns}`, BB, 'nc', '-w', '2', '192.0.2.2', '80'], { input: 'GET /cgi-bin/addr HTTP/1.0\r\n\r\n', encoding: 'utf8', timeout: 5000 });
        return (/peer=\S+/.exec(res)?.[0] ?? `no peer in: ${res}`).trim();
      } catch (e) {
        return `ERR ${(e as Error).message.split('\n')[0]}`;
      }
    };
    let got = '';
    for (let i = 0; i < 20 && !got.startsWith('peer='); i++) {
      got = wget();
      if (!got.startsWith('peer=')) await new Promise((r) => setTimeout(r, 100));
    }
    out.outbound = got;
    const inner = spawn('nsenter', [`--net=${ns}`, BB, 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    out.published = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: e.ports[0]!.hostPort }, () => s.write('GET /index.html HTTP/1.0\r\n\r\n'));
      let buf = '';
      s.on('data', (d) => (buf += d));
      s.on('end', () => resolve(buf));
      s.on('error', (err) => resolve(`ERR ${err.message}`));
    });
    inner.kill('SIGKILL');
    // the outside cannot open connections to the container (isolation chain)
    out.inboundBlocked = tryRun('nsenter', [`--net=${outside}`, 'ip', 'route', 'add', '10.220.0.0/24', 'via', '192.0.2.1']) === '' &&
      tryRun('nsenter', [`--net=${outside}`, BB, 'ping', '-c', '1', '-W', '1', e.ip]).startsWith('ERR');
    await ctl.shutdown({ removeBridge: true });
    out.afterRules = tryRun('iptables', ['-S']) + tryRun('iptables', ['-t', 'nat', '-S']);
  } finally {
    httpd.kill('SIGKILL');
    db.close();
  }
  return out;
}

main().then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  },
  (e) => {
    process.stdout.write(JSON.stringify({ error: String((e as Error).stack ?? e) }) + '\n');
    process.exit(1);
  },
);
