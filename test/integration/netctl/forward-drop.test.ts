// With FORWARD policy DROP (as dockerd leaves it), containers still get out
// (explicit ACCEPT + MASQUERADE) and published ports still work. Runs the
// controller in a private network+mount namespace so the real host's policy
// is never touched (see sandbox-host.ts).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { privilegedOpts } from '../../helpers/privileged.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sandbox-host.js');

t.test('FORWARD policy DROP, NAT to the outside, published port', privilegedOpts(), async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-netctl-fwd-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let raw: string;
  try {
    raw = execFileSync('unshare', ['--net', '--mount', 'sh', '-c', 'mount -t sysfs sysfs /sys && exec "$0" "$@"', process.execPath, script, tmp], { encoding: 'utf8', timeout: 30_000 });
  } catch (e) {
    raw = String((e as { stdout?: string }).stdout ?? '');
  }
  const r = JSON.parse(raw.trim().split('\n').pop() || '{}') as Record<string, unknown>;
  t.notOk(r.error, String(r.error ?? 'no error'));
  t.equal(r.policy, '-P FORWARD DROP', 'the sandbox host drops forwarded traffic by policy');
  t.match(r.outbound, /^peer=\[?(::ffff:)?192\.0\.2\.1\]?$/, 'container reached the outside, masqueraded to the host address');
  t.match(String(r.published), /inside/, 'published port served');
  t.equal(r.inboundBlocked, true, 'new inbound connections from outside are dropped');
  t.notMatch(String(r.afterRules), /TSD-/, 'teardown removed every chain');
});
