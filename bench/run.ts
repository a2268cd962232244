// `npm run bench [-- --vs unix:///var/run/docker.sock ...]`: issue #16's table
// (bench/compare.ts, which runs bench/network.ts too) with the arguments given;
// with --all, every other benchmark of bench/ after it, one after the other.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== '--all');
const r = spawnSync(process.execPath, [path.join(here, 'compare.js'), ...args], { stdio: 'inherit' });
if (process.argv.includes('--all')) {
  for (const f of fs.readdirSync(here).filter((n) => n.endsWith('.js') && !['run.js', 'compare.js', 'network.js'].includes(n)).sort()) {
    console.log(`\n== ${f}`);
    spawnSync(process.execPath, [path.join(here, f)], { stdio: 'inherit' });
  }
}
process.exitCode = r.status ?? 1;
