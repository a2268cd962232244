// Data access for named volumes.
import { prepared, type DB } from './db.js';

export interface VolumeRow { name: string; driver: string; labels: Record<string, string>; options: Record<string, string>; createdAt: string }

export class VolumeStore {
  constructor(private readonly db: DB) {}
  insert(v: VolumeRow): void {
    prepared(this.db, 'INSERT INTO volumes (name, driver, labels, options, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(v.name, v.driver, JSON.stringify(v.labels), JSON.stringify(v.options), v.createdAt);
  }
  get(name: string): VolumeRow | undefined {
    const r = prepared(this.db, 'SELECT * FROM volumes WHERE name = ?').get(name) as Record<string, string> | undefined;
    return r && { name: r.name!, driver: r.driver!, labels: JSON.parse(r.labels!), options: JSON.parse(r.options!), createdAt: r.created_at! };
  }
  list(): VolumeRow[] {
    return (prepared(this.db, 'SELECT name FROM volumes ORDER BY name').all() as Array<{ name: string }>).map((r) => this.get(r.name)!);
  }
  delete(name: string): void {
    prepared(this.db, 'DELETE FROM volumes WHERE name = ?').run(name);
  }
}
