// `npm run bench`: runs every benchmark in bench/ one after the other.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
for (const f of fs.readdirSync(here).filter((n) => n.endsWith('.js') && n !== 'run.js').sort()) {
  console.log(`\n== ${f}`);
  spawnSync(process.execPath, [path.join(here, f)], { stdio: 'inherit' });
}
