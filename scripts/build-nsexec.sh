#!/usr/bin/env bash
# Builds runtime/nsexec/nsexec.c (the exec fast path, see runtime/nsexec.ts) into
# dist/runtime/nsexec/tsd-nsexec with the machine's gcc, statically linked (no
# loader, no library resolved once it runs in a container's namespaces). Without
# gcc and libc6-dev nothing is built and exec uses the Node init (slower).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=runtime/nsexec/nsexec.c
out=dist/runtime/nsexec/tsd-nsexec
if ! command -v gcc >/dev/null 2>&1 || [[ ! -e /usr/lib/x86_64-linux-gnu/libc.a && ! -e /usr/lib/aarch64-linux-gnu/libc.a ]]; then
  echo "tsd: gcc or libc6-dev missing: $out not built (exec falls back to the Node init)" >&2
  exit 0
fi
[[ -x "$out" && "$out" -nt "$src" ]] && exit 0
mkdir -p "$(dirname "$out")"
gcc -static -s -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -o "$out.tmp" "$src"
chmod 0755 "$out.tmp"
mv -f "$out.tmp" "$out"
