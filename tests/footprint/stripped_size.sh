#!/bin/sh
# Suite footprint: the agent, stripped as dracut and the packages strip it
# (strip -o, the file is left alone), stays under LIMIT bytes
# (docs/footprint.md). Only an optimized, non-sanitized build is held to it:
# meson passes the reason when the build is not one (sanitizers, fuzz, -O0,
# -O3, buildtype=plain), and the test is skipped (77) with the size printed.
#   stripped_size.sh BIN LIMIT [SKIP_REASON]
set -eu
bin=$1 limit=$2 skip=${3:-}
strip=${STRIP:-strip}
command -v "$strip" >/dev/null 2>&1 || { echo "no '$strip' to strip $bin with (set STRIP)"; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$strip" -o "$tmp" "$bin"
size=$(wc -c < "$tmp")
if [ -n "$skip" ]; then
  echo "stripped $bin: $size bytes; limit $limit not checked: $skip"
  exit 77
fi
if [ "$size" -ge "$limit" ]; then
  echo "stripped $bin: $size bytes, not under the limit of $limit (docs/footprint.md: size -A and nm --size-sort -S show what grew)"
  exit 1
fi
echo "stripped $bin: $size bytes, under the limit of $limit by $((limit - size))"
