#!/usr/bin/python3
# What a person at the console reads while `cvmboot boot` waits and when it gives
# up: one numbered line per failed attempt, the KBS's own words and the operator's
# next step as the last lines, and the same lines on a (fake) plymouth splash.
"""Run one case: /usr/bin/python3 tests/integration/test_console.py CASE (CVMBOOT_BIN set)."""

import os
import re
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Result, check, free_port, run_case  # noqa: E402
import harness  # noqa: E402

CASES = {}
RES = "default/workload/tls.crt"
# "<4>cvmboot: waiting for the KBS: attempt 2 failed (attestation at URL: why);
#  retrying in 1.3 s, 1.2 s of the 3.0 s retry budget left"
WAIT_RE = re.compile(r"^<4>cvmboot: waiting for the KBS: attempt (\d+) failed \((attestation|"
                     r"resource fetch) at (\S+): (.+)\); (retrying|trying \S+) in (\d+\.\d) s, "
                     r"(\d+\.\d) s of the (\d+\.\d) s retry budget left$")
DENY_ADVICE = ("<3>cvmboot: the KBS policy refused this VM's evidence or request (PolicyDeny: "
               "Access denied by policy (injected deny-attest)); check the KBS's policy and the "
               "reference values it holds for this image")
UNREACHABLE_ADVICE = ("<3>cvmboot: no KBS reachable: check the network and the KBS URLs "
                      "([kbs] url, rd.cvmboot.url=), and that the KBS is up")


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def lines(res):
    return [line for line in res.err.splitlines() if line]


def wait_lines(res):
    """The progress lines, as match objects; checks they are numbered 1, 2, ..."""
    found = [m for m in map(WAIT_RE.match, lines(res)) if m]
    numbers = [int(m.group(1)) for m in found]
    check(numbers == list(range(1, len(numbers) + 1)),
          "attempts not numbered 1..n: %r\n%r" % (numbers, res))
    for m in found:
        check(float(m.group(7)) <= float(m.group(8)), "more budget left than the budget: %s"
              % m.group(0))
    return found


def boot(env, kbs_urls, ca=None, retry=None, proc_env=None, resources=None):
    env.resource(RES, b"CERT")
    config = env.config(kbs_urls, ca, retry=retry, resources=resources or {
        "cert": {"path": RES, "file": "tls.crt"}})
    start = time.monotonic()
    rc, out, err = harness.run_cvmboot(["boot"], config, timeout=40, env=proc_env)
    env.last = Result(rc, out, err, time.monotonic() - start)
    env.check_sane(env.last)
    return env.last


def last_two(res):
    ls = lines(res)
    check(len(ls) >= 2, "fewer than two lines\n%r" % res)
    return ls[-2], ls[-1]


@case
def busy_kbs_one_line_per_attempt(env):
    """503 on every /attest: one numbered line per failed attempt, naming the KBS's
    answer, the wait and the budget; then the failure and what to do."""
    kbs = env.start_kbs(faults=["fail=attest:all:503"])
    res = boot(env, [kbs.url], kbs.ca)
    env.check_failed_status(res, 6, "network")
    found = wait_lines(res)
    attests = [e for e in kbs.requests() if e["endpoint"] == "attest"]
    # every failed attempt but the last (after which the budget is spent) has its line
    check(len(found) == len(attests) - 1 and found,
          "%d progress lines for %d attests\n%r" % (len(found), len(attests), res))
    for m in found:
        check(m.group(2) == "attestation" and m.group(3) == kbs.url and
              m.group(4).startswith("attest: HTTP 503") and m.group(5) == "retrying" and
              m.group(8) == "3.0", "progress line: %s" % m.group(0))
        check(float(m.group(6)) >= 1.0, "Retry-After: 1 not in the wait shown: %s" % m.group(0))
    failed, advice = last_two(res)
    check(failed.startswith("<3>cvmboot: boot failed (network): "), "last but one: %r" % failed)
    check(advice == "<3>cvmboot: the KBS stayed overloaded for the whole retry budget: check "
          "its load, or raise [retry] budget", "last line: %r" % advice)


@case
def unreachable_says_check_network(env):
    """Nothing listens: numbered lines, then 'no KBS reachable: check ...' last."""
    url = "https://127.0.0.1:%d" % free_port()
    res = boot(env, [url], retry={"budget": "2s"})
    env.check_failed_status(res, 6, "network")
    found = wait_lines(res)
    check(len(found) >= 2, "fewer than 2 progress lines in a 2 s budget\n%r" % res)
    check(all(m.group(3) == url and m.group(8) == "2.0" for m in found),
          "progress lines: %r" % [m.group(0) for m in found])
    failed, advice = last_two(res)
    check(failed.startswith("<3>cvmboot: boot failed (network): gave up after "),
          "last but one: %r" % failed)
    check(advice == UNREACHABLE_ADVICE, "last line: %r" % advice)


@case
def failover_names_the_next_kbs(env):
    """A dead first KBS: the line says which KBS is tried next."""
    dead = "https://127.0.0.1:%d" % free_port()
    kbs = env.start_kbs()
    res = boot(env, [dead, kbs.url], kbs.ca)
    check(res.rc == 0, "boot failed\n%r" % res)
    found = wait_lines(res)
    check(len(found) == 1 and found[0].group(3) == dead and
          found[0].group(5) == "trying " + kbs.url,
          "want one line: attempt 1 at the dead KBS, trying the good one\n%r" % res)


@case
def deny_last_lines_say_what_the_kbs_said(env):
    """PolicyDeny: no progress line (final at once); the last lines are the
    failure with the KBS's answer and the operator's next step."""
    kbs = env.start_kbs(faults=["deny-attest"])
    res = boot(env, [kbs.url], kbs.ca)
    env.check_failed_status(res, 5, "refused", "PolicyDeny")
    check(not wait_lines(res), "a final refusal was reported as a wait\n%r" % res)
    failed, advice = last_two(res)
    check(failed == "<3>cvmboot: boot failed (refused): attestation to %s: attest: refused: "
          "HTTP 401 PolicyDeny: Access denied by policy (injected deny-attest)" % kbs.url,
          "last but one: %r" % failed)
    check(advice == DENY_ADVICE, "last line: %r" % advice)


@case
def missing_resource_advice(env):
    kbs = env.start_kbs()
    res = boot(env, [kbs.url], kbs.ca, resources={
        "gone": {"path": "default/workload/missing", "file": "missing"}})
    check(res.rc in (5, 8), "exit %s\n%r" % (res.rc, res))
    _, advice = last_two(res)
    check(re.match(r"<3>cvmboot: the (KBS has no such resource \(ResourceNotFound: .*\): check "
                   r"the resource paths|KBS policy refused this VM's evidence or request \()",
                   advice), "last line: %r\n%r" % (advice, res))


@case
def device_wait_lines(env):
    """A LUKS2 device that never appears: a line every 5 s while waiting."""
    env.resource("default/luks/root", os.urandom(32), secret=True)
    kbs = env.start_kbs()
    config = env.config([kbs.url], kbs.ca, luks={"discover_tokens": False,
                                                 "device_timeout": "6s"}, resources={
        "root": {"path": "default/luks/root", "luks_device": "/dev/cvmboot-test-absent",
                 "luks_name": "it-absent"}})
    rc, out, err = harness.run_cvmboot(["boot", "--no-activate"], config, timeout=40)
    res = env.last = Result(rc, out, err, 0)
    env.check_failed_status(res, 9, "unlock")
    waits = [line for line in lines(res) if line.startswith("<5>cvmboot: waiting for device")]
    check(len(waits) == 1 and re.match(
        r"<5>cvmboot: waiting for device /dev/cvmboot-test-absent: not there at look \d+; "
        r"looking again every 0\.1 s, [01]\.\d s of the 6\.0 s device timeout left$", waits[0]),
        "want one device line after 5 s\n%r" % res)
    _, advice = last_two(res)
    check(advice.startswith("<3>cvmboot: the LUKS2 volume did not open: check that the disk"),
          "last line: %r" % advice)


# ------------------------------------------------------------ plymouth

FAKE_PLYMOUTH = """#!/bin/sh
# fake plymouth: records its arguments (one call a line), answers --ping with $PING_RC
printf '%%s\\n' "$*" >> %(log)s
if [ "$1" = --ping ]; then
    [ -n "${PLYMOUTH_HANG:-}" ] && exec sleep 30
    exit "${PING_RC:-0}"
fi
exit 0
"""


def fake_plymouth(env, **extra):
    bindir = os.path.join(env.tmp, "bin")
    os.makedirs(bindir, exist_ok=True)
    log = os.path.join(env.tmp, "plymouth.log")
    path = os.path.join(bindir, "plymouth")
    with open(path, "w", encoding="utf-8") as f:
        f.write(FAKE_PLYMOUTH % {"log": log})
    os.chmod(path, stat.S_IRWXU)
    proc_env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    proc_env.update(extra)
    return proc_env, log


def calls(log):
    if not os.path.exists(log):
        return []
    with open(log, encoding="utf-8") as f:
        return f.read().splitlines()


@case
def plymouth_shows_each_line_replacing_the_last(env):
    """plymouth answers --ping: each progress line is displayed, the one before
    hidden; the failure replaces the last progress line and the advice stays
    next to it. The texts are the console lines."""
    proc_env, log = fake_plymouth(env, PING_RC="0")
    url = "https://127.0.0.1:%d" % free_port()
    res = boot(env, [url], retry={"budget": "2s"}, proc_env=proc_env)
    env.check_failed_status(res, 6, "network")
    shown = [line[3:] for line in lines(res) if WAIT_RE.match(line)]
    failed, advice = (line[3:] for line in last_two(res))
    want, prev = [], None
    for text in shown + [failed]:
        want.append("--ping")
        if prev:
            want.append("hide-message --text=%s" % prev)
        want.append("display-message --text=%s" % text)
        prev = text
    want += ["--ping", "display-message --text=%s" % advice]
    got = calls(log)
    check(got == want, "plymouth calls:\n%s\nwant:\n%s" % ("\n".join(got), "\n".join(want)))


@case
def plymouth_not_running_gets_only_pings(env):
    proc_env, log = fake_plymouth(env, PING_RC="1")
    url = "https://127.0.0.1:%d" % free_port()
    res = boot(env, [url], retry={"budget": "2s"}, proc_env=proc_env)
    env.check_failed_status(res, 6, "network")
    n = len(wait_lines(res))
    got = calls(log)
    check(got == ["--ping"] * (n + 2), "want %d pings and nothing else: %r" % (n + 2, got))


@case
def plymouth_hanging_does_not_stall_the_boot(env):
    """A plymouth that never answers costs at most 1 s a line, then is killed."""
    proc_env, log = fake_plymouth(env, PLYMOUTH_HANG="1")
    kbs = env.start_kbs(faults=["deny-attest"])
    start = time.monotonic()
    res = boot(env, [kbs.url], kbs.ca, proc_env=proc_env)
    elapsed = time.monotonic() - start
    env.check_failed_status(res, 5, "refused")
    check(calls(log) == ["--ping", "--ping"], "plymouth calls %r" % calls(log))
    check(elapsed < 2.0 + 4.0 * harness.time_scale(), "took %.1f s" % elapsed)
    check(elapsed >= 2.0, "the hanging plymouth was not waited for (%.1f s)" % elapsed)


@case
def get_resource_never_calls_plymouth(env):
    """Only the boot job talks to plymouth."""
    proc_env, log = fake_plymouth(env, PING_RC="0")
    kbs = env.start_kbs(faults=["fail=attest:1:503"])
    env.resource(RES, b"CERT")
    config = env.config([kbs.url], kbs.ca, retry={"budget": "10s"})
    rc, out, err = harness.run_cvmboot(["get-resource", RES], config, timeout=40, env=proc_env)
    check(rc == 0 and out == "CERT", "get-resource rc=%s out=%r\n%s" % (rc, out, err))
    check(any(WAIT_RE.match(line) for line in err.splitlines()), "no progress line\n%s" % err)
    check(calls(log) == [], "plymouth was called: %r" % calls(log))


if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
