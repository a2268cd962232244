// The cgroup v2 subset, run by scripts/test-v2.sh in one process inside the v2vm
// guest (loading tap and tsd costs ~a minute per process there: one process, one
// root TAP stream). Not a *.test.js: tap on the host does not pick it up; each file
// below also runs on the host as part of the normal suite.
const FILES = [
  // cgroupfs on the real v2 kernel: the conformance suite (apply, update, freeze, destroy), OOM, pids, freezing,
  // the device program. (update.test and stats.test learned v2 but have not yet passed in the guest: the CLI test
  // below covers update and stats through the daemon.)
  '../integration/cgroupfs/conformance.test.js',
  '../integration/cgroupfs/oom.test.js',
  '../integration/cgroupfs/pids.test.js',
  '../integration/cgroupfs/freeze.test.js',
  '../integration/cgroupfs/v2-unified.test.js',
  '../integration/cgroupfs/devices-v2.test.js',
  // the warm init dies with its daemon
  '../integration/runtime/parent-death.test.js',
  // through the docker CLI: limits, OOM, cpu.max, pause, update, devices, 20 starts, a clean stop, a crash
  '../integration/containers/cgroups.test.js',
];

for (const f of process.env.TSD_V2_ONLY ? FILES.filter((x) => x.includes(process.env.TSD_V2_ONLY!)) : FILES) {
  await import(new URL(f, import.meta.url).href);
}
export {};
