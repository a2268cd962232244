// The cgroup v2 subset, run by scripts/test-v2.sh in one process inside the v2vm
// guest (loading tap and tsd costs ~a minute per process there: one process, one
// root TAP stream). Not a *.test.js: tap on the host does not pick it up; each file
// below also runs on the host as part of the normal suite.
const FILES = [
  // cgroupfs on the real v2 kernel: the conformance suite (apply, update, freeze, destroy), live updates
  // (a limit below usage reclaims/OOM-kills on v2), stats and their docker translation, OOM, pids, freezing,
  // the device program.
  '../integration/cgroupfs/conformance.test.js',
  '../integration/cgroupfs/update.test.js',
  '../integration/cgroupfs/stats.test.js',
  '../integration/cgroupfs/oom.test.js',
  '../integration/cgroupfs/pids.test.js',
  '../integration/cgroupfs/freeze.test.js',
  '../integration/cgroupfs/v2-unified.test.js',
  '../integration/cgroupfs/devices-v2.test.js',
  // the warm init dies with its daemon
  '../integration/runtime/parent-death.test.js',
  // container starts through tsd-nsexec and the Node init alike (the cgroupfs op: one cgroup2 mount on v2)
  '../integration/runtime/create-paths.test.js',
  // through the docker CLI: limits, OOM, cpu.max, pause, update, devices, 20 starts, a clean stop, a crash
  '../integration/containers/cgroups.test.js',
  // live restore: an adopted container is paused or running as its cgroup.freeze/cgroup.events say
  '../integration/daemon/live-restore-paused.test.js',
  // --exec-opt native.cgroupdriver=systemd against a real systemd (booted as PID 1 of a PID namespace in the guest)
  '../integration/containers/systemd.test.js',
];

// TSD_V2_ONLY=update,stats runs only the files whose path contains one of the words
const only = process.env.TSD_V2_ONLY?.split(',').filter(Boolean);
for (const f of only ? FILES.filter((x) => only.some((w) => x.includes(w))) : FILES) {
  await import(new URL(f, import.meta.url).href);
}
export {};
