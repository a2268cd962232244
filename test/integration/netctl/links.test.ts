// The rtnetlink executor's batches on the real kernel, in a network namespace of the test's own: the
// lines up to one that needs a device's index go out in one send(2), and each line's error is its own.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNetlinkExecutor } from '../../../netctl/links.js';
import { privilegedOpts } from '../../helpers/privileged.js';

const inNs = (file: string, args: string[]) => execFileSync('nsenter', [`--net=${file}`, 'ip', ...args], { encoding: 'utf8' });

t.test('batched plan lines: order, indexes between batches, errors per line', privilegedOpts(), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-test-links-'));
  const file = path.join(dir, 'ns');
  fs.writeFileSync(file, '');
  t.teardown(() => {
    try { execFileSync('umount', [file]); } catch { /* not mounted */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ip = createNetlinkExecutor();
  // a bridge made and then addressed by index (a flush, a lookup, the next batch), then up, then a route through it
  await ip.createNetns(file, [
    'link set lo up',
    'link add name tb0 address 02:00:00:00:00:01 type bridge',
    'addr add 10.9.0.1/24 dev tb0',
    'link set tb0 up',
    `link add va0 address 02:00:00:00:00:02 type veth peer name vb0 netns ${file}`,
    'link set vb0 master tb0',
    'route replace default via 10.9.0.254 dev tb0',
  ]);
  t.match(inNs(file, ['-o', '-4', 'addr', 'show', 'tb0']), /inet 10\.9\.0\.1\/24/, 'the address, on the bridge made in the batch before');
  t.match(inNs(file, ['-o', 'link', 'show', 'tb0']), /[<,]UP[,>]/, 'the bridge is up');
  t.match(inNs(file, ['-o', 'link', 'show', 'vb0']), /master tb0/, 'a veth made in the batch, enslaved by the bridge\'s index');
  t.match(inNs(file, ['route', 'show', 'default']), /default via 10\.9\.0\.254 dev tb0/, 'the route, after the address and the up');

  // a failing line: the error names it; the kernel ran the rest of its batch
  await t.rejects(ip.inNetns(file, ['link set nosuch0 up', 'link add name tb2 address 02:00:00:00:00:03 type bridge']), { message: /link set nosuch0 up: ENODEV/ }, 'the failing line\'s own error');
  t.match(inNs(file, ['-o', 'link', 'show', 'tb2']), /tb2/, 'the line after it in the batch was run');
  // a failing index lookup: the line that needed it is not sent
  await t.rejects(ip.inNetns(file, ['addr add 10.9.1.1/24 dev nosuch1']), { message: /nosuch1/ });
  // a deletion of what is already gone is done, not an error
  await ip.inNetns(file, ['link del nosuch2', 'link del tb2']);
  t.throws(() => inNs(file, ['-o', 'link', 'show', 'tb2']), 'deleted');
  // force (host batches): every line tried, the first error at the end (only absent devices named: the host is not changed)
  await t.rejects(ip.host(['link set tsdnosuch3 up', 'link del tsdnosuch4', 'link set tsdnosuch5 up'], true), { message: /tsdnosuch3 up: ENODEV/ }, 'force: the first error');
});
