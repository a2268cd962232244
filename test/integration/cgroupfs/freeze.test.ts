import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { privilegedOpts } from '../../helpers/privileged.js';
import { eventually, sleep, testCgroup } from './helpers.js';

t.test('freeze stops progress and thaw resumes it', privilegedOpts(), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-cg-freeze-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const counter = path.join(dir, 'n');
  const cg = testCgroup(t);
  await cg.run(['/bin/busybox', 'sh', '-c', `i=0; while :; do i=$((i+1)); echo $i > ${counter}; /bin/busybox usleep 20000; done`]);
  const read = () => {
    try {
      return Number(fs.readFileSync(counter, 'utf8').trim() || 0);
    } catch {
      return 0;
    }
  };
  t.ok(await eventually(() => read() > 2), 'the counter runs');
  await cg.mgr.freeze();
  t.ok(cg.mgr.isFrozen());
  const frozenAt = read();
  await sleep(400);
  t.equal(read(), frozenAt, 'no progress while frozen');
  await cg.mgr.thaw();
  t.notOk(cg.mgr.isFrozen());
  t.ok(await eventually(() => read() > frozenAt), `progress after thaw (${frozenAt} → ${read()})`);
});
