#!/usr/bin/python3
# A failed boot leaves nothing behind (issue 7, defect 5): the secret files this
# run wrote are removed again, and status.json records the failure. (Closing
# the mappings it opened needs device-mapper: the VM suite's territory.)
"""Run one case: /usr/bin/python3 tests/integration/test_rollback.py CASE (CVMBOOT_BIN set)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import check, run_case  # noqa: E402

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


FILES = (("tls-cert", "default/workload/tls.crt", "tls.crt", False),
         ("tls-key", "default/workload/tls.key", "tls.key", True),
         ("ca-cert", "default/workload/ca.crt", "ca.crt", False))


def three_files(env, missing=None):
    """The FILES resources, in that order; the one named missing is not on the KBS."""
    sections = {}
    for name, path, fname, secret in FILES:
        if name == missing:
            pass
        elif secret:
            env.random_secret(path, b"TLSKEY-")
        else:
            env.resource(path, b"PUBLIC-" + os.urandom(8).hex().encode())
        sections[name] = {"path": path, "file": fname}
    return sections


def secret_files(env, ignore=()):
    if not os.path.isdir(env.secrets_dir):
        return []
    return sorted(set(os.listdir(env.secrets_dir)) - set(ignore))


@case
def later_file_fails_earlier_files_removed(env):
    """tls.crt and tls.key are written, then ca.crt cannot be (a directory holds
    its name): the boot fails with exit 10 and the two written files are gone."""
    sections = three_files(env)
    kbs = env.start_kbs()
    os.makedirs(os.path.join(env.secrets_dir, "ca.crt"), mode=0o700)
    os.chmod(env.secrets_dir, 0o700)
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, resources=sections))
    env.check_failed_status(res, 10, "secrets", r"resource 'ca-cert'.*ca\.crt")
    left = secret_files(env, ignore=["ca.crt"])
    check(not left, "files of the failed boot left behind: %r" % left)
    check("2 file(s) removed" in res.err, "no rollback line\n%r" % res)
    check(os.path.isdir(os.path.join(env.secrets_dir, "ca.crt")),
          "removed something this run did not write")


@case
def status_write_fails_files_removed(env):
    """Everything fetched and written, then status.json cannot be: the boot is
    a failure (exit 10), so the files go again."""
    sections = three_files(env)
    kbs = env.start_kbs()
    os.makedirs(os.path.join(env.run_dir, "status.json"))
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, resources=sections))
    check(res.rc == 10 and "cannot write status" in res.err, "status failure\n%r" % res)
    check(not secret_files(env), "files left behind: %r" % secret_files(env))
    check("3 file(s) removed" in res.err, "no rollback line\n%r" % res)


@case
def later_resource_missing_nothing_written(env):
    """The last resource is missing on the KBS: the boot fails (exit 5, as
    Trustee answers it) before anything is written, and says so in status.json."""
    sections = three_files(env, missing="ca-cert")
    kbs = env.start_kbs()
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, resources=sections))
    env.check_failed_status(res, 5, "refused", "resource 'ca-cert'")
    check(not secret_files(env), "files written: %r" % secret_files(env))


if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
