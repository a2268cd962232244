// tsctl explain --script: the container built again by hand, as a person would
// without any engine — overlay mount of the image's layers, cgroup directories
// and limit files, a network namespace with a veth on the bridge, unshare for
// the other namespaces, the container's mounts, pivot_root, and setpriv for
// the user and capabilities. `sh script` runs it in the foreground;
// `sh script cleanup` undoes every step. It builds a second container beside
// the first (its own cgroup, veth, netns and upper dir), never touching it.
//
// What it does not do: seccomp (no command-line tool loads a BPF filter), and
// on cgroup v2 the device rules (an eBPF program there; on v1 devices.list is
// written back as devices.deny/devices.allow).
type Json = Record<string, any>;

const q = (s: string): string => `'${String(s).replace(/'/g, `'\\''`)}'`;

const DEFAULT_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'NET_BIND_SERVICE', 'NET_RAW', 'SYS_CHROOT', 'MKNOD', 'AUDIT_WRITE', 'SETFCAP'];

/** The bounding set the container has (read from /proc when it runs, else Docker's defaults with --cap-add/--cap-drop). */
function capabilities(p: Json): string[] | 'all' {
  if (p.security?.capabilities) return (p.security.capabilities.bounding as string[]).map((c) => c.replace(/^CAP_/, ''));
  if (p.spec.privileged) return 'all';
  const norm = (c: string) => c.toUpperCase().replace(/^CAP_/, '');
  const add = (p.spec.capAdd as string[]).map(norm);
  const drop = (p.spec.capDrop as string[]).map(norm);
  if (add.includes('ALL')) return 'all';
  return [...new Set([...(drop.includes('ALL') ? [] : DEFAULT_CAPS), ...add])].filter((c) => !drop.includes(c));
}

function cgroupWrites(p: Json): string[] {
  const cg = p.cgroup;
  const s = p.spec;
  const out: string[] = [];
  // the values the kernel holds now when it runs, or held at its exit; what the record asked for otherwise
  const view: Json | undefined = cg.present ? cg : p.atExit?.cgroup;
  const fig = (ctl: string, file: string): Json | undefined => view?.controllers?.find((c: Json) => c.name === ctl)?.figures?.find((f: Json) => f.file === file);
  const val = (ctl: string, file: string, fallback: string | null): string | null => {
    const f = fig(ctl, file);
    if (f && f.raw !== '') return String(f.raw);
    return fallback;
  };
  const period = s.cpuPeriod || 100000;
  const quota = s.nanoCpus ? Math.round((s.nanoCpus / 1e9) * period) : s.cpuQuota || null;
  if (cg.version === 'v1') {
    const w = (ctl: string, file: string, v: string | null) => { if (v !== null && v !== '') out.push(`echo ${q(v)} > "/sys/fs/cgroup/${ctl}/$CG/${file}"`); };
    w('memory', 'memory.limit_in_bytes', val('memory', 'memory.limit_in_bytes', s.memory ? String(s.memory) : null));
    w('memory', 'memory.memsw.limit_in_bytes', val('memory', 'memory.memsw.limit_in_bytes', s.memorySwap > 0 ? String(s.memorySwap) : null));
    w('cpu', 'cpu.cfs_period_us', val('cpu', 'cpu.cfs_period_us', quota ? String(period) : null));
    w('cpu', 'cpu.cfs_quota_us', val('cpu', 'cpu.cfs_quota_us', quota ? String(quota) : null));
    w('cpu', 'cpu.shares', val('cpu', 'cpu.shares', s.cpuShares ? String(s.cpuShares) : null));
    w('cpuset', 'cpuset.cpus', val('cpuset', 'cpuset.cpus', s.cpusetCpus || null));
    w('pids', 'pids.max', val('pids', 'pids.max', s.pidsLimit && s.pidsLimit > 0 ? String(s.pidsLimit) : null));
    // the device rules: deny everything, then allow what devices.list allows (unless that is everything)
    const devices = String(fig('devices', 'devices.list')?.raw ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
    if (devices.length && !devices.includes('a *:* rwm')) {
      w('devices', 'devices.deny', 'a');
      for (const rule of devices) w('devices', 'devices.allow', rule);
    }
  } else {
    const w = (file: string, v: string | null) => { if (v !== null && v !== '') out.push(`echo ${q(v)} > "/sys/fs/cgroup/$CG/${file}"`); };
    w('memory.max', val('memory', 'memory.max', s.memory ? String(s.memory) : null));
    w('memory.swap.max', val('memory', 'memory.swap.max', s.memorySwap > 0 && s.memory ? String(s.memorySwap - s.memory) : null));
    w('cpu.max', val('cpu', 'cpu.max', quota ? `${quota} ${period}` : null));
    w('cpu.weight', val('cpu', 'cpu.weight', null));
    w('cpuset.cpus', view ? (fig('cpuset', 'cpuset.cpus')?.raw || null) : s.cpusetCpus || null);
    w('pids.max', val('pids', 'pids.max', s.pidsLimit && s.pidsLimit > 0 ? String(s.pidsLimit) : null));
  }
  return out;
}

export function explainScript(p: Json): string {
  const id12 = String(p.id).slice(0, 12);
  const short = String(p.id).slice(0, 8);
  const cg = p.cgroup;
  const parent = String(cg.path).split('/').slice(0, -1).join('/');
  const s = p.spec;
  const ns = Object.fromEntries((p.namespaces as Json[]).map((n) => [n.type, n]));
  const running = !!p.process;
  const iface = p.network.interfaces[0] as Json | undefined;
  const netMode = String(s.networkMode || 'default');
  const lower = [...(p.filesystem.lowerdirs as Json[])].map((l) => l.path as string);
  const caps = capabilities(p);
  const userSpec = String(s.user || '');
  const L: string[] = [];
  const w = (x = '') => L.push(x);

  w('#!/bin/sh');
  w(`# ${p.name} (${id12}), image ${p.image}: built again by hand, without any engine.`);
  w(`# Generated by tsctl explain --script from GET /containers/${id12}/primitives at ${p.readAt}.`);
  w('# As root:  sh THIS-SCRIPT          runs it in the foreground (a second container beside the first)');
  w('#           sh THIS-SCRIPT cleanup  undoes every step (processes, mounts, cgroup, veth, netns file, work dir)');
  w(`# Not reproduced: the seccomp filter (no command-line tool loads one)${cg.version === 'v2' ? ' and the device rules (an eBPF program on cgroup v2)' : ''}.`);
  w('set -eu');
  w(`WORK=\${WORK:-/tmp/tsd-hand-${id12}}`);
  w(`CG=\${CG:-${parent ? `${parent}/` : ''}hand-${id12}}`);
  w(`VETH=\${VETH:-vh${short}}`);
  if (iface) {
    w(`BRIDGE=\${BRIDGE:-${iface.bridge}}`);
    w(`# the original's address; give another one (ADDR=10.0.0.9/24) while the original runs`);
    w(`ADDR=\${ADDR:-${iface.address}}`);
    w(`GATEWAY=\${GATEWAY:-${iface.gateway}}`);
  }
  w('');
  w('cgroup_dirs() {');
  if (cg.version === 'v1') w('  for c in memory cpu cpuacct cpuset pids blkio devices freezer; do [ -d "/sys/fs/cgroup/$c" ] && echo "/sys/fs/cgroup/$c/$CG"; done');
  else w('  echo "/sys/fs/cgroup/$CG"');
  w('}');
  w('');
  w('cleanup() {');
  w('  for d in $(cgroup_dirs); do');
  w('    [ -d "$d" ] || continue');
  w('    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done');
  w('  done');
  w('  for d in $(cgroup_dirs); do for i in 1 2 3 4 5 6 7 8 9 10; do [ -d "$d" ] || break; rmdir "$d" 2>/dev/null && break; sleep 0.2; done; done');
  w('  ip link del "$VETH" 2>/dev/null || true');
  w('  umount -l "$WORK/netns" 2>/dev/null || true');
  w('  umount -l "$WORK/rootfs" 2>/dev/null || true');
  w('  rm -rf "$WORK"');
  w('}');
  w('if [ "${1:-}" = cleanup ]; then cleanup; exit 0; fi');
  w('');

  w('# 1. The root filesystem: the image\'s layers (by chain ID) as overlay lowerdirs, top first, and a fresh upper dir.');
  for (const l of p.filesystem.lowerdirs as Json[]) w(`#    ${l.chainId ?? '?'}  ${l.path}`);
  w('mkdir -p "$WORK/upper" "$WORK/work" "$WORK/rootfs"');
  w(`mount -t overlay overlay -o ${q(`lowerdir=${lower.join(':')}`)},upperdir="$WORK/upper",workdir="$WORK/work" "$WORK/rootfs"`);
  w('');

  w(`# 2. The cgroup (${cg.version}, cgroupfs): a directory per hierarchy, the limits written into its files, this shell moved in.`);
  if (cg.version === 'v1') {
    w('for d in $(cgroup_dirs); do mkdir -p "$d"; done');
    w('# cpuset needs cpus and mems before a task may join');
    w('P=/sys/fs/cgroup/cpuset');
    w('for part in $(echo "$CG" | tr / " "); do');
    w('  [ -s "$P/$part/cpuset.cpus" ] || cat "$P/cpuset.cpus" > "$P/$part/cpuset.cpus"');
    w('  [ -s "$P/$part/cpuset.mems" ] || cat "$P/cpuset.mems" > "$P/$part/cpuset.mems"');
    w('  P="$P/$part"');
    w('done');
  } else {
    w('mkdir -p "/sys/fs/cgroup/$CG"');
    w('PARENT=$(dirname "/sys/fs/cgroup/$CG")');
    w('for c in cpu cpuset memory pids io; do echo "+$c" > "$PARENT/cgroup.subtree_control" 2>/dev/null || true; done');
  }
  for (const x of cgroupWrites(p)) w(x);
  w('');

  w('# 3. The network namespace.');
  let netArg: string;
  if (netMode === 'host') {
    w('#    --network host: the host\'s own (no new network namespace).');
    netArg = '';
  } else if (netMode.startsWith('container:')) {
    const target = ns.net?.with ?? netMode.slice('container:'.length);
    w(`#    --network ${netMode}: join the network namespace of ${target} (pid ${p.process?.hostPid ?? '?'} shares it).`);
    netArg = running ? `--net=/proc/${p.process.hostPid}/ns/net` : '';
    if (!running) w('#    (the original is not running: there is no namespace to join; a fresh one is made)');
  } else {
    w('#    a namespace kept alive by a bind mount of its file, then a veth pair: eth0 inside, $VETH on the bridge.');
    w('touch "$WORK/netns"');
    w('unshare --net="$WORK/netns" true');
    w('N="nsenter --net=$WORK/netns"');
    w('$N ip link set lo up');
    if (iface && netMode !== 'none') {
      w('$N ip link add eth0 type veth peer name "$VETH" netns 1');
      w('ip link set "$VETH" master "$BRIDGE" up');
      w('$N ip addr add "$ADDR" dev eth0');
      w('$N ip link set eth0 up');
      w('$N ip route add default via "$GATEWAY"');
    }
    netArg = '--net="$WORK/netns"';
  }
  w('');

  // which namespaces to make, and which to join
  const joins: string[] = [];
  if (netArg) joins.push(netArg);
  const unshare: string[] = ['--mount'];
  for (const [type, flag] of [['uts', '--uts'], ['ipc', '--ipc'], ['pid', '--pid'], ['cgroup', '--cgroup']] as const) {
    const n = ns[type];
    if (running && n?.sharing === 'host') continue;
    if (running && n?.sharing === 'container') { joins.push(`--${type}=/proc/${p.process.hostPid}/ns/${type}`); continue; }
    if (!running && type === 'pid' && s.pidMode === 'host') continue;
    if (!running && type === 'ipc' && s.ipcMode === 'host') continue;
    if (!running && type === 'uts' && (s.utsMode === 'host' || netMode === 'host')) continue;
    unshare.push(flag);
  }
  if (unshare.includes('--pid')) unshare.push('--fork');

  w(`# 4. New ${unshare.filter((x) => x !== '--fork').map((x) => x.slice(2)).join(', ')} namespaces${joins.length ? `, joining ${joins.map((j) => j.replace(/^--(\w+)=.*/, '$1')).join(', ')}` : ''}; inside them the mounts, pivot_root, then setpriv.`);
  w('# setpriv and a static busybox are copied in first: the host\'s root is gone after pivot_root.');
  w('mkdir -p "$WORK/rootfs/.hand"');
  w('for f in /usr/bin/setpriv $(ldd /usr/bin/setpriv | grep -o \'/[^ ]*\'); do cp -L "$f" "$WORK/rootfs/.hand/"; done');
  w('cp -L "$(command -v busybox)" "$WORK/rootfs/.hand/busybox"');
  w('LOADER=$(basename "$(ldd /usr/bin/setpriv | grep -o \'/[^ ]*ld-linux[^ ]*\')")');
  w(`export R="$WORK/rootfs" LOADER HOSTNAME_=${q(s.hostname || id12)}`);
  w('# into the cgroup: this shell, and so everything it starts from here on');
  w('for d in $(cgroup_dirs); do echo $$ > "$d/cgroup.procs"; done');
  w(`${joins.length ? `nsenter ${joins.join(' ')} -- ` : ''}unshare ${unshare.join(' ')} -- /bin/sh -eu <<'INSIDE'`);
  w('mount --make-rprivate /');
  if (unshare.includes('--uts')) w('hostname "$HOSTNAME_"');
  w('mount -t proc -o nosuid,noexec,nodev proc "$R/proc"');
  w('mount -t sysfs -o ro,nosuid,noexec,nodev sysfs "$R/sys"');
  w('mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs "$R/dev"');
  w('mknod -m 666 "$R/dev/null" c 1 3; mknod -m 666 "$R/dev/zero" c 1 5; mknod -m 666 "$R/dev/full" c 1 7');
  w('mknod -m 666 "$R/dev/random" c 1 8; mknod -m 666 "$R/dev/urandom" c 1 9; mknod -m 666 "$R/dev/tty" c 5 0');
  w('mkdir -p "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"');
  w('mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"; ln -s pts/ptmx "$R/dev/ptmx"');
  w('mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm "$R/dev/shm"');
  w('mount -t mqueue -o nosuid,nodev,noexec mqueue "$R/dev/mqueue"');
  for (const m of s.mounts as Json[]) {
    if (m.type === 'tmpfs') w(`mkdir -p "$R"${q(m.destination)}; mount -t tmpfs -o nosuid,nodev tmpfs "$R"${q(m.destination)}`);
    else {
      w(`mkdir -p "$R"${q(m.destination)}; mount --bind ${q(m.source)} "$R"${q(m.destination)}`);
      if (m.readonly) w(`mount -o remount,bind,ro "$R"${q(m.destination)}`);
    }
  }
  for (const m of p.filesystem.masked as Json[]) {
    w(`if [ -d "$R${m.path}" ]; then mount -t tmpfs -o ro tmpfs "$R${m.path}"; elif [ -e "$R${m.path}" ]; then mount --bind /dev/null "$R${m.path}"; fi`);
  }
  for (const m of p.filesystem.readonly as Json[]) w(`if [ -e "$R${m.path}" ]; then mount --bind "$R${m.path}" "$R${m.path}"; mount -o remount,bind,ro "$R${m.path}"; fi`);
  if (s.readonlyRootfs) w('mount -o remount,bind,ro "$R"');
  // the user, resolved in the image's /etc/passwd and /etc/group before the host root goes
  let setpriv: string[] = [];
  if (userSpec && userSpec !== 'root' && userSpec !== '0' && userSpec !== '0:0') {
    const [u, g] = userSpec.split(':');
    w(`U=${q(u!)}; case "$U" in *[!0-9]*) U=$(grep "^$U:" "$R/etc/passwd" | cut -d: -f3);; esac`);
    if (g) w(`G=${q(g)}; case "$G" in *[!0-9]*) G=$(grep "^$G:" "$R/etc/group" | cut -d: -f3);; esac`);
    else w(`G=$(awk -F: -v u="$U" '$3==u {print $4; exit}' "$R/etc/passwd"); G=\${G:-0}`);
    setpriv = ['--reuid="$U"', '--regid="$G"', '--clear-groups'];
  } else setpriv = ['--reuid=0', '--regid=0', '--clear-groups'];
  if (caps !== 'all') setpriv.push(`--bounding-set=-all${caps.map((c) => `,+${c.toLowerCase()}`).join('')}`, '--inh-caps=-all');
  if (s.noNewPrivileges) setpriv.push('--no-new-privs');
  w('cd "$R"');
  w('mkdir -p .oldroot');
  w('pivot_root . .oldroot');
  w('cd /');
  w('/.hand/busybox umount -l /.oldroot');
  w('/.hand/busybox rmdir /.oldroot');
  const env = (s.env as string[]).map(q).join(' ');
  w(`exec /.hand/busybox env -i ${env} /.hand/$LOADER --library-path /.hand /.hand/setpriv ${setpriv.join(' ')} -- \\`);
  w(`  /.hand/busybox sh -c 'rm -rf /.hand 2>/dev/null || true; cd "$0" && exec "$@"' ${q(s.cwd || '/')} ${(s.argv as string[]).map(q).join(' ')}`);
  w('INSIDE');
  w('');
  return L.join('\n') + '\n';
}
