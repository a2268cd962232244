// Recording fakes of the controller's executors (no root, no kernel changes).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type DB } from '../../../store/index.js';
import { FakeSyscalls } from '../../../sys/fake.js';
import { createNetworkController, type NetworkController } from '../../../netctl/index.js';
import type { Firewaller, Rule } from '../../../netctl/firewall.js';
import type { RulePlan } from '../../../netctl/iptables.js';
import type { IpExecutor } from '../../../netctl/links.js';

export type FwCall = { op: 'setup' | 'teardown'; plan: RulePlan } | { op: 'append' | 'delete'; rules: Rule[] };

export interface Harness {
  ctl: NetworkController;
  db: DB;
  dir: string;
  ipLog: { where: string; lines: string[] }[];
  /** every Firewaller call, in order */
  fwLog: FwCall[];
  sys: FakeSyscalls;
  addContainer(id: string, name: string): void;
  /** Link deletions wait until the returned function is called (the kernel's RCU wait, made long). */
  holdDeletes(): () => void;
  cleanup(): void;
}

export function harness(opts: { pools?: { base: string; size: number }[]; hostResolvConf?: string } = {}): Harness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-netctl-unit-'));
  const db = openDatabase(path.join(dir, 'db.sqlite'));
  const ipLog: Harness['ipLog'] = [];
  const fwLog: FwCall[] = [];
  const links = new Set<string>(); // host devices the fake "kernel" has
  const track = (lines: string[]) => {
    for (const l of lines) {
      const add = /^link add (?:name )?(\S+)/.exec(l);
      if (add) links.add(add[1]!);
      const peer = / peer name (\S+)/.exec(l);
      if (peer) links.add(peer[1]!);
      const del = /^link del (\S+)/.exec(l);
      if (del) links.delete(del[1]!);
    }
  };
  let held: Promise<void> | null = null;
  const ip: IpExecutor = {
    host: async (lines) => {
      ipLog.push({ where: 'host', lines });
      if (held && lines.some((l) => l.startsWith('link del '))) await held;
      track(lines);
    },
    inNetns: async (file, lines) => {
      ipLog.push({ where: `nsenter ${file}`, lines });
      track(lines.filter((l) => l.includes(' peer name ')).map((l) => l.replace(/^link add \S+/, 'link add ifname-inside')));
      links.delete('ifname-inside');
    },
    createNetns: async (file, lines) => {
      ipLog.push({ where: `unshare ${file}`, lines });
      track(lines.filter((l) => l.includes(' peer name ')).map((l) => l.replace(/^link add \S+/, 'link add ifname-inside')));
      links.delete('ifname-inside');
    },
  };
  const firewall = recordingFirewaller(fwLog);
  const sys = new FakeSyscalls();
  const ctl = createNetworkController(
    { db, execRoot: path.join(dir, 'run'), bridge: 'tsdu0', bip: '10.250.0.1/24', pools: opts.pools ?? [{ base: '10.251.0.0/16', size: 24 }], hostResolvConf: opts.hostResolvConf ?? path.join(dir, 'none') },
    { ip, firewall, sys, enableForwarding: () => undefined, linkExists: (name) => links.has(name) },
  );
  return {
    ctl,
    db,
    dir,
    ipLog,
    fwLog,
    sys,
    addContainer(id, name) {
      db.prepare(`INSERT INTO containers (id, name, image_id, image_ref, created_at, state, config, host_config) VALUES (?, ?, 'i', 'r', 'now', 'running', '{}', '{}')`).run(id, '/' + name);
    },
    holdDeletes() {
      let release!: () => void;
      held = new Promise((r) => (release = r));
      return () => { held = null; release(); };
    },
    cleanup() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Firewaller that records what it is asked to do. */
export function recordingFirewaller(log: FwCall[]): Firewaller {
  return {
    setup: async (plan) => void log.push({ op: 'setup', plan }),
    teardown: async (plan) => void log.push({ op: 'teardown', plan }),
    append: async (rules) => void log.push({ op: 'append', rules }),
    delete: async (rules) => void log.push({ op: 'delete', rules }),
  };
}

/** The chains a teardown in the log removed, as `table/chain`. */
export const tornDown = (log: FwCall[]): string[] => log.flatMap((c) => (c.op === 'teardown' ? c.plan.chains.map((ch) => `${ch.table}/${ch.chain}`) : []));
