#!/usr/bin/env bash
# Builds netctl/portproxy/portproxy.c (the userland proxy's TCP relay, see
# netctl/portproxy.ts) into dist/netctl/portproxy/tsd-portproxy with the machine's
# gcc, statically linked. Without gcc and libc6-dev nothing is built and the
# daemon relays published loopback ports in-process (slower).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=netctl/portproxy/portproxy.c
out=dist/netctl/portproxy/tsd-portproxy
if ! command -v gcc >/dev/null 2>&1 || [[ ! -e /usr/lib/x86_64-linux-gnu/libc.a && ! -e /usr/lib/aarch64-linux-gnu/libc.a ]]; then
  echo "tsd: gcc or libc6-dev missing: $out not built (published loopback ports are relayed in-process)" >&2
  exit 0
fi
[[ -x "$out" && "$out" -nt "$src" ]] && exit 0
mkdir -p "$(dirname "$out")"
gcc -static -s -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -o "$out.tmp" "$src"
chmod 0755 "$out.tmp"
mv -f "$out.tmp" "$out"
