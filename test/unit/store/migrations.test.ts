import t from 'tap';
import path from 'node:path';
import { openDatabase, migrate, migrations } from '../../../store/index.js';

t.test('versions are unique, increasing from 1 without gaps', async (t) => {
  const v = migrations.map((m) => m.version);
  t.same(v, v.map((_, i) => i + 1));
});

t.test('a fresh database gets every migration, once', async (t) => {
  const db = openDatabase(':memory:');
  t.equal(db.pragma('user_version', { simple: true }), migrations.length);
  t.same(migrate(db), [], 'nothing left to apply');
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  for (const name of ['containers', 'images', 'image_tags', 'image_digests', 'layers', 'image_layers', 'networks', 'endpoints', 'volumes']) {
    t.ok(tables.includes(name), `table ${name}`);
  }
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  db.close();
});

t.test('each migration applies on top of the previous ones', async (t) => {
  for (let i = 1; i <= migrations.length; i++) {
    const db = openDatabase(':memory:', migrations.slice(0, i - 1));
    t.same(migrate(db, migrations.slice(0, i)), [i], `migration ${i}`);
    db.close();
  }
});

t.test('a failing migration rolls back entirely', async (t) => {
  const db = openDatabase(':memory:', []);
  const bad = [...migrations, { version: migrations.length + 1, name: 'bad', sql: 'CREATE TABLE ok_table (x); THIS IS NOT SQL;' }];
  t.throws(() => migrate(db, bad));
  t.equal(db.pragma('user_version', { simple: true }), 0, 'still at version 0');
  t.equal(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('ok_table','containers')").get() as unknown as { n: number } && (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('ok_table','containers')").get() as { n: number }).n, 0);
  db.close();
});

t.test('WAL on a file database; foreign keys enforced', async (t) => {
  const dir = t.testdir({});
  const db = openDatabase(path.join(dir, 'tsd.db'));
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.throws(() => db.prepare("INSERT INTO image_tags (ref, image_id) VALUES ('x', 'sha256:missing')").run(), /FOREIGN KEY/);
  db.close();
});

t.test('a database a newer tsd migrated is refused, not used with a schema this one does not know (a downgrade)', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'tsd.db');
  const db = openDatabase(file);
  db.pragma(`user_version = ${migrations.length + 1}`);
  db.close();
  t.throws(() => openDatabase(file), new RegExp(`schema version ${migrations.length + 1}, this tsd knows versions up to ${migrations.length}`));
  t.throws(() => openDatabase(file, migrations.slice(0, 1)), /knows versions up to 1/, 'likewise for an older set of migrations');
});
