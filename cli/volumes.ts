// Volume verbs: volume ls, create, rm, inspect, prune.
import type { Command } from 'commander';
import { ApiError, StatusError } from './client.js';
import { act, ref, type Ctx } from './context.js';
import { collect, filtersJson, humanSize, keyValues, printFormatted, table } from './format.js';

type Json = Record<string, any>;

export function registerVolumes(program: Command, ctx: Ctx): void {
  const vol = program.command('volume').description('Manage volumes');

  vol.command('ls').alias('list').description('List volumes')
    .option('-q, --quiet', 'only display volume names').option('-f, --filter <filter>', 'provide filter values', collect).option('--format <string>', 'format output')
    .action(act(ctx, async (o: { quiet?: boolean; filter?: string[]; format?: string }) => {
      const r = await ctx.client().json<{ Volumes: Json[] | null }>('GET', '/volumes', { query: { filters: filtersJson(o.filter) } });
      const rows = (r.Volumes ?? []).map((v) => ({ Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, Scope: v.Scope, Labels: Object.entries(v.Labels ?? {}).map(([k, x]) => `${k}=${x}`).join(',') }));
      if (o.quiet) { for (const x of rows) process.stdout.write(`${x.Name}\n`); return; }
      if (printFormatted(o.format, rows)) return;
      process.stdout.write(table([['DRIVER', 'VOLUME NAME'], ...rows.map((x) => [x.Driver, x.Name])]));
    }));

  vol.command('create').description('Create a volume')
    .option('-d, --driver <string>', 'specify volume driver name', 'local').option('-o, --opt <list>', 'set driver specific options', collect)
    .option('--label <list>', 'set metadata for a volume', collect).argument('[name]')
    .action(act(ctx, async (name: string | undefined, o: { driver: string; opt?: string[]; label?: string[] }) => {
      const v = await ctx.client().json<Json>('POST', '/volumes/create', { body: { Name: name ?? '', Driver: o.driver, DriverOpts: keyValues(o.opt), Labels: keyValues(o.label) } });
      process.stdout.write(`${v.Name}\n`);
    }));

  vol.command('rm').alias('remove').description('Remove one or more volumes')
    .option('-f, --force', 'force the removal of one or more volumes').argument('<volumes...>')
    .action(act(ctx, async (names: string[], o: { force?: boolean }) => {
      const errors: string[] = [];
      for (const n of names) {
        try {
          await ctx.client().status('DELETE', `/volumes/${ref(n)}`, { query: { force: o.force } });
          process.stdout.write(`${n}\n`);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          errors.push(`Error response from daemon: ${e.message}`);
        }
      }
      if (errors.length) throw new StatusError(1, errors.join('\n'));
    }));

  vol.command('inspect').description('Display detailed information on one or more volumes')
    .option('-f, --format <string>', 'format output using a Go template').argument('<volumes...>')
    .action(act(ctx, async (names: string[], o: { format?: string }) => {
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const n of names) {
        try { found.push(await ctx.client().json('GET', `/volumes/${ref(n)}`)); } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          errors.push(`Error response from daemon: get ${n}: no such volume`);
        }
      }
      if (!printFormatted(o.format, found)) process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
      if (errors.length) throw new StatusError(1, errors.join('\n'));
    }));

  vol.command('prune').description('Remove unused local volumes')
    .option('-a, --all', 'remove all unused volumes, not just anonymous ones').option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values', collect)
    .action(act(ctx, async (o: { all?: boolean; filter?: string[] }) => {
      const filters = [...(o.filter ?? []), ...(o.all ? ['all=true'] : [])];
      const r = await ctx.client().json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters: filtersJson(filters) } });
      if (r.VolumesDeleted?.length) process.stdout.write(`Deleted Volumes:\n${r.VolumesDeleted.join('\n')}\n\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
    }));
}
