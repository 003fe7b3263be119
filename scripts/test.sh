#!/usr/bin/env bash
# Runs every test: the hardened build's suites (unit, kbs, luks, tee,
# integration, ansible, rpm, footprint), the smallest build's (no tpm, azure
# or sample TEE), the same suites under ASan+UBSan (ansible and
# rpm aside: they drive the same binary through ansible-playbook, or build
# their own packages, and are slow), the C suites under valgrind, the fuzz
# harnesses (clang build), and the VM boot suite. Ends with the line
# "N passed, M failed".
#   scripts/test.sh            everything
#   CVMBOOT_SKIP_VM=1 scripts/test.sh   everything but the VM suite (quick local loop)
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
py=/usr/bin/python3
logs=$(mktemp -d /tmp/cvmboot-test.XXXXXX)

scripts/install-deps.sh --vm || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

run_meson_suites() { # name builddir [meson test args...]
  local name=$1 dir=$2; shift 2
  echo "=== $name"
  rm -f "$dir/meson-logs/testlog-$name".json "$dir/meson-logs/testlog-$name"-*.json
  meson test -C "$dir" --num-processes 2 --print-errorlogs --logbase "testlog-$name" "$@" \
    > "$logs/$name.log" 2>&1
  tail -n 15 "$logs/$name.log"
  # meson appends the wrapper's name to the log base when --wrapper is given.
  local json
  json=$(ls -t "$dir/meson-logs/testlog-$name"*.json 2>/dev/null | head -n 1)
  if [ -n "$json" ]; then cp "$json" "$logs/$name.json"; else echo "no test log for $name" > "$logs/$name.missing"; fi
}

build_ok=1
scripts/build.sh build || build_ok=0
# The smallest build (meson -Dtpm, -Dazure, -Dsample off): it compiles, links
# no tss2 and passes the suites that do not need those backends.
min_ok=1
scripts/build.sh build-min -Dtpm=disabled -Dazure=disabled -Dsample=false || min_ok=0
scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false || build_ok=0
fuzz_ok=1
CC=clang scripts/build.sh build-fuzz -Dfuzz=true || fuzz_ok=0

if [ $build_ok = 1 ]; then
  run_meson_suites default build
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_meson_suites asan build-asan --no-suite ansible --no-suite rpm
  vg="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
  run_meson_suites valgrind build --suite unit --suite luks --wrapper "$vg"
  # The agent itself under valgrind through a few whole runs: success (EC keys;
  # RSA-3072 key generation alone takes minutes under valgrind, and the RSA
  # JWE path runs under valgrind in the jwe unit test), re-attestation,
  # and the failure paths.
  CVMBOOT_WRAPPER="$vg" CVMBOOT_TIME_SCALE=20 run_meson_suites valgrind-agent build --timeout-multiplier 10 \
    it_boot_luks_ec_p256 it_boot_files_ec_p521 it_fault_expire_after_attest_reattests_once \
    it_fault_corrupt_tag_exits_7 it_fault_deny_attest_exits_5 it_fault_oversize_exits_7
fi
if [ $min_ok = 1 ]; then
  run_meson_suites minimal build-min --suite footprint --suite unit --suite boot --suite tee
else
  echo "the minimal build (build-min: -Dtpm=disabled -Dazure=disabled -Dsample=false) failed" \
    > "$logs/minimal.missing"
fi
# The libFuzzer harnesses (tests/fuzz, their own clang build): every corpus
# file replayed, every target fuzzed for 10 s. Not part of the reruns above.
if [ $fuzz_ok = 1 ]; then
  run_meson_suites fuzz build-fuzz --suite fuzz
else
  echo "the fuzz build (build-fuzz, clang) failed" > "$logs/fuzz.missing"
fi

vm_passed=0 vm_failed=0
if [ "${CVMBOOT_SKIP_VM:-0}" != 1 ] && [ -x tests/vm/run.sh ]; then
  echo "=== vm"
  CVMBOOT_VM_BUILD=$src/build tests/vm/run.sh 2>&1 | tee "$logs/vm.log" | tail -n 40
  line=$(grep -E '^vm: [0-9]+ passed, [0-9]+ failed' "$logs/vm.log" | tail -n 1)
  if [ -n "$line" ]; then
    vm_passed=$(echo "$line" | sed -E 's/^vm: ([0-9]+) passed.*/\1/')
    vm_failed=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  else
    vm_failed=1
  fi
fi

$py - "$logs" "$build_ok" "$vm_passed" "$vm_failed" <<'PY'
import glob, json, sys
logs, build_ok, vm_passed, vm_failed = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])
passed, failed, skipped, failures, outputs = vm_passed, vm_failed, 0, [], []
for path in sorted(glob.glob(logs + "/*.json")):
    run = path.rsplit("/", 1)[1][:-5]
    for line in open(path):
        t = json.loads(line)
        if t["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append("%s: %s (%s)" % (run, t["name"], t["result"]))
            # CI shows only this summary: the end of the failing test's own output.
            tail = (t.get("stdout") or "").rstrip().splitlines()[-30:]
            outputs.append("--- %s: %s, its last %d lines:\n%s"
                           % (run, t["name"], len(tail), "\n".join(tail)))
for path in sorted(glob.glob(logs + "/*.missing")):
    failed += 1
    failures.append(open(path).read().strip())
if not build_ok:
    failed += 1
    failures.append("build failed")
for out in outputs:
    print(out)
for f in failures:
    print("FAILED", f)
print("logs in", logs)
print("%d passed, %d failed" % (passed, failed) + (", %d skipped" % skipped if skipped else ""))
sys.exit(1 if failed else 0)
PY
