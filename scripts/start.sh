#!/usr/bin/env bash
# Start the tsd daemon (as root), installing what it needs first, and put `tsd`
# and `tsctl` on the PATH (/usr/bin, where systemd/tsd.service looks for tsd).
# Flags are passed to tsd, e.g.: bash scripts/start.sh --host /var/run/tsd.sock --log-level debug
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
# A global install of this folder: /usr/bin/tsd and /usr/bin/tsctl link to dist/ here.
npm install -g --prefix "${TSD_PREFIX:-/usr}" --no-audit --no-fund . >/dev/null
exec "${TSD_PREFIX:-/usr}/bin/tsd" "$@"
