#!/usr/bin/env node
// tsctl: the thin companion CLI of tsd. Every verb is one or a few HTTP calls.
import { TsdClient, resolveSocket, ApiError } from './client.js';
import { Demuxer, type Frame } from '../api/stream/mux.js';

const USAGE = `Usage: tsctl [--host unix:///path] COMMAND

Commands:
  version                  show the client and server versions
  info                     show system-wide information
  ps [-a]                  list containers
  images                   list images
  pull IMAGE               pull an image
  run [--rm] [-d] [--name N] IMAGE [CMD...]
                           run a command in a new container
  logs CONTAINER           print a container's logs
  stop CONTAINER...        stop containers
  rm [-f] CONTAINER...     remove containers

The socket comes from --host, then TSD_HOST, then DOCKER_HOST, then /var/run/tsd.sock.
`;

const CLIENT_VERSION = '0.1.0';

type Verb = (c: TsdClient, args: string[]) => Promise<number | void>;

const pad = (rows: string[][]): string => {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 3))).join('')).join('\n');
};

function flags(args: string[], known: Record<string, 'bool' | 'value'>): { opts: Record<string, string | boolean>; rest: string[] } {
  const opts: Record<string, string | boolean> = {};
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) break;
    const kind = known[a];
    if (!kind) throw new Error(`unknown flag: ${a}`);
    opts[a] = kind === 'bool' ? true : (args[++i] ?? '');
  }
  return { opts, rest: args.slice(i) };
}

/** Demultiplexes an attach stream onto our stdout/stderr. */
function pipeOutput(stream: NodeJS.ReadableStream, tty: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (tty) {
      stream.on('data', (d: Buffer) => process.stdout.write(d));
    } else {
      const demux = new Demuxer();
      demux.on('data', (f: Frame) => (f.stream === 2 ? process.stderr : process.stdout).write(f.payload));
      stream.pipe(demux);
    }
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
    stream.on('error', () => resolve());
  });
}

const verbs: Record<string, Verb> = {
  async version(c) {
    const v = await c.json<Record<string, string>>('GET', '/version');
    console.log(`Client:\n Version:      ${CLIENT_VERSION}\n API version:  1.44\n`);
    console.log(`Server:\n Version:      ${v.Version}\n API version:  ${v.ApiVersion} (minimum version ${v.MinAPIVersion})\n Kernel:       ${v.KernelVersion}\n OS/Arch:      ${v.Os}/${v.Arch}`);
  },
  async info(c) {
    const i = await c.json<Record<string, any>>('GET', '/info');
    console.log([
      `Containers: ${i.Containers}`, ` Running: ${i.ContainersRunning}`, ` Paused: ${i.ContainersPaused}`, ` Stopped: ${i.ContainersStopped}`,
      `Images: ${i.Images}`, `Server Version: ${i.ServerVersion}`, `Storage Driver: ${i.Driver}`, `Cgroup Driver: ${i.CgroupDriver}`,
      `Cgroup Version: ${i.CgroupVersion}`, `Kernel Version: ${i.KernelVersion}`, `Operating System: ${i.OperatingSystem}`,
      `Architecture: ${i.Architecture}`, `CPUs: ${i.NCPU}`, `Total Memory: ${(i.MemTotal / 1024 ** 3).toFixed(2)}GiB`, `Name: ${i.Name}`,
      `ID: ${i.ID}`, `Docker Root Dir: ${i.DockerRootDir}`,
    ].join('\n'));
  },
  async ps(c, args) {
    const { opts } = flags(args, { '-a': 'bool', '--all': 'bool' });
    const list = await c.json<Array<Record<string, any>>>('GET', `/containers/json${opts['-a'] || opts['--all'] ? '?all=1' : ''}`);
    const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'STATUS', 'NAMES']];
    for (const x of list) rows.push([x.Id.slice(0, 12), x.Image, JSON.stringify(x.Command.length > 20 ? x.Command.slice(0, 19) + '…' : x.Command), x.Status, x.Names.map((n: string) => n.slice(1)).join(',')]);
    console.log(pad(rows));
  },
  async images(c) {
    const list = await c.json<Array<Record<string, any>>>('GET', '/images/json');
    const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE']];
    for (const x of list) {
      for (const t of x.RepoTags?.length ? x.RepoTags : ['<none>:<none>']) {
        const i = t.lastIndexOf(':');
        rows.push([t.slice(0, i), t.slice(i + 1), x.Id.replace('sha256:', '').slice(0, 12), `${(x.Size / 1e6).toFixed(2)}MB`]);
      }
    }
    console.log(pad(rows));
  },
  async pull(c, [image]) {
    if (!image) throw new Error('"tsctl pull" requires exactly 1 argument');
    const body = await c.stream('POST', `/images/create?fromImage=${encodeURIComponent(image)}`);
    let failed = '';
    let buf = '';
    for await (const chunk of body) {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const m = JSON.parse(line) as { status?: string; id?: string; error?: string };
        if (m.error) failed = m.error;
        else if (m.status && !m.id) console.log(m.status);
      }
    }
    if (failed) throw new Error(failed);
  },
  async run(c, args) {
    const { opts, rest } = flags(args, { '--rm': 'bool', '-d': 'bool', '--detach': 'bool', '--name': 'value', '-t': 'bool' });
    const [image, ...cmd] = rest;
    if (!image) throw new Error('"tsctl run" requires at least 1 argument');
    const detach = !!(opts['-d'] || opts['--detach']);
    const tty = !!opts['-t'];
    const name = typeof opts['--name'] === 'string' ? `?name=${encodeURIComponent(opts['--name'])}` : '';
    const { Id: id } = await c.json<{ Id: string }>('POST', `/containers/create${name}`, {
      Image: image, Cmd: cmd.length ? cmd : undefined, Tty: tty, AttachStdout: !detach, AttachStderr: !detach,
      HostConfig: { AutoRemove: !!opts['--rm'] },
    });
    if (detach) {
      await c.json('POST', `/containers/${id}/start`);
      console.log(id);
      return 0;
    }
    const sock = await c.upgrade(`/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
    sock.end(); // no stdin
    const output = pipeOutput(sock, tty);
    const wait = c.json<{ StatusCode: number }>('POST', `/containers/${id}/wait?condition=${opts['--rm'] ? 'removed' : 'next-exit'}`);
    await c.json('POST', `/containers/${id}/start`);
    const [r] = await Promise.all([wait, output]);
    return r.StatusCode;
  },
  async logs(c, [ref]) {
    if (!ref) throw new Error('"tsctl logs" requires exactly 1 argument');
    const info = await c.json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${encodeURIComponent(ref)}/json`);
    await pipeOutput(await c.stream('GET', `/containers/${info.Id}/logs?stdout=1&stderr=1`), info.Config.Tty);
  },
  async stop(c, refs) {
    for (const r of refs) {
      await c.json('POST', `/containers/${encodeURIComponent(r)}/stop`);
      console.log(r);
    }
  },
  async rm(c, args) {
    const { opts, rest } = flags(args, { '-f': 'bool', '--force': 'bool' });
    for (const r of rest) {
      await c.json('DELETE', `/containers/${encodeURIComponent(r)}${opts['-f'] || opts['--force'] ? '?force=1' : ''}`);
      console.log(r);
    }
  },
};

export async function run(argv: string[]): Promise<number> {
  let host: string | undefined;
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--host' || a === '-H') host = argv[++i];
    else if (a.startsWith('--host=')) host = a.slice(7);
    else break;
  }
  rest.push(...argv.slice(i));
  const [cmd, ...args] = rest;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 1;
  }
  const verb = verbs[cmd];
  if (!verb) {
    process.stderr.write(`tsctl: unknown command "${cmd}"\n\n${USAGE}`);
    return 1;
  }
  const client = new TsdClient(resolveSocket(host));
  try {
    return (await verb(client, args)) ?? 0;
  } catch (e) {
    if (e instanceof ApiError) process.stderr.write(`Error response from daemon: ${e.message}\n`);
    else if (['ENOENT', 'ECONNREFUSED'].includes((e as NodeJS.ErrnoException).code ?? '') || (e as { cause?: { code?: string } }).cause?.code === 'ENOENT')
      process.stderr.write(`Cannot connect to the tsd daemon at unix://${client.socketPath}. Is the daemon running?\n`);
    else process.stderr.write(`tsctl: ${(e as Error).message}\n`);
    return e instanceof ApiError ? 125 : 1;
  } finally {
    await client.close().catch(() => {});
  }
}

run(process.argv.slice(2)).then((code) => process.exit(code));
