#!/usr/bin/env node
// tsd: parse flags, take the data-root lock, build the daemon, serve the Docker
// API on the unix socket (or on systemd's socket), shut down cleanly on signals.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { parseConfig, USAGE } from './config.js';
import { createDaemon } from './daemon.js';
import { HolderProtocolError } from './restore/index.js';
import { buildServer, owningRequest } from '../api/index.js';
import { installLastResort } from './last-resort.js';
import { tryLockFile, sdNotify } from '../sys/index.js';

function fail(msg: string): never {
  process.stderr.write(`tsd: ${msg}\n`);
  process.exit(1);
}

/** Is something answering on this unix socket? (A stale file from a crashed daemon is not.) */
function socketInUse(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

function groupId(name: string): number | null {
  try {
    const line = fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === name);
    return line ? Number(line.split(':')[2]) : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseConfig(process.argv.slice(2));
  } catch (e) {
    fail(`${(e as Error).message}\n\n${USAGE}`);
  }
  if (cfg.help) {
    process.stdout.write(USAGE);
    return;
  }
  const log = pino({ level: cfg.logLevel, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
  installLastResort(log, owningRequest);
  if (process.getuid?.() !== 0) log.warn('tsd is not running as root: containers cannot be started');

  fs.mkdirSync(cfg.dataRoot, { recursive: true, mode: 0o711 });
  const lock = tryLockFile(path.join(cfg.dataRoot, 'tsd.lock'));
  if (!lock) {
    let holder = '';
    try { holder = fs.readFileSync(path.join(cfg.dataRoot, 'tsd.lock'), 'utf8').trim(); } catch { /* ignore */ }
    fail(`another tsd daemon is already running with data root ${cfg.dataRoot}${holder ? ` (pid ${holder})` : ''}`);
  }

  // Refuse a busy socket before touching anything (bridge, cgroups, warm inits).
  const listenFds = Number(process.env.LISTEN_FDS ?? 0);
  const activated = listenFds > 0 && Number(process.env.LISTEN_PID) === process.pid;
  if (!activated && fs.existsSync(cfg.host) && (await socketInUse(cfg.host))) fail(`${cfg.host} is in use by another process`);

  // a live-restore holder of another protocol: a clear refusal, not a stack trace
  const daemon = await createDaemon(cfg, log).catch((e: unknown) => (e instanceof HolderProtocolError ? fail(`cannot start: ${e.message}`) : Promise.reject(e)));
  const app = await buildServer(daemon.services, { logger: log.child({ subsystem: 'api' }) });
  await app.ready();
  // Hijacked streams (attach, exec) by their sockets: a container left running by live restore
  // keeps its streams open, and the shutdown must not wait for them (they end with this process).
  const upgraded = new Set<import('node:stream').Duplex>();
  app.server.on('upgrade', (_req, socket: import('node:stream').Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  });

  fs.writeFileSync(path.join(cfg.execRoot, 'tsd.pid'), `${process.pid}\n`);
  if (activated) {
    await new Promise<void>((resolve, reject) => {
      app.server.once('error', reject);
      app.server.listen({ fd: 3 }, () => resolve());
    });
    log.info({ fd: 3 }, 'listening on the socket passed by systemd');
  } else {
    if (fs.existsSync(cfg.host)) {
      if (await socketInUse(cfg.host)) fail(`${cfg.host} is in use by another process`);
      fs.unlinkSync(cfg.host);
    }
    fs.mkdirSync(path.dirname(cfg.host), { recursive: true });
    const oldMask = process.umask(0o117);
    try {
      await app.listen({ path: cfg.host });
    } finally {
      process.umask(oldMask);
    }
    fs.chmodSync(cfg.host, 0o660);
    const gid = groupId(cfg.socketGroup);
    if (gid !== null) fs.chownSync(cfg.host, 0, gid);
    log.info({ socket: cfg.host }, 'API listening');
  }
  // --metrics-addr: the Prometheus metrics on TCP as well (GET /metrics only), as dockerd's flag.
  let metricsServer: http.Server | null = null;
  const metrics = daemon.services.metrics;
  if (cfg.metricsAddr && metrics) {
    const i = cfg.metricsAddr.lastIndexOf(':');
    const host = cfg.metricsAddr.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(cfg.metricsAddr.slice(i + 1));
    metricsServer = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      metrics.render().then(
        (body) => res.writeHead(200, { 'Content-Type': metrics.contentType }).end(body),
        (err) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      metricsServer!.once('error', (err) => reject(new Error(`--metrics-addr ${cfg.metricsAddr}: ${(err as Error).message}`)));
      metricsServer!.listen(port, host, () => resolve());
    }).catch((err) => fail((err as Error).message));
    log.info({ addr: cfg.metricsAddr }, 'metrics listening');
  }
  sdNotify('READY=1');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Keep the event loop alive until the end: some children (warm inits) are unref'd.
    const keepAlive = setInterval(() => {}, 1000);
    log.info({ signal }, 'shutting down');
    sdNotify('STOPPING=1');
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    const closing = app.close(); // stops accepting; waits for in-flight requests
    await daemon.shutdown(); // ends long-lived streams, stops subsystems
    // What is still streaming belongs to containers that keep running (live restore): an exec's or
    // an attach's client loses its stream, as with dockerd's live restore; the process keeps running.
    if (upgraded.size) log.info({ streams: upgraded.size }, 'ending the attach and exec streams of containers left running');
    for (const s of upgraded) s.destroy();
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([closing, new Promise<void>((r) => { grace = setTimeout(() => { app.server.closeAllConnections(); r(); }, 3000); })]);
    clearTimeout(grace);
    await closing;
    daemon.close();
    if (!activated) try { fs.unlinkSync(cfg.host); } catch { /* gone */ }
    try { fs.unlinkSync(path.join(cfg.execRoot, 'tsd.pid')); } catch { /* gone */ }
    lock.release();
    log.info('stopped');
    clearInterval(keepAlive);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`tsd: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
