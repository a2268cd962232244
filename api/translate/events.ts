// Internal events <-> Docker's event JSON and filters.
import type { DaemonEvent } from '../../daemon/index.js';
import { invalidParameter } from '../../errors/index.js';
import { parseFiltersJson } from './query.js';

export function toDockerEvent(e: DaemonEvent): Record<string, unknown> {
  const time = Number(e.timeNano / 1_000_000_000n);
  const out: Record<string, unknown> = {};
  if (e.type === 'container' || e.type === 'image') {
    out.status = e.action;
    out.id = e.actor.id;
    if (e.from !== undefined) out.from = e.from;
  }
  out.Type = e.type;
  out.Action = e.action;
  out.Actor = { ID: e.actor.id, Attributes: e.actor.attributes };
  out.scope = 'local';
  out.time = time;
  out.timeNano = Number(e.timeNano);
  return out;
}

/** Docker's filters query: see query.ts (map of sets or the legacy map of lists). */
export function parseFilters(raw: string | string[] | undefined): Record<string, string[]> {
  return parseFiltersJson(Array.isArray(raw) ? raw[0] : raw);
}

const EVENT_FILTERS = new Set(['container', 'event', 'image', 'label', 'network', 'type', 'volume', 'daemon', 'plugin', 'node', 'service', 'secret', 'config', 'scope']);

/** Builds a predicate for GET /events filters; throws invalid-parameter for unknown filter names. */
export function eventMatcher(filters: Record<string, string[]>): (e: DaemonEvent) => boolean {
  for (const k of Object.keys(filters)) {
    if (!EVENT_FILTERS.has(k)) throw invalidParameter(`invalid filter '${k}'`);
  }
  const any = (k: string, pred: (v: string) => boolean) => !filters[k] || filters[k]!.length === 0 || filters[k]!.some(pred);
  return (e) => {
    const attrs = e.actor.attributes;
    const action = e.action.split(':')[0]!;
    const byType = (t: DaemonEvent['type'], key: string) =>
      !filters[key] || (e.type === t && filters[key]!.some((v) => v === e.actor.id || v === attrs.name || (v.length >= 3 && e.actor.id.startsWith(v))));
    return (
      any('type', (v) => v === e.type) &&
      any('event', (v) => v === e.action || v === action) &&
      any('scope', (v) => v === 'local') &&
      byType('container', 'container') &&
      byType('network', 'network') &&
      byType('volume', 'volume') &&
      (!filters.image || filters.image.some((v) => v === attrs.image || v === e.from || (e.type === 'image' && (v === e.actor.id || v === attrs.name)))) &&
      labelsMatch(filters.label, attrs)
    );
  };
}

/**
 * moby's MatchKVList: every `label` value must hold (a key present, or key=value equal);
 * an event without attributes matches no label filter.
 */
function labelsMatch(wanted: string[] | undefined, attrs: Record<string, string>): boolean {
  if (!wanted?.length) return true;
  if (!Object.keys(attrs).length) return false;
  return wanted.every((v) => {
    const i = v.indexOf('=');
    const k = i < 0 ? v : v.slice(0, i);
    if (!Object.prototype.hasOwnProperty.call(attrs, k)) return false;
    return i < 0 || attrs[k] === v.slice(i + 1);
  });
}

/** since/until: unix seconds, optionally fractional ("1700000000.5"), or an RFC 3339 date. Returns ns. */
export function parseTimestamp(v: string | undefined, name: string): bigint | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [s, frac = ''] = v.split('.');
    return BigInt(s!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
  }
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw invalidParameter(`invalid value for ${name}: ${v}`);
  return BigInt(ms) * 1_000_000n;
}
