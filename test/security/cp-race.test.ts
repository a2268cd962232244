// Issue #9 items 1 and 2 (CVE-2018-15664 class): a container that swaps a
// directory and a symlink to a host directory with renameat2(RENAME_EXCHANGE)
// in a tight loop (sechelper swap, a static C helper: busybox has no renameat2)
// while the host runs `docker cp` against that directory, out of it and into it.
//
// Tries: up to TRIES copies each way within a deadline. Before the fd-relative
// rootfs module (daemon/containers/archive.ts resolved the path once, then
// lstat/readdir/createReadStream and applyLayer's realpathSync re-resolved it
// from the host's root), the read side put the host's /etc into the archive
// within the first 5 copies and the write side landed the tar in the host
// directory within the first 10 (measured on this machine, 10 runs each).
import t from 'tap';
import fs from 'node:fs';
import { makeTar } from '../fixtures/images.js';
import {
  secEnv, containerOpts, tarEntries, hostSnapshot, assertHostUntouched, makeSentinel, hostDir, HELPER_IMAGE,
} from './helpers.js';

const TRIES = Number(process.env.TSD_SEC_RACE_TRIES ?? 60);
const DEADLINE_MS = 25_000;

t.test('docker cp racing a directory/symlink swap stays inside the container', containerOpts(), async (t) => {
  const env = await secEnv(t);
  const { ok, dockerBin, name } = env;
  const before = hostSnapshot();

  await t.test('read: docker cp c:/data - never archives the host /etc', async (t) => {
    const c = name('race-read');
    await ok('run', '-d', '--name', c, HELPER_IMAGE, 'sh', '-c',
      'mkdir /data && echo decoy > /data/decoy && ln -s /etc /swap && exec sechelper swap /data /swap');
    const inContainer = new Set((await ok('exec', c, 'ls', '-a', '/etc')).split('\n').filter(Boolean));
    const hostOnly = new Set(fs.readdirSync('/etc').filter((n) => !inContainer.has(n)));
    t.ok(hostOnly.has('shadow') || hostOnly.size > 5, 'the host /etc has names the container /etc lacks');
    let tries = 0;
    let archives = 0;
    const leaks: string[] = [];
    const end = Date.now() + DEADLINE_MS;
    while (tries < TRIES && Date.now() < end) {
      tries++;
      const r = await dockerBin(['cp', `${c}:/data`, '-']);
      if (r.code !== 0) continue; // the CLI saw the swap mid-way (not found / not a directory): fine
      archives++;
      for (const e of await tarEntries(r.out)) {
        const base = e.name.replace(/^data\/?/, '').split('/')[0]!;
        if (hostOnly.has(base)) leaks.push(e.name);
      }
      if (leaks.length) break;
    }
    t.comment(`${tries} copies, ${archives} archives`);
    t.ok(archives > 0, 'some copies went through');
    t.same(leaks, [], 'no host file in any archive');
    await assertHostUntouched(t, env, before);
  });

  await t.test('write: docker cp - c:/target never lands in the host directory', async (t) => {
    const dir = hostDir(env, 'race-write-host');
    const sentinel = makeSentinel(dir);
    const c = name('race-write');
    await ok('run', '-d', '--name', c, HELPER_IMAGE, 'sh', '-c',
      `mkdir /target && ln -s ${dir} /swap && exec sechelper swap /target /swap`);
    const payload = await makeTar([
      { name: 'sentinel', content: 'overwritten by the container\n', mode: 0o666 },
      { name: 'planted', content: 'planted by the container\n' },
      { name: 'sub/', type: 'directory' },
      { name: 'sub/deep', content: 'deep\n' },
    ]);
    let tries = 0;
    let accepted = 0;
    const end = Date.now() + DEADLINE_MS;
    while (tries < TRIES && Date.now() < end) {
      tries++;
      const r = await dockerBin(['cp', '-', `${c}:/target`], payload);
      if (r.code === 0) accepted++;
      if (fs.readdirSync(dir).length !== 1) break;
    }
    t.comment(`${tries} copies, ${accepted} accepted`);
    t.ok(accepted > 0, 'some copies went through');
    t.same(fs.readdirSync(dir), ['sentinel'], 'nothing planted in the host directory');
    // and they went where they belong: inside the container
    const inside = await ok('exec', c, 'sh', '-c', 'cat /target/planted /swap/planted 2>/dev/null; true');
    t.match(inside, /planted by the container/, 'the copies landed in the container');
    await assertHostUntouched(t, env, before, [sentinel]);
  });
});
