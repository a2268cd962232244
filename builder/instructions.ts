// Parsed Dockerfile nodes turned into typed instructions grouped into stages,
// with Docker's validation and messages (buildkit's frontend/dockerfile/
// instructions, as the classic builder of Docker 20.10 reports them).
// Variables are substituted later, when a step runs. Pure.
import type { Node, ParseResult } from './parser.js';
import { parseDockerfile } from './parser.js';

export class InstructionError extends Error {
  constructor(message: string, readonly line = 0) {
    super(message);
    this.name = 'InstructionError';
  }
}

export interface KeyValue { key: string; value: string; noDelim: boolean }
export interface ArgDecl { key: string; value: string | null }

interface Base {
  /** the source line (after continuations) Docker prints as the step */
  code: string;
  line: number;
}

export interface HealthcheckSpec {
  test: string[];
  /** nanoseconds; 0 = inherit */
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

export type Instruction =
  | (Base & { kind: 'env'; env: KeyValue[] })
  | (Base & { kind: 'label'; labels: KeyValue[]; noExpand?: boolean })
  | (Base & { kind: 'maintainer'; maintainer: string })
  | (Base & { kind: 'add'; sources: string[]; dest: string; chown: string; chmod: string })
  | (Base & { kind: 'copy'; sources: string[]; dest: string; chown: string; chmod: string; from: string })
  | (Base & { kind: 'onbuild'; expression: string })
  | (Base & { kind: 'workdir'; path: string })
  | (Base & { kind: 'run'; cmdLine: string[]; prependShell: boolean; flagsUsed: string[] })
  | (Base & { kind: 'cmd'; cmdLine: string[]; prependShell: boolean })
  | (Base & { kind: 'entrypoint'; cmdLine: string[] | null; prependShell: boolean })
  | (Base & { kind: 'healthcheck'; health: HealthcheckSpec })
  | (Base & { kind: 'expose'; ports: string[] })
  | (Base & { kind: 'user'; user: string })
  | (Base & { kind: 'volume'; volumes: string[] })
  | (Base & { kind: 'stopsignal'; signal: string })
  | (Base & { kind: 'arg'; args: ArgDecl[] })
  | (Base & { kind: 'shell'; shell: string[] });

export interface Stage {
  /** the FROM argument before substitution */
  baseName: string;
  /** lower-cased stage name ('' when unnamed) */
  name: string;
  platform: string;
  code: string;
  line: number;
  commands: Instruction[];
}

export interface Dockerfile {
  stages: Stage[];
  /** ARG instructions before the first FROM */
  metaArgs: Array<Extract<Instruction, { kind: 'arg' }>>;
  escapeToken: string;
  directives: Record<string, string>;
  warnings: string[];
}

// --------------------------------------------------------------- flags

type FlagType = 'bool' | 'string' | 'strings';
class Flags {
  private readonly defs = new Map<string, FlagType>();
  private readonly values = new Map<string, string[]>();
  readonly used: string[] = [];
  constructor(private readonly args: string[]) {}
  add(name: string, type: FlagType): this {
    this.defs.set(name, type);
    return this;
  }
  parse(): this {
    for (const a of this.args) {
      if (a === '--') return this;
      if (!a.startsWith('--')) throw new InstructionError(`Arg should start with -- : ${a}`);
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const value = eq < 0 ? '' : a.slice(eq + 1);
      const type = this.defs.get(name);
      if (!type) throw new InstructionError(`Unknown flag: ${name}`);
      if (this.values.has(name) && type !== 'strings') throw new InstructionError(`Duplicate flag specified: ${name}`);
      this.used.push(name);
      if (type === 'bool') {
        if (eq >= 0 && value === '') throw new InstructionError(`Missing a value on flag: ${name}`);
        const l = value.toLowerCase();
        if (l !== '' && l !== 'true' && l !== 'false') throw new InstructionError(`Expecting boolean value for flag ${name}, not: ${value}`);
        this.values.set(name, [l === '' ? 'true' : l]);
      } else {
        if (eq < 0) throw new InstructionError(`Missing a value on flag: ${name}`);
        this.values.set(name, [...(this.values.get(name) ?? []), value]);
      }
    }
    return this;
  }
  str(name: string): string {
    return this.values.get(name)?.[0] ?? '';
  }
}

// --------------------------------------------------------------- per instruction

const errAtLeastOne = (c: string) => new InstructionError(`${c} requires at least one argument`);
const errExactlyOne = (c: string) => new InstructionError(`${c} requires exactly one argument`);
const errNoDest = (c: string) => new InstructionError(`${c} requires at least two arguments, but only one was provided. Destination could not be determined`);
const errBlankNames = (c: string) => new InstructionError(`${c} names can not be blank`);

function kvps(args: string[], cmd: string): KeyValue[] {
  if (args.length === 0) throw errAtLeastOne(cmd);
  if (args.length % 3 !== 0) throw new InstructionError(`Bad input to ${cmd}, too many arguments`);
  const out: KeyValue[] = [];
  for (let j = 0; j < args.length; j += 3) {
    if (args[j]!.length === 0) throw errBlankNames(cmd);
    out.push({ key: args[j]!, value: args[j + 1]!, noDelim: args[j + 2] === '' });
  }
  return out;
}

/** JSON-form arguments as they are; shell form as one string. */
const jsonArgs = (n: Node): string[] => (n.args.length === 0 ? [] : n.json ? n.args : [n.args.join(' ')]);

const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function parseFrom(n: Node): Stage {
  const a = n.args;
  let name = '';
  if (a.length === 3 && a[1]!.toLowerCase() === 'as') {
    name = a[2]!.toLowerCase();
    if (!VALID_STAGE_NAME.test(name)) throw new InstructionError(`invalid name for build stage: ${JSON.stringify(a[2])}, name can't start with a number or contain symbols`);
  } else if (a.length !== 1) {
    throw new InstructionError('FROM requires either one or three arguments');
  }
  const f = new Flags(n.flags).add('platform', 'string').parse();
  return { baseName: a[0]!, name, platform: f.str('platform'), code: n.original.trim(), line: n.startLine, commands: [] };
}

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDuration(s: string): number {
  const orig = s;
  const bad = () => new InstructionError(`time: invalid duration ${JSON.stringify(orig)}`);
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw bad();
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(\.(\d*))?/.exec(s)!;
    if ((m[1] ?? '') === '' && (m[3] ?? '') === '') throw bad();
    s = s.slice(m[0].length);
    const u = /^[^\d.]*/.exec(s)![0];
    if (u === '') throw new InstructionError(`time: missing unit in duration ${JSON.stringify(orig)}`);
    const mult = units[u];
    if (mult === undefined) throw new InstructionError(`time: unknown unit ${JSON.stringify(u)} in duration ${JSON.stringify(orig)}`);
    s = s.slice(u.length);
    total += Number(`${m[1] || '0'}.${m[3] || '0'}`) * mult;
  }
  return Math.round(neg ? -total : total);
}

/** Go's time.Duration.String(). */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    const [unit, div] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = `${trimFloat(u / (div as number))}${unit}`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const sec = `${trimFloat(u / 1e9)}s`;
    out = h ? `${h}h${m}m${sec}` : m ? `${m}m${sec}` : sec;
  }
  return neg ? '-' + out : out;
}
const trimFloat = (x: number): string => String(Number(x.toFixed(9)));

function interval(f: Flags, name: string): number {
  const v = f.str(name);
  if (v === '') return 0;
  const d = parseGoDuration(v);
  if (d === 0) return 0;
  if (d < 1e6) throw new InstructionError(`Interval ${JSON.stringify(name)} cannot be less than 1ms`);
  return d;
}

function parseHealthcheck(n: Node, base: Base): Instruction {
  if (n.args.length === 0) throw errAtLeastOne('HEALTHCHECK');
  const typ = n.args[0]!.toUpperCase();
  const rest = n.args.slice(1);
  if (typ === 'NONE') {
    if (rest.length) throw new InstructionError('HEALTHCHECK NONE takes no arguments');
    new Flags(n.flags).parse();
    return { ...base, kind: 'healthcheck', health: { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 } };
  }
  const f = new Flags(n.flags).add('interval', 'string').add('timeout', 'string').add('start-period', 'string').add('start-interval', 'string').add('retries', 'string').parse();
  if (typ !== 'CMD') throw new InstructionError(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`);
  const cmd = rest.length === 0 ? [] : n.json ? rest : [rest.join(' ')];
  if (cmd.length === 0) throw new InstructionError('Missing command after HEALTHCHECK CMD');
  const test = [n.json ? 'CMD' : 'CMD-SHELL', ...cmd];
  let retries = 0;
  const r = f.str('retries');
  if (r !== '') {
    if (!/^[+-]?\d+$/.test(r)) throw new InstructionError(`strconv.ParseInt: parsing ${JSON.stringify(r)}: invalid syntax`);
    retries = Number(r);
    if (retries < 0) throw new InstructionError(`--retries cannot be negative (${retries})`);
  }
  return {
    ...base, kind: 'healthcheck',
    health: { test, interval: interval(f, 'interval'), timeout: interval(f, 'timeout'), startPeriod: interval(f, 'start-period'), startInterval: interval(f, 'start-interval'), retries },
  };
}

/** One node as an instruction (FROM is handled by the caller). */
export function parseInstruction(n: Node): Instruction {
  const base: Base = { code: n.original.trim(), line: n.startLine };
  const plain = () => new Flags(n.flags).parse();
  switch (n.cmd.toLowerCase()) {
    case 'env':
      plain();
      return { ...base, kind: 'env', env: kvps(n.args, 'ENV') };
    case 'maintainer':
      if (n.args.length !== 1) throw errExactlyOne('MAINTAINER');
      plain();
      return { ...base, kind: 'maintainer', maintainer: n.args[0]! };
    case 'label':
      plain();
      return { ...base, kind: 'label', labels: kvps(n.args, 'LABEL') };
    case 'add': {
      if (n.args.length < 2) throw errNoDest('ADD');
      const f = new Flags(n.flags).add('chown', 'string').add('chmod', 'string').parse();
      return { ...base, kind: 'add', sources: n.args.slice(0, -1), dest: n.args[n.args.length - 1]!, chown: f.str('chown'), chmod: f.str('chmod') };
    }
    case 'copy': {
      if (n.args.length < 2) throw errNoDest('COPY');
      const f = new Flags(n.flags).add('chown', 'string').add('from', 'string').add('chmod', 'string').parse();
      return { ...base, kind: 'copy', sources: n.args.slice(0, -1), dest: n.args[n.args.length - 1]!, chown: f.str('chown'), chmod: f.str('chmod'), from: f.str('from') };
    }
    case 'onbuild': {
      if (n.args.length === 0) throw errAtLeastOne('ONBUILD');
      plain();
      const trigger = n.args[0]!.trim().toUpperCase();
      if (trigger === 'ONBUILD') throw new InstructionError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new InstructionError(`${trigger} isn't allowed as an ONBUILD trigger`);
      return { ...base, kind: 'onbuild', expression: n.original.replace(/^\s*ONBUILD\s*/i, '') };
    }
    case 'workdir':
      if (n.args.length !== 1) throw errExactlyOne('WORKDIR');
      plain();
      return { ...base, kind: 'workdir', path: n.args[0]! };
    case 'run': {
      // BuildKit's RUN flags are recognised so that the step can refuse them as Docker's classic builder does.
      const f = new Flags(n.flags).add('mount', 'strings').add('network', 'string').add('security', 'string').parse();
      return { ...base, kind: 'run', cmdLine: jsonArgs(n), prependShell: !n.json, flagsUsed: f.used };
    }
    case 'cmd':
      plain();
      return { ...base, kind: 'cmd', cmdLine: jsonArgs(n), prependShell: !n.json };
    case 'entrypoint': {
      plain();
      const a = jsonArgs(n);
      return { ...base, kind: 'entrypoint', cmdLine: a.length ? a : null, prependShell: !n.json };
    }
    case 'healthcheck':
      return parseHealthcheck(n, base);
    case 'expose':
      if (n.args.length === 0) throw errAtLeastOne('EXPOSE');
      plain();
      return { ...base, kind: 'expose', ports: [...n.args].sort() };
    case 'user':
      if (n.args.length !== 1) throw errExactlyOne('USER');
      plain();
      return { ...base, kind: 'user', user: n.args[0]! };
    case 'volume': {
      if (n.args.length === 0) throw errAtLeastOne('VOLUME');
      plain();
      const volumes = n.args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw new InstructionError('VOLUME specified can not be an empty string');
      return { ...base, kind: 'volume', volumes };
    }
    case 'stopsignal':
      if (n.args.length !== 1) throw errExactlyOne('STOPSIGNAL');
      plain();
      return { ...base, kind: 'stopsignal', signal: n.args[0]! };
    case 'arg': {
      if (n.args.length < 1) throw errAtLeastOne('ARG');
      plain();
      const args = n.args.map((a) => {
        const i = a.indexOf('=');
        if (i < 0) return { key: a, value: null };
        if (i === 0) throw errBlankNames('ARG');
        return { key: a.slice(0, i), value: a.slice(i + 1) };
      });
      return { ...base, kind: 'arg', args };
    }
    case 'shell': {
      plain();
      const a = jsonArgs(n);
      if (a.length === 0) throw errAtLeastOne('SHELL');
      if (!n.json) throw new InstructionError('SHELL requires the arguments to be in JSON form');
      return { ...base, kind: 'shell', shell: a };
    }
    default:
      throw new InstructionError(`unknown instruction: ${n.cmd.toUpperCase()}`);
  }
}

/** Wraps an instruction error the way Docker reports it. */
const located = (e: unknown, n: Node): never => {
  if (e instanceof InstructionError) throw new InstructionError(`dockerfile parse error line ${n.startLine}: ${e.message}`, n.startLine);
  throw e;
};

export function parseStages(parsed: ParseResult): Dockerfile {
  const stages: Stage[] = [];
  const metaArgs: Dockerfile['metaArgs'] = [];
  for (const n of parsed.nodes) {
    if (n.cmd.toLowerCase() === 'from') {
      try {
        stages.push(parseFrom(n));
      } catch (e) {
        located(e, n);
      }
      continue;
    }
    let ins: Instruction;
    try {
      ins = parseInstruction(n);
    } catch (e) {
      return located(e, n);
    }
    if (stages.length === 0) {
      if (ins.kind === 'arg') {
        metaArgs.push(ins);
        continue;
      }
      throw new InstructionError('no build stage in current context', n.startLine);
    }
    stages[stages.length - 1]!.commands.push(ins);
  }
  return { stages, metaArgs, escapeToken: parsed.escapeToken, directives: parsed.directives, warnings: parsed.warnings };
}

/** Parses Dockerfile text into stages (throws DockerfileParseError or InstructionError). */
export function parseDockerfileStages(text: string | Buffer): Dockerfile {
  return parseStages(parseDockerfile(text));
}

/** The index of the stage named (case-insensitively) `name`, or -1. */
export function findStage(stages: Stage[], name: string): number {
  const l = name.toLowerCase();
  return stages.findIndex((s) => s.name === l);
}
