#!/usr/bin/env bash
# Runs every libFuzzer harness of tests/fuzz for SECONDS each (default 60)
# and prints per target: seconds, executions, executions per second, corpus
# size (inputs kept), edge coverage and findings. A crash does not end a
# target's run: the input is kept and fuzzing resumes from the corpus so far
# (up to 10 findings per target).
# Figures only; nothing asserted.
# Usage: bench/fuzz.sh [SECONDS] [TARGET...]
#   CVMBOOT_FUZZ_JOBS=N   targets run N at a time (default 1)
#   CVMBOOT_FUZZ_OUT=DIR  corpora, logs and findings (default /tmp/cvmboot-fuzz-bench);
#                         a later run with the same DIR resumes from its corpora
# Builds build-fuzz (CC=clang, -Dfuzz=true) when it is missing.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/build-fuzz/tests/fuzz
out=${CVMBOOT_FUZZ_OUT:-/tmp/cvmboot-fuzz-bench}

# One target (run by xargs below): fuzz until SECONDS are used, restarting
# after each finding; writes OUT/TARGET/result.
one_target() {
	local t=$1 seconds=$2 dir=$out/$1 start now left runs=0 execs=0 findings=0 rc
	local -a opts=(-error_exitcode=1 -timeout_exitcode=1 -timeout=10 -rss_limit_mb=2048
		       -print_final_stats=1)
	[ -f "$src/tests/fuzz/dict/$t.dict" ] && opts+=("-dict=$src/tests/fuzz/dict/$t.dict")
	mkdir -p "$dir/corpus" "$dir/findings"
	: > "$dir/log"
	start=$(date +%s)
	while :; do
		now=$(date +%s)
		left=$((seconds - (now - start)))
		[ "$left" -gt 0 ] || break
		runs=$((runs + 1))
		rc=0
		"$bin/fuzz_$t" "${opts[@]}" -max_total_time="$left" -artifact_prefix="$dir/findings/" \
			"$dir/corpus" "$src/tests/fuzz/corpus/$t" > "$dir/run.log" 2>&1 || rc=$?
		cat "$dir/run.log" >> "$dir/log"
		execs=$((execs + $(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/run.log" |
				     tail -n 1 | grep -o '[0-9]*$' || echo 0)))
		[ "$rc" -eq 0 ] && break
		findings=$((findings + 1))
		[ "$findings" -lt 10 ] || break   # the same bug, found again and again
	done
	local elapsed=$(( $(date +%s) - start ))
	local last
	last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1)
	printf '%s %s %s %s %s %s\n' "$t" "$elapsed" "$execs" \
		"$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*$' || echo '?')" \
		"$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*$' || echo '?')" \
		"$findings" > "$dir/result"
}

if [ "${1:-}" = "--one" ]; then
	one_target "$2" "$3"
	exit 0
fi

seconds=${1:-60}
shift || true
jobs=${CVMBOOT_FUZZ_JOBS:-1}
if [ ! -d "$bin" ]; then
	CC=clang "$src/scripts/build.sh" build-fuzz -Dfuzz=true
else
	ninja -C "$src/build-fuzz" >/dev/null
fi
if [ $# -gt 0 ]; then
	targets=("$@")
else
	mapfile -t targets < <(ls "$bin" | sed -n 's/^fuzz_\([a-z0-9_]*\)$/\1/p' | sort)
fi
mkdir -p "$out"
echo "fuzzing ${#targets[@]} target(s) for $seconds s each, $jobs at a time; output in $out"
rm -f "${targets[@]/#/$out/}/result" 2>/dev/null || true
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} "$0" --one {} "$seconds"

printf '%-16s %8s %14s %9s %7s %6s %9s\n' target seconds execs exec/s corpus cov findings
for t in "${targets[@]}"; do
	if [ ! -f "$out/$t/result" ]; then
		printf '%-16s (no result: see %s/%s/log)\n' "$t" "$out" "$t"
		continue
	fi
	read -r name elapsed execs corpus cov findings < "$out/$t/result"
	printf '%-16s %8s %14s %9s %7s %6s %9s\n' "$name" "$elapsed" "$execs" \
		"$((execs / (elapsed > 0 ? elapsed : 1)))" "$corpus" "$cov" "$findings"
done
findings=$(cat "$out"/*/result 2>/dev/null | awk '{s += $6} END {print s + 0}')
echo "findings: $findings (inputs under $out/*/findings/)"
