#!/usr/bin/python3
# A KBS whose certificate does not verify is skipped for the next configured
# KBS; it is final only when no KBS is left, and the final error names each
# KBS tried and why it failed.
"""Run one case: /usr/bin/python3 tests/integration/test_tls_failover.py CASE (CVMBOOT_BIN set)."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import check, free_port, run_case  # noqa: E402

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def untrusted_then_good(env):
    """Two test KBSes, each with its own CA; ca_file trusts only the second."""
    secret = env.random_secret("default/tls/key", b"KEY-")
    untrusted, good = env.start_kbs(), env.start_kbs()
    return secret, untrusted, good


@case
def untrusted_first_fails_over_to_good(env):
    secret, untrusted, good = untrusted_then_good(env)
    res = env.run(["boot"], env.config([untrusted.url, good.url], good.ca, resources={
        "k": {"path": "default/tls/key", "file": "k"}}))
    check(res.rc == 0, "boot did not fail over past the untrusted KBS\n%r" % res)
    env.check_secret_file("k", secret, 0o400)
    check(untrusted.requests() == [], "a request went through an unverified connection")
    check([e["endpoint"] for e in good.requests()] == ["auth", "attest", "resource"],
          "good KBS saw %r" % [e["endpoint"] for e in good.requests()])
    moved = [line for line in res.err.splitlines() if line.startswith("<4>")
             and untrusted.url in line and "certificate does not verify" in line
             and "trying " + good.url in line]
    check(len(moved) == 1, "want one warning naming the untrusted KBS, why, and the next\n%r"
          % res)
    check(env.status()["kbs_url"] == good.url, "status.json kbs_url %r" % env.status()["kbs_url"])


@case
def untrusted_first_get_resource_exits_0(env):
    secret, untrusted, good = untrusted_then_good(env)
    out = os.path.join(env.private_dir, "fetched")
    res = env.run(["get-resource", "default/tls/key", "-o", out],
                  env.config([untrusted.url, good.url], good.ca))
    check(res.rc == 0 and not [line for line in res.err.splitlines() if line.startswith("<3>")],
          "get-resource after a TLS failover\n%r" % res)
    with open(out, "rb") as f:
        check(f.read() == secret, "wrong bytes")


@case
def all_untrusted_is_final_at_once_naming_each(env):
    env.random_secret("default/tls/key", b"KEY-")
    a, b, trusted = env.start_kbs(), env.start_kbs(), env.start_kbs()
    res = env.run(["get-resource", "default/tls/key"],
                  env.config([a.url, b.url], trusted.ca, retry={"budget": "20s"}))
    check(res.rc == 6, "want exit 6 (network) when no KBS verifies\n%r" % res)
    check(res.elapsed < 5, "certificate failures were retried (%.1fs)" % res.elapsed)
    final = [line for line in res.err.splitlines() if line.startswith("<3>")]
    check(len(final) == 1, "want one error line\n%r" % res)
    for kbs in (a, b):
        check(re.search(re.escape(kbs.url) + r": [^;]*certificate does not verify", final[0]),
              "the final error does not name %s and why\n%s" % (kbs.url, final[0]))
    check(a.requests() == [] and b.requests() == [], "requests over unverified TLS")


@case
def untrusted_and_unreachable_names_both_reasons(env):
    """One KBS refused for its certificate (not tried again), the other down
    (retried until the budget): the final error says why for each."""
    env.random_secret("default/tls/key", b"KEY-")
    untrusted, trusted = env.start_kbs(), env.start_kbs()
    dead = "https://127.0.0.1:%d" % free_port()
    res = env.run(["get-resource", "default/tls/key"],
                  env.config([untrusted.url, dead], trusted.ca,
                             retry={"budget": "2s", "backoff_base": "100ms",
                                    "backoff_cap": "200ms"}))
    check(res.rc == 6, "want exit 6\n%r" % res)
    final = [line for line in res.err.splitlines() if line.startswith("<3>")][0]
    check(re.search(re.escape(untrusted.url) + r": [^;]*certificate does not verify", final),
          "no TLS reason for %s in %s" % (untrusted.url, final))
    check(re.search(re.escape(dead) + r": [^;]*(connect|refused)", final, re.I),
          "no reason for %s in %s" % (dead, final))
    check(re.search(r"gave up after \d+ round", final), "not a budget error: %s" % final)
    tried_untrusted = [line for line in res.err.splitlines()
                       if line.startswith("<4>cvmboot: waiting for the KBS: attempt ")
                       and ("failed (attestation at %s: " % untrusted.url) in line]
    check(len(tried_untrusted) == 1, "the untrusted KBS was tried again: %d warnings"
          % len(tried_untrusted))


if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
