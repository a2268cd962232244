// Container endpoints (moby api/server/router/container, as the docker CLI and SDKs use them).
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import os from 'node:os';
import { Readable } from 'node:stream';
import { detailsPrefix, isUp, parseTimestampParam, type Container, type ContainerBackend, type ImageBackend } from '../../daemon/index.js';
import type { CgroupMode } from '../../cgroupfs/index.js';
import { fromDockerCreate, validateName, toDockerInspect, toDockerListEntry, validateRestartPolicy, apiBefore } from '../translate/container.js';
import { translateDockerResources } from '../translate/resources.js';
import { toDockerStats, type DockerStats } from '../translate/stats.js';
import { parseFilters } from '../translate/events.js';
import { parseUntil } from '../translate/network.js';
import { startStream } from '../stream/chunked.js';
import { upgradeSocket, hijackContentType, parseDetachKeys, DetachFilter } from '../stream/hijack.js';
import { frame } from '../../wire/index.js';
import { apiVersionOf, commonHeaders, stripVersion } from '../version.js';
import { conflict, invalidParameter, notFound } from '../../errors/index.js';
import { archiveRoutes } from './archive.js';
import * as qp from '../translate/query.js';
import * as B from '../translate/body.js';

interface Q { [k: string]: string | string[] | undefined }

export interface ContainerRoutesOptions {
  containers: ContainerBackend;
  /** for the `ancestor` filter: an image reference resolved to its id */
  images?: Pick<ImageBackend, 'findImage'>;
  cgroupMode?: CgroupMode;
}

export default async function containerRoutes(app: FastifyInstance, opts: ContainerRoutesOptions): Promise<void> {
  const { containers, images } = opts;
  const cgroupMode = opts.cgroupMode ?? 'legacy';

  const sizeOf = (c: Container) => containers.sizes(c);
  // Network name → ID, for the endpoints of containers that are not running.
  const nets = app.deps.networks;
  const networkId = (name: string): string | undefined => {
    try { return nets?.inspect(name).id; } catch { return undefined; }
  };
  const view = (req: { raw: IncomingMessage }) => ({ apiVersion: apiVersionOf(req), networkId });

  app.post<{ Querystring: Q; Body: unknown }>('/containers/create', async (req, reply) => {
    const qname = qp.str(req.query, 'name');
    const name = qname ? validateName(qname) : undefined;
    const create = fromDockerCreate(B.decodeBody(req.body, B.ContainerCreate));
    // moby: HostConfig.Annotations arrived in API 1.43; older clients' are ignored
    if (apiBefore(apiVersionOf(req), '1.43')) create.hostConfig.Annotations = null;
    const { resources, warnings } = translateDockerResources(create.hostConfig, { ncpu: os.availableParallelism(), mode: cgroupMode });
    // dockerd's adaptContainerSettings: a memory limit without a swap limit gets swap = 2 × memory, and inspect says so.
    if (create.hostConfig.Memory > 0 && !create.hostConfig.MemorySwap && resources.memorySwap) create.hostConfig.MemorySwap = resources.memorySwap;
    const r = await containers.create({ name, config: create.config, hostConfig: create.hostConfig, endpointsConfig: create.endpointsConfig, resources });
    return reply.code(201).send({ Id: r.id, Warnings: [...create.warnings, ...warnings, ...r.warnings] });
  });

  app.get<{ Querystring: Q }>('/containers/json', async (req) => {
    const all = qp.bool(req.query, 'all');
    const limit = qp.intOrZero(req.query, 'limit') || -1;
    const size = qp.bool(req.query, 'size');
    const filters = qp.filters(req.query);
    const known = ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'volume', 'network', 'health', 'is-task', 'publish', 'expose', 'isolation'];
    for (const k of Object.keys(filters)) if (!known.includes(k)) throw invalidParameter(`invalid filter '${k}'`);
    for (const s of filters.status ?? []) {
      if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) throw invalidParameter(`invalid filter 'status=${s}'`);
    }
    const publish = portFilter('publish', filters.publish);
    const expose = portFilter('expose', filters.expose);
    let list = containers.list();
    const beforeC = filters.before?.[0] ? containers.get(filters.before[0]) : null;
    const sinceC = filters.since?.[0] ? containers.get(filters.since[0]) : null;
    if (!all && !filters.status?.length && limit <= 0 && !beforeC && !sinceC) list = list.filter((c) => isUp(c.state));
    list = list.filter((c) => {
      if (filters.id?.length && !filters.id.some((v) => c.id.startsWith(v))) return false;
      if (filters.name?.length && !filters.name.some((v) => new RegExp(v.replace(/^\//, '')).test(c.name))) return false;
      if (filters.status?.length && !filters.status.includes(c.state)) return false;
      if (filters.exited?.length && !(c.state === 'exited' && filters.exited.includes(String(c.exitCode)))) return false;
      if (filters.label?.length && !filters.label.every((l) => { const i = l.indexOf('='); return i < 0 ? l in (c.config.Labels ?? {}) : c.config.Labels?.[l.slice(0, i)] === l.slice(i + 1); })) return false;
      if (filters.ancestor?.length && !filters.ancestor.some((a) => ancestorMatches(a, c))) return false;
      if (filters.volume?.length && !filters.volume.some((v) => c.runtime.mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v))) return false;
      if (filters.network?.length && !filters.network.some((n) => n in c.runtime.networks || Object.values(c.runtime.networks).some((e) => e.NetworkID.startsWith(n)))) return false;
      if (filters.health?.length && !filters.health.includes(c.runtime.health?.Status ?? 'none')) return false;
      if (publish && !Object.entries(c.runtime.ports ?? {}).some(([p, b]) => b?.length && publish.has(p))) return false;
      if (expose && !Object.keys(c.config.ExposedPorts ?? {}).some((p) => expose.has(p.includes('/') ? p : `${p}/tcp`))) return false;
      if (beforeC && !(Date.parse(c.createdAt) < Date.parse(beforeC.createdAt))) return false;
      if (sinceC && !(Date.parse(c.createdAt) > Date.parse(sinceC.createdAt))) return false;
      return true;
    });
    if (limit > 0) list = list.slice(0, limit);
    return list.map((c) => toDockerListEntry(c, { ...view(req), ...(size ? { size: sizeOf(c) } : {}) }));
  });

  const ancestorMatches = (a: string, c: Container): boolean => {
    if (c.config.Image === a || c.imageId === a || c.imageId === `sha256:${a}` || c.imageId.startsWith(`sha256:${a}`)) return true;
    const id = images?.findImage(a)?.id;
    return !!id && id === c.imageId;
  };

  app.get<{ Params: { id: string }; Querystring: Q }>('/containers/:id/json', async (req) => {
    const c = containers.get(req.params.id);
    const dir = containers.containerDir(c.id);
    const img = containers.imageOf(c);
    const graphDriver: Record<string, string> = {
      LowerDir: img ? [...img.layerDirs].reverse().join(':') : '',
      MergedDir: `${dir}/rootfs`,
      UpperDir: `${dir}/upper`,
      WorkDir: `${dir}/work`,
    };
    return toDockerInspect(c, { ...view(req), graphDriver, execIds: containers.execs.idsOf(c.id), ...(qp.bool(req.query, 'size') ? { size: sizeOf(c) } : {}) });
  });

  app.post<{ Params: { id: string } }>('/containers/:id/start', async (req, reply) => {
    const changed = await containers.start(req.params.id);
    return reply.code(changed ? 204 : 304).send();
  });

  const stopOpts = (q: Q) => {
    const t = qp.has(q, 't') ? qp.atoi(q, 't') : qp.atoi(q, 'timeout');
    return { signal: qp.str(q, 'signal') || undefined, timeout: t };
  };

  app.post<{ Params: { id: string }; Querystring: Q }>('/containers/:id/stop', async (req, reply) => {
    const changed = await containers.stop(req.params.id, stopOpts(req.query));
    return reply.code(changed ? 204 : 304).send();
  });

  app.post<{ Params: { id: string }; Querystring: Q }>('/containers/:id/restart', async (req, reply) => {
    await containers.restart(req.params.id, stopOpts(req.query));
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string }; Querystring: Q }>('/containers/:id/kill', async (req, reply) => {
    await containers.kill(req.params.id, qp.str(req.query, 'signal') || 'SIGKILL');
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/containers/:id/pause', async (req, reply) => {
    await containers.pause(req.params.id);
    return reply.code(204).send();
  });
  app.post<{ Params: { id: string } }>('/containers/:id/unpause', async (req, reply) => {
    await containers.unpause(req.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string }; Querystring: Q }>('/containers/:id/wait', async (req, reply) => {
    // Validate and register before any byte goes out; then flush headers at once (the CLI waits for them before start).
    const w = containers.wait(req.params.id, qp.str(req.query, 'condition') || 'not-running');
    const s = startStream(reply, { contentType: 'application/json' });
    // The client may go away (docker run -d closes its wait): forget the waiter.
    s.onClose(() => w.cancel());
    const r = await Promise.race([w.result, new Promise<null>((resolve) => s.onClose(() => resolve(null)))]);
    if (!r) return;
    if (!s.closed) {
      s.write(JSON.stringify(r) + '\n');
      s.end();
    }
  });

  // docker rm --link /parent/alias: the name has slashes (the CLI sends /containers//parent/alias)
  app.delete<{ Params: { '*': string }; Querystring: Q }>('/containers/*', async (req, reply) => {
    if (!qp.bool(req.query, 'link')) throw notFound(`No such container: ${req.params['*']}`, 'TSD_ERR_NO_SUCH_CONTAINER');
    await containers.removeLink(req.params['*']);
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string }; Querystring: Q }>('/containers/:id', async (req, reply) => {
    if (qp.bool(req.query, 'link')) {
      await containers.removeLink(req.params.id);
      return reply.code(204).send();
    }
    await containers.remove(req.params.id, { force: qp.bool(req.query, 'force'), volumes: qp.bool(req.query, 'v') });
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string }; Querystring: Q }>('/containers/:id/rename', async (req, reply) => {
    await containers.rename(req.params.id, qp.str(req.query, 'name') ?? '');
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>('/containers/:id/update', async (req) => {
    const body = B.decodeBody(req.body, B.ContainerUpdate);
    const c = containers.get(req.params.id);
    const { resources, warnings } = translateDockerResources(body, { ncpu: os.availableParallelism(), mode: cgroupMode, update: true });
    const rp = body.RestartPolicy ? validateRestartPolicy(body.RestartPolicy, false) : undefined;
    // moby's UpdateContainer: 0 and "" mean unchanged (the CLI sends every field, unset ones as 0); PidsLimit null too.
    const fields: Record<string, unknown> = {};
    for (const k of ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight']) {
      const v = body[k];
      if (v !== undefined && v !== null && v !== 0 && v !== '') fields[k] = v;
    }
    const curSwap = Number(c.hostConfig.MemorySwap ?? 0);
    if (typeof fields.Memory === 'number' && fields.Memory > curSwap && fields.MemorySwap === undefined) {
      throw conflict(`Cannot update container ${c.id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time`);
    }
    const more = await containers.update(c.id, resources, rp, fields);
    return { Warnings: [...warnings, ...more] };
  });

  app.get<{ Params: { id: string }; Querystring: Q }>('/containers/:id/top', async (req) => containers.top(req.params.id, qp.str(req.query, 'ps_args')));

  app.post<{ Params: { id: string }; Querystring: Q }>('/containers/:id/resize', async (req, reply) => {
    const { h, w } = resizeDims(req.query);
    containers.resize(req.params.id, h, w);
    return reply.code(200).send();
  });

  // ---------------------------------------------------------------- stats

  app.get<{ Params: { id: string }; Querystring: Q }>('/containers/:id/stats', async (req, reply) => {
    const stream = qp.boolOr(req.query, 'stream', true);
    const oneShot = qp.bool(req.query, 'one-shot');
    const c0 = containers.get(req.params.id);
    type Cg = NonNullable<ReturnType<ContainerBackend['stats']>['stats']>;
    const sample = (prev: Cg | undefined): { doc: DockerStats | Record<string, unknown>; cur: Cg | undefined } => {
      const { c, stats, networks } = containers.stats(c0.id);
      if (!stats) return { doc: emptyStats(c), cur: undefined };
      return { doc: toDockerStats(stats, prev, { id: c.id, name: `/${c.name}`, networks }), cur: stats };
    };
    if (!stream) {
      let s = sample(undefined);
      if (!oneShot && s.cur) {
        await new Promise((r) => setTimeout(r, 1000));
        s = sample(s.cur);
      }
      return reply.send(s.doc);
    }
    const out = startStream(reply, { contentType: null });
    let prev: Cg | undefined;
    let timer: NodeJS.Timeout | undefined;
    const off = app.deps.onShutdown(() => { if (timer) clearTimeout(timer); out.end(); });
    out.onClose(() => { if (timer) clearTimeout(timer); off(); });
    const tick = () => {
      if (out.closed) return;
      try {
        const s = sample(prev);
        prev = s.cur;
        out.write(JSON.stringify(s.doc) + '\n');
      } catch {
        out.end();
        return;
      }
      timer = setTimeout(tick, 1000);
    };
    tick();
  });

  // ---------------------------------------------------------------- logs

  app.get<{ Params: { id: string }; Querystring: Q }>('/containers/:id/logs', async (req, reply) => {
    const q = req.query;
    const stdout = qp.bool(q, 'stdout'), stderr = qp.bool(q, 'stderr');
    if (!stdout && !stderr) throw invalidParameter('Bad parameters: you must choose at least one stream');
    const since = qp.str(q, 'since'), until = qp.str(q, 'until');
    const ac = new AbortController();
    const { c, entries } = containers.logs(req.params.id, {
      stdout, stderr, follow: qp.bool(q, 'follow'), tail: qp.tail(q),
      since: since ? parseTimestampParam(since) : undefined,
      until: until ? parseTimestampParam(until) : undefined,
      signal: ac.signal,
    });
    const ts = qp.bool(q, 'timestamps');
    const details = qp.bool(q, 'details');
    // moby: raw-stream for a tty (or before 1.42), multiplexed-stream otherwise.
    const out = startStream(reply, { contentType: hijackContentType(!!c.config.Tty, apiVersionOf(req)) });
    const off = app.deps.onShutdown(() => ac.abort());
    out.onClose(() => ac.abort());
    try {
      for await (const e of entries) {
        if (out.closed) break;
        // moby's logstream: "<timestamp> <attrs> <line>" (the attrs and their space even when empty)
        const prefix = `${ts ? `${e.time} ` : ''}${details ? `${detailsPrefix(e.attrs)} ` : ''}`;
        const payload = prefix ? Buffer.concat([Buffer.from(prefix), e.line]) : e.line;
        out.write(c.config.Tty ? payload : frame(e.stream === 'stdout' ? 1 : 2, payload));
      }
    } catch (err) {
      if (!ac.signal.aborted) req.log.warn({ err }, 'log read failed');
    } finally {
      off();
      out.end();
    }
  });

  // ---------------------------------------------------------------- attach (hijacked)

  app.hijack.add('POST', '/containers/:id/attach', (req: IncomingMessage, socket: Duplex, head: Buffer, params, query) => {
    const { c, hub } = containers.attachHub(params.id!);
    const detachKeys = parseDetachKeys(qp.str(query, 'detachKeys'));
    const conn = upgradeSocket(req, socket, head, { tty: c.config.Tty, contentType: hijackContentType(c.config.Tty, stripVersion(req.url ?? '').version) });
    const wantStdin = qp.bool(query, 'stdin');
    let stdin = wantStdin ? conn.stdin : null;
    if (stdin && c.config.Tty) {
      const f = new DetachFilter(detachKeys);
      stdin = stdin.pipe(f);
    }
    const logs = qp.bool(query, 'logs');
    const streamIt = qp.bool(query, 'stream');
    void (async () => {
      if (logs) {
        const { entries } = containers.logs(c.id, { stdout: qp.bool(query, 'stdout'), stderr: qp.bool(query, 'stderr'), follow: false, signal: new AbortController().signal });
        for await (const e of entries) conn.write(e.stream, e.line);
      }
      if (!streamIt) {
        await conn.close();
        return;
      }
      const a = hub.attach(conn, { stdout: qp.bool(query, 'stdout'), stderr: qp.bool(query, 'stderr'), stdin });
      await a.done;
      if (!conn.closed) await conn.close();
    })().catch(() => conn.destroy());
  });

  // dockerode may attach without Upgrade: answer with a raw stream on a plain response.
  app.post<{ Params: { id: string }; Querystring: Q }>('/containers/:id/attach', { preParsing: async (req) => leaveBodyUnread(req.headers['content-length']) }, async (req, reply) => {
    const { c, hub } = containers.attachHub(req.params.id);
    const { rawStreamResponse } = await import('../stream/hijack.js');
    const conn = rawStreamResponse(reply, { tty: c.config.Tty, headers: commonHeaders, parsedBody: {} });
    const a = hub.attach(conn, { stdout: qp.bool(req.query, 'stdout'), stderr: qp.bool(req.query, 'stderr'), stdin: qp.bool(req.query, 'stdin') ? conn.stdin : null });
    await a.done;
    if (!conn.closed) await conn.close();
  });

  // ---------------------------------------------------------------- prune, changes, export

  app.post<{ Querystring: Q }>('/containers/prune', async (req) => {
    const filters = qp.filters(req.query);
    for (const k of Object.keys(filters)) if (!['until', 'label', 'label!'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
    const r = await containers.prune(filters, filters.until?.[0] ? parseUntil(filters.until[0]) : undefined);
    return { ContainersDeleted: r.deleted, SpaceReclaimed: r.reclaimed };
  });

  app.get<{ Params: { id: string } }>('/containers/:id/changes', async (req) => {
    const c = containers.get(req.params.id);
    const raw = containers.changes(c);
    // Mount points the runtime creates (Docker keeps them in an init layer, so its diff never shows them).
    const RUNTIME = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev', '/proc', '/sys', '/dev/shm', '/dev/pts', '/dev/mqueue', '/dev/console']);
    const mountpoints = new Set([...RUNTIME, ...c.runtime.mounts.map((x) => x.Destination)]);
    const kept = raw.filter((e) => !(e.Kind === 1 && mountpoints.has(e.Path)));
    const list = kept.filter((e) => e.Kind !== 0 || !raw.some((x) => x.Path.startsWith(e.Path + '/')) || kept.some((x) => x.Path.startsWith(e.Path + '/')));
    return list.length ? list : null;
  });

  app.get<{ Params: { id: string } }>('/containers/:id/export', async (req, reply: FastifyReply) => {
    await containers.withRootfs(req.params.id, async (root, c) => {
      const tar = containers.exportRootfs(root);
      const out = startStream(reply, { contentType: 'application/x-tar' });
      await new Promise<void>((resolve, reject) => {
        // backpressure: a slow client pauses the walk instead of the rootfs piling up in memory
        tar.on('data', (d: Buffer) => { if (!out.write(d)) { tar.pause(); out.onDrain(() => tar.resume()); } });
        tar.on('end', () => resolve());
        tar.on('error', reject);
        out.onClose(() => { (tar as { destroy?: () => void }).destroy?.(); resolve(); });
      });
      out.end();
      app.deps.events.publish('container', 'export', c.id, containers.eventAttrs(c), c.config.Image);
    });
  });

  await app.register(archiveRoutes, { containers });

  app.post<{ Querystring: Q; Body: Record<string, unknown> }>('/commit', async (req, reply) => {
    const q = req.query;
    const cref = qp.str(q, 'container');
    if (!cref) throw invalidParameter('No container specified');
    const c = containers.get(cref);
    const pause = qp.boolOr(q, 'pause', true);
    const wasRunning = c.state === 'running';
    if (pause && wasRunning) await containers.pause(c.id).catch(() => {});
    try {
      const changes = qp.all(q, 'changes');
      const id = await containers.commit(c, {
        config: (req.body && Object.keys(req.body).length ? B.decodeBody(req.body, B.ContainerConfig) : c.config) as Record<string, unknown>,
        author: qp.str(q, 'author') ?? '', comment: qp.str(q, 'comment') ?? '', repo: qp.str(q, 'repo') || undefined, tag: qp.str(q, 'tag') || undefined, changes,
      });
      app.deps.events.publish('container', 'commit', c.id, containers.eventAttrs(c, { comment: qp.str(q, 'comment') ?? '' }), c.config.Image);
      return reply.code(201).send({ Id: id });
    } finally {
      if (pause && wasRunning) await containers.unpause(c.id).catch(() => {});
    }
  });
}

const ZERO = '0001-01-01T00:00:00Z';
function emptyStats(c: Container): Record<string, unknown> {
  const cpu = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return {
    name: `/${c.name}`, id: c.id, read: ZERO, preread: ZERO, pids_stats: {}, num_procs: 0, storage_stats: {},
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    cpu_stats: cpu, precpu_stats: cpu, memory_stats: {},
  };
}

/**
 * preParsing for routes that read their JSON body (and stdin after it) from
 * req.raw themselves: the parser gets an empty stream, which must claim the
 * declared length or Fastify rejects a plain POST with a body
 * ("Request body size did not match Content-Length", e.g. `docker exec -d`).
 */
function leaveBodyUnread(contentLength: string | undefined): Readable {
  const empty = Readable.from([]) as Readable & { receivedEncodedLength?: number };
  const n = Number(contentLength);
  if (Number.isFinite(n) && n > 0) empty.receivedEncodedLength = n;
  return empty;
}

/** `publish` / `expose` list filters as dockerd reads them: port[-port][/proto], tcp by default. */
function portFilter(key: string, values: string[] | undefined): Set<string> | null {
  if (!values?.length) return null;
  const set = new Set<string>();
  for (const v of values) {
    if (v.includes(':')) throw invalidParameter(`filter for '${key}' should not contain ':': ${v}`);
    const [range = '', proto = 'tcp'] = v.split('/');
    const m = /^(\d+)(?:-(\d+))?$/.exec(range);
    if (!m) throw invalidParameter(`invalid port specification: "${range}"`);
    const start = Number(m[1]);
    const end = m[2] !== undefined ? Number(m[2]) : start;
    if (start > 65535 || end > 65535 || end < start) throw invalidParameter(`invalid port specification: "${range}"`);
    for (let i = start; i <= end; i++) set.add(`${i}/${proto.toLowerCase()}`);
  }
  return set;
}

/** resize ?h=&w= as moby reads them (strconv.Atoi; a 400 for garbage or negatives). */
export function resizeDims(q: Q): { h: number; w: number } {
  const hs = qp.str(q, 'h') ?? '', ws = qp.str(q, 'w') ?? '';
  const h = /^\d+$/.test(hs) ? Number(hs) : NaN, w = /^\d+$/.test(ws) ? Number(ws) : NaN;
  if (!Number.isInteger(h) || !Number.isInteger(w)) throw invalidParameter(`invalid resize height/width: ${hs}/${ws}`);
  return { h, w };
}
