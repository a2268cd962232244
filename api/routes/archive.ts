// GET/HEAD/PUT /containers/{id}/archive: what `docker cp` uses.
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import type { ContainerService } from '../../daemon/containers/service.js';
import { statInRoot, packPath, resolveInRoot } from '../../daemon/containers/archive.js';
import { invalidParameter, notFound } from '../../errors/index.js';
import { startStream } from '../stream/chunked.js';

interface Q { path?: string; noOverwriteDirNonDir?: string; copyUIDGID?: string; [k: string]: string | string[] | undefined }

export async function archiveRoutes(app: FastifyInstance): Promise<void> {
  const containers = app.deps.containers as ContainerService;
  const applyTar = app.deps.applyTar as (input: NodeJS.ReadableStream, dest: string) => Promise<unknown>;

  const header = (stat: object) => Buffer.from(JSON.stringify(stat)).toString('base64');

  app.head<{ Params: { id: string }; Querystring: Q }>('/containers/:id/archive', async (req, reply) => {
    if (!req.query.path) throw invalidParameter('Path cannot be empty');
    const stat = await containers.withRootfs(req.params.id, (root, c) => statInRoot(root, req.query.path!, c.id).stat);
    return reply.header('X-Docker-Container-Path-Stat', header(stat)).code(200).send();
  });

  app.get<{ Params: { id: string }; Querystring: Q }>('/containers/:id/archive', async (req, reply) => {
    if (!req.query.path) throw invalidParameter('Path cannot be empty');
    await containers.withRootfs(req.params.id, async (root, c) => {
      const { abs, stat } = statInRoot(root, req.query.path!, c.id);
      const target = stat.linkTarget && !req.query.path!.endsWith('/.') ? abs : abs;
      const out = startStream(reply, { contentType: 'application/x-tar', headers: { 'X-Docker-Container-Path-Stat': header(stat) } });
      const tar = packPath(target, stat.name === '/' ? '.' : stat.name);
      await new Promise<void>((resolve) => {
        tar.on('data', (d: Buffer) => { if (!out.write(d)) { tar.pause(); out.onDrain(() => tar.resume()); } });
        tar.on('end', () => resolve());
        tar.on('error', () => resolve());
        out.onClose(() => { tar.destroy(); resolve(); });
      });
      out.end();
      app.deps.events.publish('container', 'archive-path', c.id, containers.eventAttrs(c, { path: req.query.path! }), c.config.Image);
    });
  });

  app.put<{ Params: { id: string }; Querystring: Q }>('/containers/:id/archive', async (req, reply) => {
    if (!req.query.path) throw invalidParameter('Path cannot be empty');
    await containers.withRootfs(req.params.id, async (root, c) => {
      if (c.hostConfig.ReadonlyRootfs) throw invalidParameter('container rootfs is marked read-only', 'TSD_ERR_READONLY');
      const dest = resolveInRoot(root, req.query.path!);
      let st: fs.Stats;
      try { st = fs.statSync(dest); } catch { throw notFound(`Could not find the file ${req.query.path} in container ${c.id}`, 'TSD_ERR_NO_SUCH_PATH'); }
      if (!st.isDirectory()) throw invalidParameter(`extraction point is not a directory`);
      await applyTar(req.raw, dest);
      app.deps.events.publish('container', 'extract-to-dir', c.id, containers.eventAttrs(c, { path: req.query.path! }), c.config.Image);
    });
    return reply.code(200).send();
  });
}
