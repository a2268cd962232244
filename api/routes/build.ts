// POST /build (dockerd's classic builder: the JSON message stream the docker
// CLI, docker-py, compose and testcontainers parse) and POST /build/prune.
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { BuildCache, BuildOutput, Builder } from '../../builder/index.js';
import { BuildError } from '../../builder/index.js';
import { DaemonError } from '../../errors/index.js';
import { fromDockerCreate } from '../translate/container.js';
import { translateDockerResources } from '../translate/resources.js';
import { auxMessage, errorLine, fromDockerBuildPrune, fromDockerBuildQuery, progressMessage, stderrMessage, streamMessage } from '../translate/build.js';
import { parseFilters } from '../translate/events.js';
import * as qp from '../translate/query.js';
import { parseUntil } from '../translate/network.js';
import { ProgressWriter } from '../stream/progress.js';
import { apiVersionOf } from '../version.js';
import type { CgroupMode } from '../../cgroupfs/index.js';

type Q = Record<string, string | string[] | undefined>;

export interface BuildRoutesOptions { builder: Builder; cache: BuildCache; cgroupMode?: CgroupMode }

export default async function buildRoutes(app: FastifyInstance, opts: BuildRoutesOptions): Promise<void> {
  const { builder, cache } = opts;
  const events = app.deps.events;
  const cgroupMode = opts.cgroupMode ?? 'legacy';

  app.post('/build', async (req, reply) => {
    const q = req.query as Q;
    const t = fromDockerBuildQuery(q, req.headers, apiVersionOf(req));
    // the step containers' HostConfig and limits, validated as docker run's are
    const create = fromDockerCreate({ Image: 'build', Cmd: ['build'], HostConfig: t.hostConfig });
    const { resources, warnings } = translateDockerResources(create.hostConfig, { ncpu: os.availableParallelism(), mode: cgroupMode as 'legacy' });
    const runTemplate = { hostConfig: create.hostConfig, resources, warnings };

    // a client that goes away cancels the build (its RUN is killed, nothing is left)
    const ac = new AbortController();
    const res = reply.raw;
    const onGone = () => { if (!res.writableFinished) ac.abort(); };
    res.on('close', onGone);
    req.raw.socket?.on('close', onGone);
    const offShutdown = app.deps.onShutdown(() => ac.abort());

    let w: ProgressWriter | null = null;
    const quietBuffer: Array<Record<string, unknown>> = [];
    const send = (m: Record<string, unknown>) => {
      if (t.quiet) {
        quietBuffer.push(m);
        return;
      }
      if (!w) {
        reply.hijack();
        w = new ProgressWriter(res);
        res.socket?.setTimeout?.(0);
      }
      w.raw(m);
    };
    const direct = (m: Record<string, unknown>) => {
      if (!w) {
        reply.hijack();
        w = new ProgressWriter(res);
      }
      w.raw(m);
    };
    const text = (b: string | Buffer) => (typeof b === 'string' ? b : b.toString('utf8'));
    const out: BuildOutput = {
      stdout: (b) => send(streamMessage(text(b))),
      stderr: (b) => send(stderrMessage(text(b))),
      aux: (id) => send(auxMessage(id)),
      progress: (m) => send(progressMessage(m)),
    };
    try {
      const r = await builder.build({ ...t.request, context: req.raw, runTemplate }, out, ac.signal);
      if (t.quiet) direct(streamMessage(`${r.imageId}\n`));
      if (!w) {
        reply.hijack();
        w = new ProgressWriter(res);
      }
      (w as ProgressWriter).end();
    } catch (e) {
      if (t.quiet) for (const m of quietBuffer.splice(0)) direct(m);
      if (!w) {
        if (e instanceof DaemonError) throw e;
        throw new BuildError('system', (e as Error).message);
      }
      const code = e instanceof BuildError ? e.exitCode : 0;
      (w as ProgressWriter).raw(errorLine((e as Error).message, code));
      (w as ProgressWriter).end();
    } finally {
      offShutdown();
      res.off('close', onGone);
      req.raw.socket?.off('close', onGone);
    }
  });

  app.post('/build/prune', async (req) => {
    const q = req.query as Q;
    const filters = parseFilters(qp.str(q, 'filters'));
    const o = fromDockerBuildPrune(q, filters, apiVersionOf(req));
    const until = filters.until?.[0] ? parseUntil(filters.until[0]) : null;
    let r;
    try {
      r = cache.prune({ all: o.all, keepStorage: o.keepStorage, until, filters: o.filters });
    } catch (e) {
      if (e instanceof DaemonError) throw e;
      throw new BuildError('invalid-parameter', (e as Error).message);
    }
    events.publish('builder', 'prune', '', { reclaimed: String(r.reclaimed) });
    return { CachesDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.reclaimed };
  });
}

/** The build cache of GET /system/df and its total size. */
export function toDockerBuildCache(cache: BuildCache): { BuildCache: Array<Record<string, unknown>>; BuilderSize: number } {
  const usage = cache.usage();
  return {
    BuildCache: usage.map((u) => ({
      ID: u.id,
      Parent: u.parent,
      Parents: u.parent ? [u.parent] : null,
      Type: u.type,
      Description: u.description,
      InUse: u.inUse,
      Shared: u.shared,
      Size: u.size,
      CreatedAt: new Date(u.createdAt).toISOString(),
      LastUsedAt: new Date(u.lastUsedAt).toISOString(),
      UsageCount: u.usageCount,
    })),
    BuilderSize: usage.reduce((n, u) => n + u.size, 0),
  };
}
