#!/usr/bin/env bash
# The cgroup v2 subset of the integration tests (test/v2/run.ts), on a real pure
# cgroup v2 kernel: a throwaway QEMU guest made by v2vm (/work/shared/tools/v2vm,
# or $TSD_V2VM). Called by scripts/test.sh after the build. Skips, saying why, only
# where no guest can run (no v2vm, not root, no QEMU to be had); a host that is
# itself pure v2 runs the subset directly. Target: 15 minutes of wall time.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

skip() { echo "test-v2: SKIPPED: $*" >&2; exit 0; }
[[ "${TSD_SKIP_V2:-0}" == 1 ]] && skip "TSD_SKIP_V2=1"
[[ -f dist/test/v2/run.js ]] || { echo "test-v2: dist/test/v2/run.js missing: build first (npm run build)" >&2; exit 1; }

# Timeouts for an emulated guest: a daemon takes ~30 s to listen there, a docker run 2-4 s.
envs=(TSD_TEST_DAEMON_START_MS=240000 TSD_TEST_DOCKER_TIMEOUT_MS=240000 TSD_TEST_LOG_LEVEL=warn TAP_TIMEOUT=0 ${TSD_V2_ONLY:+TSD_V2_ONLY=$TSD_V2_ONLY})
start=$(date +%s)
if [[ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" == cgroup2fs ]]; then
  echo "test-v2: this host is pure cgroup v2: running the subset here" >&2
  env "${envs[@]}" node dist/test/v2/run.js
  rc=$?
else
  v2vm=${TSD_V2VM:-/work/shared/tools/v2vm}
  [[ -x "$v2vm" ]] || skip "no v2vm at $v2vm (set TSD_V2VM): cannot boot a cgroup v2 guest here"
  [[ $(id -u) == 0 ]] || skip "v2vm needs root"
  "$v2vm" --prepare >/dev/null 2>&1 || skip "v2vm cannot prepare a guest here (no QEMU or no kernel package to be had)"
  args=(-e TSD_TEST_EMULATED=1)
  for e in "${envs[@]}"; do args+=(-e "$e"); done
  # Measured at 15-20 min on a loaded host (two guests, 8 engineers, 2 cores): the deadline leaves room so CI is not failed by load.
  log=$(mktemp /tmp/tsd-test-v2.XXXXXX)
  "$v2vm" -t "${TSD_V2_TIMEOUT:-1500}" "${args[@]}" -- 'node dist/test/v2/run.js' 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  started=0; grep -q '^TAP version' "$log" && started=1
  rm -f "$log"
  # 125: the guest failed before the command ran; once the tests started, it is a failure like any other
  [[ $rc == 125 && $started == 0 ]] && skip "the v2 guest failed to boot (v2vm exit 125)"
fi
echo "test-v2: cgroup v2 subset finished with status $rc in $(( $(date +%s) - start )) s" >&2
exit $rc
