// Small pure pieces of step dispatch, as Docker's classic builder has them:
// run-config copies and the Cmd comments that become history entries, WORKDIR
// and COPY destination normalization, EXPOSE port specs, signal names, and
// `--chown` lookups in an image's /etc/passwd and /etc/group.
import path from 'node:path';
import type { HealthConfig, RunConfig } from './types.js';
import { goDuration } from './instructions.js';
import { goQuoteList } from './shell.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** A deep enough copy of a run config (slices and maps copied). */
export function copyRunConfig(c: RunConfig, mod: Partial<RunConfig> = {}): RunConfig {
  const out: RunConfig = {
    ...c,
    Cmd: c.Cmd ? [...c.Cmd] : c.Cmd,
    Env: c.Env ? [...c.Env] : c.Env,
    Entrypoint: c.Entrypoint ? [...c.Entrypoint] : c.Entrypoint,
    OnBuild: c.OnBuild ? [...c.OnBuild] : c.OnBuild,
    Shell: c.Shell ? [...c.Shell] : c.Shell,
    Volumes: c.Volumes ? { ...c.Volumes } : c.Volumes,
    ExposedPorts: c.ExposedPorts ? { ...c.ExposedPorts } : c.ExposedPorts,
    Labels: c.Labels ? { ...c.Labels } : c.Labels,
  };
  return Object.assign(out, mod);
}

export const shellOf = (c: RunConfig): string[] => (c.Shell?.length ? [...c.Shell] : [...DEFAULT_SHELL]);

/** The Cmd a metadata step is recorded with: [shell..., "#(nop) ", comment] (history: `/bin/sh -c #(nop)  ENV A=b`). */
export const cmdComment = (c: RunConfig, comment: string): string[] => [...shellOf(c), '#(nop) ', comment];

/** The Cmd of COPY, ADD and WORKDIR: [shell..., "#(nop) " + comment]. */
export const cmdCommentString = (c: RunConfig, comment: string): string[] => [...shellOf(c), '#(nop) ' + comment];

/** Go's %q of an int: a quoted character literal (0 -> '\x00'), as Docker 20.10 prints HEALTHCHECK's retries. */
export function goQuoteRune(n: number): string {
  if (n >= 0x20 && n < 0x7f) return n === 0x27 ? "'\\''" : n === 0x5c ? "'\\\\'" : `'${String.fromCharCode(n)}'`;
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };
  if (named[n]) return `'${named[n]}'`;
  if (n < 0x80) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  if (n <= 0xffff) return `'${String.fromCodePoint(n)}'`;
  return `'${String.fromCodePoint(Math.min(n, 0x10ffff))}'`;
}

/** HEALTHCHECK's history comment: Go's %q of the *HealthConfig, as Docker 20.10 writes it. */
export function healthString(h: HealthConfig): string {
  const q = (ns: number | undefined) => `"${goDuration(ns ?? 0)}"`;
  const si = h.StartInterval ? ` ${q(h.StartInterval)}` : '';
  return `&{${goQuoteList(h.Test)} ${q(h.Interval)} ${q(h.Timeout)} ${q(h.StartPeriod)}${si} ${goQuoteRune(h.Retries ?? 0)}}`;
}

/** WORKDIR: relative to the current one; an absolute path is taken as written. */
export function normalizeWorkdir(current: string, requested: string): string {
  if (requested === '') throw new Error('cannot normalize nothing');
  if (!requested.startsWith('/')) return path.posix.join('/', current, requested);
  return requested;
}

/** A COPY/ADD destination: relative to WORKDIR, the trailing slash kept. */
export function normalizeDest(workdir: string, requested: string): string {
  if (requested.startsWith('/')) return requested;
  let dest = path.posix.join('/', workdir, requested);
  if (requested.endsWith('/') && !dest.endsWith('/')) dest += '/';
  return dest;
}

/** EXPOSE: Docker's port specs ("80", "80/udp", "8000-8010/tcp", "ip:host:container") as exposed port keys. */
export function parseExposedPorts(specs: string[]): string[] {
  const out: string[] = [];
  for (const raw of specs) {
    const parts = raw.split(':');
    const containerPart = parts[parts.length - 1]!;
    let [port, proto] = containerPart.includes('/') ? [containerPart.slice(0, containerPart.indexOf('/')), containerPart.slice(containerPart.indexOf('/') + 1)] : [containerPart, 'tcp'];
    if (port === '') throw new Error(`No port specified: ${raw}<empty>`);
    proto = proto!.toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`Invalid proto: ${proto}`);
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    if (!m) throw new Error(`Invalid containerPort: ${port}`);
    const start = Number(m[1]);
    const end = m[2] !== undefined ? Number(m[2]) : start;
    if (start > 65535 || end > 65535 || end < start) throw new Error(`Invalid containerPort: ${port}`);
    for (let p = start; p <= end; p++) if (!out.includes(`${p}/${proto}`)) out.push(`${p}/${proto}`);
  }
  return out;
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV',
  'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`), ...Array.from({ length: 14 }, (_, i) => `RTMAX-${14 - i}`),
]);

/** STOPSIGNAL: a number or a signal name with or without SIG (Docker's signal.ParseSignal). */
export function validSignal(s: string): boolean {
  if (/^-?\d+$/.test(s)) return Number(s) !== 0;
  return SIGNALS.has(s.toUpperCase().replace(/^SIG/, ''));
}

/** Entries of /etc/passwd or /etc/group: name -> id. */
export function parseIdFile(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const p = line.split(':');
    if (p.length < 3) continue;
    const id = Number(p[2]);
    if (Number.isInteger(id) && !m.has(p[0]!)) m.set(p[0]!, id);
  }
  return m;
}

/**
 * `--chown=user[:group]` against an image's files (read by `read`, null when
 * missing): numbers as they are, names looked up; a lone user is also the group.
 */
export function resolveChown(chown: string, read: (file: '/etc/passwd' | '/etc/group') => string | null): { uid: number; gid: number } {
  const parts = chown.split(':');
  if (parts.length > 2) throw new Error(`invalid chown string format: ${chown}`);
  const [u, g] = parts.length === 1 ? [parts[0]!, parts[0]!] : [parts[0]!, parts[1]!];
  const lookup = (name: string, file: '/etc/passwd' | '/etc/group', what: string, noun: string): number => {
    if (/^-?\d+$/.test(name)) return Number(name);
    const text = read(file);
    if (text === null) throw new Error(`can't find ${what} for ${noun} ${name}: open ${file}: no such file or directory`);
    const id = parseIdFile(text).get(name);
    if (id === undefined) throw new Error(`can't find ${what} for ${noun} ${name}: no such ${noun}: ${name}`);
    return id;
  };
  return { uid: lookup(u, '/etc/passwd', 'uid', 'user'), gid: lookup(g, '/etc/group', 'gid', 'group') };
}

/** `--chmod`: an octal mode (BuildKit's rule). */
export function parseChmod(s: string): number {
  if (!/^[0-7]{1,5}$/.test(s) || parseInt(s, 8) > 0o7777) throw new Error(`invalid chmod parameter ${s}. it should be octal string and between 0 and 07777`);
  return parseInt(s, 8);
}

/** Docker's stringid.TruncateID: the first 12 hex digits. */
export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);
