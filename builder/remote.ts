// POST /build?remote=: a context the daemon fetches itself (moby's
// builder/remotecontext detect.go, remote.go, git.go):
//
//   git URL   https://…/x.git[#ref[:subdir]], git://…, git@…, github.com/… —
//             cloned (depth 1 where the ref allows it, submodules too) into a
//             directory of the daemon's; the context is the clone (with its
//             .git, as dockerd) or the subdirectory, resolved inside the clone
//   http(s)   a tar archive (plain or compressed) is the context; a text
//             response is the Dockerfile alone (dockerd's text/plain handler)
//
// git runs with only network protocols allowed: a hostile repository's
// submodule pointing at file:///… or ext:: cannot pull host files into the
// context. The clone is packed through rootfs/ (symlinks kept as symlinks).
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { Agent, interceptors, request } from 'undici';
import { Root } from '../rootfs/index.js';
import { packStream, packTree } from '../image/index.js';
import { BuildError } from './types.js';

export interface RemoteContext {
  /** the context as a tar stream (plain or compressed) */
  stream: Readable;
  close(): Promise<void>;
}

const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

/** moby's urlutil.IsGitURL. */
export function isGitUrl(s: string): boolean {
  if (isUrl(s) && /\.git(?:#.+)?$/.test(s)) return true;
  return /^(git:\/\/|github\.com\/|git@)/.test(s);
}

/** The repository, ref and subdirectory of a git URL's fragment (#ref:subdir), as moby's parseRemoteURL. */
export function parseGitUrl(s: string): { repo: string; ref: string; subdir: string } {
  let repo = s;
  if (repo.startsWith('github.com/')) repo = 'https://' + repo;
  let ref = '';
  let subdir = '';
  const hash = repo.indexOf('#');
  if (hash >= 0) {
    const frag = repo.slice(hash + 1);
    repo = repo.slice(0, hash);
    const colon = frag.indexOf(':');
    ref = colon >= 0 ? frag.slice(0, colon) : frag;
    subdir = colon >= 0 ? frag.slice(colon + 1) : '';
  }
  if (ref.startsWith('-')) throw new BuildError('invalid-parameter', `invalid refspec: ${ref}`);
  return { repo, ref, subdir };
}

let agent: ReturnType<Agent['compose']> | null = null;
const client = () => (agent ??= new Agent().compose(interceptors.redirect({ maxRedirections: 10 })));

/** Go's http.DetectContentType, for what dockerd distinguishes: text, or not. */
function looksLikeText(b: Buffer): boolean {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return false;
  for (const c of b) if (c < 0x09 || (c > 0x0d && c < 0x20 && c !== 0x1b)) return false;
  return true;
}

/** The first `min` bytes or more (fewer at the end), the stream left paused after them. */
function readHead(body: Readable, min: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    const off = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onErr);
    };
    const done = (ended: boolean) => {
      off();
      if (!ended) body.pause();
      resolve({ head: Buffer.concat(parts), ended });
    };
    const onData = (c: Buffer) => {
      parts.push(c);
      n += c.length;
      if (n >= min) done(false);
    };
    const onEnd = () => done(true);
    const onErr = (e: Error) => {
      off();
      reject(new BuildError('system', `unable to prepare context: ${e.message}`));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onErr);
  });
}

/** A tar of one file. */
function singleFileTar(name: string, body: Buffer): Readable {
  return packStream(async (w) => {
    await w.add({ name, type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: new Date(0) }, body);
  });
}

async function fromHttp(url: string, dockerfile: string, signal: AbortSignal): Promise<RemoteContext> {
  let res;
  try {
    res = await request(url, { method: 'GET', dispatcher: client(), signal, headersTimeout: 60_000, bodyTimeout: 300_000 });
  } catch (e) {
    throw new BuildError('system', `unable to prepare context: unable to download remote context ${url}: ${(e as Error).message}`);
  }
  if (res.statusCode >= 400) {
    res.body.destroy();
    throw new BuildError('system', `unable to prepare context: unable to download remote context ${url}: status ${res.statusCode}`);
  }
  const ctHeader = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // the first bytes decide, as dockerd's inspectResponse (512 of them)
  const body = res.body as unknown as Readable;
  const { head: preamble, ended } = await readHead(body, 512);
  if (preamble.length === 0) throw new BuildError('system', 'unable to prepare context: empty response');
  const text = ctHeader === 'text/plain' || ((ctHeader === '' || ctHeader === 'application/octet-stream') && looksLikeText(preamble.subarray(0, 512)));
  if (text) {
    const chunks: Buffer[] = [preamble];
    let size = preamble.length;
    if (!ended) {
      for await (const c of body) {
        size += (c as Buffer).length;
        if (size > 16 << 20) throw new BuildError('invalid-parameter', 'unable to prepare context: the remote Dockerfile is larger than 16 MiB');
        chunks.push(c as Buffer);
      }
    }
    return { stream: singleFileTar(dockerfile || 'Dockerfile', Buffer.concat(chunks)), close: async () => {} };
  }
  const stream = new PassThrough();
  if (ended) {
    stream.end(preamble);
  } else {
    stream.write(preamble);
    body.on('error', (e) => stream.destroy(e));
    body.pipe(stream);
  }
  return { stream, close: async () => { body.destroy(); } };
}

function git(args: string[], cwd: string, signal: AbortSignal): Promise<void> {
  // only network protocols: a submodule at file:///… or ext::… is refused
  const cfg = ['-c', 'protocol.allow=never', ...['https', 'http', 'git', 'ssh'].flatMap((p) => ['-c', `protocol.${p}.allow=always`])];
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...cfg, ...args], {
      cwd, signal, stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_PROTOCOL_FROM_USER: '0' },
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => { if (err.length < 4096) err += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`git ${args[0]}: exit status ${code ?? 'killed'}: ${err.trim()}`));
    });
  });
}

async function fromGit(url: string, workDir: string, signal: AbortSignal): Promise<RemoteContext> {
  const { repo, ref, subdir } = parseGitUrl(url);
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const base = fs.mkdtempSync(path.join(workDir, 'git-'));
  const dir = path.join(base, 'clone');
  const close = async () => { await fs.promises.rm(base, { recursive: true, force: true }); };
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    // moby's gitutils: init, fetch the ref (shallow when the server allows), check it out, submodules
    await git(['init', '-q'], dir, signal);
    await git(['remote', 'add', 'origin', repo], dir, signal);
    const want = ref || 'HEAD';
    let shallow = true;
    try {
      await git(['fetch', '-q', '--depth', '1', 'origin', '--', want], dir, signal);
    } catch {
      // a commit ID the server will not serve by itself: everything, then the ref
      shallow = false;
      await git(['fetch', '-q', '--tags', 'origin'], dir, signal);
    }
    if (shallow || !ref) await git(['checkout', '-q', 'FETCH_HEAD'], dir, signal);
    else await git(['checkout', '-q', ref], dir, signal).catch(() => git(['checkout', '-q', `origin/${ref}`], dir, signal));
    await git(['submodule', 'update', '--init', '--recursive', '--depth=1'], dir, signal);
  } catch (e) {
    await close();
    if (signal.aborted) throw new BuildError('system', 'context canceled');
    throw new BuildError('system', `unable to prepare context: unable to 'git clone' to temporary context directory: ${(e as Error).message}`);
  }
  let root: Root;
  let top;
  try {
    root = Root.open(dir);
    try {
      const sub = root.resolvedPath('/' + subdir);
      const st = root.statOrNull(sub, false);
      if (!st || st.type !== 'dir') throw new BuildError('invalid-parameter', `unable to prepare context: error setting git context, not a directory: ${subdir}`);
      top = root.dir(sub, false);
    } finally {
      root.close();
    }
  } catch (e) {
    await close();
    throw e;
  }
  const t = top;
  const stream = packStream(async (w) => { await packTree(w, t, '', {}); }, () => { t.close(); });
  return { stream, close };
}

/** The context `remote` names; errors are the request's (nothing sent yet). */
export async function openRemote(remote: string, dockerfile: string, workDir: string, signal: AbortSignal): Promise<RemoteContext> {
  if (isGitUrl(remote)) return fromGit(remote, workDir, signal);
  if (isUrl(remote)) return fromHttp(remote, dockerfile, signal);
  throw new BuildError('invalid-parameter', `remoteURL (${remote}) could not be recognized as URL`);
}
