// GET/HEAD/PUT /containers/{id}/archive: what `docker cp` uses.
import type { FastifyInstance } from 'fastify';
import { archivePath, extractToDir, pathStat, type ContainerBackend } from '../../daemon/index.js';
import { invalidParameter } from '../../errors/index.js';
import { startStream } from '../stream/chunked.js';

interface Q { path?: string; noOverwriteDirNonDir?: string; copyUIDGID?: string; [k: string]: string | string[] | undefined }

const truthy = (v: string | undefined) => v === '1' || v === 'true' || v === 'True';

export async function archiveRoutes(app: FastifyInstance, opts: { containers: ContainerBackend }): Promise<void> {
  const { containers } = opts;

  const header = (stat: object) => Buffer.from(JSON.stringify(stat)).toString('base64');

  app.head<{ Params: { id: string }; Querystring: Q }>('/containers/:id/archive', async (req, reply) => {
    if (!req.query.path) throw invalidParameter('Path cannot be empty');
    const stat = await containers.withContainerFs(req.params.id, (cfs, c) => pathStat(cfs, req.query.path!, c.id));
    return reply.header('X-Docker-Container-Path-Stat', header(stat)).code(200).send();
  });

  app.get<{ Params: { id: string }; Querystring: Q }>('/containers/:id/archive', async (req, reply) => {
    if (!req.query.path) throw invalidParameter('Path cannot be empty');
    await containers.withContainerFs(req.params.id, async (cfs, c) => {
      const { stat, tar } = archivePath(cfs, req.query.path!, c.id);
      const out = startStream(reply, { contentType: 'application/x-tar', headers: { 'X-Docker-Container-Path-Stat': header(stat) } });
      const ok = await new Promise<boolean>((resolve) => {
        tar.on('data', (d: Buffer) => { if (!out.write(d)) { tar.pause(); out.onDrain(() => tar.resume()); } });
        tar.on('end', () => resolve(true));
        tar.on('error', (err) => {
          app.log.warn({ err, ctr: c.id, path: req.query.path }, 'docker cp: archive failed');
          resolve(false);
        });
        out.onClose(() => { tar.destroy(); resolve(false); });
      });
      // a failed archive must not look complete: cut the connection instead of ending the body
      if (ok) out.end();
      else reply.raw.destroy();
      if (ok) app.deps.events.publish('container', 'archive-path', c.id, containers.eventAttrs(c, { path: req.query.path! }), c.config.Image);
    });
  });

  app.put<{ Params: { id: string }; Querystring: Q }>('/containers/:id/archive', async (req, reply) => {
    if (!req.query.path) throw invalidParameter('Path cannot be empty');
    await containers.withContainerFs(req.params.id, async (cfs, c) => {
      await extractToDir(cfs, req.query.path!, req.raw, {
        containerId: c.id, readonlyRootfs: c.hostConfig.ReadonlyRootfs, noOverwriteDirNonDir: truthy(req.query.noOverwriteDirNonDir),
      });
      app.deps.events.publish('container', 'extract-to-dir', c.id, containers.eventAttrs(c, { path: req.query.path! }), c.config.Image);
    });
    return reply.code(200).send();
  });
}
