// Query parameters as moby reads them (daemon/server/httputils/form.go), in one
// place for every endpoint. Go's r.FormValue / r.Form.Get take the first value
// of a repeated parameter; Fastify hands repeated parameters over as arrays.
import { invalidParameter } from '../../errors/index.js';

export type RawQuery = Record<string, string | string[] | undefined> | URLSearchParams | undefined | null;

function values(q: RawQuery, k: string): string[] {
  if (!q) return [];
  if (q instanceof URLSearchParams) return q.getAll(k);
  const v = q[k];
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/** The first value (Go's FormValue); undefined when the parameter is absent. */
export function str(q: RawQuery, k: string): string | undefined {
  return values(q, k)[0];
}

/** Every value of a repeated parameter, in order. */
export function all(q: RawQuery, k: string): string[] {
  return values(q, k);
}

export function has(q: RawQuery, k: string): boolean {
  return values(q, k).length > 0;
}

/** httputils.BoolValue: false for "", "0", "no", "false", "none" (any case, trimmed) and when absent; true otherwise. */
export function bool(q: RawQuery, k: string): boolean {
  const s = (str(q, k) ?? '').trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** httputils.BoolValueOrDefault: the default when the parameter is absent, BoolValue otherwise. */
export function boolOr(q: RawQuery, k: string, d: boolean): boolean {
  return has(q, k) ? bool(q, k) : d;
}

/** Go's strconv.ParseInt(s, 10, 64) as a JS number; null when it does not parse. */
function parseGoInt(s: string): number | null {
  if (!/^[+-]?\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** httputils.Int64ValueOrDefault: the default for absent/empty, a 400 with strconv's text for garbage. */
export function int(q: RawQuery, k: string, d: number): number {
  const s = str(q, k);
  if (s === undefined || s === '') return d;
  const n = parseGoInt(s);
  if (n === null) throw invalidParameter(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  return n;
}

/** httputils.Int64ValueOrZero: 0 for absent, empty or garbage. */
export function intOrZero(q: RawQuery, k: string): number {
  const s = str(q, k);
  return s === undefined ? 0 : parseGoInt(s) ?? 0;
}

/** strconv.Atoi as the container routes use it (stop/restart `t`): a 400 for garbage. */
export function atoi(q: RawQuery, k: string): number | undefined {
  const s = str(q, k);
  if (s === undefined || s === '') return undefined;
  const n = parseGoInt(s);
  if (n === null) throw invalidParameter(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  return n;
}

/**
 * The logs `tail` parameter as moby's daemon reads it (daemon/logs.go): strconv.Atoi,
 * and anything that is not a number ("all", "", garbage) or is negative means all.
 */
export function tail(q: RawQuery, k = 'tail'): number | 'all' {
  const s = str(q, k);
  if (s === undefined) return 'all';
  const n = parseGoInt(s);
  return n === null || n < 0 ? 'all' : n;
}

/**
 * The `filters` parameter (api/types/filters FromJSON): a JSON object of
 * {"key":{"value":true}} (every key counts, whatever its bool says, as moby's
 * Args.Get) or the legacy {"key":["value"]}; "" and "null" are no filters.
 */
export function filters(q: RawQuery, k = 'filters'): Record<string, string[]> {
  return parseFiltersJson(str(q, k));
}

export function parseFiltersJson(raw: string | undefined): Record<string, string[]> {
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw invalidParameter(`invalid filter: ${(e as Error).message}`);
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidParameter('invalid filter: json: cannot unmarshal into filters.Args');
  const entries = Object.entries(parsed as Record<string, unknown>);
  // Go tries the map-of-bools form for the whole object first, then the legacy map of lists.
  const isSetForm = entries.every(([, v]) => v === null || (typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((b) => typeof b === 'boolean')));
  const isListForm = entries.every(([, v]) => v === null || (Array.isArray(v) && v.every((s) => typeof s === 'string')));
  const out: Record<string, string[]> = {};
  if (isSetForm) {
    for (const [key, v] of entries) out[key] = Object.keys((v ?? {}) as object);
  } else if (isListForm) {
    for (const [key, v] of entries) out[key] = [...new Set((v ?? []) as string[])];
  } else {
    throw invalidParameter('invalid filter: expected {"key":{"value":true}} or {"key":["value"]}');
  }
  return out;
}
