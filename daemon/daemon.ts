// The composition root: opens the store, builds every subsystem, and hands the
// services to the API. Used by main.ts (the process) and nothing else.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { openDatabase, type DB } from '../store/index.js';
import type { DaemonConfig } from './config.js';
import { EventBus } from './events.js';
import { SystemService } from './system.js';
import type { ApiDeps } from '../api/deps.js';
import { createImageService } from '../image/index.js';

export interface Daemon {
  config: DaemonConfig;
  db: DB;
  log: Logger;
  events: EventBus;
  system: SystemService;
  deps: ApiDeps;
  /** Stream responses and sessions register here to be ended at shutdown. */
  onShutdown(fn: () => void | Promise<void>): () => void;
  /** Ends streams and stops subsystems (registered hooks, last registered first). */
  shutdown(): Promise<void>;
  /** Closes the store; after shutdown() and after the API stopped. */
  close(): void;
}

function engineId(dataRoot: string): string {
  const p = path.join(dataRoot, 'engine-id');
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    const id = crypto.randomUUID();
    fs.writeFileSync(p, id + '\n', { mode: 0o600 });
    return id;
  }
}

export async function createDaemon(config: DaemonConfig, log: Logger): Promise<Daemon> {
  for (const d of [config.dataRoot, path.join(config.dataRoot, 'containers'), path.join(config.dataRoot, 'volumes')]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o711 });
  }
  fs.mkdirSync(config.execRoot, { recursive: true, mode: 0o700 });
  const db = openDatabase(path.join(config.dataRoot, 'tsd.db'));
  const events = new EventBus();
  const system = new SystemService(db, config, engineId(config.dataRoot));
  const hooks = new Set<() => void | Promise<void>>();
  const deps: ApiDeps = { config, events, system, onShutdown: (fn) => { hooks.add(fn); return () => { hooks.delete(fn); }; } };
  deps.images = createImageService({ db, dataRoot: config.dataRoot, events, log, insecureRegistries: config.insecureRegistries });

  const daemon: Daemon = {
    config, db, log, events, system, deps,
    onShutdown: deps.onShutdown,
    async shutdown() {
      for (const fn of [...hooks].reverse()) {
        try {
          await fn();
        } catch (err) {
          log.warn({ err }, 'shutdown hook failed');
        }
      }
    },
    close() {
      db.close();
    },
  };
  return daemon;
}
