// Tar writers and readers around layers: packing a directory (a rootfs to
// export, or an overlay upper dir turned back into an OCI layer with whiteouts),
// docker diff over an upper dir, and Dockerfile-like `changes`.
import type { Readable } from 'node:stream';
import { invalidParameter } from '../errors/index.js';
import { fsat } from '../sys/index.js';
import { Root, Dir, walk, walkSync, type FileStat, type WalkEntry } from '../rootfs/index.js';
import { bytesToPax } from './tar-pax.js';
import { packStream, type TarWriter } from './tar-pack.js';
import { OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX } from './unpack.js';
import type { Change, ImageRunConfig } from './types.js';

const isWhiteoutDev = (st: FileStat): boolean => st.type === 'char' && st.rdevMajor === 0 && st.rdevMinor === 0;

function xattrsOf(dir: Dir, name: string): Record<string, string> | undefined {
  let names: string[];
  try {
    names = dir.xattrs(name);
  } catch {
    return undefined;
  }
  const pax: Record<string, string> = {};
  for (const n of names) {
    if (n.startsWith('trusted.overlay.')) continue;
    if (!/^(security|user|trusted)\./.test(n)) continue;
    const v = dir.xattr(name, n);
    if (v) pax[`SCHILY.xattr.${n}`] = bytesToPax(v);
  }
  return Object.keys(pax).length ? pax : undefined;
}

export interface PackOptions {
  /** turn overlay whiteouts (0/0 char devices, opaque xattrs) into OCI .wh. entries */
  overlayWhiteouts?: boolean;
  /** read xattrs into PAX records */
  xattrs?: boolean;
  /** enter directories that are mount points (default: no; an export is one filesystem) */
  enterMount?: (e: WalkEntry) => boolean;
}

const mtimeOf = (st: FileStat): Date => new Date(Number(st.mtimeNs / 1_000_000n));

/**
 * Writes the tree below `top` into `w` (names prefixed with `prefix`, sorted,
 * numeric owners, hardlinks kept), walking by fds: whatever a container
 * renames or swaps while this runs, nothing outside `top` is read.
 */
export async function packTree(w: TarWriter, top: Dir, prefix: string, opts: PackOptions = {}): Promise<void> {
  const inodes = new Map<string, string>();
  const name = (rel: string) => (prefix ? `${prefix}/${rel}` : rel);
  await walk(top, '', async (e) => {
    const st = e.stat;
    const r = name(e.rel);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: mtimeOf(st) };
    const pax = opts.xattrs ? xattrsOf(e.parent, e.name) : undefined;
    if (opts.overlayWhiteouts && isWhiteoutDev(st)) {
      const dir = e.rel.includes('/') ? name(e.rel.slice(0, e.rel.lastIndexOf('/'))) : prefix;
      await w.add({ name: dir ? `${dir}/${WHITEOUT_PREFIX}${e.name}` : `${WHITEOUT_PREFIX}${e.name}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: base.mtime });
      return;
    }
    switch (st.type) {
      case 'dir':
        await w.add({ ...base, name: r + '/', type: 'directory', pax });
        if (opts.overlayWhiteouts && e.parent.xattr(e.name, OVERLAY_OPAQUE_XATTR)?.toString() === 'y') {
          await w.add({ name: `${r}/${OPAQUE_MARKER}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: base.mtime });
        }
        return true;
      case 'symlink':
        await w.add({ ...base, name: r, type: 'symlink', linkname: e.parent.readlink(e.name), pax });
        return;
      case 'file': {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) {
          await w.add({ ...base, name: r, type: 'link', linkname: first, pax });
          return;
        }
        const f = e.parent.openFile(e.name);
        if (!f) return; // gone or no longer a file
        try {
          if (st.nlink > 1) inodes.set(key, r);
          await w.addFd({ ...base, name: r, type: 'file', size: f.stat.size, pax }, f.fd);
        } finally {
          fsat.close(f.fd);
        }
        return;
      }
      case 'char':
      case 'block':
        await w.add({ ...base, name: r, type: st.type === 'char' ? 'character-device' : 'block-device', devmajor: st.rdevMajor, devminor: st.rdevMinor, pax });
        return;
      case 'fifo':
        await w.add({ ...base, name: r, type: 'fifo', pax });
        return;
      default:
        return; // sockets are not archived
    }
  }, { enterMount: opts.enterMount ?? (() => false) });
}

/** Packs the directory `dir` (a path of the daemon's, or an open Root) into an uncompressed tar stream. */
export function packDir(dir: string | Root, opts: PackOptions = {}): Readable {
  let top: Dir | null = null;
  return packStream(async (w) => {
    const root = typeof dir === 'string' ? Root.open(dir) : dir;
    try {
      top = root.dir('/');
    } finally {
      if (typeof dir === 'string') root.close();
    }
    await packTree(w, top, '', opts);
  }, () => { top?.close(); });
}

/** docker diff: what an overlay upper dir changes relative to its lower dirs (all walked by fds). */
export function changes(upperdir: string, lowerdirs: string[]): Change[] {
  const out: Change[] = [];
  const lowers = lowerdirs.map((l) => Root.open(l));
  const upper = Root.open(upperdir);
  const top = upper.dir('/');
  try {
    // a lower layer is the daemon's, but looked up as a Root too: a name is never resolved from the host's root
    const inLower = (rel: string): boolean => lowers.some((l) => {
      try {
        return l.statOrNull(rel, false) !== null;
      } catch {
        return false;
      }
    });
    walkSync(top, '', (e) => {
      if (isWhiteoutDev(e.stat)) {
        out.push({ Path: '/' + e.rel, Kind: 2 });
        return;
      }
      out.push({ Path: '/' + e.rel, Kind: inLower(e.rel) ? 0 : 1 });
    });
  } finally {
    top.close();
    upper.close();
    for (const l of lowers) l.close();
  }
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
