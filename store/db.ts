// Open the SQLite database (WAL, foreign keys) and bring its schema up to date.
import Database from 'better-sqlite3';
import { migrations as defaultMigrations, type Migration } from './migrations/index.js';

export type DB = Database.Database;

const statementCaches = new WeakMap<DB, Map<string, Database.Statement>>();

/**
 * `db.prepare(sql)`, compiled once per database and SQL text: better-sqlite3 compiles
 * on every prepare (a start looked its image up four times, five statements each).
 * For constant SQL only (the texts are the cache's keys, never bounded); the callers
 * use run/get/all, which leave a statement as they found it.
 */
export function prepared(db: DB, sql: string): Database.Statement {
  let cache = statementCaches.get(db);
  if (!cache) statementCaches.set(db, (cache = new Map()));
  let st = cache.get(sql);
  if (!st) cache.set(sql, (st = db.prepare(sql)));
  return st;
}

export function openDatabase(path: string, migrations: Migration[] = defaultMigrations): DB {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

/** Applies every migration newer than `user_version`, all in one transaction. Returns the versions applied. */
export function migrate(db: DB, migrations: Migration[] = defaultMigrations): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  const newest = Math.max(0, ...migrations.map((m) => m.version));
  // A database a newer tsd migrated: this one does not know its schema (a downgrade); refuse, never guess.
  if (current > newest) throw new Error(`the database ${db.name} has schema version ${current}, this tsd knows versions up to ${newest}: it was written by a newer tsd (start that version, or a data root of this one's)`);
  const pending = [...migrations].sort((a, b) => a.version - b.version).filter((m) => m.version > current);
  if (pending.length === 0) return [];
  db.transaction(() => {
    for (const m of pending) {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
  })();
  return pending.map((m) => m.version);
}
