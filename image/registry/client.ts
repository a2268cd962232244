// A Docker Registry HTTP API v2 / OCI distribution client on undici:
// anonymous and Bearer-token auth (challenge, scope, cached tokens), basic
// credentials, HTTPS by default and plain HTTP for loopback and insecure registries.
import { Agent, request, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { DaemonError } from '../../errors/index.js';
import type { RegistryAuth } from '../types.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

export class RegistryError extends DaemonError {
  constructor(kind: DaemonError['kind'], message: string, readonly status: number, readonly registryCode?: string) {
    super(kind, 'TSD_ERR_REGISTRY', message);
  }
}

interface Challenge { scheme: string; params: Record<string, string> }

export function parseChallenge(h: string): Challenge | null {
  const m = /^(\w+)\s*(.*)$/.exec(h.trim());
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let x: RegExpExecArray | null;
  while ((x = re.exec(m[2]!))) params[x[1]!.toLowerCase()] = x[2] !== undefined ? x[2].replace(/\\(.)/g, '$1') : x[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

/** true when `host` (host[:port]) is served over plain HTTP. */
export function isInsecure(host: string, insecure: string[]): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)) return true;
  return insecure.some((e) => e === host || e === h || e === `http://${host}`);
}

/** Decodes X-Registry-Auth (base64url JSON). Empty/`{}` gives {}. */
export function decodeRegistryAuth(header: string | undefined): RegistryAuth {
  if (!header) return {};
  try {
    const json = Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const o = JSON.parse(json || '{}') as RegistryAuth;
    return o && typeof o === 'object' ? o : {};
  } catch {
    return {};
  }
}

export interface Response {
  status: number;
  headers: Record<string, string>;
  body: Readable & { text(): Promise<string>; json(): Promise<unknown>; dump(): Promise<void> };
}

export interface ClientOptions {
  insecureRegistries?: string[];
  dispatcher?: Dispatcher;
}

const defaultAgent = new Agent({ connections: 16, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 300_000 });

/** One client per registry host; tokens cached per scope. */
export class RegistryClient {
  private readonly base: string;
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private challenge: Challenge | null = null;
  private readonly dispatcher: Dispatcher;

  constructor(readonly host: string, private readonly auth: RegistryAuth, opts: ClientOptions = {}) {
    const apiHost = host === 'docker.io' ? 'registry-1.docker.io' : host;
    this.base = `${isInsecure(host, opts.insecureRegistries ?? []) ? 'http' : 'https'}://${apiHost}`;
    this.dispatcher = opts.dispatcher ?? defaultAgent;
  }

  url(p: string): string {
    return p.startsWith('http://') || p.startsWith('https://') ? p : this.base + p;
  }

  private basic(): string | null {
    if (this.auth.username || this.auth.password) return 'Basic ' + Buffer.from(`${this.auth.username ?? ''}:${this.auth.password ?? ''}`).toString('base64');
    return null;
  }

  private async token(scope: string): Promise<string | null> {
    const ch = this.challenge;
    if (!ch) return null;
    if (ch.scheme === 'basic') return this.basic();
    if (ch.scheme !== 'bearer') return null;
    if (this.auth.registrytoken) return `Bearer ${this.auth.registrytoken}`;
    const cached = this.tokens.get(scope);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const realm = ch.params.realm;
    if (!realm) throw new RegistryError('system', `registry ${this.host}: bearer challenge without realm`, 401);
    const u = new URL(realm);
    if (ch.params.service) u.searchParams.set('service', ch.params.service);
    if (scope) u.searchParams.set('scope', scope);
    let res;
    if (this.auth.identitytoken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.auth.identitytoken, service: ch.params.service ?? '', scope, client_id: 'tsd' });
      res = await request(u.origin + u.pathname, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, dispatcher: this.dispatcher });
    } else {
      const headers: Record<string, string> = {};
      const b = this.basic();
      if (b) headers.authorization = b;
      res = await request(u.toString(), { headers, dispatcher: this.dispatcher });
    }
    if (res.statusCode >= 400) {
      await res.body.dump();
      throw new RegistryError(res.statusCode === 401 ? 'unauthorized' : 'system', `Get "${realm}": unauthorized: authentication required`, res.statusCode);
    }
    const j = (await readJson({ status: res.statusCode, headers: flat(res.headers), body: res.body as Response['body'] }, MAX_SMALL_BODY)) as { token?: string; access_token?: string; expires_in?: number };
    const t = j.token ?? j.access_token;
    if (!t) return null;
    this.tokens.set(scope, { token: t, expires: Date.now() + Math.max(30, (j.expires_in ?? 60) - 10) * 1000 });
    return `Bearer ${t}`;
  }

  /**
   * Sends a request, answering an auth challenge once. `body` may be a function so that a
   * stream is created only for the attempt that is sent.
   */
  async send(method: Dispatcher.HttpMethod, p: string, scope: string, opts: { headers?: Record<string, string>; body?: () => Dispatcher.DispatchOptions['body']; signal?: AbortSignal } = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'user-agent': 'tsd/0.1.0', ...(opts.headers ?? {}) };
      const a = await this.token(scope);
      if (a) headers.authorization = a;
      let res: Dispatcher.ResponseData<unknown>;
      try {
        res = await request(this.url(p), { method, headers, body: opts.body?.() ?? null, dispatcher: this.dispatcher, maxRedirections: 0, signal: opts.signal } as Parameters<typeof request>[1]);
      } catch (e) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? e;
        throw new RegistryError('system', `Get "${this.url(p)}": ${(e as Error).message}`, 0);
      }
      if ((res.statusCode === 307 || res.statusCode === 302 || res.statusCode === 301) && res.headers.location) {
        await res.body.dump();
        const loc = new URL(String(res.headers.location), this.url(p)).toString();
        const r2 = await request(loc, { method, dispatcher: this.dispatcher, signal: opts.signal });
        return { status: r2.statusCode, headers: flat(r2.headers), body: r2.body as Response['body'] };
      }
      if (res.statusCode === 401 && attempt === 0) {
        const wa = res.headers['www-authenticate'];
        await res.body.dump();
        const ch = wa ? parseChallenge(Array.isArray(wa) ? wa[0]! : wa) : null;
        if (ch) {
          this.challenge = ch;
          this.tokens.delete(scope);
          continue;
        }
      }
      return { status: res.statusCode, headers: flat(res.headers), body: res.body as Response['body'] };
    }
  }
}

function flat(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) o[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return o;
}

/** The largest manifest, index or config accepted from a registry (containerd's MaxManifestSize, 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Error bodies, token and tag-list answers are read up to this much. */
const MAX_SMALL_BODY = 64 * 1024;

export class TooLargeError extends DaemonError {
  constructor(message: string) {
    super('system', 'TSD_ERR_TOO_LARGE', message);
  }
}

/**
 * Reads a response body of at most `cap` bytes: refused at once when Content-Length says
 * more, and while reading when the body runs past it (the connection is then closed, so
 * a registry that lies about the length or streams forever costs `cap` bytes of memory).
 */
export async function readCapped(res: Response, cap: number, tooLarge: (size: number | null) => string): Promise<Buffer> {
  const declared = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : null;
  if (declared !== null && Number.isFinite(declared) && declared > cap) {
    res.body.destroy();
    throw new TooLargeError(tooLarge(declared));
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > cap) {
      res.body.destroy();
      throw new TooLargeError(tooLarge(null));
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, n);
}

/** A small JSON answer (token, tag list), capped. */
export async function readJson(res: Response, cap = MAX_MANIFEST_BYTES): Promise<unknown> {
  const b = await readCapped(res, cap, (n) => `registry answer ${n === null ? 'over' : `of ${n} bytes, over`} the ${cap}-byte limit`);
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    throw new DaemonError('system', 'TSD_ERR_REGISTRY', 'invalid JSON from the registry');
  }
}

/** Reads a registry error body: {"errors":[{"code","message"}]}. */
export async function registryErrorOf(res: Response): Promise<{ code: string; message: string }> {
  let text = '';
  try {
    text = (await readCapped(res, MAX_SMALL_BODY, () => 'error body too large')).toString('utf8');
    const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const e = j.errors?.[0];
    if (e) return { code: e.code ?? '', message: e.message ?? '' };
  } catch { /* not JSON */ }
  return { code: '', message: text.trim() || `status ${res.status}` };
}
