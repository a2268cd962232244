// Network verbs: network ls, create, rm, inspect, connect, disconnect, prune.
import type { Command } from 'commander';
import { ApiError, StatusError } from './client.js';
import { act, ref, type Ctx } from './context.js';
import { collect, filtersJson, keyValues, printFormatted, shortId, table } from './format.js';

type Json = Record<string, any>;

export function registerNetworks(program: Command, ctx: Ctx): void {
  const net = program.command('network').description('Manage networks');

  net.command('ls').alias('list').description('List networks')
    .option('-q, --quiet', 'only display network IDs').option('-f, --filter <filter>', 'provide filter values', collect)
    .option('--format <string>', 'format output').option('--no-trunc', 'do not truncate the output')
    .action(act(ctx, async (o: { quiet?: boolean; filter?: string[]; format?: string; trunc?: boolean }) => {
      const list = await ctx.client().json<Json[]>('GET', '/networks', { query: { filters: filtersJson(o.filter) } });
      const rows = list.map((n) => ({ ID: o.trunc === false ? n.Id : shortId(n.Id), Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: String(!!n.Internal), Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') }));
      if (o.quiet) { for (const r of rows) process.stdout.write(`${r.ID}\n`); return; }
      if (printFormatted(o.format, rows)) return;
      process.stdout.write(table([['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], ...rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])]));
    }));

  net.command('create').description('Create a network')
    .option('-d, --driver <string>', 'driver to manage the network', 'bridge').option('--subnet <list>', 'subnet in CIDR format', collect)
    .option('--gateway <list>', 'IPv4 gateway for the master subnet', collect).option('--ip-range <list>', 'allocate container ip from a sub-range', collect)
    .option('--internal', 'restrict external access to the network').option('--attachable', 'enable manual container attachment')
    .option('-o, --opt <list>', 'set driver specific options', collect).option('--label <list>', 'set metadata on a network', collect)
    .argument('<name>')
    .action(act(ctx, async (name: string, o: { driver: string; subnet?: string[]; gateway?: string[]; ipRange?: string[]; internal?: boolean; attachable?: boolean; opt?: string[]; label?: string[] }) => {
      const config = (o.subnet ?? []).map((s, i) => ({ Subnet: s, ...(o.gateway?.[i] ? { Gateway: o.gateway[i] } : {}), ...(o.ipRange?.[i] ? { IPRange: o.ipRange[i] } : {}) }));
      const r = await ctx.client().json<{ Id: string }>('POST', '/networks/create', {
        body: { Name: name, Driver: o.driver, Internal: !!o.internal, Attachable: !!o.attachable, Options: keyValues(o.opt), Labels: keyValues(o.label), IPAM: { Driver: 'default', Config: config } },
      });
      process.stdout.write(`${r.Id}\n`);
    }));

  net.command('rm').alias('remove').description('Remove one or more networks')
    .option('-f, --force', 'do not error if the network does not exist').argument('<networks...>')
    .action(act(ctx, async (names: string[], o: { force?: boolean }) => {
      const errors: string[] = [];
      for (const n of names) {
        try {
          await ctx.client().status('DELETE', `/networks/${ref(n)}`);
          process.stdout.write(`${n}\n`);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          if (!(o.force && e.status === 404)) errors.push(`Error response from daemon: ${e.message}`);
        }
      }
      if (errors.length) throw new StatusError(1, errors.join('\n'));
    }));

  net.command('inspect').description('Display detailed information on one or more networks')
    .option('-f, --format <string>', 'format output using a Go template').argument('<networks...>')
    .action(act(ctx, async (names: string[], o: { format?: string }) => {
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const n of names) {
        try { found.push(await ctx.client().json('GET', `/networks/${ref(n)}`)); } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          errors.push(`Error response from daemon: ${e.message}`);
        }
      }
      if (!printFormatted(o.format, found)) process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
      if (errors.length) throw new StatusError(1, errors.join('\n'));
    }));

  net.command('connect').description('Connect a container to a network')
    .option('--alias <list>', 'add network-scoped alias for the container', collect).option('--ip <string>', 'IPv4 address')
    .argument('<network>').argument('<container>')
    .action(act(ctx, async (n: string, c: string, o: { alias?: string[]; ip?: string }) => {
      await ctx.client().status('POST', `/networks/${ref(n)}/connect`, {
        body: { Container: c, EndpointConfig: { ...(o.alias ? { Aliases: o.alias } : {}), ...(o.ip ? { IPAMConfig: { IPv4Address: o.ip } } : {}) } },
      });
    }));

  net.command('disconnect').description('Disconnect a container from a network')
    .option('-f, --force', 'force the container to disconnect from a network').argument('<network>').argument('<container>')
    .action(act(ctx, async (n: string, c: string, o: { force?: boolean }) => {
      await ctx.client().status('POST', `/networks/${ref(n)}/disconnect`, { body: { Container: c, Force: !!o.force } });
    }));

  net.command('prune').description('Remove all unused networks')
    .option('-f, --force', 'do not prompt for confirmation').option('--filter <filter>', 'provide filter values', collect)
    .action(act(ctx, async (o: { filter?: string[] }) => {
      const r = await ctx.client().json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: filtersJson(o.filter) } });
      if (r.NetworksDeleted?.length) process.stdout.write(`Deleted Networks:\n${r.NetworksDeleted.join('\n')}\n`);
    }));
}
