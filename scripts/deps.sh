#!/usr/bin/env bash
# Installs what tsd needs on a fresh Debian 12 machine (as root): Debian packages
# when missing, then the npm packages, then the build. Sourced by start.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_pkgs=()
want() { # want <command-or-file> <package>
  if [[ "$1" == /* ]]; then [[ -e "$1" ]] || need_pkgs+=("$2"); else command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); fi
}
want file file
want ip iproute2
want iptables iptables
want nsenter util-linux
want /usr/lib/x86_64-linux-gnu/libseccomp.so.2 libseccomp2
want /usr/bin/tini-static tini
# docker build: contexts compressed with bzip2 or xz are decompressed by these tools, as dockerd runs xz
want bzip2 bzip2
want xz xz-utils
# docker build with a git URL as its remote context clones with git, as dockerd
want git git
# tsd-nsexec, the exec fast path (runtime/nsexec/nsexec.c), is built static by `npm run build`;
# without gcc and libc6-dev exec falls back to the Node init (slower); so is tsd-portproxy, the
# published loopback ports' splice relay (netctl/portproxy/portproxy.c; without it: in-process)
want gcc gcc
want /usr/lib/x86_64-linux-gnu/libc.a libc6-dev
if [[ "${TSD_WITH_TEST_DEPS:-0}" == 1 ]]; then
  want /bin/busybox busybox-static
  want docker-registry docker-registry
  want skopeo skopeo
  want umoci umoci
  want socat socat
  want curl curl
  want tmux tmux
  want script bsdutils
  want systemd-analyze systemd
  want systemd-socket-activate systemd
  # test/integration/containers/systemd.test.ts boots systemd with a system bus in the v2 guest (the systemd cgroup driver)
  want /lib/systemd/systemd systemd
  want /usr/bin/dbus-daemon dbus-daemon
  want busctl systemd
  want docker docker.io
  # test/clients: Debian's docker-compose 1.29 and python3-docker, driven as their users do
  want /usr/bin/docker-compose docker-compose
  want /usr/lib/python3/dist-packages/docker/__init__.py python3-docker
  # the security suite builds its static attacker helper (test/security/fixtures/sechelper.c): gcc and libc6-dev, above
fi
# /bin/busybox must be the static build (busybox-static), not Debian's dynamic busybox.
if [[ "${TSD_WITH_TEST_DEPS:-0}" == 1 ]] && [[ -e /bin/busybox ]] && ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
  need_pkgs+=(busybox-static)
fi
if ((${#need_pkgs[@]})); then
  echo "tsd: installing Debian packages: ${need_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" file >/dev/null
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
[[ "${TSD_CLEAN_BUILD:-0}" == 1 ]] && rm -rf dist
npm run -s build
chmod +x dist/daemon/main.js dist/cli/main.js 2>/dev/null || true
