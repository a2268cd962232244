// Drives a command under a pseudo-terminal (util-linux `script`), as a person at
// a terminal would: waits for text on the screen, then types.
import { spawn } from 'node:child_process';

export interface PtySession {
  /** everything the terminal showed so far */
  screen(): string;
  /** resolves when the screen (after `from`) matches, or rejects after the deadline */
  waitFor(re: RegExp, ms?: number, from?: number): Promise<void>;
  type(s: string): void;
  /** the exit status of the command (script -e passes it on) */
  exited: Promise<number | null>;
  kill(): void;
}

export function pty(cmd: string[], env: NodeJS.ProcessEnv, size = { rows: 30, cols: 100 }): PtySession {
  const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', `stty rows ${size.rows} cols ${size.cols}; exec ${quoted}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => { out += d.toString(); for (const w of waiters) w(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    screen: () => out,
    waitFor: (re, ms = 20_000, from = 0) => new Promise<void>((resolve, reject) => {
      const check = () => {
        if (re.test(out.slice(from))) { waiters.delete(check); clearTimeout(timer); resolve(); }
      };
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${re} on the terminal; it shows:\n${out}`)); }, ms);
      waiters.add(check);
      check();
    }),
    type: (s) => { child.stdin.write(s); },
    exited,
    kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
  };
}
