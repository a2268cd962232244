// Image endpoints: create (pull/import), list, inspect, history, tag, delete,
// prune, push, save (get), load, distribution.
import { parseUntil } from '../translate/network.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalidParameter, notFound, notImplemented } from '../../errors/index.js';
import { decodeRegistryAuth, parsePlatform } from '../../image/index.js';
import type { ImageBackend } from '../../daemon/index.js';
import { commonHeaders } from '../version.js';
import { toDockerHistory, toDockerImageInspect, toDockerImageSummary } from '../translate/image.js';
import { ProgressWriter } from '../stream/progress.js';

import * as qp from '../translate/query.js';

type Q = Record<string, string | string[] | undefined>;
// Go's r.FormValue: the first value of a repeated parameter.
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const many = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function authOf(req: FastifyRequest) {
  const h = req.headers['x-registry-auth'];
  return decodeRegistryAuth(Array.isArray(h) ? h[0] : h);
}

/** Splits "/images/<name>/<verb>" (the name may contain slashes). */
function splitNameVerb(rest: string, verbs: string[]): { name: string; verb: string } | null {
  for (const v of verbs) {
    if (rest.endsWith('/' + v)) return { name: rest.slice(0, -(v.length + 1)), verb: v };
  }
  return null;
}

export default async function imageRoutes(app: FastifyInstance, opts: { images: ImageBackend }): Promise<void> {
  const { images } = opts;

  app.post('/images/create', async (req, reply) => {
    const q = req.query as Q;
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Q;
    const fromImage = one(q.fromImage) ?? one(body.fromImage);
    const fromSrc = one(q.fromSrc);
    if (fromImage) {
      const platform = one(q.platform) ? parsePlatform(one(q.platform)) : undefined;
      const prepared = await images.preparePull(fromImage, one(q.tag) ?? one(body.tag), authOf(req), platform);
      // the client going away leaves the pull; the pull stops when no client is left (dockerd)
      return streamProgress(reply, async (w, signal) => {
        await prepared.run((e) => w.write(e), signal);
      });
    }
    if (fromSrc !== undefined) {
      if (fromSrc !== '-') throw notImplemented('importing from a URL is not supported');
      const repo = one(q.repo);
      const changes = many(q.changes);
      const message = one(q.message);
      const platform = one(q.platform) ? parsePlatform(one(q.platform)) : undefined;
      return streamProgress(reply, async (w) => {
        const id = await images.importTar(req.raw, { repo: repo || undefined, tag: one(q.tag) || undefined, changes, message, platform });
        w.write({ status: id });
      });
    }
    throw invalidParameter('fromImage or fromSrc is required');
  });

  app.get('/images/json', async (req) => {
    const q = req.query as Q;
    const filters = qp.filters(q);
    return images.list({ all: qp.bool(q, 'all'), filters }).map((i) => toDockerImageSummary(i));
  });

  app.post('/images/prune', async (req) => {
    const filters = qp.filters(req.query as Q);
    const r = images.prune(filters, filters.until?.[0] ? parseUntil(filters.until[0]) : null);
    return { ImagesDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.spaceReclaimed };
  });

  app.get('/images/get', async (req, reply) => {
    const names = many((req.query as Q).names).flatMap((n) => n.split(',')).filter(Boolean);
    if (names.length === 0) throw invalidParameter('no images specified');
    return sendTar(reply, images.save(names));
  });

  app.post('/images/load', async (req, reply) => {
    const quiet = qp.bool(req.query as Q, 'quiet');
    return streamProgress(reply, async (w) => {
      const lines = await images.loadArchive(req.raw, quiet ? undefined : (e) => w.write(e));
      for (const l of lines) w.raw({ stream: l + '\n' });
    });
  });

  app.get('/images/search', async () => {
    throw notImplemented('image search is not supported');
  });

  app.get('/images/*', async (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    const nv = splitNameVerb(rest, ['json', 'history', 'get']);
    if (!nv) throw notFound('page not found');
    if (nv.verb === 'json') {
      return toDockerImageInspect(images.resolveImage(nv.name));
    }
    if (nv.verb === 'history') return toDockerHistory(images.history(nv.name));
    return sendTar(reply, images.save([nv.name]));
  });

  app.post('/images/*', async (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    const q = req.query as Q;
    const nv = splitNameVerb(rest, ['tag', 'push']);
    if (!nv) throw notFound('page not found');
    if (nv.verb === 'tag') {
      const repo = one(q.repo);
      if (!repo) throw invalidParameter('repository name must have at least one component');
      images.tag(nv.name, repo, one(q.tag) || undefined);
      return reply.code(201).send();
    }
    const prepared = images.preparePush(nv.name, one(q.tag) || undefined, authOf(req));
    return streamProgress(reply, async (w) => {
      await prepared.run((e) => w.write(e));
    });
  });

  app.delete('/images/*', async (req) => {
    const name = (req.params as { '*': string })['*'];
    const q = req.query as Q;
    return images.remove(name, { force: qp.bool(q, 'force'), noprune: qp.bool(q, 'noprune') });
  });

  app.get('/distribution/*', async (req) => {
    const rest = (req.params as { '*': string })['*'];
    const nv = splitNameVerb(rest, ['json']);
    if (!nv) throw notFound('page not found');
    const d = await images.distribution(nv.name, authOf(req));
    return { Descriptor: d.descriptor, Platforms: d.platforms };
  });
}

/** A progress stream; `signal` aborts when the client goes away before the stream ended. */
async function streamProgress(reply: FastifyReply, fn: (w: ProgressWriter, signal: AbortSignal) => Promise<void>): Promise<void> {
  reply.hijack();
  const gone = new AbortController();
  const res = reply.raw;
  res.once('close', () => { if (!res.writableFinished) gone.abort(); });
  const w = new ProgressWriter(res);
  w.start();
  try {
    await fn(w, gone.signal);
  } catch (e) {
    w.error(e);
  }
  w.end();
}

function sendTar(reply: FastifyReply, tar: NodeJS.ReadableStream): void {
  reply.hijack();
  const res = reply.raw;
  let started = false;
  tar.on('data', (c: Buffer) => {
    if (!started) {
      started = true;
      res.writeHead(200, { ...commonHeaders, 'Content-Type': 'application/x-tar' });
    }
    if (!res.write(c)) {
      tar.pause();
      res.once('drain', () => tar.resume());
    }
  });
  tar.on('end', () => {
    if (!started) res.writeHead(200, { ...commonHeaders, 'Content-Type': 'application/x-tar' });
    res.end();
  });
  tar.on('error', (e: Error) => {
    if (!started) {
      res.writeHead(500, { ...commonHeaders, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: e.message }));
    } else res.destroy(e);
  });
  res.on('close', () => {
    const d = (tar as unknown as { destroy?: () => void }).destroy;
    if (!res.writableFinished && d) d.call(tar);
  });
}
