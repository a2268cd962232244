// #9 item 15: a pre-spawned init dies with the daemon even when its protocol
// socket stays open (an EOF on fd 3 is not enough when another process holds the
// daemon's end). A helper process plays the daemon: it spawns a warm init, hands
// its end of fd 3 to a long sleep, and exits; PR_SET_PDEATHSIG kills the init.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { privilegedOpts } from '../../helpers/privileged.js';

const INIT_MAIN = fileURLToPath(new URL('../../../runtime/init/main.js', import.meta.url));

const alive = (pid: number) => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

t.test('a warm init whose daemon died is killed by the parent-death signal', privilegedOpts(), async (t) => {
  const daemon = `
    const { spawn } = require('node:child_process');
    const init = spawn(process.execPath, [${JSON.stringify(INIT_MAIN)}, '--warm'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: {} });
    init.stdio[3].setEncoding('utf8');
    init.stdio[3].once('data', () => {
      // the init is ready and blocked reading its plan: keep its socket open in another process, then die
      const keeper = spawn('sleep', ['60'], { stdio: ['ignore', 'ignore', 'ignore', init.stdio[3]], detached: true });
      process.stdout.write(JSON.stringify({ init: init.pid, keeper: keeper.pid }) + '\\n', () => process.exit(0));
    });`;
  const r = spawnSync(process.execPath, ['-e', daemon], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  const { init, keeper } = JSON.parse(r.stdout) as { init: number; keeper: number };
  t.teardown(() => { for (const p of [init, keeper]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } } });
  t.ok(alive(keeper), 'the daemon\'s end of the socket is still open (held by the keeper)');
  const deadline = Date.now() + 10_000;
  while (alive(init) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  t.notOk(alive(init), 'the warm init died with its daemon');
});
