// The firewall behind one interface (libnetwork's firewaller): a RulePlan
// (iptables.ts, pure data) is installed or removed as one atomic batch per
// table, and per-port rules are added and deleted the same way. The backend
// here feeds `iptables-restore --noflush`, which is atomic per table on both
// of Debian 12's iptables backends (nf_tables, the default there, and legacy),
// instead of one `iptables` process per rule with a `-C` probe before each jump.
// An `nft -f` backend would implement the same interface.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { RulePlan, Table } from './iptables.js';

const run = promisify(execFile);

/** One rule in one of our chains, e.g. { table: 'nat', chain: 'TSD-P-tsd0', args: ['-p', 'tcp', ...] }. */
export interface Rule {
  table: Table;
  chain: string;
  args: string[];
}

export interface Firewaller {
  /** Create (or flush) the plan's chains, fill them, hook each jump in exactly once. Idempotent. */
  setup(plan: RulePlan): Promise<void>;
  /** Unhook every copy of the plan's jumps, flush and delete its chains. Idempotent. */
  teardown(plan: RulePlan): Promise<void>;
  /** Append rules to chains a setup made. */
  append(rules: Rule[]): Promise<void>;
  /** Delete rules; ones already gone are not an error. */
  delete(rules: Rule[]): Promise<void>;
}

// ---- the batches, as text (pure) ------------------------------------------

/** What `iptables-save` shows of a table: its chains and its rules as `-A` lines. */
export interface SavedTable {
  chains: Set<string>;
  rules: string[];
}

export function parseSave(text: string): Map<string, SavedTable> {
  const out = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      cur = { chains: new Set(), rules: [] };
      out.set(line.slice(1).trim(), cur);
    } else if (!cur) {
      continue;
    } else if (line.startsWith(':')) {
      cur.chains.add(line.slice(1).split(' ')[0]!);
    } else if (line.startsWith('-A ')) {
      cur.rules.push(line.trim());
    }
  }
  return out;
}

const SAFE_ARG = /^[^\s"'\\#]+$/;

function words(args: string[]): string {
  for (const a of args) if (!SAFE_ARG.test(a)) throw new Error(`firewall argument not allowed in a batch: ${JSON.stringify(a)}`);
  return args.join(' ');
}

const tablesOf = (p: RulePlan): Table[] => [...new Set<Table>([...p.chains.map((c) => c.table), ...p.jumps.map((j) => j.table)])];

/** The saved rules of a built-in chain that jump to one of `targets` (whatever other matches they carry). */
function jumpsTo(saved: SavedTable | undefined, from: string, targets: Set<string>): string[] {
  if (!saved) return [];
  return saved.rules.filter((r) => {
    const w = r.split(' ');
    return w[1] === from && targets.has(w[w.indexOf('-j') + 1] ?? '') && w.lastIndexOf('-j') === w.indexOf('-j');
  });
}

/** `-A CHAIN rest` → `-D CHAIN rest`: a saved line deletes exactly that rule. */
const deleteOf = (saved: string): string => '-D' + saved.slice(2);

/**
 * Setup batch: per table, our chains declared (`:C - [0:0]` creates a chain or,
 * with --noflush, flushes it), their rules, then every jump we hooked before
 * taken out (as saved) and hooked in again, so the result has each jump once
 * whatever the previous state. Never names a chain that is not ours, except as
 * the built-in a jump is hooked into.
 */
export function renderSetup(p: RulePlan, saved: Map<string, SavedTable>): string {
  let out = '';
  for (const table of tablesOf(p)) {
    const ours = new Set(p.chains.filter((c) => c.table === table).map((c) => c.chain));
    const jumps = p.jumps.filter((j) => j.table === table);
    const lines: string[] = [];
    for (const c of p.chains.filter((c) => c.table === table)) lines.push(`:${c.chain} - [0:0]`);
    for (const c of p.chains.filter((c) => c.table === table)) for (const r of c.rules) lines.push(`-A ${c.chain} ${words(r)}`);
    const froms = [...new Set(jumps.map((j) => j.from))];
    for (const from of froms) for (const r of jumpsTo(saved.get(table), from, ours)) lines.push(deleteOf(r));
    for (const j of jumps) lines.push(j.where === 'insert' ? `-I ${j.from} 1 ${words(j.args)}` : `-A ${j.from} ${words(j.args)}`);
    out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

/** Teardown batch: every jump to our chains (as saved) removed, then our chains that exist flushed and deleted. '' when nothing is there. */
export function renderTeardown(p: RulePlan, saved: Map<string, SavedTable>): string {
  let out = '';
  for (const table of tablesOf(p)) {
    const s = saved.get(table);
    if (!s) continue;
    const ours = new Set(p.chains.filter((c) => c.table === table).map((c) => c.chain));
    const lines: string[] = [];
    const froms = [...new Set(p.jumps.filter((j) => j.table === table).map((j) => j.from))];
    for (const from of froms) for (const r of jumpsTo(s, from, ours)) lines.push(deleteOf(r));
    const present = [...ours].filter((c) => s.chains.has(c));
    for (const c of present) lines.push(`-F ${c}`);
    for (const c of present) lines.push(`-X ${c}`);
    if (lines.length) out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

/** Rules to append or delete, grouped by table. */
export function renderRules(op: '-A' | '-D', rules: Rule[]): string {
  let out = '';
  for (const table of [...new Set(rules.map((r) => r.table))]) {
    const lines = rules.filter((r) => r.table === table).map((r) => `${op} ${r.chain} ${words(r.args)}`);
    out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

// ---- the iptables-restore backend -------------------------------------------

function restore(bin: string, batch: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['--noflush', '-w', '5'], { stdio: ['pipe', 'ignore', 'pipe'], timeout: 15_000, killSignal: 'SIGKILL' });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const why = signal ? `killed (${signal})` : `exit ${code}`;
      reject(new Error(`${bin} --noflush: ${why}: ${err.trim().split('\n')[0] ?? ''}\n${batch}`));
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(batch);
  });
}

export interface IptablesRestoreOptions {
  /** default 'iptables-restore' / 'iptables-save' / 'iptables' (whichever backend the host's alternatives select, as dockerd) */
  restore?: string;
  save?: string;
  iptables?: string;
}

export function createIptablesFirewaller(o: IptablesRestoreOptions = {}): Firewaller {
  const restoreBin = o.restore ?? 'iptables-restore';
  // One `iptables-save` of every table: a table that does not exist yet is simply absent (empty).
  const save = async (): Promise<Map<string, SavedTable>> =>
    parseSave((await run(o.save ?? 'iptables-save', [], { timeout: 15_000, maxBuffer: 64 << 20 }).catch(() => ({ stdout: '' }))).stdout);
  return {
    async setup(p) {
      if (!p.chains.length && !p.jumps.length) return;
      try {
        await restore(restoreBin, renderSetup(p, await save()));
      } catch {
        // the saved state moved under us (another process changed the chain): read it again once
        await restore(restoreBin, renderSetup(p, await save()));
      }
    },
    async teardown(p) {
      const batch = renderTeardown(p, await save());
      if (batch) await restore(restoreBin, batch);
    },
    async append(rules) {
      if (rules.length) await restore(restoreBin, renderRules('-A', rules));
    },
    async delete(rules) {
      if (!rules.length) return;
      try {
        await restore(restoreBin, renderRules('-D', rules));
      } catch {
        // one of them is already gone (the batch is all or nothing): delete the others one by one
        for (const r of rules) await run(o.iptables ?? 'iptables', ['-w', '5', '-t', r.table, '-D', r.chain, ...r.args], { timeout: 15_000 }).catch(() => undefined);
      }
    },
  };
}
