// Tar writers and readers around layers: packing a directory (a rootfs to
// export, or an overlay upper dir turned back into an OCI layer with whiteouts),
// docker diff over an upper dir, and Dockerfile-like `changes`.
import fs from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { invalidParameter } from '../errors/index.js';
import type { Syscalls } from '../sys/index.js';
import { bytesToPax } from './tar-pax.js';
import { OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX } from './unpack.js';
import type { Change, ImageRunConfig } from './types.js';

const majorOf = (rdev: number): number => Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
const minorOf = (rdev: number): number => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));

const isWhiteoutDev = (st: fs.Stats): boolean => st.isCharacterDevice() && st.rdev === 0;

function xattrsOf(sys: Syscalls | undefined, p: string): Record<string, string> | undefined {
  if (!sys) return undefined;
  let names: string[];
  try {
    names = sys.llistxattr(p);
  } catch {
    return undefined;
  }
  const pax: Record<string, string> = {};
  for (const n of names) {
    if (n.startsWith('trusted.overlay.')) continue;
    if (!/^(security|user|trusted)\./.test(n)) continue;
    const v = sys.lgetxattr(p, n);
    if (v) pax[`SCHILY.xattr.${n}`] = bytesToPax(v);
  }
  return Object.keys(pax).length ? pax : undefined;
}

export interface PackOptions {
  /** turn overlay whiteouts (0/0 char devices, opaque xattrs) into OCI .wh. entries */
  overlayWhiteouts?: boolean;
  sys?: Syscalls;
}

/** Packs `dir` into an uncompressed tar stream (names relative, sorted, numeric owners). */
export function packDir(dir: string, opts: PackOptions = {}): Readable {
  const pack = tar.pack();
  const inodes = new Map<string, string>();
  const entry = (h: Partial<tar.Header> & { name: string; pax?: Record<string, string> }, body?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      pack.entry(h, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  const fileEntry = (h: Partial<tar.Header> & { name: string; pax?: Record<string, string> }, abs: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = pack.entry(h, (err) => (err ? reject(err) : resolve()));
      const rs = fs.createReadStream(abs);
      rs.on('error', reject);
      rs.pipe(w as unknown as NodeJS.WritableStream);
    });

  const walk = async (rel: string): Promise<void> => {
    const absDir = path.join(dir, rel);
    const names = fs.readdirSync(absDir).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(dir, r);
      const st = fs.lstatSync(abs);
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      const pax = xattrsOf(opts.sys, abs);
      if (opts.overlayWhiteouts && isWhiteoutDev(st)) {
        await entry({ name: rel ? `${rel}/${WHITEOUT_PREFIX}${name}` : `${WHITEOUT_PREFIX}${name}`, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: st.mtime });
        continue;
      }
      if (st.isDirectory()) {
        await entry({ ...base, name: r + '/', type: 'directory', pax });
        if (opts.overlayWhiteouts && opts.sys?.lgetxattr(abs, OVERLAY_OPAQUE_XATTR)?.toString() === 'y') {
          await entry({ name: `${r}/${OPAQUE_MARKER}`, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: st.mtime });
        }
        await walk(r);
      } else if (st.isSymbolicLink()) {
        await entry({ ...base, name: r, type: 'symlink', linkname: fs.readlinkSync(abs), pax });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) {
          await entry({ ...base, name: r, type: 'link', linkname: first, pax });
        } else {
          if (st.nlink > 1) inodes.set(key, r);
          await fileEntry({ ...base, name: r, type: 'file', size: st.size, pax }, abs);
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await entry({ ...base, name: r, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: majorOf(st.rdev), devminor: minorOf(st.rdev), pax });
      } else if (st.isFIFO()) {
        await entry({ ...base, name: r, type: 'fifo', pax });
      }
    }
  };
  walk('').then(() => pack.finalize(), (err) => pack.destroy(err as Error));
  return Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
}

/** docker diff: what an overlay upper dir changes relative to its lower dirs. */
export function changes(upperdir: string, lowerdirs: string[]): Change[] {
  const out: Change[] = [];
  const inLower = (rel: string): boolean => lowerdirs.some((l) => fs.lstatSync(path.join(l, rel), { throwIfNoEntry: false }) !== undefined);
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(upperdir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(upperdir, r));
      if (isWhiteoutDev(st)) {
        out.push({ Path: '/' + r, Kind: 2 });
        continue;
      }
      out.push({ Path: '/' + r, Kind: inLower(r) ? 0 : 1 });
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

const splitWords = (s: string): string[] => s.trim().split(/\s+/).filter(Boolean);

function jsonOrShell(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const a = JSON.parse(t) as unknown;
      if (Array.isArray(a) && a.every((x) => typeof x === 'string')) return a as string[];
    } catch { /* shell form */ }
  }
  return ['/bin/sh', '-c', t];
}

function keyValues(rest: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const t = rest.trim();
  if (!t.includes('=') || /^\S+\s/.test(t) && !/^\S+=/.test(t)) {
    const m = /^(\S+)\s+(.*)$/.exec(t);
    if (m) out.push([m[1]!, m[2]!]);
    return out;
  }
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  let x: RegExpExecArray | null;
  while ((x = re.exec(t))) {
    let v = x[2]!;
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([x[1]!, v]);
  }
  return out;
}

/** Applies Dockerfile-like changes (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD). */
export function applyChanges(base: ImageRunConfig, changeList: string[]): ImageRunConfig {
  const c: ImageRunConfig = JSON.parse(JSON.stringify(base ?? {})) as ImageRunConfig;
  for (const line of changeList.flatMap((l) => l.split('\n')).map((l) => l.trim()).filter(Boolean)) {
    const m = /^(\w+)\s*(.*)$/s.exec(line);
    if (!m) throw invalidParameter(`dockerfile parse error line 1: unknown instruction: ${line}`);
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!;
    switch (instr) {
      case 'CMD': c.Cmd = jsonOrShell(rest); break;
      case 'ENTRYPOINT': c.Entrypoint = jsonOrShell(rest); break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(rest)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL': {
        c.Labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(rest)) c.Labels[k] = v;
        break;
      }
      case 'EXPOSE': {
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of splitWords(rest)) c.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        break;
      }
      case 'VOLUME': {
        c.Volumes = { ...(c.Volumes ?? {}) };
        const t = rest.trim();
        const list = t.startsWith('[') ? (JSON.parse(t) as string[]) : splitWords(t);
        for (const v of list) c.Volumes[v] = {};
        break;
      }
      case 'USER': c.User = rest.trim(); break;
      case 'WORKDIR': c.WorkingDir = rest.trim(); break;
      case 'STOPSIGNAL': c.StopSignal = rest.trim(); break;
      case 'ONBUILD': c.OnBuild = [...(c.OnBuild ?? []), rest.trim()]; break;
      default:
        throw invalidParameter(`${instr} is not a valid change command`);
    }
  }
  return c;
}
