#!/usr/bin/env bash
# Prints the memory of `cvmboot boot --no-activate` against the local test KBS,
# per TEE (bench/memory_run.py): peak RSS (/usr/bin/time), RSS, PSS and
# private dirty at the end of the run (/proc/self/smaps_rollup, copied at exit
# by the bench/smaps_at_exit.c shim), how many shared libraries are mapped and
# whether tpm2-tss is among them. Figures only; nothing here asserts a size.
# Usage: bench/memory.sh [BUILD_DIR [TEE...]]   (default: build, every TEE built in)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
shift || true
bin=$src/$dir/cvmboot
[ -x "$bin" ] || { echo "no $bin: build it first (scripts/build.sh $dir)" >&2; exit 2; }
work=$(mktemp -d /tmp/cvmboot-bench-memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -o "$work/smaps_at_exit.so" "$src/bench/smaps_at_exit.c"
tees=("$@")
if [ ${#tees[@]} -eq 0 ]; then
  read -r -a tees <<< "$("$bin" --version | sed -n 's/^tee: //p')"
fi
echo "binary: $bin ($(readelf -d "$bin" | grep -c NEEDED) NEEDED)"
/usr/bin/python3 "$src/bench/memory_run.py" "$bin" "$work/smaps_at_exit.so" "${tees[@]}"
