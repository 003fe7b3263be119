#!/usr/bin/env bash
# Prints figures for `cvmboot boot` against the local test KBS: stripped
# binary size, median wall time over N runs (default 10), peak RSS.
# Figures only; nothing here asserts a time.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
runs=${1:-10}
scripts/install-deps.sh
scripts/build.sh build
bin=$src/build/cvmboot
work=$(mktemp -d /tmp/cvmboot-bench.XXXXXX)
run=$(mktemp -d /dev/shm/cvmboot-bench.XXXXXX)
kbs_pid=
trap '[ -n "$kbs_pid" ] && kill $kbs_pid 2>/dev/null; rm -rf "$work" "$run"' EXIT
. scripts/lib-local-kbs.sh
mkdir -p "$work/resources"
local_kbs_start "$work"
local_kbs_config "$work" "$run" "$kbs_port"
local_kbs_provision "$work" >/dev/null

strip -o "$work/cvmboot.stripped" "$bin"
echo "stripped binary: $(stat -c %s "$work/cvmboot.stripped") bytes ($(du -h "$work/cvmboot.stripped" | cut -f1))"

times=()
for _ in $(seq "$runs"); do
  t0=$(date +%s%N)
  "$bin" --config "$work/cvmboot.conf" --cmdline /dev/null boot --no-activate 2>/dev/null
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
echo "boot wall time over $runs runs (ms): ${times[*]}"
echo "median boot wall time: ${median} ms"
/usr/bin/time -v "$bin" --config "$work/cvmboot.conf" --cmdline /dev/null boot --no-activate \
  2> "$work/time.txt" >/dev/null || true
echo "peak RSS: $(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$work/time.txt") KiB"
