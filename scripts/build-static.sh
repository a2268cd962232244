#!/usr/bin/env bash
# Builds one of tsd's small C helpers with the machine's gcc, statically linked (no
# loader, no library resolved once it runs in a container's namespaces):
#   build-static.sh SRC OUT WITHOUT
# runtime/nsexec/nsexec.c → dist/runtime/nsexec/tsd-nsexec (exec and probes, runtime/nsexec.ts);
# netctl/portproxy/portproxy.c → dist/netctl/portproxy/tsd-portproxy (loopback ports, netctl/portproxy.ts).
# Without gcc and libc6-dev nothing is built and the daemon does without it (WITHOUT says how).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=$1 out=$2 without=$3
if ! command -v gcc >/dev/null 2>&1 || [[ ! -e /usr/lib/x86_64-linux-gnu/libc.a && ! -e /usr/lib/aarch64-linux-gnu/libc.a ]]; then
  echo "tsd: gcc or libc6-dev missing: $out not built ($without)" >&2
  exit 0
fi
[[ -x "$out" && "$out" -nt "$src" ]] && exit 0
mkdir -p "$(dirname "$out")"
gcc -static -s -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -o "$out.tmp" "$src"
chmod 0755 "$out.tmp"
mv -f "$out.tmp" "$out"
