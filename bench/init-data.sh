#!/usr/bin/env bash
# Prints figures for init-data: reading + hashing a large document (cvmboot's
# reader, average over many in one process), and the median `cvmboot boot`
# wall time against the local test KBS (sample TEE) without and with
# [tee] init_data. Figures only; nothing here asserts a time.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
runs=${1:-10}
scripts/install-deps.sh
scripts/build.sh build
bin=$src/build/cvmboot
dump=$src/build/tests/tee/init_data_dump
work=$(mktemp -d /tmp/cvmboot-bench-initdata.XXXXXX)
run=$(mktemp -d /dev/shm/cvmboot-bench-initdata.XXXXXX)
kbs_pid=
trap '[ -n "$kbs_pid" ] && kill $kbs_pid 2>/dev/null; rm -rf "$work" "$run"' EXIT
. scripts/lib-local-kbs.sh
mkdir -p "$work/resources"
local_kbs_start "$work"
local_kbs_config "$work" "$run" "$kbs_port"
local_kbs_provision "$work" >/dev/null

# A large document (about 48 KiB of the 64 KiB limit): 60 entries of multi-line text.
doc=$work/init-data.toml
{
  printf 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n'
  for i in $(seq 60); do
    printf '"entry-%d" = '"'''"'\n' "$i"
    head -c 780 /dev/zero | tr '\0' 'x' | fold -w 78
    printf "'''\n"
  done
} > "$doc"
echo "document: $(stat -c %s "$doc") bytes, $(grep -c '^"entry' "$doc") entries"
n=200
files=()
for i in $(seq $n); do cp "$doc" "$work/d$i.toml"; files+=("$work/d$i.toml"); done
t0=$(date +%s%N)
"$dump" "${files[@]}" > /dev/null
t1=$(date +%s%N)
echo "read + parse + sha384 of the document: $(( (t1 - t0) / n / 1000 )) us (average of $n in one process)"

median_boot() {
  local times=() t0 t1
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    "$bin" --config "$1" --cmdline /dev/null boot --no-activate 2>/dev/null
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
echo "median boot wall time without init-data: $(median_boot "$work/cvmboot.conf") ms ($runs runs)"
sed "s|^type = sample|type = sample\ninit_data = $doc|" "$work/cvmboot.conf" > "$work/with.conf"
echo "median boot wall time with that init-data: $(median_boot "$work/with.conf") ms ($runs runs)"
