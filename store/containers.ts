// Data access for containers: rows in, domain records out. No policy here.
import type { Statement } from 'better-sqlite3';
import type { DB } from './db.js';

export interface ContainerRow {
  id: string;
  name: string;
  imageId: string;
  imageRef: string;
  createdAt: string;
  state: string;
  pid: number;
  pidStart: string;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  config: unknown;
  hostConfig: unknown;
  runtime: unknown;
  /** the top layer of its image (chain ID) when it was created: held for the container's life; null for an image without layers */
  layer?: string | null;
}

interface RawRow {
  id: string; name: string; image_id: string; image_ref: string; created_at: string; state: string; pid: number; pid_start: string;
  exit_code: number; oom_killed: number; error: string; started_at: string; finished_at: string; restart_count: number;
  config: string; host_config: string; runtime: string; layer: string | null;
}

const fromRaw = (r: RawRow): ContainerRow => ({
  id: r.id, name: r.name, imageId: r.image_id, imageRef: r.image_ref, createdAt: r.created_at, state: r.state, pid: r.pid,
  pidStart: r.pid_start, exitCode: r.exit_code, oomKilled: !!r.oom_killed, error: r.error, startedAt: r.started_at,
  finishedAt: r.finished_at, restartCount: r.restart_count, config: JSON.parse(r.config), hostConfig: JSON.parse(r.host_config),
  runtime: JSON.parse(r.runtime), layer: r.layer,
});

/** A row as a probe or an exec reads it: its JSON columns shared and frozen (never to be changed by the reader); no runtime column. */
export type ContainerView = Readonly<Omit<ContainerRow, 'runtime'>>;

/** Freezes `v` and everything in it (a shared parse must not be changed by one of its readers). */
function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** The last parse of one container's config and host_config columns, kept with the text it came from. */
interface SharedParse { configText: string; config: unknown; hostConfigText: string; hostConfig: unknown }

const columns: Record<keyof Omit<ContainerRow, 'id'>, string> = {
  name: 'name', imageId: 'image_id', imageRef: 'image_ref', createdAt: 'created_at', state: 'state', pid: 'pid', pidStart: 'pid_start',
  exitCode: 'exit_code', oomKilled: 'oom_killed', error: 'error', startedAt: 'started_at', finishedAt: 'finished_at',
  restartCount: 'restart_count', config: 'config', hostConfig: 'host_config', runtime: 'runtime', layer: 'layer',
};

const toDb = (k: string, v: unknown): unknown =>
  k === 'config' || k === 'hostConfig' || k === 'runtime' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? 1 : 0) : v;

export class ContainerStore {
  /** prepared statements by SQL text: compiled once, not on every call (a lookup is on every request, probe and exec) */
  private readonly statements = new Map<string, Statement>();
  /** view()'s parses, by id: reused while the column's text is the same (so never stale), dropped with the row */
  private readonly shared = new Map<string, SharedParse>();

  constructor(private readonly db: DB) {}

  private prepare(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      if (this.statements.size >= 256) this.statements.clear(); // update()'s column sets are few; a bound all the same
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  insert(c: ContainerRow): void {
    this.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created_at, state, pid, pid_start, exit_code, oom_killed, error,
      started_at, finished_at, restart_count, config, host_config, runtime, layer) VALUES (@id, @name, @imageId, @imageRef, @createdAt, @state, @pid,
      @pidStart, @exitCode, @oomKilled, @error, @startedAt, @finishedAt, @restartCount, @config, @hostConfig, @runtime, @layer)`).run({
      ...c, layer: c.layer ?? null, oomKilled: c.oomKilled ? 1 : 0, config: JSON.stringify(c.config), hostConfig: JSON.stringify(c.hostConfig), runtime: JSON.stringify(c.runtime),
    });
  }

  update(id: string, fields: Partial<Omit<ContainerRow, 'id'>>): void {
    const keys = Object.keys(fields) as Array<keyof typeof columns>;
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${columns[k]} = @${k}`).join(', ');
    const params: Record<string, unknown> = { id };
    for (const k of keys) params[k] = toDb(k, fields[k]);
    this.prepare(`UPDATE containers SET ${sets} WHERE id = @id`).run(params);
  }

  get(id: string): ContainerRow | undefined {
    const r = this.prepare('SELECT * FROM containers WHERE id = ?').get(id) as RawRow | undefined;
    return r && fromRaw(r);
  }

  /**
   * The row of `id` for readers that only read (a healthcheck probe, an exec): config and
   * host_config are parsed again only when their text changed since the last view, and the
   * objects are shared between views, deep-frozen. The runtime column is not read.
   */
  view(id: string): ContainerView | undefined {
    const r = this.prepare(`SELECT id, name, image_id, image_ref, created_at, state, pid, pid_start, exit_code, oom_killed, error, started_at,
      finished_at, restart_count, config, host_config FROM containers WHERE id = ?`).get(id) as Omit<RawRow, 'runtime'> | undefined;
    if (!r) {
      this.shared.delete(id);
      return undefined;
    }
    let p = this.shared.get(id);
    if (!p) {
      p = { configText: r.config, config: deepFreeze(JSON.parse(r.config)), hostConfigText: r.host_config, hostConfig: deepFreeze(JSON.parse(r.host_config)) };
      this.shared.set(id, p);
    } else {
      if (p.configText !== r.config) { p.configText = r.config; p.config = deepFreeze(JSON.parse(r.config)); }
      if (p.hostConfigText !== r.host_config) { p.hostConfigText = r.host_config; p.hostConfig = deepFreeze(JSON.parse(r.host_config)); }
    }
    return Object.freeze({
      id: r.id, name: r.name, imageId: r.image_id, imageRef: r.image_ref, createdAt: r.created_at, state: r.state, pid: r.pid,
      pidStart: r.pid_start, exitCode: r.exit_code, oomKilled: !!r.oom_killed, error: r.error, startedAt: r.started_at,
      finishedAt: r.finished_at, restartCount: r.restart_count, config: p.config, hostConfig: p.hostConfig,
    });
  }

  /** The state and the runtime column's `health` of `id` (the health log's writer reads no more); undefined: no such row. */
  health(id: string): { state: string; health: unknown } | undefined {
    const r = this.prepare("SELECT state, json_extract(runtime, '$.health') AS health FROM containers WHERE id = ?").get(id) as { state: string; health: string | null } | undefined;
    return r && { state: r.state, health: r.health === null ? undefined : JSON.parse(r.health) };
  }

  /** Sets the runtime column's `health` alone, in one statement (the rest of the column is not rewritten by JavaScript). */
  setHealth(id: string, health: unknown): void {
    this.prepare("UPDATE containers SET runtime = json_set(runtime, '$.health', json(?)) WHERE id = ?").run(JSON.stringify(health), id);
  }

  /** The id of the row with this id or name, reading nothing else (undefined: none). */
  idOf(id: string): string | undefined {
    return (this.prepare('SELECT id FROM containers WHERE id = ?').get(id) as { id: string } | undefined)?.id;
  }

  idByName(name: string): string | undefined {
    return (this.prepare('SELECT id FROM containers WHERE name = ?').get(name) as { id: string } | undefined)?.id;
  }

  byName(name: string): ContainerRow | undefined {
    const r = this.prepare('SELECT * FROM containers WHERE name = ?').get(name) as RawRow | undefined;
    return r && fromRaw(r);
  }

  /** ids starting with `prefix` (at most 2: enough to tell unique from ambiguous). */
  idsByPrefix(prefix: string): string[] {
    return (this.prepare("SELECT id FROM containers WHERE id >= ? AND id < ? || 'g' LIMIT 2").all(prefix, prefix) as Array<{ id: string }>).map((r) => r.id);
  }

  list(): ContainerRow[] {
    return (this.prepare('SELECT * FROM containers ORDER BY created_at DESC, rowid DESC').all() as RawRow[]).map(fromRaw);
  }

  delete(id: string): void {
    this.shared.delete(id);
    this.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }

  usesImage(imageId: string): ContainerRow[] {
    return (this.prepare('SELECT * FROM containers WHERE image_id = ?').all(imageId) as RawRow[]).map(fromRaw);
  }
}
