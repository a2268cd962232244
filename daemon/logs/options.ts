// LogConfig validation with moby's messages (daemon/logger/jsonfilelog,
// logger.ValidateLogOpts, go-units FromHumanSize).
import { DaemonError, invalidParameter } from '../../errors/index.js';
import type { DockerLogConfig, LogDriverConfig } from './types.js';
import { optionRegex, validateTagTemplate } from './attrs.js';

const JSON_FILE_OPTS = new Set(['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag']);
/** Options every driver accepts (moby builtInLogOpts). */
const BUILTIN_OPTS = new Set(['mode', 'max-buffer-size']);

const DECIMAL: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/** go-units FromHumanSize: decimal units, "10m" = 10,000,000; "1.5k", "10MB", "2 kB" accepted. */
export function fromHumanSize(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) throw invalidParameter(`invalid size: '${s}'`);
  const n = Number(m[1]);
  if (!Number.isFinite(n)) throw invalidParameter(`invalid size: '${s}'`);
  return Math.floor(n * DECIMAL[(m[2] ?? '').toLowerCase()]!);
}

function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw invalidParameter(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  return Number(s);
}

function parseBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw invalidParameter(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

/**
 * Validates a LogConfig. An empty Type means the daemon default (`defaultType`,
 * json-file). Unknown types get moby's "logger: no log driver named 'x' is registered".
 */
export function parseLogConfig(cfg: DockerLogConfig | null | undefined, defaultType: 'json-file' | 'none' = 'json-file'): LogDriverConfig {
  const type = cfg?.Type || defaultType;
  const options: Record<string, string> = { ...(cfg?.Config ?? {}) };
  for (const [k, v] of Object.entries(options)) {
    if (typeof v !== 'string') throw invalidParameter(`log opt '${k}' must be a string`);
  }
  if (type === 'none') return { type: 'none', options };
  if (type !== 'json-file') throw invalidParameter(`logger: no log driver named '${type}' is registered`);

  const mode = options['mode'];
  if (mode !== undefined && mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') {
    throw invalidParameter(`logger: logging mode not supported: ${mode}`);
  }
  for (const k of Object.keys(options)) {
    if (!BUILTIN_OPTS.has(k) && !JSON_FILE_OPTS.has(k)) throw invalidParameter(`unknown log opt '${k}' for json-file log driver`);
  }
  let maxSize = -1;
  if (options['max-size'] !== undefined) {
    maxSize = fromHumanSize(options['max-size']);
    if (maxSize <= 0) throw invalidParameter('max-size must be a positive number');
  }
  let maxFile = 1;
  if (options['max-file'] !== undefined) {
    maxFile = atoi(options['max-file']);
    if (maxFile < 1) throw invalidParameter('max-file cannot be less than 1');
  }
  let compress = false;
  if (options['compress'] !== undefined) {
    compress = parseBool(options['compress']);
    if (compress && (maxFile === 1 || maxSize === -1)) {
      throw invalidParameter('compress cannot be true when max-file is less than 2 or max-size is not set');
    }
  }
  for (const k of ['labels-regex', 'env-regex']) if (options[k]) optionRegex(k, options[k]!);
  if (options.tag) validateTagTemplate(options.tag);
  return { type: 'json-file', maxSize, maxFile, compress, options };
}

/** moby logger.ErrReadLogsNotSupported (501). */
export class ReadLogsNotSupportedError extends DaemonError {
  constructor() {
    super('not-implemented', 'TSD_ERR_LOGS_NOT_SUPPORTED', 'configured logging driver does not support reading');
  }
}
