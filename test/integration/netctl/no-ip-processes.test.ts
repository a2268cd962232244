// Issue #16: attach, detach and the controller's boot speak rtnetlink and batch the
// firewall: with PATH holding only iptables-save and iptables-restore, a netctl that
// ran `ip`, `nsenter`, `unshare`, `sysctl` or a per-rule `iptables` would fail here.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { openDatabase } from '../../../store/index.js';
import { createNetworkController } from '../../../netctl/index.js';
import { privilegedOpts } from '../../helpers/privileged.js';

const pid = process.pid;
const octet = (pid % 200) + 30;
const which = (b: string) => execFileSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).trim();

t.test('netctl boot, attach (with a published port) and detach run no ip processes', privilegedOpts(), async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-netctl-noip-'));
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  for (const b of ['iptables-save', 'iptables-restore']) fs.symlinkSync(which(b), path.join(bin, b));
  const db = openDatabase(path.join(tmp, 'tsd.db'));
  const ctl = createNetworkController({ db, execRoot: path.join(tmp, 'run'), bridge: `tsni${pid}`.slice(0, 15), bip: `10.236.${octet}.1/24` });
  const savedPath = process.env.PATH;
  t.teardown(async () => {
    process.env.PATH = savedPath;
    await ctl.shutdown({ removeBridge: true }).catch(() => undefined);
    db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const id = `${pid.toString(16).padStart(8, '0')}${'e'.repeat(56)}`;
  db.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created_at, state, config, host_config) VALUES (?, ?, 'img', 'busybox', '2026-01-01T00:00:00Z', 'running', '{}', '{}')`).run(id, `/noip-${pid}`);
  process.env.PATH = bin;
  await ctl.init();
  const e = await ctl.attach(id, { network: 'bridge', hostname: 'noip', ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 0 }] });
  t.ok(e.ip && e.ports[0]!.hostPort > 0, `attached at ${e.ip}, port ${e.ports[0]!.hostPort} published`);
  await ctl.detach(id);
  t.same(ctl.endpoints(id), [], 'detached');
  process.env.PATH = savedPath;
});
