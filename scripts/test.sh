#!/usr/bin/env bash
# Run the whole test suite (unit + integration; integration needs root),
# installing what the tests need first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TSD_WITH_TEST_DEPS=1 TSD_CLEAN_BUILD=1 bash scripts/deps.sh
export TSD_TEST_LOG_LEVEL="${TSD_TEST_LOG_LEVEL:-info}"
rc=0
npx tap "$@" || rc=$?
# Container starts take tsd-nsexec where it is built; the Node init (TSD_NSEXEC=0, or no gcc) keeps its own run of the runtime tests.
if [[ $# == 0 ]]; then TSD_NSEXEC=0 npx tap dist/test/integration/runtime/launch.test.js dist/test/integration/runtime/errors.test.js dist/test/integration/runtime/security.test.js dist/test/integration/runtime/parent-death.test.js || rc=$?; fi
# The whole suite also runs the cgroup v2 subset in a v2 guest (scripts/test-v2.sh; skips, saying why, where none can run).
if [[ $# == 0 ]]; then bash scripts/test-v2.sh || rc=$?; fi
exit $rc
