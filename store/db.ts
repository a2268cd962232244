// Open the SQLite database (WAL, foreign keys) and bring its schema up to date.
import Database from 'better-sqlite3';
import { migrations as defaultMigrations, type Migration } from './migrations/index.js';

export type DB = Database.Database;

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
