#!/usr/bin/env node
// tsctl: the thin companion CLI of tsd. Every verb is one or two HTTP calls.
import { TsdClient, resolveSocket, ApiError } from './client.js';

const USAGE = `Usage: tsctl [--host unix:///path] COMMAND

Commands:
  version     show the client and server versions
  info        show system-wide information

The socket comes from --host, then TSD_HOST, then DOCKER_HOST, then /var/run/tsd.sock.
`;

const CLIENT_VERSION = '0.1.0';

type Verb = (c: TsdClient, args: string[]) => Promise<void>;

const verbs: Record<string, Verb> = {
  async version(c) {
    const v = await c.json<Record<string, string>>('GET', '/version');
    console.log(`Client:\n Version:      ${CLIENT_VERSION}\n API version:  1.44\n`);
    console.log(`Server:\n Version:      ${v.Version}\n API version:  ${v.ApiVersion} (minimum version ${v.MinAPIVersion})\n Kernel:       ${v.KernelVersion}\n OS/Arch:      ${v.Os}/${v.Arch}`);
  },
  async info(c) {
    const i = await c.json<Record<string, any>>('GET', '/info');
    const lines = [
      `Containers: ${i.Containers}`,
      ` Running: ${i.ContainersRunning}`,
      ` Paused: ${i.ContainersPaused}`,
      ` Stopped: ${i.ContainersStopped}`,
      `Images: ${i.Images}`,
      `Server Version: ${i.ServerVersion}`,
      `Storage Driver: ${i.Driver}`,
      `Cgroup Driver: ${i.CgroupDriver}`,
      `Cgroup Version: ${i.CgroupVersion}`,
      `Kernel Version: ${i.KernelVersion}`,
      `Operating System: ${i.OperatingSystem}`,
      `Architecture: ${i.Architecture}`,
      `CPUs: ${i.NCPU}`,
      `Total Memory: ${(i.MemTotal / 1024 ** 3).toFixed(2)}GiB`,
      `Name: ${i.Name}`,
      `ID: ${i.ID}`,
      `Docker Root Dir: ${i.DockerRootDir}`,
    ];
    console.log(lines.join('\n'));
  },
};

export async function run(argv: string[]): Promise<number> {
  let host: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--host' || a === '-H') host = argv[++i];
    else if (a.startsWith('--host=')) host = a.slice(7);
    else rest.push(a);
  }
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
    await verb(client, args);
    return 0;
  } catch (e) {
    if (e instanceof ApiError) process.stderr.write(`Error response from daemon: ${e.message}\n`);
    else if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ECONNREFUSED')
      process.stderr.write(`Cannot connect to the tsd daemon at unix://${client.socketPath}. Is the daemon running?\n`);
    else process.stderr.write(`tsctl: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await client.close();
  }
}

run(process.argv.slice(2)).then((code) => process.exit(code));
