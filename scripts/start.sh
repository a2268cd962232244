#!/usr/bin/env bash
# Start the tsd daemon (as root), installing what it needs first.
# Flags are passed to tsd, e.g.: bash scripts/start.sh --host /var/run/tsd.sock --log-level debug
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
exec node dist/daemon/main.js "$@"
