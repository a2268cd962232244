export { openDatabase, migrate, type DB } from './db.js';
export { migrations, type Migration } from './migrations/index.js';
