// Container verbs: run, create, start, stop, restart, kill, rm, pause, unpause,
// ps, logs, exec, attach, inspect, top, cp, diff, export, commit, wait, rename,
// update, port, container prune.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ApiError, StatusError, UsageError, type TsdClient } from './client.js';
import { act, ref, type Ctx } from './context.js';
import { ago, collect, filtersJson, humanSize, parseBytes, printFormatted, shortId, table } from './format.js';
import { createFlags, createBody, type RunOpts } from './run-options.js';
import { consoleSize, followResize, pipeOutput, pumpStdin, rawTerminal } from './stream.js';
import { pullImage } from './images.js';

type Json = Record<string, any>;

/** docker's runStartContainerErr: 127 for a missing command, 126 for one that cannot run, else 125. */
export function startErrorStatus(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127;
  if (/permission denied|is a directory/.test(message)) return 126;
  return 125;
}

/** Create, pulling the image first when it is missing (docker's "Unable to find image"). */
async function createContainer(c: TsdClient, image: string, cmd: string[], o: RunOpts): Promise<string> {
  const { name, body } = createBody(image, cmd, o);
  const create = () => c.json<{ Id: string; Warnings?: string[] }>('POST', '/containers/create', { query: { name }, body });
  let r: { Id: string; Warnings?: string[] };
  try {
    r = await create();
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404 || !/No such image/i.test(e.message)) throw e;
    process.stderr.write(`Unable to find image '${image}' locally\n`);
    await pullImage(c, image, { quiet: false, out: process.stderr });
    r = await create();
  }
  for (const w of r.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  return r.Id;
}

interface Attached {
  /** resolves when the output ended */
  output: Promise<void>;
  close(): void;
}

/** Attaches our terminal (or pipes) to a hijacked connection. */
function attachTerminal(c: TsdClient, sock: Duplex, o: { tty: boolean; stdin: boolean; resizePath: string | null }): Attached & { started(): void } {
  const restore = o.tty && o.stdin ? rawTerminal() : () => {};
  let stopResize = () => {};
  const stopStdin = o.stdin ? pumpStdin(sock) : (sock.end(), () => {});
  const output = pipeOutput(sock, o.tty);
  return {
    output,
    // the tty exists once the process started: resize then (and on SIGWINCH)
    started: () => { if (o.tty && o.resizePath) stopResize = followResize(c, o.resizePath); },
    close: () => { stopResize(); stopStdin(); restore(); },
  };
}

/** Forwards SIGINT/SIGTERM to the container (docker's --sig-proxy, on by default without a tty). */
function proxySignals(c: TsdClient, id: string): () => void {
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const).map((sig) => {
    const h = () => { void c.status('POST', `/containers/${id}/kill`, { query: { signal: sig } }).catch(() => {}); };
    process.on(sig, h);
    return () => process.off(sig, h);
  });
  return () => handlers.forEach((off) => off());
}

async function runVerb(ctx: Ctx, image: string, cmd: string[], o: RunOpts): Promise<number> {
  const c = ctx.client();
  if (o.detach && o.rm && o.restart && o.restart !== 'no') throw new UsageError('Conflicting options: --restart and --rm');
  let id: string;
  try {
    id = await createContainer(c, image, cmd, o);
  } catch (e) {
    if (e instanceof ApiError) throw new StatusError(125, `tsctl: Error response from daemon: ${e.message}.\nSee 'tsctl run --help'.`);
    throw e;
  }
  const startErr = (e: unknown): never => {
    if (e instanceof ApiError) throw new StatusError(startErrorStatus(e.message), `tsctl: Error response from daemon: ${e.message}.`);
    throw e;
  };
  if (o.detach) {
    await c.status('POST', `/containers/${id}/start`).catch(startErr);
    process.stdout.write(`${id}\n`);
    return 0;
  }
  const tty = !!o.tty;
  const stdin = !!o.interactive;
  if (tty && stdin && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
  const sock = await c.upgrade(`/containers/${id}/attach`, { query: { stream: 1, stdin: stdin ? 1 : undefined, stdout: 1, stderr: 1, detachKeys: o.detachKeys } });
  const att = attachTerminal(c, sock, { tty, stdin, resizePath: `/containers/${id}/resize` });
  const wait = c.json<{ StatusCode: number }>('POST', `/containers/${id}/wait`, { query: { condition: o.rm ? 'removed' : 'next-exit' } });
  wait.catch(() => {});
  const unproxy = !tty && o.sigProxy !== false ? proxySignals(c, id) : () => {};
  try {
    await c.status('POST', `/containers/${id}/start`).catch(startErr);
    att.started();
    await att.output;
    // A detach (ctrl-p ctrl-q) ends the stream while the container runs on.
    const settled = await Promise.race([wait.then((r) => r), new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
    if (settled) return settled.StatusCode;
    const info = await c.json<Json>('GET', `/containers/${id}/json`).catch(() => null);
    if (info?.State?.Running) return 0;
    return (await wait).StatusCode;
  } finally {
    att.close();
    unproxy();
  }
}

async function startVerb(ctx: Ctx, ids: string[], o: { attach?: boolean; interactive?: boolean; detachKeys?: string }): Promise<number> {
  const c = ctx.client();
  if (!o.attach && !o.interactive) {
    let failed = false;
    for (const r of ids) {
      try {
        await c.status('POST', `/containers/${ref(r)}/start`);
        process.stdout.write(`${r}\n`);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        process.stderr.write(`Error response from daemon: ${e.message}\n`);
        failed = true;
      }
    }
    if (failed) throw new StatusError(1, 'Error: failed to start containers: ' + ids.join(', '));
    return 0;
  }
  if (ids.length !== 1) throw new UsageError('you cannot start and attach multiple containers at once');
  const info = await c.json<Json>('GET', `/containers/${ref(ids[0]!)}/json`);
  const tty = !!info.Config.Tty;
  const stdin = !!o.interactive && !!info.Config.OpenStdin;
  const sock = await c.upgrade(`/containers/${info.Id}/attach`, { query: { stream: 1, stdin: stdin ? 1 : undefined, stdout: 1, stderr: 1, detachKeys: o.detachKeys } });
  const att = attachTerminal(c, sock, { tty, stdin, resizePath: `/containers/${info.Id}/resize` });
  const wait = c.json<{ StatusCode: number }>('POST', `/containers/${info.Id}/wait`, { query: { condition: 'next-exit' } });
  try {
    await c.status('POST', `/containers/${info.Id}/start`).catch((e) => {
      if (e instanceof ApiError) throw new StatusError(startErrorStatus(e.message), `Error response from daemon: ${e.message}`);
      throw e;
    });
    att.started();
    await att.output;
    return (await wait).StatusCode;
  } finally {
    att.close();
  }
}

/** Runs `fn` for each reference, printing it on success; docker's aggregate error and exit 1 otherwise. */
async function each(refs: string[], fn: (r: string) => Promise<unknown>, print = true): Promise<number> {
  const errors: string[] = [];
  for (const r of refs) {
    try {
      await fn(r);
      if (print) process.stdout.write(`${r}\n`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      errors.push(`Error response from daemon: ${e.message}`);
    }
  }
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  return 0;
}

/** The `ps` row as docker's formatter exposes it (for --format). */
function psRow(x: Json, o: { noTrunc?: boolean }): Json {
  const ports = (x.Ports as Json[]).filter((p) => p.PublicPort || p.PrivatePort)
    .map((p) => (p.PublicPort ? `${p.IP ?? '0.0.0.0'}:${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`));
  const command = x.Command as string;
  return {
    ID: o.noTrunc ? x.Id : shortId(x.Id),
    Image: x.Image,
    Command: JSON.stringify(o.noTrunc || command.length <= 20 ? command : command.slice(0, 19) + '…'),
    CreatedAt: new Date(x.Created * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
    RunningFor: ago(x.Created),
    Ports: [...new Set(ports)].join(', '),
    State: x.State,
    Status: x.Status,
    Size: x.SizeRw !== undefined ? `${humanSize(x.SizeRw)} (virtual ${humanSize(x.SizeRootFs ?? 0)})` : '0B',
    Names: (x.Names as string[]).map((n) => n.slice(1)).join(','),
    Labels: Object.entries(x.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Mounts: ((x.Mounts ?? []) as Json[]).map((m) => m.Name ?? m.Source).join(','),
    Networks: Object.keys(x.NetworkSettings?.Networks ?? {}).join(','),
  };
}

async function psVerb(ctx: Ctx, o: { all?: boolean; quiet?: boolean; filter?: string[]; format?: string; noTrunc?: boolean; last?: string; latest?: boolean; size?: boolean }): Promise<void> {
  const c = ctx.client();
  const list = await c.json<Json[]>('GET', '/containers/json', {
    query: { all: o.all || undefined, filters: filtersJson(o.filter), limit: o.latest ? 1 : o.last, size: o.size || undefined },
  });
  if (o.quiet) {
    for (const x of list) process.stdout.write(`${o.noTrunc ? x.Id : shortId(x.Id)}\n`);
    return;
  }
  const rows = list.map((x) => psRow(x, o));
  if (printFormatted(o.format, rows)) return;
  const head = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES', ...(o.size ? ['SIZE'] : [])];
  process.stdout.write(table([head, ...rows.map((r) => [r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names, ...(o.size ? [r.Size] : [])])]));
}

async function logsVerb(ctx: Ctx, r: string, o: { follow?: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string; details?: boolean }): Promise<void> {
  const c = ctx.client();
  const info = await c.json<Json>('GET', `/containers/${ref(r)}/json`);
  const body = await c.stream('GET', `/containers/${info.Id}/logs`, {
    query: { stdout: 1, stderr: 1, follow: o.follow, tail: o.tail ?? 'all', timestamps: o.timestamps, since: o.since && toUnix(o.since), until: o.until && toUnix(o.until), details: o.details },
  });
  const stop = () => body.destroy();
  process.once('SIGINT', stop);
  await pipeOutput(body, !!info.Config.Tty);
  process.off('SIGINT', stop);
}

/** docker's --since/--until: RFC 3339, unix seconds, or a duration back from now ("10m"). */
export function toUnix(s: string): string {
  if (/^\d+(\.\d+)?$/.test(s)) return s;
  const d = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(s);
  if (d) return String(Math.floor(Date.now() / 1000 - Number(d[1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[d[2]!]!));
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`invalid value for "since": ${s}`);
  return String(t / 1000);
}

async function execVerb(ctx: Ctx, r: string, cmd: string[], o: { interactive?: boolean; tty?: boolean; user?: string; workdir?: string; env?: string[]; detach?: boolean; privileged?: boolean; detachKeys?: string }): Promise<number> {
  const c = ctx.client();
  if (o.tty && o.interactive && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
  const { Id: execId } = await c.json<{ Id: string }>('POST', `/containers/${ref(r)}/exec`, {
    body: {
      Cmd: cmd, User: o.user ?? '', WorkingDir: o.workdir ?? '', Env: o.env ?? [], Tty: !!o.tty, Privileged: !!o.privileged,
      AttachStdin: !!o.interactive && !o.detach, AttachStdout: !o.detach, AttachStderr: !o.detach, DetachKeys: o.detachKeys ?? '',
      ConsoleSize: o.tty ? consoleSize() ?? null : null,
    },
  });
  if (o.detach) {
    await c.status('POST', `/exec/${execId}/start`, { body: { Detach: true, Tty: !!o.tty } });
    return 0;
  }
  const sock = await c.upgrade(`/exec/${execId}/start`, { body: { Detach: false, Tty: !!o.tty, ConsoleSize: o.tty ? consoleSize() ?? null : null } });
  const att = attachTerminal(c, sock, { tty: !!o.tty, stdin: !!o.interactive, resizePath: `/exec/${execId}/resize` });
  att.started();
  try {
    await att.output;
  } finally {
    att.close();
  }
  for (let i = 0; i < 50; i++) {
    const s = await c.json<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${execId}/json`);
    if (!s.Running && s.ExitCode !== null) return s.ExitCode;
    await new Promise((res) => setTimeout(res, 100));
  }
  return 0;
}

async function attachVerb(ctx: Ctx, r: string, o: { stdin?: boolean; sigProxy?: boolean; detachKeys?: string }): Promise<number> {
  const c = ctx.client();
  const info = await c.json<Json>('GET', `/containers/${ref(r)}/json`);
  if (!info.State.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
  if (info.State.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
  const tty = !!info.Config.Tty;
  const stdin = o.stdin !== false && !!info.Config.OpenStdin;
  const sock = await c.upgrade(`/containers/${info.Id}/attach`, { query: { stream: 1, stdin: stdin ? 1 : undefined, stdout: 1, stderr: 1, detachKeys: o.detachKeys } });
  const att = attachTerminal(c, sock, { tty, stdin, resizePath: `/containers/${info.Id}/resize` });
  att.started();
  const unproxy = !tty && o.sigProxy !== false ? proxySignals(c, info.Id) : () => {};
  try {
    await att.output;
    const now = await c.json<Json>('GET', `/containers/${info.Id}/json`).catch(() => null);
    return now && !now.State.Running ? now.State.ExitCode : 0;
  } finally {
    att.close();
    unproxy();
  }
}

/** docker inspect: containers, then images, networks, volumes (or only --type). */
export async function inspectVerb(ctx: Ctx, refs: string[], o: { format?: string; type?: string; size?: boolean }): Promise<number> {
  const c = ctx.client();
  const kinds: Array<[string, (r: string) => string]> = [
    ['container', (r) => `/containers/${ref(r)}/json${o.size ? '?size=1' : ''}`],
    ['image', (r) => `/images/${ref(r)}/json`],
    ['network', (r) => `/networks/${ref(r)}`],
    ['volume', (r) => `/volumes/${ref(r)}`],
  ];
  const wanted = o.type ? kinds.filter(([k]) => k === o.type) : kinds;
  if (!wanted.length) throw new UsageError(`"${o.type}" is not a valid value for --type`);
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const r of refs) {
    let hit: unknown;
    for (const [, p] of wanted) {
      try {
        hit = await c.json('GET', p(r));
        break;
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 404) throw e;
      }
    }
    if (hit === undefined) errors.push(`Error: No such ${o.type ?? 'object'}: ${r}`);
    else found.push(hit);
  }
  if (!printFormatted(o.format, found)) process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  return 0;
}

/** docker cp: CONTAINER:SRC DEST or SRC CONTAINER:DEST ("-" for a tar on stdin/stdout). */
async function cpVerb(ctx: Ctx, src: string, dst: string): Promise<void> {
  const c = ctx.client();
  const split = (s: string): [string, string] | null => {
    if (s.startsWith('/') || s.startsWith('.') || s === '-') return null;
    const i = s.indexOf(':');
    return i > 0 ? [s.slice(0, i), s.slice(i + 1)] : null;
  };
  const from = split(src);
  const to = split(dst);
  if (!!from === !!to) throw new UsageError(from ? 'copying between containers is not supported' : 'must specify at least one container source');
  if (from) {
    const [cid, p] = from;
    const body = await c.stream('GET', `/containers/${ref(cid)}/archive`, { query: { path: p } });
    if (dst === '-') {
      await pipeline(body, process.stdout);
      return;
    }
    // The archive's top entry is the basename of the source; rename it when the destination is not a directory.
    const stat = (() => { try { return fs.statSync(dst); } catch { return null; } })();
    const base = path.basename(p.replace(/\/+$/, '')) || '/';
    const args = stat?.isDirectory() ? ['-x', '-C', dst] : ['-x', '-C', path.dirname(path.resolve(dst)), `--transform=s|^${base.replace(/[|.*[\]^$\\]/g, '\\$&')}|${path.basename(dst)}|`];
    await runTar(args, body);
    return;
  }
  const [cid, rawDest] = to!;
  // docker sends the directory itself, without a trailing slash
  const p = rawDest.length > 1 ? rawDest.replace(/\/+$/, '') : rawDest;
  // Copying to a path that does not exist names the copy after it: upload to its parent, the entry renamed.
  let target = p;
  let rename: string | null = null;
  if (src !== '-') {
    const head = await c.status('HEAD', `/containers/${ref(cid)}/archive`, { query: { path: p } })
      .catch((e) => (e instanceof ApiError && e.status === 404 ? 404 : Promise.reject(e)));
    if (head === 404) { target = path.posix.dirname(p); rename = path.posix.basename(p); }
  }
  let archive: Readable;
  if (src === '-') archive = process.stdin;
  else {
    const abs = path.resolve(src);
    if (!fs.existsSync(abs)) throw new StatusError(1, `lstat ${abs}: no such file or directory`);
    const base = path.basename(abs);
    const args = ['-c', '-C', path.dirname(abs), ...(rename ? [`--transform=s|^${base.replace(/[|.*[\]^$\\]/g, '\\$&')}|${rename}|`] : []), base];
    archive = spawn('tar', args, { stdio: ['ignore', 'pipe', 'inherit'] }).stdout!;
  }
  await c.json('PUT', `/containers/${ref(cid)}/archive`, { query: { path: target }, raw: archive });
}

function runTar(args: string[], input: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', args, { stdio: ['pipe', 'inherit', 'inherit'] });
    input.pipe(tar.stdin);
    tar.once('error', reject);
    tar.once('exit', (code) => (code === 0 ? resolve() : reject(new StatusError(1, `tar exited with ${code}`))));
  });
}

/** The resource flags of `update` as the API's body. */
function updateBody(o: Json): Json {
  const b: Json = {};
  if (o.memory) b.Memory = parseBytes(o.memory, '--memory');
  if (o.memorySwap) b.MemorySwap = parseBytes(o.memorySwap, '--memory-swap');
  if (o.memoryReservation) b.MemoryReservation = parseBytes(o.memoryReservation, '--memory-reservation');
  if (o.cpus) b.NanoCpus = Math.round(Number(o.cpus) * 1e9);
  if (o.cpuShares) b.CpuShares = Number(o.cpuShares);
  if (o.cpusetCpus) b.CpusetCpus = o.cpusetCpus;
  if (o.cpuQuota) b.CpuQuota = Number(o.cpuQuota);
  if (o.cpuPeriod) b.CpuPeriod = Number(o.cpuPeriod);
  if (o.pidsLimit) b.PidsLimit = Number(o.pidsLimit);
  if (o.blkioWeight) b.BlkioWeight = Number(o.blkioWeight);
  if (o.restart) {
    const [n, max] = String(o.restart).split(':');
    b.RestartPolicy = { Name: n, MaximumRetryCount: max ? Number(max) : 0 };
  }
  return b;
}

export function registerContainers(program: Command, ctx: Ctx): void {
  const runCmd = createFlags(program.command('run').helpOption('--help').description('Create and run a new container from an image'))
    .option('-d, --detach', 'run container in background and print container ID')
    .option('--rm', 'automatically remove the container and its associated anonymous volumes when it exits')
    .option('--sig-proxy <bool>', 'proxy received signals to the process', (v) => v !== 'false')
    .option('--detach-keys <string>', 'override the key sequence for detaching a container')
    .argument('<image>').argument('[command...]').passThroughOptions();
  runCmd.action(act(ctx, (image: string, cmd: string[], o: RunOpts) => runVerb(ctx, image, cmd, o)));

  createFlags(program.command('create').helpOption('--help').description('Create a new container'))
    .option('--rm', 'automatically remove the container when it exits')
    .argument('<image>').argument('[command...]').passThroughOptions()
    .action(act(ctx, async (image: string, cmd: string[], o: RunOpts) => {
      try {
        process.stdout.write(`${await createContainer(ctx.client(), image, cmd, { ...o, detach: false })}\n`);
      } catch (e) {
        if (e instanceof ApiError) throw new StatusError(125, `Error response from daemon: ${e.message}`);
        throw e;
      }
    }));

  program.command('start').description('Start one or more stopped containers')
    .option('-a, --attach', 'attach STDOUT/STDERR and forward signals').option('-i, --interactive', "attach container's STDIN")
    .option('--detach-keys <string>', 'override the key sequence for detaching a container')
    .argument('<containers...>')
    .action(act(ctx, (ids: string[], o) => startVerb(ctx, ids, o)));

  program.command('stop').description('Stop one or more running containers')
    .option('-t, --time <int>', 'seconds to wait before killing the container').option('-s, --signal <string>', 'signal to send to the container')
    .argument('<containers...>')
    .action(act(ctx, (ids: string[], o: { time?: string; signal?: string }) => each(ids, (r) => ctx.client().status('POST', `/containers/${ref(r)}/stop`, { query: { t: o.time, signal: o.signal } }))));

  program.command('restart').description('Restart one or more containers')
    .option('-t, --time <int>', 'seconds to wait before killing the container').option('-s, --signal <string>', 'signal to send to the container')
    .argument('<containers...>')
    .action(act(ctx, (ids: string[], o: { time?: string; signal?: string }) => each(ids, (r) => ctx.client().status('POST', `/containers/${ref(r)}/restart`, { query: { t: o.time, signal: o.signal } }))));

  program.command('kill').description('Kill one or more running containers')
    .option('-s, --signal <string>', 'signal to send to the container')
    .argument('<containers...>')
    .action(act(ctx, (ids: string[], o: { signal?: string }) => each(ids, (r) => ctx.client().status('POST', `/containers/${ref(r)}/kill`, { query: { signal: o.signal } }))));

  program.command('rm').description('Remove one or more containers')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)').option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .argument('<containers...>')
    .action(act(ctx, (ids: string[], o: { force?: boolean; volumes?: boolean }) => each(ids, (r) => ctx.client().status('DELETE', `/containers/${ref(r)}`, { query: { force: o.force, v: o.volumes } }))));

  for (const verb of ['pause', 'unpause'] as const) {
    program.command(verb).description(`${verb === 'pause' ? 'Pause' : 'Unpause'} all processes within one or more containers`)
      .argument('<containers...>')
      .action(act(ctx, (ids: string[]) => each(ids, (r) => ctx.client().status('POST', `/containers/${ref(r)}/${verb}`))));
  }

  program.command('ps').description('List containers')
    .option('-a, --all', 'show all containers (default shows just running)').option('-q, --quiet', 'only display container IDs')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect).option('--format <string>', 'format output using a Go template or json')
    .option('--no-trunc', "don't truncate output").option('-n, --last <int>', 'show n last created containers').option('-l, --latest', 'show the latest created container')
    .option('-s, --size', 'display total file sizes')
    .action(act(ctx, (o) => psVerb(ctx, { ...o, noTrunc: o.trunc === false })));

  program.command('logs').description('Fetch the logs of a container')
    .option('-f, --follow', 'follow log output').option('-n, --tail <string>', 'number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'show timestamps').option('--since <string>', 'show logs since timestamp or relative (e.g. 42m)')
    .option('--until <string>', 'show logs before a timestamp or relative').option('--details', 'show extra details provided to logs')
    .argument('<container>')
    .action(act(ctx, (r: string, o) => logsVerb(ctx, r, o)));

  program.command('exec').helpOption('--help').description('Execute a command in a running container')
    .option('-i, --interactive', 'keep STDIN open even if not attached').option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-u, --user <string>', 'username or UID').option('-w, --workdir <string>', 'working directory inside the container')
    .option('-e, --env <list>', 'set environment variables', collect).option('-d, --detach', 'detached mode: run command in the background')
    .option('--privileged', 'give extended privileges to the command').option('--detach-keys <string>', 'override the key sequence for detaching')
    .argument('<container>').argument('<command...>').passThroughOptions()
    .action(act(ctx, (r: string, cmd: string[], o) => execVerb(ctx, r, cmd, o)));

  program.command('attach').description("Attach local standard input, output, and error streams to a running container")
    .option('--no-stdin', 'do not attach STDIN').option('--sig-proxy <bool>', 'proxy all received signals to the process', (v) => v !== 'false')
    .option('--detach-keys <string>', 'override the key sequence for detaching a container')
    .argument('<container>')
    .action(act(ctx, (r: string, o) => attachVerb(ctx, r, o)));

  program.command('inspect').description('Return low-level information on Docker objects')
    .option('-f, --format <string>', 'format output using a Go template').option('--type <string>', 'only inspect objects of the given type')
    .option('-s, --size', 'display total file sizes if the type is container')
    .argument('<names...>')
    .action(act(ctx, (refs: string[], o) => inspectVerb(ctx, refs, o)));

  program.command('top').description('Display the running processes of a container')
    .argument('<container>').argument('[ps_options...]').passThroughOptions()
    .action(act(ctx, async (r: string, psArgs: string[]) => {
      const t = await ctx.client().json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${ref(r)}/top`, { query: { ps_args: psArgs.join(' ') || undefined } });
      process.stdout.write(table([t.Titles, ...t.Processes]));
    }));

  program.command('cp').description('Copy files/folders between a container and the local filesystem')
    .argument('<src>').argument('<dest>')
    .action(act(ctx, (s: string, d: string) => cpVerb(ctx, s, d)));

  program.command('diff').description("Inspect changes to files or directories on a container's filesystem")
    .argument('<container>')
    .action(act(ctx, async (r: string) => {
      const changes = await ctx.client().json<Array<{ Path: string; Kind: number }> | null>('GET', `/containers/${ref(r)}/changes`);
      for (const ch of changes ?? []) process.stdout.write(`${'CAD'[ch.Kind] ?? '?'} ${ch.Path}\n`);
    }));

  program.command('export').description("Export a container's filesystem as a tar archive")
    .option('-o, --output <string>', 'write to a file, instead of STDOUT').argument('<container>')
    .action(act(ctx, async (r: string, o: { output?: string }) => {
      if (!o.output && process.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
      const body = await ctx.client().stream('GET', `/containers/${ref(r)}/export`);
      await pipeline(body, o.output ? fs.createWriteStream(o.output) : process.stdout);
    }));

  program.command('commit').description("Create a new image from a container's changes")
    .option('-a, --author <string>', 'author').option('-m, --message <string>', 'commit message')
    .option('-c, --change <list>', 'apply Dockerfile instruction to the created image', collect).option('-p, --pause', 'pause container during commit', true)
    .option('--no-pause', 'do not pause the container during commit')
    .argument('<container>').argument('[repository]')
    .action(act(ctx, async (r: string, repoTag: string | undefined, o: { author?: string; message?: string; change?: string[]; pause?: boolean }) => {
      let repo: string | undefined;
      let tag: string | undefined;
      if (repoTag) {
        const i = repoTag.lastIndexOf(':');
        if (i > repoTag.lastIndexOf('/')) { repo = repoTag.slice(0, i); tag = repoTag.slice(i + 1); } else repo = repoTag;
      }
      const p = new URLSearchParams({ container: r });
      if (repo) p.set('repo', repo);
      if (tag) p.set('tag', tag);
      if (o.author) p.set('author', o.author);
      if (o.message) p.set('comment', o.message);
      p.set('pause', o.pause === false ? '0' : '1');
      for (const ch of o.change ?? []) p.append('changes', ch);
      const res = await ctx.client().json<{ Id: string }>('POST', `/commit?${p}`, { body: {} });
      process.stdout.write(`${res.Id}\n`);
    }));

  program.command('wait').description('Block until one or more containers stop, then print their exit codes')
    .argument('<containers...>')
    .action(act(ctx, (ids: string[]) => each(ids, async (r) => {
      const w = await ctx.client().json<{ StatusCode: number }>('POST', `/containers/${ref(r)}/wait`);
      process.stdout.write(`${w.StatusCode}\n`);
    }, false)));

  program.command('rename').description('Rename a container')
    .argument('<container>').argument('<new_name>')
    .action(act(ctx, async (r: string, name: string) => { await ctx.client().status('POST', `/containers/${ref(r)}/rename`, { query: { name } }); }));

  program.command('update').description('Update configuration of one or more containers')
    .option('-m, --memory <bytes>', 'memory limit').option('--memory-swap <bytes>', 'swap limit').option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <decimal>', 'number of CPUs').option('-c, --cpu-shares <int>', 'CPU shares').option('--cpuset-cpus <string>', 'CPUs in which to allow execution')
    .option('--cpu-quota <int>', 'limit CPU CFS quota').option('--cpu-period <int>', 'limit CPU CFS period').option('--pids-limit <int>', 'tune container pids limit')
    .option('--blkio-weight <int>', 'block IO weight').option('--restart <string>', 'restart policy')
    .argument('<containers...>')
    .action(act(ctx, async (ids: string[], o: Json) => {
      const body = updateBody(o);
      const warnings: string[] = [];
      const code = await each(ids, async (r) => {
        const res = await ctx.client().json<{ Warnings?: string[] }>('POST', `/containers/${ref(r)}/update`, { body });
        warnings.push(...(res?.Warnings ?? []));
      });
      for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
      return code;
    }));

  program.command('port').description('List port mappings or a specific mapping for the container')
    .argument('<container>').argument('[private_port]')
    .action(act(ctx, async (r: string, want: string | undefined) => {
      const info = await ctx.client().json<Json>('GET', `/containers/${ref(r)}/json`);
      const ports = (info.NetworkSettings?.Ports ?? {}) as Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
      const key = want && !want.includes('/') ? `${want}/tcp` : want;
      if (key && !(key in ports)) throw new StatusError(1, `Error: No public port '${key}' published for ${r}`);
      for (const [p, binds] of Object.entries(ports).sort()) {
        if (key && p !== key) continue;
        for (const b of binds ?? []) process.stdout.write(key ? `${b.HostIp || '0.0.0.0'}:${b.HostPort}\n` : `${p} -> ${b.HostIp || '0.0.0.0'}:${b.HostPort}\n`);
      }
    }));

  const container = program.command('container').description('Manage containers');
  container.command('prune').description('Remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation').option('--filter <filter>', 'provide filter values (e.g. "until=<timestamp>")', collect)
    .action(act(ctx, async (o: { filter?: string[] }) => {
      const r = await ctx.client().json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/containers/prune', { query: { filters: filtersJson(o.filter) } });
      if (r.ContainersDeleted?.length) process.stdout.write(`Deleted Containers:\n${r.ContainersDeleted.join('\n')}\n\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
    }));
  container.command('ls').alias('list').description('List containers')
    .option('-a, --all', 'show all containers').option('-q, --quiet', 'only display container IDs')
    .option('-f, --filter <filter>', 'filter output', collect).option('--format <string>', 'format output').option('--no-trunc', "don't truncate output")
    .action(act(ctx, (o) => psVerb(ctx, { ...o, noTrunc: o.trunc === false })));
}

