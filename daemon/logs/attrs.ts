// The extra attributes a json-file record carries (`attrs`), as moby's
// logger.Info.ExtraAttributes and loggerutils.ParseLogTag: the container's
// labels named by `labels` or matched by `labels-regex`, its environment
// variables named by `env` or matched by `env-regex`, and `tag` (a literal or
// a template of the container's names and ids). `docker logs --details` shows them.
import os from 'node:os';
import { invalidParameter } from '../../errors/index.js';

/** What a log driver knows of its container (moby logger.Info). */
export interface LogInfo {
  id: string;
  /** without the leading slash */
  name: string;
  /** sha256:… */
  imageId: string;
  /** as the user named it (Config.Image) */
  imageName: string;
  env: readonly string[];
  labels: Readonly<Record<string, string>>;
  entrypoint?: readonly string[] | null;
  cmd?: readonly string[] | null;
}

/** moby stringid.TruncateID: the algorithm prefix dropped, 12 characters. */
const truncateId = (id: string): string => {
  const i = id.indexOf(':');
  return (i >= 0 ? id.slice(i + 1) : id).slice(0, 12);
};

/** The template fields of logger.Info that `tag` may use. */
const TAG_FIELDS: Record<string, (i: LogInfo) => string> = {
  ID: (i) => truncateId(i.id),
  FullID: (i) => i.id,
  Name: (i) => i.name,
  ImageID: (i) => truncateId(i.imageId),
  ImageFullID: (i) => i.imageId,
  ImageName: (i) => i.imageName,
  DaemonName: () => 'docker',
  Command: (i) => [...(i.entrypoint ?? []), ...(i.cmd ?? [])].join(' '),
  Hostname: () => os.hostname(),
  ContainerID: (i) => i.id,
  ContainerName: (i) => `/${i.name}`,
  ContainerImageID: (i) => i.imageId,
  ContainerImageName: (i) => i.imageName,
};

const ACTION = /\{\{-?\s*(.*?)\s*-?\}\}/g;

/** Checks a `tag` template (only `{{.Field}}` actions of logger.Info are understood). */
export function validateTagTemplate(tpl: string): void {
  for (const m of tpl.matchAll(ACTION)) {
    const f = /^\.([A-Za-z]+)$/.exec(m[1]!);
    if (!f || !TAG_FIELDS[f[1]!]) {
      throw invalidParameter(`template: log-tag:1: unsupported action ${JSON.stringify(m[0])} (tsd knows ${Object.keys(TAG_FIELDS).map((k) => `{{.${k}}}`).join(', ')})`);
    }
  }
}

/** moby ParseLogTag with no default template: '' when no tag was asked for. */
export function logTag(tpl: string | undefined, info: LogInfo): string {
  if (!tpl) return '';
  validateTagTemplate(tpl);
  return tpl.replace(ACTION, (_all, expr: string) => TAG_FIELDS[expr.slice(1)]!(info));
}

/** Compiles a `labels-regex` / `env-regex` option (Go's regexp.MatchString: unanchored). */
export function optionRegex(opt: string, v: string): RegExp {
  try {
    return new RegExp(v);
  } catch (e) {
    throw invalidParameter(`error parsing regexp for log opt '${opt}': ${(e as Error).message}`);
  }
}

/** The attributes every record of this container carries (ExtraAttributes, then tag). */
export function extraAttributes(options: Readonly<Record<string, string>>, info: LogInfo): Record<string, string> {
  const out: Record<string, string> = {};
  const labels = info.labels ?? {};
  if (options.labels) {
    for (const l of options.labels.split(',')) if (Object.prototype.hasOwnProperty.call(labels, l)) out[l] = labels[l]!;
  }
  if (options['labels-regex']) {
    const re = optionRegex('labels-regex', options['labels-regex']);
    for (const [k, v] of Object.entries(labels)) if (re.test(k)) out[k] = v;
  }
  const env = new Map<string, string>();
  for (const e of info.env) {
    const i = e.indexOf('=');
    if (i >= 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  if (env.size && options.env) {
    for (const k of options.env.split(',')) if (env.has(k)) out[k] = env.get(k)!;
  }
  if (env.size && options['env-regex']) {
    const re = optionRegex('env-regex', options['env-regex']);
    for (const [k, v] of env) if (re.test(k)) out[k] = v;
  }
  const tag = logTag(options.tag, info);
  if (tag) out.tag = tag;
  return out;
}

/** Go's url.QueryEscape: unreserved characters kept, space as '+', the rest %XX. */
function queryEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

/** `docker logs --details`: the attributes as moby's attrsByteSlice writes them (sorted, k=v joined by commas). */
export function detailsPrefix(attrs: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(attrs ?? {}).sort().map((k) => `${queryEscape(k)}=${queryEscape(attrs![k]!)}`).join(',');
}
