// Exec endpoints: create, start (hijacked, plain raw stream, or detached), resize, inspect.
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import type { ContainerBackend, ExecSession, StdioClient } from '../../daemon/index.js';
import { upgradeSocket, rawStreamResponse, readUpgradeBody, hijackContentType, parseDetachKeys, DetachFilter, type HijackedConnection } from '../stream/hijack.js';
import { commonHeaders, stripVersion } from '../version.js';
import { invalidParameter } from '../../errors/index.js';
import * as B from '../translate/body.js';
import { resizeDims } from './containers.js';

interface StartBody { Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }

export default async function execRoutes(app: FastifyInstance, opts: { containers: ContainerBackend }): Promise<void> {
  const { containers } = opts;
  const execs = containers.execs;

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>('/containers/:id/exec', async (req, reply) => {
    const b = B.decodeBody(req.body, B.ExecCreate);
    const cmd = typeof b.Cmd === 'string' ? [b.Cmd] : (b.Cmd as string[] | undefined);
    if (!Array.isArray(cmd) || cmd.length === 0) throw invalidParameter('No exec command specified');
    const id = containers.execCreate(req.params.id, {
      Cmd: cmd, Env: (b.Env as string[] | null) ?? [], WorkingDir: (b.WorkingDir as string) ?? '', User: (b.User as string) ?? '',
      Tty: !!b.Tty, AttachStdin: !!b.AttachStdin, AttachStdout: !!b.AttachStdout, AttachStderr: !!b.AttachStderr,
      Privileged: !!b.Privileged, DetachKeys: (b.DetachKeys as string) ?? '', ConsoleSize: (b.ConsoleSize as [number, number] | null) ?? null,
    });
    return reply.code(201).send({ Id: id });
  });

  /** Runs the exec with `conn` attached; ends the connection after the last output byte. */
  const runAttached = async (s: ExecSession, conn: HijackedConnection, body: StartBody) => {
    if (body.ConsoleSize && body.ConsoleSize[0]) s.config.ConsoleSize = body.ConsoleSize;
    const { hub } = await execs.start(s.id, { tty: body.Tty });
    let stdin = s.config.AttachStdin ? conn.stdin : null;
    if (stdin && s.config.Tty) stdin = stdin.pipe(new DetachFilter(parseDetachKeys(s.config.DetachKeys || null, 'exec')));
    // The hub ends the connection when the output pipes close, which can come
    // before the exit is recorded; the CLI inspects the exec right after the
    // close, so hold the close until ExitCode is known (as dockerd does).
    const client: StdioClient = {
      write: (stream, buf) => conn.write(stream, buf),
      get writableLength() { return conn.writableLength; },
      get closed() { return conn.closed; },
      close: async () => {
        await Promise.race([s.exited, new Promise((r) => setTimeout(r, 5000).unref())]);
        await conn.close();
      },
      onClose: (fn) => conn.onClose(fn),
    };
    const a = hub.attach(client, { stdout: !!s.config.AttachStdout, stderr: !!s.config.AttachStderr, stdin });
    await a.done;
    if (!conn.closed) await conn.close();
  };

  app.hijack.add('POST', '/exec/:id/start', async (req, socket, head, params) => {
    const s = execs.get(params.id!);
    const { body, rest } = await readUpgradeBody(req, socket, head);
    const b = B.decodeBody(body, B.ExecStart) as StartBody;
    if (b.Detach) {
      await execs.start(s.id, {});
      socket.end(`HTTP/1.1 200 OK\r\n${Object.entries(commonHeaders).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: 0\r\n\r\n`);
      return;
    }
    // moby frames the stream by the start request's Tty, not the exec's (a tty exec
    // started with Tty:false gets its pty output in stdout frames).
    const tty = !!b.Tty;
    const conn = upgradeSocket(req, socket, rest, { tty, headers: commonHeaders, bodyConsumed: b, contentType: hijackContentType(tty, stripVersion(req.url ?? '').version) });
    try {
      await runAttached(s, conn, b);
    } catch (err) {
      // The 101 is out: report in-band as dockerd does (text on stdout), then close.
      const msg = Buffer.from(`${(err as Error).message}\r\n`);
      conn.write('stdout', msg);
      await conn.close();
    }
  });

  // Without Upgrade (dockerode, testcontainers): the JSON body may be followed by stdin on an open
  // request, so the body is read here from the stream rather than by the JSON parser.
  app.post<{ Params: { id: string } }>('/exec/:id/start', { preParsing: async (req) => leaveBodyUnread(req.headers['content-length']) }, async (req, reply) => {
    const s = execs.get(req.params.id);
    const conn = rawStreamResponse(reply, { tty: !!s.config.Tty, headers: commonHeaders, bodyInStream: true });
    let b: StartBody;
    try {
      b = B.decodeBody(await conn.body, B.ExecStart) as StartBody;
    } catch {
      conn.destroy();
      return;
    }
    conn.tty = !!b.Tty; // framed by the start request's Tty, as the upgraded variant
    if (b.Detach) {
      await execs.start(s.id, {}).catch(() => {});
      await conn.close();
      return;
    }
    try {
      await runAttached(s, conn, b);
    } catch (err) {
      conn.write('stdout', Buffer.from(`${(err as Error).message}\r\n`));
      await conn.close();
    }
  });

  app.post<{ Params: { id: string }; Querystring: Record<string, string | string[] | undefined> }>('/exec/:id/resize', async (req, reply) => {
    const { h, w } = resizeDims(req.query);
    execs.resize(req.params.id, h, w);
    return reply.code(200).send();
  });

  app.get<{ Params: { id: string } }>('/exec/:id/json', async (req) => {
    const s = execs.get(req.params.id);
    return {
      CanRemove: false,
      ContainerID: s.containerId,
      // moby keeps the parsed key bytes ([]byte): JSON shows them base64-encoded
      DetachKeys: s.config.DetachKeys ? parseDetachKeys(s.config.DetachKeys, 'exec').toString('base64') : '',
      ExitCode: s.exitCode,
      ID: s.id,
      OpenStderr: !!s.config.AttachStderr,
      OpenStdin: !!s.config.AttachStdin,
      OpenStdout: !!s.config.AttachStdout,
      ProcessConfig: { arguments: s.config.Cmd.slice(1), entrypoint: s.config.Cmd[0], privileged: !!s.config.Privileged, tty: !!s.config.Tty, user: s.config.User ?? '' },
      Running: s.running,
      Pid: s.pid,
    };
  });
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
