// System verbs: version, info, events, system df, system prune (and system info/events).
import type { Command } from 'commander';
import { act, type Ctx } from './context.js';
import { collect, filtersJson, humanSize, printFormatted, table } from './format.js';
import { toUnix } from './containers.js';
import { jsonLines } from './stream.js';

type Json = Record<string, any>;

const CLIENT_VERSION = '0.1.0';

async function versionVerb(ctx: Ctx, o: { format?: string }): Promise<void> {
  const client = { Version: CLIENT_VERSION, ApiVersion: '1.44', Os: process.platform, Arch: process.arch === 'x64' ? 'amd64' : process.arch, GoVersion: `node ${process.version}` };
  let server: Json | null = null;
  let err: unknown;
  try { server = await ctx.client().json<Json>('GET', '/version'); } catch (e) { err = e; }
  if (printFormatted(o.format, [{ Client: client, Server: server }])) {
    if (err) throw err;
    return;
  }
  process.stdout.write(`Client:\n Version:           ${client.Version}\n API version:       ${client.ApiVersion}\n Node version:      ${process.version}\n OS/Arch:           ${client.Os}/${client.Arch}\n`);
  if (err) throw err;
  const s = server!;
  process.stdout.write(`\nServer:\n Engine:\n  Version:          ${s.Version}\n  API version:      ${s.ApiVersion} (minimum version ${s.MinAPIVersion})\n  OS/Arch:          ${s.Os}/${s.Arch}\n  Kernel Version:   ${s.KernelVersion}\n`);
}

async function infoVerb(ctx: Ctx, o: { format?: string }): Promise<void> {
  const i = await ctx.client().json<Json>('GET', '/info');
  if (printFormatted(o.format, [i])) return;
  process.stdout.write([
    'Client:', ` Version:    ${CLIENT_VERSION}`, '', 'Server:',
    ` Containers: ${i.Containers}`, `  Running: ${i.ContainersRunning}`, `  Paused: ${i.ContainersPaused}`, `  Stopped: ${i.ContainersStopped}`,
    ` Images: ${i.Images}`, ` Server Version: ${i.ServerVersion}`, ` Storage Driver: ${i.Driver}`, ` Logging Driver: ${i.LoggingDriver}`,
    ` Cgroup Driver: ${i.CgroupDriver}`, ` Cgroup Version: ${i.CgroupVersion}`, ` Security Options:`, ...(i.SecurityOptions ?? []).map((s: string) => `  ${s.replace(/^name=/, '').replace(/,.*$/, '')}`),
    ` Kernel Version: ${i.KernelVersion}`, ` Operating System: ${i.OperatingSystem}`, ` OSType: ${i.OSType}`, ` Architecture: ${i.Architecture}`,
    ` CPUs: ${i.NCPU}`, ` Total Memory: ${(i.MemTotal / 1024 ** 3).toFixed(2)}GiB`, ` Name: ${i.Name}`, ` ID: ${i.ID}`, ` Docker Root Dir: ${i.DockerRootDir}`,
    ` Debug Mode: ${!!i.Debug}`, ` Live Restore Enabled: ${!!i.LiveRestoreEnabled}`, '',
  ].join('\n'));
  for (const w of i.Warnings ?? []) process.stderr.write(`${w}\n`);
}

/** docker events' line: "2024-05-01T10:00:00.123456789Z container start <id> (image=busybox, name=x)". */
export function eventLine(e: Json): string {
  const ns = BigInt(e.timeNano ?? e.time * 1e9);
  const secs = Number(ns / 1_000_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  const when = new Date(secs * 1000).toISOString().replace(/\.\d+Z$/, `.${frac}Z`);
  const attrs = Object.entries(e.Actor?.Attributes ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(', ');
  return `${when} ${e.Type} ${e.Action} ${e.Actor?.ID ?? ''}${attrs ? ` (${attrs})` : ''}`;
}

async function eventsVerb(ctx: Ctx, o: { since?: string; until?: string; filter?: string[]; format?: string }): Promise<void> {
  const body = await ctx.client().stream('GET', '/events', { query: { since: o.since && toUnix(o.since), until: o.until && toUnix(o.until), filters: filtersJson(o.filter) } });
  const stop = () => body.destroy();
  process.once('SIGINT', stop);
  try {
    for await (const e of jsonLines<Json>(body)) {
      if (!printFormatted(o.format, [e])) process.stdout.write(`${eventLine(e)}\n`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE' && !body.destroyed) throw err;
  } finally {
    process.off('SIGINT', stop);
  }
}

async function dfVerb(ctx: Ctx, o: { verbose?: boolean; format?: string }): Promise<void> {
  const df = await ctx.client().json<Json>('GET', '/system/df');
  const images = (df.Images ?? []) as Json[];
  const containers = (df.Containers ?? []) as Json[];
  const volumes = (df.Volumes ?? []) as Json[];
  const imgSize = images.reduce((a, i) => a + (i.Size ?? 0), 0);
  const imgActive = images.filter((i) => (i.Containers ?? 0) > 0);
  const imgReclaim = images.filter((i) => !(i.Containers > 0)).reduce((a, i) => a + (i.Size ?? 0), 0);
  const ctSize = containers.reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const ctActive = containers.filter((c) => c.State === 'running');
  const ctReclaim = containers.filter((c) => c.State !== 'running').reduce((a, c) => a + (c.SizeRw ?? 0), 0);
  const volSize = volumes.reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const volActive = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0);
  const volReclaim = volumes.filter((v) => !(v.UsageData?.RefCount > 0)).reduce((a, v) => a + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const pct = (part: number, all: number) => (all > 0 ? ` (${Math.round((part / all) * 100)}%)` : '');
  const rows = [
    { Type: 'Images', TotalCount: images.length, Active: imgActive.length, Size: humanSize(imgSize), Reclaimable: `${humanSize(imgReclaim)}${pct(imgReclaim, imgSize)}` },
    { Type: 'Containers', TotalCount: containers.length, Active: ctActive.length, Size: humanSize(ctSize), Reclaimable: `${humanSize(ctReclaim)}${pct(ctReclaim, ctSize)}` },
    { Type: 'Local Volumes', TotalCount: volumes.length, Active: volActive.length, Size: humanSize(volSize), Reclaimable: `${humanSize(volReclaim)}${pct(volReclaim, volSize)}` },
    { Type: 'Build Cache', TotalCount: 0, Active: 0, Size: '0B', Reclaimable: '0B' },
  ];
  if (printFormatted(o.format, rows)) return;
  process.stdout.write(table([['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], ...rows.map((r) => [r.Type, String(r.TotalCount), String(r.Active), r.Size, r.Reclaimable])]));
}

async function pruneVerb(ctx: Ctx, o: { all?: boolean; volumes?: boolean; filter?: string[] }): Promise<void> {
  const c = ctx.client();
  const filters = filtersJson(o.filter);
  let reclaimed = 0;
  const ct = await c.json<Json>('POST', '/containers/prune', { query: { filters } });
  reclaimed += ct.SpaceReclaimed ?? 0;
  if (ct.ContainersDeleted?.length) process.stdout.write(`Deleted Containers:\n${ct.ContainersDeleted.join('\n')}\n\n`);
  const nw = await c.json<Json>('POST', '/networks/prune', { query: { filters } });
  if (nw.NetworksDeleted?.length) process.stdout.write(`Deleted Networks:\n${nw.NetworksDeleted.join('\n')}\n\n`);
  if (o.volumes) {
    const vl = await c.json<Json>('POST', '/volumes/prune', { query: { filters } });
    reclaimed += vl.SpaceReclaimed ?? 0;
    if (vl.VolumesDeleted?.length) process.stdout.write(`Deleted Volumes:\n${vl.VolumesDeleted.join('\n')}\n\n`);
  }
  const imgFilters = filtersJson([...(o.filter ?? []), ...(o.all ? ['dangling=false'] : [])]);
  const im = await c.json<Json>('POST', '/images/prune', { query: { filters: imgFilters } });
  reclaimed += im.SpaceReclaimed ?? 0;
  if (im.ImagesDeleted?.length) {
    process.stdout.write('Deleted Images:\n');
    for (const x of im.ImagesDeleted) process.stdout.write(x.Untagged ? `untagged: ${x.Untagged}\n` : `deleted: ${x.Deleted}\n`);
    process.stdout.write('\n');
  }
  process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
}

export function registerSystem(program: Command, ctx: Ctx): void {
  program.command('version').description('Show the tsd version information').option('-f, --format <string>', 'format output using a Go template')
    .action(act(ctx, (o) => versionVerb(ctx, o)));
  const infoCmd = (cmd: Command) => cmd.option('-f, --format <string>', 'format output using a Go template').action(act(ctx, (o) => infoVerb(ctx, o)));
  infoCmd(program.command('info').description('Display system-wide information'));
  const eventsCmd = (cmd: Command) => cmd
    .option('--since <string>', 'show all events created since timestamp').option('--until <string>', 'stream events until this timestamp')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect).option('--format <string>', 'format output using a Go template')
    .action(act(ctx, (o) => eventsVerb(ctx, o)));
  eventsCmd(program.command('events').description('Get real time events from the server'));

  const system = program.command('system').description('Manage tsd');
  system.command('df').description('Show docker disk usage').option('-v, --verbose', 'show detailed information on space usage').option('--format <string>', 'format output')
    .action(act(ctx, (o) => dfVerb(ctx, o)));
  system.command('prune').description('Remove unused data')
    .option('-a, --all', 'remove all unused images not just dangling ones').option('-f, --force', 'do not prompt for confirmation')
    .option('--volumes', 'prune anonymous volumes').option('--filter <filter>', 'provide filter values', collect)
    .action(act(ctx, (o) => pruneVerb(ctx, o)));
  infoCmd(system.command('info').description('Display system-wide information'));
  eventsCmd(system.command('events').description('Get real time events from the server'));
}
