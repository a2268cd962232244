#!/usr/bin/env node
// tsctl: the thin companion CLI of tsd. Every verb is one or a few HTTP calls;
// the verbs and flags are docker's, and so are the exit statuses (the
// container's for run/start -a/exec, 125 for tsctl's own errors in run and
// for bad flags, 1 for a daemon error elsewhere).
//
// Argument parsing is commander: it handles docker's shapes (combined short
// flags `-it`, repeatable `-e`/`-p`, options stopping at the image so the
// command keeps its own flags, nested `network ls`), with no dependencies.
import { Command, CommanderError } from 'commander';
import { ApiError, StatusError, UsageError } from './client.js';
import { Ctx } from './context.js';
import { registerContainers } from './containers.js';
import { registerImages } from './images.js';
import { registerSystem } from './system.js';
import { registerNetworks } from './networks.js';
import { registerVolumes } from './volumes.js';
import { registerStats } from './stats.js';
import { registerExplain } from './explain.js';

export const CLIENT_VERSION = '0.1.0';

export function buildProgram(ctx: Ctx): Command {
  const program = new Command('tsctl');
  program
    .description('The companion CLI of tsd, the container engine that is only processes, namespaces and cgroups.\nThe daemon is found through --host, then TSD_HOST, then DOCKER_HOST, then unix:///var/run/tsd.sock.')
    .option('-H, --host <url>', 'daemon socket to connect to (unix:///path or tcp://host:port)')
    .version(CLIENT_VERSION, '-v, --version', 'print the client version')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .hook('preAction', (cmd) => {
      ctx.host = (cmd.optsWithGlobals() as { host?: string }).host ?? program.opts<{ host?: string }>().host;
    });
  for (const reg of [registerContainers, registerImages, registerNetworks, registerVolumes, registerSystem, registerStats, registerExplain]) reg(program, ctx);
  // docker's errors for flags (exit 125) rather than commander's text.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(dockerFlagError(s, cmd)),
    });
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  return program;
}

function dockerFlagError(msg: string, cmd: Command): string {
  const name = commandPath(cmd);
  const m = /unknown option '([^']+)'/.exec(msg);
  const text = m ? `unknown flag: ${m[1]}` : msg.replace(/^error: /, '').trim();
  return `${text}\nSee '${name} --help'.\n`;
}

function commandPath(cmd: Command): string {
  const parts: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) parts.unshift(c.name());
  return parts.join(' ');
}

export async function main(argv: string[]): Promise<number> {
  const ctx = new Ctx();
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.code;
  } catch (e) {
    return report(e, ctx);
  } finally {
    await ctx.opened?.destroy().catch(() => {});
  }
}

function report(e: unknown, ctx: Ctx): number {
  if (e instanceof CommanderError) {
    if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code)) return 0;
    if (e.code === 'commander.executeSubCommandAsync') return 1;
    return 125;
  }
  if (e instanceof StatusError) {
    if (e.message) process.stderr.write(`${e.message}\n`);
    return e.code;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`${e.message}\n`);
    return 125;
  }
  if (e instanceof ApiError) {
    process.stderr.write(`Error response from daemon: ${e.message}\n`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException & { cause?: { code?: string } };
  const code = err.code ?? err.cause?.code ?? '';
  if (['ENOENT', 'ECONNREFUSED', 'EACCES', 'UND_ERR_SOCKET'].includes(code)) {
    process.stderr.write(`Cannot connect to the tsd daemon at ${ctx.display()}. Is the daemon running?\n`);
    return 1;
  }
  process.stderr.write(`tsctl: ${err.message}\n`);
  return 1;
}

main(process.argv.slice(2)).then((code) => {
  // Let stdout drain (a pipe) before leaving.
  if (process.stdout.writableLength === 0) process.exit(code);
  process.stdout.once('drain', () => process.exit(code));
});
