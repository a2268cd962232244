// tsctl explain CONTAINER: the container as what it is made of — a process,
// its namespaces, its cgroup, its veths and mounts — rendered from
// GET /containers/{id}/primitives for a person: the verdict first, then every
// figure next to the file it came from, then how to get in by hand.
// --format json prints the API's answer; --script prints a shell script that
// builds the same thing with unshare, mount, pivot_root and cgroup writes.
import type { Command } from 'commander';
import { UsageError } from './client.js';
import { act, ref, type Ctx } from './context.js';
import { bytesSize, printFormatted, shortId } from './format.js';
import { explainScript } from './explain-script.js';

type Json = Record<string, any>;

const BYTES = /(_in_bytes|^memory\.(max|current|peak|high|low|swap\.max|swap\.current))$/;

/** A cgroup figure for a person: bytes in IEC units, "max" as unlimited. */
function human(f: Json): string {
  if (f.raw === '') return '-';
  const file = String(f.file).split(' ')[0];
  if (f.value === null) return f.raw === 'max' ? 'unlimited (max)' : String(f.raw).split('\n').join('; ');
  if (BYTES.test(file!)) return f.value >= 2 ** 62 ? 'unlimited' : bytesSize(f.value);
  return String(f.raw);
}

const cores = (quota: number, period: number) => {
  const c = quota / period;
  return c < 1 ? `${Math.round(c * 100)}% of one core` : `${Number(c.toFixed(2))} cores`;
};

function tree(node: Json, depth: number, out: string[]): void {
  for (const ch of node.children ?? []) {
    out.push(`${'   '.repeat(depth)}└─ pid ${ch.pid} (${ch.nspid[ch.nspid.length - 1]} inside): ${(ch.command as string[]).join(' ')}`);
    tree(ch, depth + 1, out);
  }
}

export function renderExplain(p: Json): string {
  const out: string[] = [];
  const w = (s = '') => out.push(s);
  const cg = p.cgroup;
  w(`${p.name} (${shortId(p.id)}), image ${p.image}, ${p.state}${p.exit ? `, exited ${p.exit.code}${p.exit.oomKilled ? ' (OOM-killed)' : ''} at ${p.exit.finishedAt}` : ''}`);
  for (const v of p.verdicts) w(`!! ${v}`);
  if (!p.verdicts.length) w('nothing wrong that the kernel reports');
  w();

  w('PROCESS');
  if (p.process) {
    w(`  pid ${p.process.hostPid} on the host, pid ${p.process.containerPid} inside: ${(p.process.command as string[]).join(' ')}`);
    const kids: string[] = [];
    tree(p.process, 1, kids);
    for (const k of kids) w(`  ${k}`);
    if (!kids.length) w('  no children');
  } else w('  not running');
  w();

  w(`NAMESPACES${p.process ? `  (ls -l /proc/${p.process.hostPid}/ns)` : ''}`);
  if (p.process) {
    for (const n of p.namespaces) {
      const shared = n.sharing === 'host' ? 'shared with the host' : n.sharing === 'container' ? `shared with container ${n.with}` : n.sharing === 'private' ? 'its own' : 'unknown';
      const why = [n.flag, n.note].filter(Boolean).join('; ');
      w(`  ${n.type.padEnd(7)} ${String(n.inode ?? '-').padEnd(12)} ${shared}${why ? `  (${why})` : ''}`);
    }
  } else w('  gone with the process');
  w();

  // a stopped container: the cgroup is gone; its files as read at the exit, when they were kept
  const view = cg.present ? cg : p.atExit?.cgroup;
  w(`CGROUP  ${cg.version}, ${cg.driver} driver, ${cg.path}${cg.present ? '' : p.atExit ? `  (removed at exit; its files as they read at ${p.atExit.exitedAt}, pid ${p.atExit.pid})` : '  (removed; its counters were not kept)'}`);
  if (view) {
    for (const c of view.controllers) {
      if (!c.present || !c.figures.length) continue;
      w(`  ${c.name}  ${c.dir}`);
      if (c.name === 'cpu') {
        const q = view.cpu.quotaUsec;
        w(`    ${'limit'.padEnd(32)} ${(q ? `${q}/${view.cpu.periodUsec} µs = ${cores(q, view.cpu.periodUsec)}` : 'none').padEnd(28)} ${view.version === 'v1' ? 'cpu.cfs_quota_us / cpu.cfs_period_us' : 'cpu.max'}`);
        const t = cg.throttling;
        const st = view.cpu.stat;
        if (t) w(`    ${`throttled, last ${t.seconds} s`.padEnd(32)} ${`${t.throttled} of ${t.periods} periods (${Math.round(t.share * 100)}%)`.padEnd(28)} cpu.stat nr_throttled / nr_periods`);
        else if (!cg.present && st.nrPeriods > 0) w(`    ${'throttled over its run'.padEnd(32)} ${`${st.nrThrottled} of ${st.nrPeriods} periods (${Math.round((st.nrThrottled / st.nrPeriods) * 100)}%)`.padEnd(28)} cpu.stat nr_throttled / nr_periods`);
      }
      for (const f of c.figures) {
        if (c.name === 'devices') { w(`    ${f.what.padEnd(32)} ${f.file}:`); for (const l of String(f.raw).split('\n')) w(`      ${l}`); continue; }
        w(`    ${String(f.what).padEnd(32)} ${human(f).padEnd(28)} ${f.file}`);
      }
    }
    if (view.pressure) for (const [r, v] of Object.entries(view.pressure as Record<string, Json>)) w(`  pressure ${r}: some avg10=${v.some?.avg10 ?? 0}% avg60=${v.some?.avg60 ?? 0}%${v.full ? `, full avg10=${v.full.avg10}%` : ''}  (${r}.pressure)`);
    else w(`  pressure (PSI): ${view.version === 'v1' ? 'no per-cgroup PSI on cgroup v1' : 'not enabled in this kernel'}`);
  }
  if (!cg.present) {
    const s = p.spec;
    w('  what it asked for (from the container record):');
    w(`    memory limit ${s.memory ? bytesSize(s.memory) : 'none'}, memory+swap ${s.memorySwap > 0 ? bytesSize(s.memorySwap) : s.memorySwap < 0 ? 'unlimited' : 'default'}`);
    w(`    CPU ${s.nanoCpus ? `${s.nanoCpus / 1e9} CPUs (--cpus)` : s.cpuQuota ? `quota ${s.cpuQuota}/${s.cpuPeriod || 100000}` : 'unlimited'}${s.cpusetCpus ? `, cpuset ${s.cpusetCpus}` : ''}${s.cpuShares ? `, shares ${s.cpuShares}` : ''}`);
    w(`    pids limit ${s.pidsLimit && s.pidsLimit > 0 ? s.pidsLimit : 'none'}`);
  }
  for (const o of cg.oomKillsLogged ?? []) w(`  kernel log: OOM kill of ${o.task} (pid ${o.pid}) at ${new Date(o.at).toISOString()}`);
  w();

  w('NETWORK');
  const net = p.network;
  w(`  mode ${net.mode}`);
  for (const i of net.interfaces) {
    w(`  ${i.ifname} (ifindex ${i.ifindex ?? '?'}) inside  <=>  ${i.hostVeth.name} (ifindex ${i.hostVeth.ifindex ?? '?'}) on the host, bridge ${i.bridge ?? '?'}`);
    w(`    address ${i.address}, gateway ${i.gateway}, mac ${i.mac}   (network ${i.network})`);
  }
  for (const s of net.seen) if (!net.interfaces.some((i: Json) => i.ifname === s.ifname)) w(`  ${s.ifname} (ifindex ${s.ifindex}) ${s.addresses.join(' ')} ${s.mac !== '00:00:00:00:00:00' ? s.mac : ''}`.trimEnd());
  if (net.defaultRoute) w(`  default route via ${net.defaultRoute.gateway} dev ${net.defaultRoute.ifname}   (/proc/${p.process?.hostPid}/net/route)`);
  for (const x of net.ports) {
    const how = x.servedBy === 'kernel DNAT' ? 'by the kernel (DNAT)' : 'by tsd\'s userland proxy (the kernel does not route loopback to a bridge)';
    w(`  published ${x.hostIp}:${x.hostPort} -> ${x.container}, ${how}`);
    for (const r of x.rules ?? []) w(`    ${r.rule}${r.installed ? '' : '   MISSING from iptables-save -t nat'}`);
  }
  if (net.rules.length) { w('  rules that mention its address (iptables-save):'); for (const r of net.rules) w(`    ${r}`); }
  w();

  w('FILESYSTEM');
  const fs = p.filesystem;
  w(`  overlay ${fs.mounted ? 'mounted' : 'not mounted'} at ${fs.rootfs}`);
  fs.lowerdirs.forEach((l: Json, i: number) => w(`    lower ${String(i).padStart(2)}  ${l.chainId ?? '(unknown layer)'}  ${l.path}`));
  w(`    upper     ${fs.upperdir}`);
  w(`    work      ${fs.workdir}`);
  if (fs.mounts.length) {
    w(`  what it sees (/proc/${p.process?.hostPid}/mountinfo):`);
    for (const m of fs.mounts) w(`    ${m.target.padEnd(24)} ${m.fstype.padEnd(8)} ${m.source === m.fstype ? '' : `${m.source} `}${m.root !== '/' ? `[${m.root}] ` : ''}${m.options}`);
  }
  const list = (xs: Json[], v: unknown) => xs.filter((x) => x.applied === v).map((x) => x.path).join(' ');
  if (fs.masked.length) w(`  masked: ${list(fs.masked, true) || '-'}${list(fs.masked, 'absent') ? `   (not on this kernel: ${list(fs.masked, 'absent')})` : ''}${list(fs.masked, false) ? `   NOT masked: ${list(fs.masked, false)}` : ''}${list(fs.masked, null) ? list(fs.masked, null) : ''}`);
  if (fs.readonly.length) w(`  read-only: ${list(fs.readonly, true) || list(fs.readonly, null) || '-'}${list(fs.readonly, false) ? `   NOT read-only: ${list(fs.readonly, false)}` : ''}`);
  w();

  w('SECURITY');
  const s = p.security;
  if (s.capabilities) {
    const names = (xs: string[]) => (xs.length ? xs.map((c) => c.replace(/^CAP_/, '')).join(' ') : 'none');
    w(`  capabilities, effective: ${names(s.capabilities.effective)}   (CapEff ${s.masks.CapEff})`);
    w(`  capabilities, bounding:  ${s.masks.CapBnd === s.masks.CapEff ? 'the same' : names(s.capabilities.bounding)}   (CapBnd ${s.masks.CapBnd})`);
    w(`  seccomp: ${s.seccomp.mode}${s.seccomp.mode === 'filter' ? ` (${s.seccomp.filters} filter${s.seccomp.filters === 1 ? '' : 's'})` : ''}, profile ${s.seccompProfile}`);
    w(`  no_new_privs: ${s.noNewPrivs ? 'set' : 'not set'}`);
    const [ruid, euid] = s.credentials.uid;
    const [rgid, egid] = s.credentials.gid;
    w(`  user: uid ${ruid}${euid !== ruid ? ` (effective ${euid})` : ''}, gid ${rgid}${egid !== rgid ? ` (effective ${egid})` : ''}, groups ${s.credentials.groups.join(' ') || 'none'}   (asked: ${s.user})`);
  } else w(`  seccomp profile ${s.seccompProfile}, user ${s.user}${s.privileged ? ', privileged' : ''}`);
  if (s.privileged) w('  privileged: all capabilities, no seccomp, no masked paths, devices allowed');
  if (s.readonlyRootfs) w('  root filesystem mounted read-only (--read-only)');
  w();

  if (p.gone.length) {
    w('GONE');
    for (const g of p.gone) w(`  ${g}`);
    w();
  }

  w('GET IN');
  if (p.access.nsenter) w(`  ${p.access.nsenter}`);
  for (const f of p.access.files) w(`  cat ${f.path}`.padEnd(100) + `  # ${f.what}`);
  return out.join('\n') + '\n';
}

export function registerExplain(program: Command, ctx: Ctx): void {
  program.command('explain').description('Show a container as the process, namespaces, cgroup, veths and mounts it is made of')
    .option('--format <string>', "'json' for the primitives API's answer, or a Go template")
    .option('--script', 'print a shell script that builds the same container by hand (unshare, mount, pivot_root, cgroup files, ip link)')
    .option('-w, --window <seconds>', 'sample CPU throttling over this many seconds (0-10)', '1')
    .argument('<container>')
    .action(act(ctx, async (r: string, o: { format?: string; script?: boolean; window: string }) => {
      const win = Number(o.window);
      if (!Number.isFinite(win) || win < 0 || win > 10) throw new UsageError(`invalid argument "${o.window}" for "--window" flag: seconds from 0 to 10`);
      const p = await ctx.client().json<Json>('GET', `/containers/${ref(r)}/primitives`, { query: { window: o.script ? 0 : win } });
      if (o.script) { process.stdout.write(explainScript(p)); return; }
      if (o.format === 'json') { process.stdout.write(`${JSON.stringify(p, null, 2)}\n`); return; }
      if (printFormatted(o.format, [p])) return;
      process.stdout.write(renderExplain(p));
    }));
}
