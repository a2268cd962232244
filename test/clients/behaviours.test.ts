// Issue #10's engine behaviours that clients rely on, checked through the
// docker CLI and raw requests on tsd and (TSD_COMPARE_SOCK) dockerd: the
// networks of a created container, docker update's 0 = unchanged, MemorySwap
// defaults, OomScoreAdj reaching the process, Runtime/Isolation echoes.
import t from 'tap';
import { engines, clientOpts } from './helpers.js';

t.setTimeout(300_000);
t.test('engine behaviours', clientOpts(), async (t) => {
  for (const e of await engines(t)) {
    await t.test(`on ${e.name}`, async (t) => {
      const tag = `tsdb${process.pid}`;
      const ids: string[] = [];
      t.teardown(async () => {
        if (ids.length) await e.run('docker', ['rm', '-f', ...ids]);
        await e.run('docker', ['network', 'rm', `${tag}-net`]);
      });
      const inspect = async (id: string) => JSON.parse(await e.ok('docker', ['inspect', id]))[0];
      const api = async (path: string) => JSON.parse(await e.ok('curl', ['-sf', '--unix-socket', e.socket, `http://x${path}`]));

      await t.test('a created container lists the networks it will join (item 2)', async (t) => {
        await e.ok('docker', ['network', 'create', `${tag}-net`]);
        const id = (await e.ok('docker', ['create', '--network', `${tag}-net`, '--network-alias', 'svc', 'busybox:fixture', 'sleep', '60'])).trim();
        ids.push(id);
        const v41 = (await api(`/v1.41/containers/${id}/json`)).NetworkSettings.Networks;
        t.same(Object.keys(v41), [`${tag}-net`]);
        t.ok(v41[`${tag}-net`].Aliases.includes('svc'), 'the alias');
        t.equal(v41[`${tag}-net`].IPAddress, '', 'no address yet');
        await e.ok('docker', ['start', id]);
        const live = (await api(`/v1.41/containers/${id}/json`)).NetworkSettings.Networks[`${tag}-net`];
        t.ok(live.Aliases.includes(id.slice(0, 12)), 'API < 1.45: the short id is an alias');
        t.not(live.IPAddress, '');
        t.ok(live.NetworkID.length >= 12);
      });

      await t.test('docker update: 0 means unchanged; swap defaults (item 9)', async (t) => {
        const id = (await e.ok('docker', ['run', '-d', '--cpus', '0.5', '--memory', '32m', 'busybox:fixture', 'sleep', '60'])).trim();
        ids.push(id);
        let hc = (await inspect(id)).HostConfig;
        t.equal(hc.MemorySwap, 64 * 1024 * 1024, 'MemorySwap = 2 × Memory');
        await e.ok('docker', ['update', '--memory', '48m', id]);
        hc = (await inspect(id)).HostConfig;
        t.equal(hc.Memory, 48 * 1024 * 1024);
        t.equal(hc.NanoCpus, 500_000_000, 'NanoCpus unchanged');
        t.equal(hc.MemorySwap, 64 * 1024 * 1024, 'MemorySwap unchanged');
        const bad = await e.run('docker', ['update', '--memory', '128m', id]);
        t.match(bad.err, /Memory limit should be smaller than already set memoryswap limit/);
        t.equal((await inspect(id)).HostConfig.Memory, 48 * 1024 * 1024, 'a refused update changes nothing');
      });

      await t.test('OomScoreAdj reaches PID 1; Runtime and Isolation echoed (items 8, 10)', async (t) => {
        const id = (await e.ok('docker', ['run', '-d', '--oom-score-adj', '300', '--runtime', 'runc', '--isolation', 'default', 'busybox:fixture', 'sleep', '60'])).trim();
        ids.push(id);
        t.equal((await e.ok('docker', ['exec', id, 'cat', '/proc/1/oom_score_adj'])).trim(), '300');
        const hc = (await inspect(id)).HostConfig;
        t.equal(hc.Runtime, 'runc');
        t.equal(hc.Isolation, 'default');
        t.ok('runc' in (await api('/info')).Runtimes, 'info lists runc');
        const r = await e.run('docker', ['create', '--runtime', 'nope', 'busybox:fixture']);
        t.match(r.err, /Unknown runtime specified nope/);
      });
    });
  }
});
