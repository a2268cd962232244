// Issue #9 item 13: bad ulimits and a 300-character volume name are 400s at create
// with Docker's messages (before: a 201 then a 500 at start, and a 500 from mkdir),
// and nothing is made: no container, no container dir, no volume, no volume dir.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { privilegedOpts } from '../helpers/privileged.js';
import { startDaemon } from '../helpers/daemon.js';
import { busyboxSaveTar } from '../fixtures/images.js';

t.test('bad ulimits and overlong volume names are refused at create', privilegedOpts(), async (t) => {
  const d = await startDaemon(t);
  const load = await d.request('POST', '/images/load?quiet=1', fs.readFileSync((await busyboxSaveTar()).path), { 'content-type': 'application/x-tar' });
  t.equal(load.status, 200);
  const nothingMade = async (what: string) => {
    t.same((await d.request('GET', '/containers/json?all=1')).body, [], `${what}: no container`);
    t.same(fs.readdirSync(path.join(d.dataRoot, 'containers')), [], `${what}: no container dir`);
    t.same((await d.request('GET', '/volumes')).body.Volumes ?? [], [], `${what}: no volume`);
    t.same(fs.readdirSync(path.join(d.dataRoot, 'volumes')), [], `${what}: no volume dir`);
    t.equal((await d.request('GET', '/_ping')).status, 200, `${what}: the daemon answers _ping`);
  };
  const create = (hostConfig: Record<string, unknown>) =>
    d.request('POST', '/containers/create', { Image: 'busybox:fixture', Cmd: ['true'], HostConfig: hostConfig });

  const ulimits: Array<[unknown, string]> = [
    [[{ Name: 'nofile', Soft: -1, Hard: 1024 }], 'ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 1024'],
    [[{ Name: 'nofile', Soft: 2048, Hard: 1024 }], 'ulimit soft limit must be less than or equal to hard limit: 2048 > 1024'],
    [[{ Name: 'bogus', Soft: 1, Hard: 1 }], 'invalid ulimit type: bogus'],
    [[{ Name: 'nproc', Soft: -5, Hard: 10 }], 'invalid ulimit argument: nproc=-5:10'],
    [[{ Name: 'core', Soft: 1.5, Hard: 2 }], 'cannot unmarshal number'],
  ];
  for (const [u, msg] of ulimits) {
    const r = await create({ Ulimits: u });
    t.equal(r.status, 400, `Ulimits ${JSON.stringify(u)}: 400`);
    t.match(r.body?.message, msg);
    await nothingMade(`Ulimits ${JSON.stringify(u)}`);
  }
  const unlimited = await create({ Ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }] });
  t.equal(unlimited.status, 201, 'soft and hard -1 (unlimited) is fine');
  t.equal((await d.request('DELETE', `/containers/${unlimited.body.Id}`)).status, 204);

  const long = 'v'.repeat(300);
  const root = path.join(d.dataRoot, 'volumes', long);
  const tooLong = `create ${long}: error while creating volume root path '${root}': mkdir ${root}: file name too long`;
  const vc = await d.request('POST', '/volumes/create', { Name: long });
  t.equal(vc.status, 400, 'docker volume create with a 300-character name: 400');
  t.equal(vc.body?.message, tooLong);
  await nothingMade('volume create');
  for (const [what, hc] of [['-v', { Binds: [`${long}:/data`] }], ['--mount', { Mounts: [{ Type: 'volume', Source: long, Target: '/data' }] }]] as const) {
    const r = await create(hc);
    t.equal(r.status, 400, `docker create ${what} with a 300-character volume name: 400`);
    t.equal(r.body?.message, tooLong);
    await nothingMade(what);
  }
  const short = await d.request('POST', '/volumes/create', { Name: 'x' });
  t.equal(short.status, 400);
  t.equal(short.body?.message, 'volume name is too short, names should be at least two alphanumeric characters');
});
