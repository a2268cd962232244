#!/bin/bash
# containerd-shim memory per container on a dockerd (the comparison for bench/live-restore.ts):
#   bash bench/shim-memory.sh [N=20]   (DOCKER_HOST defaults to /var/run/docker.sock, e.g. /work/tools/dockerd-netns.sh)
N=${1:-20}
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
kib() { awk -v k="$2" '$1==k":" {print $2}' /proc/$1/status; }
pss() { awk '/^Pss:/ {print $2}' /proc/$1/smaps_rollup; }
dpid=$(cat /var/run/docker-cmp.pid); cpid=$(pgrep -f 'containerd --config /var/run/docker/containerd' | head -1)
d0=$(( $(pss $dpid) + $(pss $cpid) ))
ids=()
for i in $(seq 1 $N); do ids+=($(docker run -d --network none --label lrdefault-bench=1 busybox sleep 3600)); done
sleep 2
tr=0; tp=0; n=0
for id in "${ids[@]}"; do
  sp=$(pgrep -f "containerd-shim-runc-v2 -namespace moby -id $id" | head -1)
  [ -n "$sp" ] || continue
  r=$(kib $sp VmRSS); p=$(pss $sp); tr=$((tr+r)); tp=$((tp+p)); n=$((n+1))
done
d1=$(( $(pss $dpid) + $(pss $cpid) ))
echo "dockerd $(docker version -f '{{.Server.Version}}'): $n shims for $N sleeping containers: RSS $((tr/n)) KiB, PSS $((tp/n)) KiB per shim; dockerd+containerd PSS grew $(( (d1-d0)/N )) KiB per container"
docker rm -f "${ids[@]}" >/dev/null
