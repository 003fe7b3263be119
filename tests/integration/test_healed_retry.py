#!/usr/bin/python3
# A transient fault the agent heals by retrying leaves no trace in the result:
# every command (boot, get-resource to stdout and to a file, unlock) exits 0
# with the exact bytes and no error line, against each transient fault.
"""Run one case: /usr/bin/python3 tests/integration/test_healed_retry.py FAULT (CVMBOOT_BIN set)."""

import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import check, make_luks_image, run_case  # noqa: E402

RES_FILE = "default/healed/file"
RES_OUT = "default/healed/out"
RES_KEY = "default/luks/healed"


def sessions(kbs, endpoint):
    return [e["session"] for e in kbs.requests() if e["endpoint"] == endpoint]


def statuses(kbs, endpoint):
    return [e["status"] for e in kbs.requests() if e["endpoint"] == endpoint]


def same_session_retry(endpoint, status):
    """An overloaded /attest is sent again on the same session: one /auth."""
    def check_log(kbs):
        check(statuses(kbs, endpoint) == [status, 200],
              "%s statuses %r" % (endpoint, statuses(kbs, endpoint)))
        check(len(sessions(kbs, "auth")) == 1, "a new /auth for a busy KBS: %r"
              % [e["endpoint"] for e in kbs.requests()])
        check(len(set(sessions(kbs, "attest"))) == 1, "the /attest retry changed session")
    return check_log


def retried(endpoint, status):
    def check_log(kbs):
        check(statuses(kbs, endpoint)[:2] == [status, 200],
              "%s statuses %r" % (endpoint, statuses(kbs, endpoint)))
    return check_log


def reattested_once(kbs):
    eps = [e["endpoint"] for e in kbs.requests()]
    check(eps.count("auth") == 2 and eps.count("attest") == 2,
          "want one re-attestation after the 401, got %r" % eps)
    check(statuses(kbs, "resource")[:2] == [401, 200], "resource statuses %r"
          % statuses(kbs, "resource"))


# fault name -> (--fault specs, check of the KBS request log)
FAULTS = {
    "attest_503_retry_after": (["fail=attest:1:503"], same_session_retry("attest", 503)),
    "attest_503_no_retry_after": (["fail=attest:1:503:retry_after=none"],
                                  same_session_retry("attest", 503)),
    "attest_429_retry_after": (["fail=attest:1:429"], same_session_retry("attest", 429)),
    "attest_429_no_retry_after": (["fail=attest:1:429:retry_after=none"],
                                  same_session_retry("attest", 429)),
    "auth_429_retry_after": (["fail=auth:1:429"], retried("auth", 429)),
    "auth_503_no_retry_after": (["fail=auth:1:503:retry_after=none"], retried("auth", 503)),
    "resource_503_retry_after": (["fail=resource:1:503"], retried("resource", 503)),
    "resource_429_no_retry_after": (["fail=resource:1:429:retry_after=none"],
                                    retried("resource", 429)),
    "drop_auth": (["drop=auth"], retried("auth", 0)),
    # libcurl itself resends a request once when a reused connection dies
    # unanswered: the second drop (on a fresh connection) reaches the agent.
    "drop_attest": (["drop=attest:2"], lambda kbs: check(
        statuses(kbs, "attest") == [0, 0, 200], "attest %r" % statuses(kbs, "attest"))),
    "drop_resource": (["drop=resource:2"], lambda kbs: check(
        statuses(kbs, "resource") == [0, 0, 200], "resource %r" % statuses(kbs, "resource"))),
    "truncate_auth": (["truncate=auth"], lambda kbs: None),
    "truncate_attest": (["truncate=attest"], lambda kbs: None),
    "truncate_resource": (["truncate=resource"], lambda kbs: None),
    "session_expiry_401_reattests": (["expire-after-attest"], reattested_once),
}


def check_clean(res, what):
    check(res.rc == 0, "%s did not exit 0 after a healed fault\n%r" % (what, res))
    errors = [line for line in res.err.splitlines() if line.startswith(("<0>", "<1>", "<2>", "<3>"))]
    check(not errors, "%s printed an error line after a healed fault: %r" % (what, errors))
    # ... and the agent did see the fault (not healed below it, by libcurl).
    healing = [line for line in res.err.splitlines() if line.startswith(("<4>", "<5>")) and (
        "failed (" in line or "attesting again" in line)]
    check(healing, "%s logged no retry: the fault never reached the agent\n%r" % (what, res))


def check_fault_fired(kbs, faults, check_log):
    """The test can fail: the injected fault really hit one request."""
    fired = [e["fault"] for e in kbs.requests() if e.get("fault")]
    want = faults[0].split("=")[0]
    check(fired and fired[0] in (want, "expire-after-attest"),
          "the fault %s did not fire: %r" % (faults[0], fired))
    check_log(kbs)


def healed(env, name):
    faults, check_log = FAULTS[name]
    retry = {"budget": "12s"}
    file_data = env.random_secret(RES_FILE, b"FILE-")
    out_data = env.resource(RES_OUT, b"STDOUT-" + os.urandom(12).hex().encode() + b"\n")

    # boot: the file staged, status.json ok
    kbs = env.start_kbs(faults=faults)
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, retry=retry, resources={
        "f": {"path": RES_FILE, "file": "f"}}))
    check_clean(res, "boot")
    env.check_secret_file("f", file_data, 0o400)
    st = env.status()
    check(st["result"] == "ok" and st["error"] is None and st["reason"] is None,
          "status.json after a healed fault: %r" % st)
    check_fault_fired(kbs, faults, check_log)

    # get-resource to stdout: exactly the bytes
    kbs = env.start_kbs(faults=faults)
    res = env.run(["get-resource", RES_OUT], env.config([kbs.url], kbs.ca, retry=retry))
    check_clean(res, "get-resource")
    check(res.out.encode() == out_data, "stdout is not exactly the resource")
    check_fault_fired(kbs, faults, check_log)

    # get-resource -o FILE: the file, mode 0600, exactly the bytes
    kbs = env.start_kbs(faults=faults)
    out = os.path.join(env.private_dir, "fetched")
    res = env.run(["get-resource", RES_FILE, "-o", out], env.config([kbs.url], kbs.ca,
                                                                     retry=retry))
    check_clean(res, "get-resource -o")
    check(res.out == "", "get-resource -o wrote to stdout")
    check(stat.S_IMODE(os.lstat(out).st_mode) == 0o600, "-o file mode")
    with open(out, "rb") as f:
        check(f.read() == file_data, "-o file is not exactly the resource")
    check_fault_fired(kbs, faults, check_log)

    # unlock --no-activate: the fetched key opens the volume
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/cryptsetup"):
        print("SKIP unlock part: needs root and cryptsetup")
        return
    key = env.resource(RES_KEY, os.urandom(32), secret=True)
    img = make_luks_image(env, key, RES_KEY, ["https://127.0.0.1:1"])
    kbs = env.start_kbs(faults=faults)
    res = env.run(["unlock", img, "--no-activate"], env.config([kbs.url], kbs.ca, retry=retry))
    check_clean(res, "unlock --no-activate")
    check("the fetched key opens" in res.out, "unlock did not confirm the key\n%r" % res)
    check_fault_fired(kbs, faults, check_log)


CASES = {name: (lambda env, n=name: healed(env, n)) for name in FAULTS}

if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
