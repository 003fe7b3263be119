#!/usr/bin/env bash
# Fleet reboot: N real `cvmboot get-resource` processes (default 200) released
# at once against the test KBS's overload model (CAPACITY attestations at a
# time, COST_MS each, the rest refused STATUS + Retry-After: RETRY_AFTER).
# Prints: succeeded, makespan against the ideal N*COST/CAPACITY, p50/p95
# completion, /auth+/attest requests per VM, overload refusals.
# Figures only; nothing here asserts a time.
#   bench/fleet.sh [N]     env: CAPACITY=8 COST_MS=200 STATUS=503 RETRY_AFTER=1
#                          BUDGET=120s (the agents' [retry] budget)
#                          CVMBOOT_BIN (default: build/cvmboot, built first)
#                          GATE=loaded (default: agents are released once
#                          their libraries are loaded, bench/fleet_gate.c) or
#                          GATE=exec (released before exec: the host's
#                          serial start-up of N agents counts too)
# On a small or busy host the agents' own start-up (about 40 ms of CPU each)
# can take longer than the ideal makespan: CAPACITY=N shows that floor, and
# scaling COST_MS, RETRY_AFTER and BUDGET by the same factor takes it out.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
n=${1:-200}
if [ -z "${CVMBOOT_BIN:-}" ]; then
  scripts/build.sh build
  export CVMBOOT_BIN=$src/build/cvmboot
fi
work=$(mktemp -d /tmp/cvmboot-fleet.XXXXXX)
trap 'rm -rf "$work"' EXIT
gate_lib=
case ${GATE:-loaded} in
  loaded) gate_lib=$work/fleet_gate.so
          cc -O2 -shared -fPIC -o "$gate_lib" bench/fleet_gate.c ;;
  exec) ;;
  *) echo "GATE must be loaded or exec" >&2; exit 2 ;;
esac
# 2 fds per agent (its gate pipe and output) plus the KBS's threads' sockets.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
/usr/bin/python3 - "$work" "$n" "${CAPACITY:-8}" "${COST_MS:-200}" "${STATUS:-503}" \
  "${RETRY_AFTER:-1}" "${BUDGET:-120s}" "$gate_lib" <<'EOF'
import collections
import sys

sys.path.insert(0, "tests/integration")
import fleet  # noqa: E402

work, n, capacity, cost_ms, status, retry_after, budget, gate_lib = sys.argv[1:]
f = fleet.run_fleet(work, int(n), capacity=int(capacity), cost_ms=int(cost_ms),
                    status=int(status), retry_after=retry_after, budget=budget,
                    timeout=3600, gate_lib=gate_lib or None)
ideal = f.ideal_seconds()
times = sorted(a.seconds for a in f.agents)


def at(q):
    return times[min(len(times) - 1, int(q * len(times)))]


auth, attest = f.count("auth"), f.count("attest")
print("fleet: %d x cvmboot get-resource, KBS verifies %d at a time, %d ms each, "
      "refuses with %d Retry-After: %s; agents' budget %s"
      % (f.n, f.capacity, f.cost_ms, int(status), retry_after, budget))
print("released: %s" % ("once every agent had loaded its libraries (GATE=loaded)" if gate_lib
                        else "before exec: start-up counts (GATE=exec)"))
print("succeeded (exit 0, right bytes): %d/%d" % (len(f.succeeded()), f.n))
print("right bytes on stdout, whatever the exit code: %d/%d"
      % (sum(1 for a in f.agents if a.output() == f.secret), f.n))
print("exit codes: %s" % dict(sorted(collections.Counter(a.rc for a in f.agents).items())))
print("ideal makespan: %.2f s" % ideal)
print("makespan (last VM): %.2f s = %.2fx ideal" % (times[-1], times[-1] / ideal))
print("completion p50: %.2f s = %.2fx, p95: %.2f s = %.2fx"
      % (at(0.5), at(0.5) / ideal, at(0.95), at(0.95) / ideal))
print("/auth+/attest per VM: %.2f (auth %.2f, attest %.2f)"
      % ((auth + attest) / f.n, auth / f.n, attest / f.n))
print("overload refusals: %d" % f.count("attest", "overload"))
auths = f.first_auth_seconds()
print("/auth arrivals after the release (agent start-up, CPU-bound on a busy host): "
      "first %.2f s, median %.2f s, last %.2f s" % (auths[0], auths[len(auths) // 2], auths[-1]))
print("resource GETs: %d" % f.count("resource"))
errors = [a for a in f.agents if any(line.startswith("<3>") for line in a.stderr().splitlines())]
print("runs with an error line on stderr: %d" % len(errors))
if errors:
    print("first: %s" % [line for line in errors[0].stderr().splitlines()
                         if line.startswith("<3>")][0])
EOF
