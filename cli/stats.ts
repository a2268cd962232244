// docker stats: a live table redrawn in place (cursor home, clear) twice a second
// from one streaming stats request per container; --no-stream prints one frame.
import type { Command } from 'commander';
import type { Readable } from 'node:stream';
import { ApiError, StatusError } from './client.js';
import { act, ref, type Ctx } from './context.js';
import { bytesSize, compileTemplate, humanSize, shortId, table } from './format.js';
import { jsonLines } from './stream.js';

type Json = Record<string, any>;

export interface StatsRow { ID: string; Container: string; Name: string; CPUPerc: string; MemUsage: string; MemPerc: string; NetIO: string; BlockIO: string; PIDs: string }

/** docker's calculateCPUPercentUnix. */
export function cpuPercent(s: Json): number {
  const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const online = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 0;
  return sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
}

/** docker's calculateMemUsageUnixNoCache. */
function memUsage(s: Json): number {
  const usage = s.memory_stats?.usage ?? 0;
  const st = s.memory_stats?.stats ?? {};
  if (st.total_inactive_file !== undefined && st.total_inactive_file < usage) return usage - st.total_inactive_file;
  if (st.inactive_file !== undefined && st.inactive_file < usage) return usage - st.inactive_file;
  return usage;
}

export function statsRow(id: string, name: string, s: Json | null): StatsRow {
  if (!s) return { ID: shortId(id), Container: shortId(id), Name: name, CPUPerc: '--', MemUsage: '-- / --', MemPerc: '--', NetIO: '--', BlockIO: '--', PIDs: '--' };
  const mem = memUsage(s);
  const limit = s.memory_stats?.limit ?? 0;
  let rx = 0, tx = 0;
  for (const n of Object.values((s.networks ?? {}) as Record<string, Json>)) { rx += n.rx_bytes ?? 0; tx += n.tx_bytes ?? 0; }
  let rd = 0, wr = 0;
  for (const e of (s.blkio_stats?.io_service_bytes_recursive ?? []) as Json[]) {
    const op = String(e.op).toLowerCase();
    if (op === 'read') rd += e.value;
    if (op === 'write') wr += e.value;
  }
  return {
    ID: shortId(id), Container: shortId(id), Name: name,
    CPUPerc: `${cpuPercent(s).toFixed(2)}%`,
    MemUsage: `${bytesSize(mem)} / ${bytesSize(limit)}`,
    MemPerc: `${(limit > 0 ? (mem / limit) * 100 : 0).toFixed(2)}%`,
    NetIO: `${humanSize(rx)} / ${humanSize(tx)}`,
    BlockIO: `${humanSize(rd)} / ${humanSize(wr)}`,
    PIDs: String(s.pids_stats?.current ?? 0),
  };
}

const DEFAULT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

function render(rows: StatsRow[], format: string | undefined): string {
  const t = compileTemplate(format ?? DEFAULT);
  if (!t.table) return rows.map((r) => t.render(r) + '\n').join('');
  const header = format ? t.header! : 'CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS';
  return table([header.split('\t'), ...rows.map((r) => t.render(r).split('\t'))]);
}

interface Watched { id: string; name: string; last: Json | null; body?: Readable; gone: boolean }

async function statsVerb(ctx: Ctx, names: string[], o: { all?: boolean; stream?: boolean; format?: string; noTrunc?: boolean }): Promise<void> {
  const c = ctx.client();
  const live = o.stream !== false;
  const watched = new Map<string, Watched>();
  const resolve = async (): Promise<Array<{ id: string; name: string }>> => {
    if (names.length) {
      const out: Array<{ id: string; name: string }> = [];
      const errors: string[] = [];
      for (const n of names) {
        try {
          const i = await c.json<Json>('GET', `/containers/${ref(n)}/json`);
          out.push({ id: i.Id, name: String(i.Name).replace(/^\//, '') });
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          errors.push(`Error response from daemon: ${e.message}`);
        }
      }
      if (errors.length) throw new StatusError(1, errors.join('\n'));
      return out;
    }
    const list = await c.json<Json[]>('GET', '/containers/json', { query: { all: o.all } });
    return list.map((x) => ({ id: x.Id, name: (x.Names?.[0] ?? '').replace(/^\//, '') }));
  };
  const watch = (id: string, name: string) => {
    if (watched.has(id)) return;
    const w: Watched = { id, name, last: null, gone: false };
    watched.set(id, w);
    void (async () => {
      try {
        w.body = await c.stream('GET', `/containers/${id}/stats`, { query: { stream: live ? 1 : 0 } });
        for await (const s of jsonLines<Json>(w.body)) w.last = s;
        // a live stream ends when the container stops
        if (live && !names.length) w.gone = true;
      } catch {
        w.gone = true; // container gone or interrupted
      }
    })();
  };
  for (const x of await resolve()) watch(x.id, x.name);
  const rows = () => [...watched.values()].filter((w) => !w.gone).map((w) => statsRow(w.id, w.name, w.last));
  if (!live) {
    const deadline = Date.now() + 5000;
    while ([...watched.values()].some((w) => !w.last && !w.gone) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    process.stdout.write(render(rows(), o.format));
    for (const w of watched.values()) w.body?.destroy();
    return;
  }
  const tty = !!process.stdout.isTTY;
  let stopped = false;
  const stop = () => { stopped = true; };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (tty) process.stdout.write('\x1b[2J');
  let tick = 0;
  while (!stopped) {
    if (!names.length && tick % 4 === 0) {
      try { for (const x of await resolve()) watch(x.id, x.name); } catch { /* daemon busy: keep the last list */ }
      for (const [id, w] of watched) if (w.gone) watched.delete(id);
    }
    const frame = render(rows(), o.format);
    // docker's redraw: cursor home, each line cleared to its end, the rest of the screen cleared
    process.stdout.write(tty ? `\x1b[H${frame.replace(/\n/g, '\x1b[K\n')}\x1b[J` : `${frame}\n`);
    if (names.length && [...watched.values()].every((w) => w.gone)) break;
    tick++;
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const w of watched.values()) w.body?.destroy();
}

export function registerStats(program: Command, ctx: Ctx): void {
  program.command('stats').description('Display a live stream of container(s) resource usage statistics')
    .option('-a, --all', 'show all containers (default shows just running)').option('--no-stream', 'disable streaming stats and only pull the first result')
    .option('--format <string>', 'format output using a Go template').option('--no-trunc', 'do not truncate output')
    .argument('[containers...]')
    .action(act(ctx, (names: string[], o) => statsVerb(ctx, names, o)));
}
