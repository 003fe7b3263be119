#!/usr/bin/python3
# A fleet of 40 real agents released at once against a KBS that verifies 4
# attestations at a time and refuses the rest 503/429 (+ Retry-After): every
# agent gets its resource and exits 0. No timing is asserted (bench/fleet.sh
# measures).
"""Run one case: /usr/bin/python3 tests/integration/test_fleet.py CASE (CVMBOOT_BIN set)."""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import check, run_case  # noqa: E402
import fleet  # noqa: E402


def fleet_all_succeed(env, status, retry_after):
    # 4 x 1 s of verification: overloaded even when slow (sanitized) agents
    # take seconds to start.
    f = fleet.run_fleet(os.path.join(env.tmp, "fleet"), 40, capacity=4, cost_ms=1000,
                        status=status, retry_after=retry_after)
    codes = collections.Counter(a.rc for a in f.agents)
    failed = [a for a in f.agents if a.rc != 0]
    check(not failed, "exit codes %r; first failure:\n%s" % (
        dict(codes), failed[0].stderr() if failed else ""))
    check(len(f.succeeded()) == f.n, "%d of %d agents printed exactly the resource"
          % (len(f.succeeded()), f.n))
    errors = [a.index for a in f.agents if "<3>" in a.stderr()]
    check(not errors, "agents %r printed an error line" % errors)
    # The overload really happened, and busy /attests were retried on their session.
    check(f.count("attest", "overload") > 0, "no attestation was refused: no overload tested")
    refused = {e["session"] for e in f.requests if e.get("fault") == "overload"}
    attested = {e["session"] for e in f.requests
                if e["endpoint"] == "attest" and e["status"] == 200}
    check(refused <= attested, "%d sessions refused for overload were given up instead of "
          "attested again" % len(refused - attested))


CASES = {
    "fleet_40_503_retry_after": lambda env: fleet_all_succeed(env, 503, "1"),
    "fleet_40_429_no_retry_after": lambda env: fleet_all_succeed(env, 429, "none"),
}

if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
