# Assertions of the host-side shell tests (sourced; POSIX sh): counters,
# expect/has/lacks, and the closing "NAME: N passed, M failed" line.
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
# expect DESC ACTUAL EXPECTED
expect() {
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi
}
# has DESC FILE PATTERN / lacks DESC FILE PATTERN (grep -E)
has() { if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1 ('$3' missing in $2)"; fi; }
lacks() { if grep -Eq -- "$3" "$2"; then bad "$1 ('$3' found in $2)"; else ok "$1"; fi; }
# report NAME: the summary line; fails when a check failed
report() {
    echo "$1: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}
