// Image verbs: pull, push, images, rmi, tag, save, load, import, history, image prune.
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ApiError, StatusError, UsageError, type TsdClient } from './client.js';
import { act, ref, type Ctx } from './context.js';
import { ago, collect, filtersJson, humanSize, printFormatted, shortId, table } from './format.js';
import { renderProgress } from './progress.js';

type Json = Record<string, any>;

/** An empty auth config: the daemon uses its own credentials or none (loopback registries). */
const AUTH = Buffer.from('{}').toString('base64');

function splitRef(image: string): { name: string; tag?: string; digest?: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { name: image.slice(0, at), digest: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  if (colon > image.lastIndexOf('/')) return { name: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { name: image };
}

/** docker pull's output: "Using default tag", the per-layer progress, the digest, the status, then the reference. */
export async function pullImage(c: TsdClient, image: string, o: { quiet?: boolean; all?: boolean; platform?: string; out?: NodeJS.WriteStream } = {}): Promise<void> {
  const out = o.out ?? process.stdout;
  const r = splitRef(image);
  if (!r.tag && !r.digest && !o.all) {
    r.tag = 'latest';
    if (!o.quiet) out.write('Using default tag: latest\n');
  }
  const body = await c.stream('POST', '/images/create', {
    query: { fromImage: r.name, tag: r.digest ?? r.tag, platform: o.platform },
    headers: { 'X-Registry-Auth': AUTH },
  });
  await renderProgress(body, out, { quiet: o.quiet });
  const full = r.digest ? `${r.name}@${r.digest}` : r.tag ? `${r.name}:${r.tag}` : r.name;
  out.write(`${canonical(full)}\n`);
}

/** docker prints the fully qualified reference at the end of a pull. */
function canonical(ref: string): string {
  const first = ref.split('/')[0]!;
  if (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return ref;
  return `docker.io/${ref.includes('/') ? '' : 'library/'}${ref}`;
}

async function imagesVerb(ctx: Ctx, repo: string | undefined, o: { all?: boolean; quiet?: boolean; digests?: boolean; filter?: string[]; format?: string; noTrunc?: boolean }): Promise<void> {
  const filters = [...(o.filter ?? []), ...(repo ? [`reference=${repo}`] : [])];
  const list = await ctx.client().json<Json[]>('GET', '/images/json', { query: { all: o.all, filters: filtersJson(filters), digests: o.digests } });
  const rows: Json[] = [];
  for (const x of list) {
    const tags: string[] = x.RepoTags?.length ? x.RepoTags : ['<none>:<none>'];
    for (const t of tags) {
      const i = t.lastIndexOf(':');
      rows.push({
        ID: o.noTrunc ? x.Id : shortId(x.Id), Repository: t.slice(0, i), Tag: t.slice(i + 1),
        Digest: (x.RepoDigests?.[0] ?? '<none>').split('@')[1] ?? '<none>',
        CreatedSince: ago(x.Created), CreatedAt: new Date(x.Created * 1000).toISOString(), Size: humanSize(x.Size),
      });
    }
  }
  if (o.quiet) {
    for (const id of new Set(rows.map((r) => r.ID))) process.stdout.write(`${id}\n`);
    return;
  }
  if (printFormatted(o.format, rows)) return;
  const head = ['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
  process.stdout.write(table([head, ...rows.map((r) => [r.Repository, r.Tag, ...(o.digests ? [r.Digest] : []), r.ID, r.CreatedSince, r.Size])]));
}

export function registerImages(program: Command, ctx: Ctx): void {
  program.command('pull').description('Download an image from a registry')
    .option('-a, --all-tags', 'download all tagged images in the repository').option('-q, --quiet', 'suppress verbose output')
    .option('--platform <string>', 'set platform if server is multi-platform capable')
    .argument('<name>')
    .action(act(ctx, async (image: string, o: { allTags?: boolean; quiet?: boolean; platform?: string }) => {
      await pullImage(ctx.client(), image, { quiet: o.quiet, all: o.allTags, platform: o.platform });
    }));

  program.command('push').description('Upload an image to a registry')
    .option('-a, --all-tags', 'push all tags of an image to the repository').option('-q, --quiet', 'suppress verbose output')
    .argument('<name>')
    .action(act(ctx, async (image: string, o: { allTags?: boolean; quiet?: boolean }) => {
      const r = splitRef(image);
      if (!r.tag && !o.allTags) {
        r.tag = 'latest';
        if (!o.quiet) process.stdout.write('Using default tag: latest\n');
      }
      const body = await ctx.client().stream('POST', `/images/${ref(r.name)}/push`, { query: { tag: r.tag }, headers: { 'X-Registry-Auth': AUTH } });
      await renderProgress(body, process.stdout, { quiet: o.quiet });
      if (o.quiet) process.stdout.write(`${r.name}${r.tag ? `:${r.tag}` : ''}\n`);
    }));

  const listCmd = (cmd: Command) => cmd
    .option('-a, --all', 'show all images (default hides intermediate images)').option('-q, --quiet', 'only show image IDs')
    .option('--digests', 'show digests').option('-f, --filter <filter>', 'filter output based on conditions provided', collect)
    .option('--format <string>', 'format output using a Go template or json').option('--no-trunc', "don't truncate output")
    .argument('[repository]')
    .action(act(ctx, (repo: string | undefined, o) => imagesVerb(ctx, repo, { ...o, noTrunc: o.trunc === false })));
  listCmd(program.command('images').description('List images'));

  program.command('rmi').description('Remove one or more images')
    .option('-f, --force', 'force removal of the image').option('--no-prune', 'do not delete untagged parents')
    .argument('<images...>')
    .action(act(ctx, async (refs: string[], o: { force?: boolean; prune?: boolean }) => {
      const errors: string[] = [];
      for (const r of refs) {
        try {
          const res = await ctx.client().json<Array<{ Untagged?: string; Deleted?: string }>>('DELETE', `/images/${ref(r)}`, { query: { force: o.force, noprune: o.prune === false } });
          for (const x of res ?? []) process.stdout.write(x.Untagged ? `Untagged: ${x.Untagged}\n` : `Deleted: ${x.Deleted}\n`);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          errors.push(`Error response from daemon: ${e.message}`);
        }
      }
      if (errors.length) throw new StatusError(1, errors.join('\n'));
    }));

  program.command('tag').description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>').argument('<target>')
    .action(act(ctx, async (src: string, target: string) => {
      const t = splitRef(target);
      if (t.digest) throw new UsageError(`refusing to create a tag with a digest reference`);
      await ctx.client().status('POST', `/images/${ref(src)}/tag`, { query: { repo: t.name, tag: t.tag ?? 'latest' } });
    }));

  program.command('save').description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .option('-o, --output <string>', 'write to a file, instead of STDOUT').argument('<images...>')
    .action(act(ctx, async (refs: string[], o: { output?: string }) => {
      if (!o.output && process.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
      const p = new URLSearchParams();
      for (const r of refs) p.append('names', r);
      const body = await ctx.client().stream('GET', `/images/get?${p}`);
      await pipeline(body, o.output ? fs.createWriteStream(o.output) : process.stdout);
    }));

  program.command('load').description('Load an image from a tar archive or STDIN')
    .option('-i, --input <string>', 'read from tar archive file, instead of STDIN').option('-q, --quiet', 'suppress the load output')
    .action(act(ctx, async (o: { input?: string; quiet?: boolean }) => {
      const input = o.input ? fs.createReadStream(o.input) : process.stdin;
      if (!o.input && process.stdin.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
      const body = await ctx.client().stream('POST', '/images/load', { query: { quiet: o.quiet }, raw: input });
      await renderProgress(body, process.stdout, { quiet: false });
    }));

  program.command('import').description('Import the contents from a tarball to create a filesystem image')
    .option('-c, --change <list>', 'apply Dockerfile instruction to the created image', collect).option('-m, --message <string>', 'set commit message for imported image')
    .option('--platform <string>', 'set platform if server is multi-platform capable')
    .argument('<file>').argument('[repository]')
    .action(act(ctx, async (file: string, repoTag: string | undefined, o: { change?: string[]; message?: string; platform?: string }) => {
      const p = new URLSearchParams({ fromSrc: '-' });
      if (repoTag) {
        const r = splitRef(repoTag);
        p.set('repo', r.name);
        if (r.tag) p.set('tag', r.tag);
      }
      if (o.message) p.set('message', o.message);
      if (o.platform) p.set('platform', o.platform);
      for (const ch of o.change ?? []) p.append('changes', ch);
      const input = file === '-' ? process.stdin : fs.createReadStream(file);
      const body = await ctx.client().stream('POST', `/images/create?${p}`, { raw: input });
      const r = await renderProgress(body, process.stdout, { quiet: true });
      for (const l of r.lines) if (l) process.stdout.write(`${l}\n`);
    }));

  program.command('history').description('Show the history of an image')
    .option('-H, --human <bool>', 'print sizes and dates in human readable format', (v) => v !== 'false', true)
    .option('-q, --quiet', 'only show image IDs').option('--no-trunc', "don't truncate output").option('--format <string>', 'format output')
    .argument('<image>')
    .action(act(ctx, async (image: string, o: { human?: boolean; quiet?: boolean; trunc?: boolean; format?: string }) => {
      const h = await ctx.client().json<Json[]>('GET', `/images/${ref(image)}/history`);
      const rows = h.map((x) => ({
        ID: x.Id === '<missing>' ? '<missing>' : o.trunc === false ? x.Id : shortId(x.Id),
        CreatedSince: o.human === false ? new Date(x.Created * 1000).toISOString() : ago(x.Created),
        CreatedBy: o.trunc === false || (x.CreatedBy ?? '').length <= 45 ? x.CreatedBy ?? '' : `${x.CreatedBy.slice(0, 44)}…`,
        Size: o.human === false ? String(x.Size) : humanSize(x.Size), Comment: x.Comment ?? '',
      }));
      if (o.quiet) { for (const r of rows) process.stdout.write(`${r.ID}\n`); return; }
      if (printFormatted(o.format, rows)) return;
      process.stdout.write(table([['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], ...rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment])]));
    }));

  const image = program.command('image').description('Manage images');
  listCmd(image.command('ls').alias('list').description('List images'));
  image.command('prune').description('Remove unused images')
    .option('-a, --all', 'remove all unused images, not just dangling ones').option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <filter>', 'provide filter values', collect)
    .action(act(ctx, async (o: { all?: boolean; filter?: string[] }) => {
      const filters = [...(o.filter ?? []), ...(o.all ? ['dangling=false'] : [])];
      const r = await ctx.client().json<{ ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }> | null; SpaceReclaimed: number }>('POST', '/images/prune', { query: { filters: filtersJson(filters) } });
      if (r.ImagesDeleted?.length) {
        process.stdout.write('Deleted Images:\n');
        for (const x of r.ImagesDeleted) process.stdout.write(x.Untagged ? `untagged: ${x.Untagged}\n` : `deleted: ${x.Deleted}\n`);
        process.stdout.write('\n');
      }
      process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
    }));
}
