// tsctl installs as a command: the README's start command runs `npm install -g` of this
// folder, which puts tsd and tsctl in <prefix>/bin, where systemd/tsd.service looks for tsd.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { projectRoot } from '../../helpers/daemon.js';

const run = promisify(execFile);

t.test('npm install -g puts tsd and tsctl on the PATH', async (t) => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-prefix-'));
  t.teardown(() => fs.rmSync(prefix, { recursive: true, force: true }));
  await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', projectRoot], { timeout: 120_000 });
  const env = { ...process.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}` };
  t.equal((await run('tsctl', ['--version'], { env })).stdout, '0.1.0\n');
  t.match((await run('tsctl', ['--help'], { env })).stdout, 'explain [options] <container>');
  t.match((await run('tsd', ['--help'], { env })).stdout, /^Usage: tsd \[OPTIONS\]/);
  const down = await run('tsctl', ['--host', 'unix:///nonexistent.sock', 'ps'], { env }).catch((e) => e);
  t.equal(down.code, 1);
  t.match(down.stderr, 'Cannot connect to the tsd daemon at unix:///nonexistent.sock. Is the daemon running?');
  // the start command installs into /usr, and the unit starts /usr/bin/tsd
  const start = fs.readFileSync(path.join(projectRoot, 'scripts', 'start.sh'), 'utf8');
  t.match(start, /npm install -g --prefix "\$\{TSD_PREFIX:-\/usr\}"/);
  const unit = fs.readFileSync(path.join(projectRoot, 'systemd', 'tsd.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/bin\/tsd /m);
});
