#!/usr/bin/env bash
# One test of the 'fuzz' suite (tests/fuzz/meson.build):
#   run.sh corpus EXE DIR   run every file under DIR once; fails on any crash
#   run.sh fuzz EXE DIR     fuzz for CVMBOOT_FUZZ_SECONDS (default 10) from the
#                           files under DIR, in a scratch corpus (DIR is not
#                           written); a crash fails, and its input is kept
#                           under ${TMPDIR:-/tmp}/cvmboot-fuzz-findings/ and
#                           printed as base64
# A dictionary dict/<target>.dict next to this script is used when present.
set -euo pipefail
mode=$1 exe=$2 dir=$3
here=$(cd "$(dirname "$0")" && pwd)
target=$(basename "$exe"); target=${target#fuzz_}
# libFuzzer's default error exit code, 77, means "skipped" to meson.
opts=(-error_exitcode=1 -timeout_exitcode=1)
[ -f "$here/dict/$target.dict" ] && opts+=("-dict=$here/dict/$target.dict")

case $mode in
corpus)
	mapfile -t files < <(find "$dir" -type f | sort)
	[ ${#files[@]} -gt 0 ] || { echo "no corpus files under $dir"; exit 1; }
	echo "$target: ${#files[@]} corpus file(s)"
	exec "$exe" "${opts[@]}" "${files[@]}"
	;;
fuzz)
	seconds=${CVMBOOT_FUZZ_SECONDS:-10}
	work=$(mktemp -d "${TMPDIR:-/tmp}/cvmboot-fuzz.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	mkdir "$work/corpus"
	rc=0
	"$exe" "${opts[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$dir" || rc=$?
	if [ $rc -ne 0 ]; then
		keep="${TMPDIR:-/tmp}/cvmboot-fuzz-findings/$target"
		mkdir -p "$keep"
		for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
			[ -e "$f" ] || continue
			cp "$f" "$keep/"
			echo "finding kept as $keep/$(basename "$f"); base64:"
			base64 "$f"
		done
	fi
	exit $rc
	;;
*)
	echo "usage: $0 corpus|fuzz EXE DIR" >&2
	exit 2
	;;
esac
