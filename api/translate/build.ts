// POST /build's query and headers as dockerd's classic builder reads them
// (moby api/server/router/build newImageBuildOptions), and the JSON messages
// of the build stream (moby's streamformatter). Pure.
import { invalidParameter } from '../../errors/index.js';
import * as qp from './query.js';
import type { AuthConfigs, BuildRequest, ProgressMessage } from '../../builder/index.js';
import { progressBar, toJsonMessage } from '../stream/progress.js';

type Q = Record<string, string | string[] | undefined>;
const one = (q: Q, k: string): string | undefined => qp.str(q, k);
const many = (q: Q, k: string): string[] => qp.all(q, k);

function jsonParam<T>(q: Q, name: string, what: string, check: (v: unknown) => v is T): T | undefined {
  const s = one(q, name);
  if (!s) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (e) {
    throw invalidParameter(`error reading ${what}: ${(e as Error).message}`);
  }
  if (v === null) return undefined;
  if (!check(v)) throw invalidParameter(`error reading ${what}: json: cannot unmarshal ${typeof v} into the expected type`);
  return v;
}

const isStrMap = (v: unknown): v is Record<string, string> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
const isArgMap = (v: unknown): v is Record<string, string | null> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string' || x === null);
const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** X-Registry-Config: base64url JSON of registry -> auth config (a bad header is no credentials, as dockerd). */
export function registryConfig(header: string | string[] | undefined): AuthConfigs {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return {};
  try {
    const v = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as AuthConfigs) : {};
  } catch {
    return {};
  }
}

/** The Docker HostConfig the step containers get (limits, network, extra hosts, shm). */
export interface BuildHostConfig {
  NetworkMode: string;
  ExtraHosts: string[] | null;
  ShmSize?: number;
  Memory: number;
  MemorySwap: number;
  CpuShares: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  CpusetMems: string;
  CgroupParent: string;
  Ulimits: Array<{ Name: string; Soft: number; Hard: number }> | null;
  LogConfig: { Type: 'none'; Config: Record<string, string> };
}

export interface TranslatedBuild {
  request: Omit<BuildRequest, 'context' | 'runTemplate'>;
  quiet: boolean;
  hostConfig: BuildHostConfig;
}

export function fromDockerBuildQuery(q: Q, headers: Record<string, string | string[] | undefined>, apiVersion: string | null): TranslatedBuild {
  if (qp.bool(q, 'squash')) throw invalidParameter('squash is only supported with experimental mode');
  if (many(q, 'securityopt').length) throw invalidParameter('security options are not supported on linux');
  const version = one(q, 'version');
  if (version && version !== '1' && version !== '2') throw invalidParameter(`invalid version "${version}"`);
  if (version === '2') throw invalidParameter('BuildKit is not supported by this daemon: use the classic builder (DOCKER_BUILDKIT=0, or version=1)');
  const remote = one(q, 'remote') ?? '';
  if (remote === 'client-session') throw invalidParameter('BuildKit sessions are not supported by this daemon: use the classic builder');
  const isolation = one(q, 'isolation');
  if (isolation && isolation !== 'default') throw invalidParameter(`unsupported isolation: "${isolation}"`);
  const shm = one(q, 'shmsize');
  let shmSize: number | undefined;
  if (shm !== undefined && shm !== '') {
    if (!/^-?\d+$/.test(shm)) throw invalidParameter(`strconv.ParseInt: parsing "${shm}": invalid syntax`);
    shmSize = Number(shm);
  }
  const ulimits = jsonParam(q, 'ulimits', 'ulimit settings', (v): v is Array<{ Name: string; Soft: number; Hard: number }> => Array.isArray(v)) ?? null;
  const buildArgs = jsonParam(q, 'buildargs', 'build args', isArgMap) ?? {};
  const labels = jsonParam(q, 'labels', 'labels', isStrMap) ?? {};
  const cacheFrom = jsonParam(q, 'cachefrom', 'cache-from', isStrList) ?? [];
  const forceRemove = qp.bool(q, 'forcerm');
  const rmRaw = one(q, 'rm');
  const remove = forceRemove ? true : rmRaw === undefined || rmRaw === '' ? true : qp.bool(q, 'rm');
  const platform = apiVersion === null || versionAtLeast(apiVersion, '1.32') ? one(q, 'platform') ?? '' : '';
  return {
    quiet: qp.bool(q, 'q'),
    request: {
      dockerfile: one(q, 'dockerfile') ?? '',
      remote,
      tags: many(q, 't').filter((t) => t !== ''),
      noCache: qp.bool(q, 'nocache'),
      pull: qp.bool(q, 'pull'),
      remove,
      forceRemove,
      buildArgs,
      labels,
      target: one(q, 'target') ?? '',
      cacheFrom,
      platform,
      auth: registryConfig(headers['x-registry-config']),
    },
    hostConfig: {
      NetworkMode: one(q, 'networkmode') || 'default',
      ExtraHosts: many(q, 'extrahosts').length ? many(q, 'extrahosts') : null,
      ...(shmSize !== undefined ? { ShmSize: shmSize } : {}),
      Memory: qp.intOrZero(q, 'memory'),
      MemorySwap: qp.intOrZero(q, 'memswap'),
      CpuShares: qp.intOrZero(q, 'cpushares'),
      CpuPeriod: qp.intOrZero(q, 'cpuperiod'),
      CpuQuota: qp.intOrZero(q, 'cpuquota'),
      CpusetCpus: one(q, 'cpusetcpus') ?? '',
      CpusetMems: one(q, 'cpusetmems') ?? '',
      CgroupParent: one(q, 'cgroupparent') ?? '',
      Ulimits: ulimits,
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}

function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  return a[0]! > b[0]! || (a[0] === b[0] && (a[1] ?? 0) >= (b[1] ?? 0));
}

// ---------------------------------------------------------------- the stream

/** Text on the build's stdout: {"stream": ...}. */
export const streamMessage = (text: string): Record<string, unknown> => ({ stream: text });

/** Text on its stderr, red as dockerd's stderr formatter writes it. */
export const stderrMessage = (text: string): Record<string, unknown> => ({ stream: `\u001b[91m${text}\u001b[0m` });

export const auxMessage = (id: string): Record<string, unknown> => ({ aux: { ID: id } });

/** A progress line: with an id as pulls report per layer, without one as a download (ADD <url>) does. */
export function progressMessage(m: ProgressMessage): Record<string, unknown> {
  if (m.id !== undefined) return toJsonMessage(m);
  if (m.current === undefined) return { status: m.status };
  return {
    status: m.status,
    progressDetail: { current: m.current, ...(m.total !== undefined ? { total: m.total } : {}) },
    ...(m.total !== undefined ? { progress: progressBar(m.current, m.total) } : {}),
  };
}

/** {"errorDetail":{"code":N,"message":M},"error":M}; the code only when there is one. */
export function errorLine(message: string, code = 0): Record<string, unknown> {
  return { errorDetail: { ...(code ? { code } : {}), message }, error: message };
}

/** POST /build/prune's filters and sizes (moby's postPrune). */
export function fromDockerBuildPrune(q: Q, filters: Record<string, string[]>, apiVersion: string | null): { all: boolean; keepStorage: number; filters: Record<string, string[]> } {
  const bytes = (name: string): number => {
    const v = one(q, name);
    if (v === undefined || v === '') return 0;
    if (!/^\d+$/.test(v)) throw invalidParameter(`${name} is in bytes and expects an integer, got ${v}`);
    return Number(v);
  };
  let keep = bytes('keep-storage');
  if (apiVersion === null || versionAtLeast(apiVersion, '1.48')) keep = bytes('reserved-space') || keep;
  return { all: qp.bool(q, 'all'), keepStorage: keep, filters };
}
