// iptables rules of one bridge network, computed as data (pure), then applied
// by a thin executor. Every chain is named after the bridge, so two daemons
// with different bridges never touch each other's rules, and teardown removes
// exactly what setup added. Layout (after Docker's):
//   filter TSD-ISO-<br>  jumped to from the TOP of FORWARD: drops new
//                        connections into the bridge from any other interface
//                        (other networks, other daemons' bridges, outside).
//   filter TSD-<br>      jumped to from the END of FORWARD: accepts traffic
//                        from and (then) to the bridge, whatever FORWARD's policy.
//   nat    TSD-<br>      jumped to from POSTROUTING: MASQUERADE the subnet when
//                        it leaves through another interface.
// Internal networks get no MASQUERADE and drop everything leaving the bridge.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Table = 'filter' | 'nat';

export interface ChainSpec {
  table: Table;
  chain: string;
  rules: string[][];
}

export interface JumpSpec {
  table: Table;
  /** built-in chain to hook into */
  from: string;
  /** 'insert' = at position 1, 'append' = at the end */
  where: 'insert' | 'append';
  args: string[];
}

export interface RulePlan {
  chains: ChainSpec[];
  jumps: JumpSpec[];
}

export const chainNames = (bridge: string) => ({ accept: `TSD-${bridge}`, isolation: `TSD-ISO-${bridge}`, nat: `TSD-${bridge}` });

/** `masquerade: false` is Docker's com.docker.network.bridge.enable_ip_masquerade=false. */
export function planBridgeRules(n: { bridge: string; subnet: string; internal: boolean; masquerade?: boolean }): RulePlan {
  const { bridge: br, subnet } = n;
  const c = chainNames(br);
  const isolation: string[][] = n.internal
    ? [
        ['-i', br, '!', '-o', br, '-j', 'DROP'],
        ['-o', br, '!', '-i', br, '-j', 'DROP'],
      ]
    : [['-o', br, '!', '-i', br, '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'DROP']];
  const accept: string[][] = n.internal
    ? [['-i', br, '-o', br, '-j', 'ACCEPT']]
    : [
        ['-i', br, '-j', 'ACCEPT'],
        ['-o', br, '-j', 'ACCEPT'],
      ];
  const chains: ChainSpec[] = [
    { table: 'filter', chain: c.isolation, rules: isolation },
    { table: 'filter', chain: c.accept, rules: accept },
  ];
  const jumps: JumpSpec[] = [
    { table: 'filter', from: 'FORWARD', where: 'insert', args: ['-j', c.isolation] },
    { table: 'filter', from: 'FORWARD', where: 'append', args: ['-i', br, '-j', c.accept] },
    { table: 'filter', from: 'FORWARD', where: 'append', args: ['-o', br, '-j', c.accept] },
  ];
  if (!n.internal && n.masquerade !== false) {
    chains.push({ table: 'nat', chain: c.nat, rules: [['-s', subnet, '!', '-o', br, '-j', 'MASQUERADE']] });
    jumps.push({ table: 'nat', from: 'POSTROUTING', where: 'append', args: ['-s', subnet, '-j', c.nat] });
  }
  return { chains, jumps };
}

/** One iptables invocation (without the binary and -w). */
export type IptablesCall = { args: string[]; ignoreFailure?: boolean; checkFirst?: string[] };

/** Setup as a list of invocations: create (or flush) our chains, fill them, hook them in once. */
export function setupCalls(p: RulePlan): IptablesCall[] {
  const calls: IptablesCall[] = [];
  for (const c of p.chains) {
    calls.push({ args: ['-t', c.table, '-N', c.chain], ignoreFailure: true });
    calls.push({ args: ['-t', c.table, '-F', c.chain] });
    for (const r of c.rules) calls.push({ args: ['-t', c.table, '-A', c.chain, ...r] });
  }
  for (const j of p.jumps) {
    calls.push({
      checkFirst: ['-t', j.table, '-C', j.from, ...j.args],
      args: ['-t', j.table, ...(j.where === 'insert' ? ['-I', j.from, '1'] : ['-A', j.from]), ...j.args],
    });
  }
  return calls;
}

/** Teardown: unhook (every copy), flush and delete our chains. All failures ignored (idempotent). */
export function teardownCalls(p: RulePlan): IptablesCall[] {
  const calls: IptablesCall[] = [];
  for (const j of p.jumps) calls.push({ args: ['-t', j.table, '-D', j.from, ...j.args], ignoreFailure: true });
  for (const c of p.chains) {
    calls.push({ args: ['-t', c.table, '-F', c.chain], ignoreFailure: true });
    calls.push({ args: ['-t', c.table, '-X', c.chain], ignoreFailure: true });
  }
  return calls;
}

export interface IptablesExecutor {
  apply(calls: IptablesCall[]): Promise<void>;
}

export function createIptablesExecutor(bin = 'iptables'): IptablesExecutor {
  const ipt = (args: string[]) => run(bin, ['-w', '5', ...args]);
  return {
    async apply(calls) {
      for (const c of calls) {
        if (c.checkFirst) {
          try {
            await ipt(c.checkFirst);
            continue; // already there
          } catch {
            /* missing: add it */
          }
        }
        if (c.args.includes('-D')) {
          // delete every copy of a jump
          for (let i = 0; i < 16; i++) {
            try {
              await ipt(c.args);
            } catch {
              break;
            }
          }
          continue;
        }
        try {
          await ipt(c.args);
        } catch (e) {
          if (!c.ignoreFailure) {
            const err = e as { stderr?: string; message: string };
            throw new Error(`iptables ${c.args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
          }
        }
      }
    },
  };
}
