// Shared pieces of the docker build tests: writing a context directory, an
// HTTP server on loopback for ADD <url>, and the check that nothing of a build
// is left behind (containers, mounts, layer dirs, temp dirs, processes).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { chainIds } from '../../../image/index.js';
import type { Engine } from '../../clients/helpers.js';

interface Teardownable { teardown(fn: () => unknown): void }

/** A context directory with these files (a value of { link } is a symlink). */
export function contextDir(t: Teardownable, files: Record<string, string | { link: string } | { mode: number; body: string }>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-build-ctx-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, v] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(p, v);
    else if ('link' in v) fs.symlinkSync(v.link, p);
    else fs.writeFileSync(p, v.body, { mode: v.mode });
  }
  return dir;
}

/** Serves `files` on 127.0.0.1 (the daemon fetches ADD URLs itself, from the host). */
export async function fileServer(t: Teardownable, files: Record<string, { body: Buffer | string; lastModified?: string; disposition?: string }>): Promise<{ url: (p: string) => string; hits: () => number }> {
  let hits = 0;
  const srv = http.createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]!];
    hits++;
    if (!f) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('no such file');
      return;
    }
    res.writeHead(200, { 'Content-Length': String(Buffer.byteLength(f.body)), ...(f.lastModified ? { 'Last-Modified': f.lastModified } : {}), ...(f.disposition ? { 'Content-Disposition': f.disposition } : {}) });
    res.end(f.body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const port = (srv.address() as AddressInfo).port;
  return { url: (p) => `http://127.0.0.1:${port}${p}`, hits: () => hits };
}

/**
 * What a tsd build may have left behind: containers, mounts under the daemon's
 * directories, layer dirs no image uses, temp and build dirs, processes whose
 * command line holds `marker`. Empty when clean.
 */
export async function leftovers(e: Engine, marker?: string): Promise<string[]> {
  const d = e.daemon!;
  const out: string[] = [];
  const ps = (await e.ok('docker', ['ps', '-aq'])).split('\n').filter(Boolean);
  if (ps.length) out.push(`containers: ${ps.join(' ')}`);
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(d.dataRoot + '/'));
  if (mounts.length) out.push(`mounts: ${mounts.join(' ')}`);
  const ids = (await e.ok('docker', ['images', '-aq', '--no-trunc'])).split('\n').filter(Boolean);
  const used = new Set<string>();
  for (const id of new Set(ids)) {
    const layers = JSON.parse(await e.ok('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', id])) as string[] | null;
    for (const c of chainIds(layers ?? [])) used.add(c.replace(/^sha256:/, ''));
  }
  const onDisk = fs.readdirSync(path.join(d.dataRoot, 'layers'));
  const orphans = onDisk.filter((l) => !used.has(l));
  if (orphans.length) out.push(`layers no image uses: ${orphans.join(' ')}`);
  for (const sub of ['tmp', 'builder/layers']) {
    const p = path.join(d.dataRoot, sub);
    const left = fs.existsSync(p) ? fs.readdirSync(p) : [];
    if (left.length) out.push(`${sub}: ${left.join(' ')}`);
  }
  const ctx = fs.existsSync(path.join(d.dataRoot, 'builder')) ? fs.readdirSync(path.join(d.dataRoot, 'builder')).filter((n) => n !== 'layers') : [];
  if (ctx.length) out.push(`builder: ${ctx.join(' ')}`);
  const containers = fs.readdirSync(path.join(d.dataRoot, 'containers'));
  if (containers.length) out.push(`container dirs: ${containers.join(' ')}`);
  if (marker) {
    const procs = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
    if (procs.length) out.push(`processes: ${procs.join('; ')}`);
  }
  return out;
}

/** Polls until `fn` returns an empty list (or gives the last list after `ms`). */
export async function settle(fn: () => Promise<string[]>, ms = 10_000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const l = await fn();
    if (!l.length || Date.now() > end) return l;
    await new Promise((r) => setTimeout(r, 200));
  }
}
