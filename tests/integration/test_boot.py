#!/usr/bin/python3
# End-to-end tests of `cvmboot boot` against the test KBS: every key algorithm, LUKS2
# key verification, secret files, status.json, one TLS connection, and every fault.
"""Run one case: /usr/bin/python3 tests/integration/test_boot.py CASE (CVMBOOT_BIN set)."""

import json
import os
import re
import shutil
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import check, free_port, make_luks_image, run_case  # noqa: E402
import harness  # noqa: E402  (common puts tests/kbs on sys.path)

FILES = {
    "tls-cert": ("default/workload/tls.crt", "tls.crt", "0444", 0o444),
    "tls-key": ("default/workload/tls.key", "tls.key", None, 0o400),
    "ca-cert": ("default/workload/ca.crt", "ca.crt", "0440", 0o440),
}
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def standard_resources(env):
    """tls.crt / ca.crt (public), tls.key (secret); returns {name: data}, config sections."""
    data = {
        "tls-cert": env.resource("default/workload/tls.crt", b"-----BEGIN CERTIFICATE-----\n"
                                 + os.urandom(30).hex().encode() + b"\n"),
        "tls-key": env.random_secret("default/workload/tls.key", b"TLSKEY-"),
        "ca-cert": env.resource("default/workload/ca.crt", b"CA-" + os.urandom(8).hex().encode()),
    }
    sections = {}
    for name, (path, fname, mode, _) in FILES.items():
        sections[name] = {"path": path, "file": fname}
        if mode:
            sections[name]["mode"] = mode
    return data, sections


def endpoints(kbs):
    return [e["endpoint"] for e in kbs.requests()]


def check_files(env, data):
    st = os.lstat(env.secrets_dir)
    check(stat.S_IMODE(st.st_mode) == 0o700,
          "secrets dir mode %o, want 700" % stat.S_IMODE(st.st_mode))
    for name, (_, fname, _, mode) in FILES.items():
        env.check_secret_file(fname, data[name], mode)
    extra = set(os.listdir(env.secrets_dir)) - {f[1] for f in FILES.values()}
    check(not extra, "unexpected files in the secrets dir: %s" % sorted(extra))


def check_ok_status(env, kbs, res, resource_names, volumes=()):
    check(res.rc == 0, "boot failed\n%r" % res)
    st = env.status()
    check(st["command"] == "boot" and st["result"] == "ok" and st["exit_code"] == 0,
          "status.json: %r" % st)
    check(st["error"] is None and st["reason"] is None, "status.json error/reason set: %r" % st)
    check(st["tee"] == "sample", "status.json tee %r" % st["tee"])
    check(st["kbs_url"] == kbs.url, "status.json kbs_url %r, want %r" % (st["kbs_url"], kbs.url))
    check(isinstance(st["started"], int) and isinstance(st["finished"], int)
          and 0 <= st["finished"] - st["started"] <= 60, "started/finished: %r" % st)
    # The session attested is the one of the last /auth answered 200.
    auth_time = [e for e in kbs.requests()
                 if e["endpoint"] == "auth" and e["status"] == 200][-1]["time"]
    check(isinstance(st["token_expiry"], int) and abs(st["token_expiry"] - (auth_time + 300)) < 5,
          "token_expiry %r not the session expiry (~%d)" % (st["token_expiry"], auth_time + 300))
    check(isinstance(st["phases"], dict) and st["phases"]
          and all(isinstance(v, int) and v >= 0 for v in st["phases"].values()),
          "phases: %r" % st["phases"])
    check(sorted(st["resources"]) == sorted(resource_names),
          "status.json resources %r, want %r" % (st["resources"], sorted(resource_names)))
    check(list(st["volumes"]) == list(volumes), "status.json volumes %r" % st["volumes"])
    return st


def check_no_secret_files(env):
    left = os.listdir(env.secrets_dir) if os.path.isdir(env.secrets_dir) else []
    check(not left, "secret files left after a failed boot: %s" % left)


def check_one_connection(kbs):
    conns = {e["conn"] for e in kbs.requests()}
    check(len(conns) == 1, "the run used %d TLS connections: %s" % (len(conns), sorted(conns)))


# ------------------------------------------------------------ happy paths

def boot_files(env, alg):
    data, sections = standard_resources(env)
    kbs = env.start_kbs()
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, key_algorithm=alg, resources=sections))
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    check(endpoints(kbs) == ["auth", "attest", "resource", "resource", "resource"],
          "request sequence %r" % endpoints(kbs))
    check(all(e["status"] == 200 for e in kbs.requests()), "a request failed")
    check_one_connection(kbs)


@case
def boot_files_ec_p256(env):
    boot_files(env, "ec-p256")


@case
def boot_files_ec_p521(env):
    boot_files(env, "ec-p521")


@case
def boot_files_rsa_oaep_256(env):
    boot_files(env, "rsa-oaep-256")


# ------------------------------------------------------------ signed-image gate

GPG_PUBLIC = (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZtest" + os.urandom(8).hex().encode()
              + b"\n-----END PGP PUBLIC KEY BLOCK-----\n")
SIGNED_IMAGE = "10.0.2.101:5000/cvmboot/app:signed"


def image_policy_dir(env):
    return os.path.join(env.run_dir, "image-policy")


@case
def boot_image_policy_gpg(env):
    """[workload] signing_key: the key is fetched after the files and
    run_dir/image-policy holds it, policy.json (reject all but the image
    signed by it) and the lookaside entry, all 0644."""
    data, sections = standard_resources(env)
    env.resource("default/workload/signing-key", GPG_PUBLIC)
    kbs = env.start_kbs()
    workload = {"image": SIGNED_IMAGE, "signing_key": "default/workload/signing-key",
                "signature_lookaside": "http://10.0.2.102/sigs"}
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, resources=sections, workload=workload))
    check_ok_status(env, kbs, res, list(sections) + ["workload-signing-key"])
    check_files(env, data)
    pdir = image_policy_dir(env)
    key_path = os.path.join(pdir, "signing-key.gpg")
    with open(key_path, "rb") as f:
        check(f.read() == GPG_PUBLIC, "signing-key.gpg is not what the KBS served")
    with open(os.path.join(pdir, "policy.json"), encoding="utf-8") as f:
        policy = json.load(f)
    check(policy == {"default": [{"type": "reject"}],
                     "transports": {"docker": {SIGNED_IMAGE.rsplit(":", 1)[0]: [
                         {"type": "signedBy", "keyType": "GPGKeys", "keyPath": key_path}]}}},
          "policy.json: %r" % policy)
    with open(os.path.join(pdir, "registries.d", "cvmboot.yaml"), encoding="utf-8") as f:
        yaml = f.read()
    check(yaml == 'docker:\n  10.0.2.101:5000/cvmboot/app:\n    lookaside: "http://10.0.2.102/sigs"\n',
          "registries.d: %r" % yaml)
    for rel in ("signing-key.gpg", "policy.json", "registries.d/cvmboot.yaml"):
        mode = stat.S_IMODE(os.lstat(os.path.join(pdir, rel)).st_mode)
        check(mode == 0o644, "%s mode %o, want 644" % (rel, mode))
    check("image policy for %s written to %s/policy.json" % (SIGNED_IMAGE, pdir) in res.err,
          "no log line for the policy\n%r" % res)


@case
def boot_without_signing_key_writes_no_policy(env):
    data, sections = standard_resources(env)
    kbs = env.start_kbs()
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, resources=sections,
                                       workload={"image": SIGNED_IMAGE}))
    check_ok_status(env, kbs, res, list(sections))
    check(not os.path.exists(image_policy_dir(env)), "image-policy written without signing_key")
    check(endpoints(kbs) == ["auth", "attest", "resource", "resource", "resource"],
          "request sequence %r" % endpoints(kbs))


@case
def boot_signing_key_private_refused(env):
    """A private key served as signing_key fails the boot (config, exit 3):
    nothing of the gate is written and the files staged are not left."""
    data, sections = standard_resources(env)
    env.resource("default/workload/signing-key",
                 b"-----BEGIN EC PRIVATE KEY-----\n" + os.urandom(24).hex().encode()
                 + b"\n-----END EC PRIVATE KEY-----\n", secret=True)
    kbs = env.start_kbs()
    workload = {"image": SIGNED_IMAGE, "signing_key": "default/workload/signing-key"}
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, resources=sections, workload=workload))
    env.check_failed_status(res, 3, "config", r"signing_key default/workload/signing-key: "
                            r"signing key is a private key")
    check(not os.path.exists(image_policy_dir(env)), "image-policy written for a private key")
    check_no_secret_files(env)


def luks_available():
    return os.geteuid() == 0 and shutil.which("cryptsetup") is not None


def boot_luks(env, alg):
    if not luks_available():
        print("SKIP: needs root and cryptsetup")
        sys.exit(77)
    data, sections = standard_resources(env)
    key = env.resource("default/luks/root", os.urandom(32), secret=True)
    kbs = env.start_kbs()
    img = make_luks_image(env, key, "default/luks/root", [kbs.url])
    sections["root-key"] = {"path": "default/luks/root", "luks_device": img, "luks_name": "it-root"}
    res = env.run(["boot", "--no-activate"],
                  env.config([kbs.url], kbs.ca, key_algorithm=alg, resources=sections))
    check_ok_status(env, kbs, res, list(sections), volumes=[img])
    check_files(env, data)
    check(sorted(endpoints(kbs)) == sorted(["auth", "attest"] + ["resource"] * 4),
          "request sequence %r" % endpoints(kbs))
    check_one_connection(kbs)


@case
def boot_luks_ec_p256(env):
    boot_luks(env, "ec-p256")


@case
def boot_luks_ec_p521(env):
    boot_luks(env, "ec-p521")


@case
def boot_luks_rsa_oaep_256(env):
    boot_luks(env, "rsa-oaep-256")


@case
def luks_wrong_key(env):
    """The KBS hands out a key the volume does not accept: exit 9 (unlock)."""
    if not luks_available():
        print("SKIP: needs root and cryptsetup")
        sys.exit(77)
    good = os.urandom(32)
    env.secrets.append(good)
    env.resource("default/luks/root", os.urandom(32), secret=True)
    kbs = env.start_kbs()
    img = make_luks_image(env, good, "default/luks/root", [kbs.url])
    res = env.run(["boot", "--no-activate"], env.config([kbs.url], kbs.ca, resources={
        "root-key": {"path": "default/luks/root", "luks_device": img, "luks_name": "it-root"}}))
    env.check_failed_status(res, 9, "unlock")


# ------------------------------------------------------------ retries that recover

def simple_boot(env, faults=(), retry=None, kbs_opts=None, policy=None, extra_args=(),
                resources=None):
    data, sections = standard_resources(env)
    if resources is not None:
        sections = resources
    kbs = env.start_kbs(faults=faults, policy=policy, extra_args=extra_args)
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, resources=sections, retry=retry,
                                       kbs=kbs_opts))
    return kbs, res, data, sections


def gaps(kbs, endpoint):
    times = [e["time"] for e in kbs.requests() if e["endpoint"] == endpoint]
    return [b - a for a, b in zip(times, times[1:])]


@case
def fault_503_attest_recovers_retry_after(env):
    kbs, res, data, sections = simple_boot(env, ["fail=attest:2:503"], retry={"budget": "15s"})
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    attests = [e for e in kbs.requests() if e["endpoint"] == "attest"]
    check([e["status"] for e in attests] == [503, 503, 200], "attest statuses %r" % attests)
    g = gaps(kbs, "attest")
    check(all(x >= 0.95 for x in g), "Retry-After: 1 not honoured, gaps %r" % g)
    # Retry-After is a floor with a spread of 3x it, 30 % wider per retry.
    check(g[0] < 1 + 3 + 0.5 and g[1] < 1 + 3.9 + 0.5,
          "waited longer than Retry-After and its spread: gaps %r" % g)


@case
def fault_429_auth_recovers_retry_after(env):
    kbs, res, data, sections = simple_boot(env, ["fail=auth:1:429:retry_after=2"],
                                           retry={"budget": "12s"})
    check_ok_status(env, kbs, res, list(sections))
    g = gaps(kbs, "auth")
    check(len(g) == 1 and 1.95 <= g[0] < 2 + 6 + 0.5, "Retry-After: 2 not honoured, gaps %r" % g)


@case
def fault_503_resource_recovers_retry_after(env):
    kbs, res, data, sections = simple_boot(env, ["fail=resource:1:503"], retry={"budget": "5s"})
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    g = gaps(kbs, "resource")
    check(g and g[0] >= 0.95, "Retry-After: 1 not honoured on a resource GET, gaps %r" % g)
    check_one_connection(kbs)


@case
def fault_500_resource_recovers(env):
    kbs, res, data, sections = simple_boot(env, ["fail=resource:2:500"])
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    statuses = [e["status"] for e in kbs.requests() if e["endpoint"] == "resource"]
    check(statuses == [500, 500, 200, 200, 200], "resource statuses %r" % statuses)


@case
def fault_drop_auth_recovers(env):
    kbs, res, data, sections = simple_boot(env, ["drop=auth:1"])
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    check(endpoints(kbs)[:2] == ["auth", "auth"], "sequence %r" % endpoints(kbs))


@case
def fault_drop_resource_recovers(env):
    kbs, res, data, sections = simple_boot(env, ["drop=resource:1"])
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)


@case
def fault_truncate_resource_recovers(env):
    kbs, res, data, sections = simple_boot(env, ["truncate=resource"])
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    check([e["fault"] for e in kbs.requests()].count("truncate") == 1, "truncate not applied")


@case
def fault_truncate_attest_recovers(env):
    kbs, res, data, sections = simple_boot(env, ["truncate=attest"])
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)


@case
def fault_expire_after_attest_reattests_once(env):
    kbs, res, data, sections = simple_boot(env, ["expire-after-attest"])
    check(res.rc == 0, "boot failed\n%r" % res)
    check_files(env, data)
    eps = endpoints(kbs)
    check(eps.count("auth") == 2 and eps.count("attest") == 2,
          "want exactly one re-attestation (2 auth + 2 attest), got %r" % eps)
    first_401 = [e for e in kbs.requests() if e["status"] == 401]
    check(len(first_401) == 1 and first_401[0]["problem"] == "TokenNotFound",
          "want one 401 TokenNotFound, got %r" % first_401)
    check_one_connection(kbs)


# ------------------------------------------------------------ failures that must end right

def check_bounded(res, budget, request_timeout=2.0, slack=2.5):
    limit = (budget + request_timeout + slack) * harness.time_scale()
    check(res.elapsed <= limit, "took %.1fs, over budget %.1fs + slack" % (res.elapsed, budget))


@case
def slow_kbs_cannot_stretch_the_budget(env):
    """A request in flight when the budget runs out is cut there: a KBS that
    drips its answer cannot hold the agent for request_timeout (15 s) past
    a 3 s budget."""
    kbs, res, _, _ = simple_boot(env, ["slow-drip=resource:5"],
                                 kbs_opts={"request_timeout": "15s"})
    env.check_failed_status(res, 6, "network")
    check_bounded(res, 3.0, request_timeout=0.0, slack=1.0)


@case
def fault_503_beyond_budget_exits_6(env):
    kbs, res, _, _ = simple_boot(env, ["fail=attest:all:503"])
    env.check_failed_status(res, 6, "network")
    check_bounded(res, 3.0)
    n = endpoints(kbs).count("attest")
    check(2 <= n <= 5, "%d attest attempts with Retry-After 1 in a 3 s budget" % n)
    g = gaps(kbs, "attest")
    check(all(x >= 0.95 for x in g), "Retry-After not honoured: %r" % g)


@case
def fault_500_beyond_budget_exits_6(env):
    kbs, res, _, _ = simple_boot(env, ["fail=resource:all:500"])
    env.check_failed_status(res, 6, "network")
    check_bounded(res, 3.0)
    n = endpoints(kbs).count("resource")
    check(n >= 3, "only %d resource attempts in the budget" % n)


@case
def fault_slow_drip_times_out_exits_6(env):
    kbs, res, _, _ = simple_boot(env, ["slow-drip=resource:20"],
                                 kbs_opts={"request_timeout": "1s"})
    env.check_failed_status(res, 6, "network")
    check(re.search(r"time", res.err, re.I), "no timeout mentioned\n%r" % res)
    check_bounded(res, 3.0, request_timeout=1.0)
    check(endpoints(kbs).count("resource") >= 2, "the timed-out GET was not retried")


@case
def fault_oversize_exits_7(env):
    kbs, res, _, _ = simple_boot(env, ["oversize=resource"])
    env.check_failed_status(res, 7, "protocol")
    check(re.search(r"too large|larger|exceed|max_response_size|limit|size", res.err, re.I),
          "no clear size message\n%r" % res)
    check(endpoints(kbs).count("resource") == 1, "an oversize answer must not be retried")


@case
def fault_corrupt_tag_exits_7(env):
    kbs, res, _, _ = simple_boot(env, ["corrupt-tag"])
    env.check_failed_status(res, 7, "protocol")
    check(re.search(r"tag|decrypt|jwe|authenticat", res.err, re.I), "message\n%r" % res)
    check_no_secret_files(env)


@case
def fault_deny_attest_exits_5(env):
    kbs, res, _, _ = simple_boot(env, ["deny-attest"])
    env.check_failed_status(res, 5, "refused", "PolicyDeny")
    check("PolicyDeny" in res.err, "stderr does not name PolicyDeny\n%r" % res)
    check(endpoints(kbs).count("attest") <= 2, "PolicyDeny retried: %r" % endpoints(kbs))
    check_no_secret_files(env)


@case
def fault_expire_always_exits_5(env):
    kbs, res, _, _ = simple_boot(env, ["expire-always"])
    env.check_failed_status(res, 5, "refused", "TokenNotFound")
    eps = endpoints(kbs)
    check(eps.count("auth") == 2 and eps.count("attest") == 2,
          "the second 401 must be final (2 auth + 2 attest), got %r" % eps)


@case
def fault_404_exits_8(env):
    kbs, res, _, _ = simple_boot(env, ["fail=resource:all:404"])
    env.check_failed_status(res, 8, "resource")
    check(endpoints(kbs).count("resource") == 1, "a 404 must be final at once: %r"
          % endpoints(kbs))


@case
def missing_resource_exits_5_after_one_retry(env):
    env.resource("default/workload/tls.crt", b"CERT")
    kbs, res, _, _ = simple_boot(env, resources={
        "tls-cert": {"path": "default/workload/tls.crt", "file": "tls.crt"},
        "gone": {"path": "default/workload/missing", "file": "missing"}})
    env.check_failed_status(res, 5, "refused", "PluginInternalError")
    check("PluginInternalError" in res.err, "stderr lacks the problem type\n%r" % res)
    gets = [e for e in kbs.requests() if e["path"].endswith("/workload/missing")]
    check(len(gets) == 2, "want the missing resource asked twice (one re-attestation), got %d"
          % len(gets))
    eps = endpoints(kbs)
    check(eps.count("auth") == 2 and eps.count("attest") == 2, "sequence %r" % eps)


@case
def policy_deny_resource_exits_5(env):
    env.resource("default/luks/denied", os.urandom(16), secret=True)
    kbs, res, _, _ = simple_boot(env, policy={"deny_resources": ["default/luks/denied"]},
                                 resources={"denied": {"path": "default/luks/denied",
                                                       "file": "denied"}})
    env.check_failed_status(res, 5, "refused", "PolicyDeny")
    check("PolicyDeny" in res.err, "stderr lacks PolicyDeny\n%r" % res)


@case
def policy_deny_403_final_at_once(env):
    """Newer Trustee answers PolicyDeny with 403: final at once, no re-attestation."""
    env.resource("default/luks/denied", os.urandom(16), secret=True)
    kbs, res, _, _ = simple_boot(env, policy={"deny_resources": ["default/luks/denied"]},
                                 extra_args=("--error-profile", "current"),
                                 resources={"denied": {"path": "default/luks/denied",
                                                       "file": "denied"}})
    env.check_failed_status(res, 5, "refused", "PolicyDeny")
    eps = endpoints(kbs)
    check(eps.count("attest") == 1 and eps.count("resource") == 1,
          "403 must be final at once: %r" % eps)


@case
def kbs_500_with_problem_type_is_final(env):
    """Newer Trustee answers a missing resource with 500 PluginInternalError: the
    KBS's own answer, final at once and named, not retried as a network error."""
    kbs, res, _, _ = simple_boot(env, ["fail=resource:all:500:type=PluginInternalError"])
    env.check_failed_status(res, 5, "refused", "PluginInternalError")
    check(endpoints(kbs).count("resource") == 1, "retried: %r" % endpoints(kbs))


# ------------------------------------------------------------ transport choices

@case
def failover_to_second_url(env):
    data, sections = standard_resources(env)
    kbs = env.start_kbs()
    dead = "https://127.0.0.1:%d" % free_port()
    res = env.run(["boot"], env.config([dead, kbs.url], kbs.ca, resources=sections))
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    check_one_connection(kbs)


@case
def http_refused_without_insecure_http(env):
    data, sections = standard_resources(env)
    kbs = env.start_kbs(http=True)
    res = env.run(["boot"], env.config([kbs.url], resources=sections))
    check(res.rc == 3, "exit code %s, want 3 (config)\n%r" % (res.rc, res))
    check(re.search(r"insecure_http", res.err), "message does not name insecure_http\n%r" % res)
    if os.path.exists(os.path.join(env.run_dir, "status.json")):  # optional for config errors
        env.check_failed_status(res, 3, "config")
    check(kbs.requests() == [], "the agent talked to an http:// KBS without insecure_http")


@case
def http_with_insecure_http_warns(env):
    data, sections = standard_resources(env)
    kbs = env.start_kbs(http=True)
    res = env.run(["boot"], env.config([kbs.url], resources=sections,
                                       kbs={"insecure_http": True}))
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    warn = [line for line in res.err.splitlines()
            if line.startswith(("<4>", "<3>")) and re.search(r"http|insecure", line, re.I)]
    check(warn, "no warning about plain HTTP\n%r" % res)


@case
def wrong_ca_fails_tls(env):
    data, sections = standard_resources(env)
    kbs = env.start_kbs()
    other = env.start_kbs()  # its CA did not sign kbs's certificate
    res = env.run(["boot"], env.config([kbs.url], other.ca, resources=sections))
    check(res.rc == 6, "TLS verification failure should end as network error 6\n%r" % res)
    check(not [e for e in kbs.requests()], "requests got through an unverified TLS connection")
    check(re.search(r"certificate does not verify", res.err), "no TLS reason given\n%r" % res)
    # Not transient: no retries, so it fails well before the 3 s budget.
    check(res.elapsed < 1.5, "a certificate failure was retried (%.1fs)" % res.elapsed)


# ------------------------------------------------------------ command line and other commands

@case
def cmdline_disabled_exits_11(env):
    data, sections = standard_resources(env)
    kbs = env.start_kbs()
    res = env.run(["boot"], env.config([kbs.url], kbs.ca, resources=sections),
                  cmdline="quiet rd.cvmboot=0 root=/dev/vda1")
    check(res.rc == 11, "rd.cvmboot=0 must end with 11 (disabled)\n%r" % res)
    check(kbs.requests() == [], "the agent talked to the KBS although disabled")


@case
def cmdline_url_and_resource_override(env):
    data, sections = standard_resources(env)
    kbs = env.start_kbs()
    dead = "https://127.0.0.1:%d" % free_port()
    extra = env.random_secret("default/extra/item", b"EXTRA-")
    res = env.run(["boot"], env.config([dead], kbs.ca, resources=sections),
                  cmdline="ro rd.cvmboot.url=%s rd.cvmboot.resource.extra=default/extra/item"
                  % kbs.url)
    check_ok_status(env, kbs, res, list(sections) + ["extra"])
    env.check_secret_file("extra", extra, 0o400)
    check_one_connection(kbs)


@case
def cmdline_refuses_insecure_http(env):
    data, sections = standard_resources(env)
    kbs = env.start_kbs(http=True)
    res = env.run(["boot"], env.config([kbs.url], resources=sections),
                  cmdline="rd.cvmboot.insecure_http=1")
    check(res.rc == 3, "insecure_http from the command line must be refused (3)\n%r" % res)
    check(kbs.requests() == [], "the agent talked to an http:// KBS")


@case
def get_resource_to_file(env):
    secret = env.random_secret("default/workload/tls.key", b"TLSKEY-")
    kbs = env.start_kbs()
    out = os.path.join(env.private_dir, "fetched.key")
    res = env.run(["get-resource", "default/workload/tls.key", "-o", out],
                  env.config([kbs.url], kbs.ca, key_algorithm="ec-p521"))
    check(res.rc == 0, "get-resource failed\n%r" % res)
    st = os.lstat(out)
    check(stat.S_IMODE(st.st_mode) == 0o600, "output mode %o, want 600" % stat.S_IMODE(st.st_mode))
    with open(out, "rb") as f:
        check(f.read() == secret, "fetched content differs")
    check(endpoints(kbs) == ["auth", "attest", "resource"], "sequence %r" % endpoints(kbs))


@case
def fault_delay_within_timeout_ok(env):
    kbs, res, data, sections = simple_boot(env, ["delay=attest:700", "delay=resource:300"])
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)
    check(endpoints(kbs).count("attest") == 1, "a slow but timely answer was retried")
    check_one_connection(kbs)


@case
def harness_detects_leaks(env):
    """The leak check itself must be able to fail (guards every other case)."""
    from common import CheckFailed, Result
    secret = env.random_secret("default/x/y", b"LEAK-")
    for text in (secret.decode(), secret.hex(), "x " + __import__("base64").b64encode(
            secret).decode().rstrip("=") + " y"):
        try:
            env.check_no_leak(Result(0, "", text, 0.0))
        except CheckFailed:
            continue
        raise AssertionError("leak in stderr not detected: %r" % text)
    os.makedirs(env.run_dir, exist_ok=True)
    with open(os.path.join(env.run_dir, "status.json"), "wb") as f:
        f.write(b"..." + secret.hex().encode())
    try:
        env.check_no_leak(Result(0, "", "", 0.0))
    except CheckFailed:
        return
    raise AssertionError("leak in a run_dir file not detected")


@case
def challenge_extra_params_object_sha384(env):
    """A newer KBS answers extra-params as an object selecting sha384: accepted."""
    kbs, res, data, sections = simple_boot(env, extra_args=(
        "--challenge-extra-params", '{"selected-hash-algorithm":"sha384"}'))
    check_ok_status(env, kbs, res, list(sections))
    check_files(env, data)


@case
def challenge_selects_unoffered_hash_exits_7(env):
    kbs, res, _, _ = simple_boot(env, extra_args=(
        "--challenge-extra-params", '{"selected-hash-algorithm":"sha512"}'))
    env.check_failed_status(res, 7, "protocol", "sha512")
    check(endpoints(kbs) == ["auth"], "attested although the hash choice was refused: %r"
          % endpoints(kbs))


@case
def unlock_from_token_no_activate(env):
    """`cvmboot unlock` finds the resource path in the LUKS2 token, fetches, verifies."""
    if not luks_available():
        print("SKIP: needs root and cryptsetup")
        sys.exit(77)
    key = env.resource("default/luks/data", os.urandom(64), secret=True)
    kbs = env.start_kbs(extra_args=("--error-profile", "legacy"))
    img = make_luks_image(env, key, "default/luks/data", [kbs.url])
    res = env.run(["unlock", img, "--no-activate"], env.config([kbs.url], kbs.ca))
    check(res.rc == 0, "unlock --no-activate failed\n%r" % res)
    paths = [e["path"] for e in kbs.requests() if e["endpoint"] == "resource"]
    check(paths == ["/kbs/v0/resource/default/luks/data"], "fetched %r" % paths)
    check_one_connection(kbs)


@case
def boot_discovers_volume_by_token(env):
    """With no LUKS volume configured, `boot` finds the block device carrying a
    cvmboot token (a loop device over an enrolled image), fetches the resource
    the token names and verifies the key; a volume both configured and found
    is opened once."""
    import subprocess
    if not luks_available() or not shutil.which("losetup"):
        print("SKIP: needs root, cryptsetup and losetup")
        sys.exit(77)
    key = env.resource("default/luks/found", os.urandom(32), secret=True)
    kbs = env.start_kbs()
    img = make_luks_image(env, key, "default/luks/found", [kbs.url])
    loop = subprocess.run(["losetup", "--find", "--show", img], capture_output=True, text=True)
    if loop.returncode != 0:
        print("SKIP: no loop device: %s" % loop.stderr.strip())
        sys.exit(77)
    dev = loop.stdout.strip()
    uuid = subprocess.run(["cryptsetup", "luksUUID", img], capture_output=True,
                          text=True).stdout.strip()
    # The same volume also configured, by UUID= and by path: opened once.
    both = {"root": {"path": "default/luks/found", "luks_device": "UUID=" + uuid}}
    by_path = {"root": {"path": "default/luks/found", "luks_device": dev}}
    try:
        res = env.run(["boot", "--no-activate"], env.config(
            [kbs.url], kbs.ca, luks={"discover_tokens": True}))
        check(res.rc == 0, "boot did not unlock the discovered volume\n%r" % res)
        st = env.status()
        check(st["volumes"] == [dev], "volumes %r, expected [%r]" % (st["volumes"], dev))
        for resources in (both, by_path):
            res = env.run(["boot", "--no-activate"], env.config(
                [kbs.url], kbs.ca, resources=resources, luks={"discover_tokens": True}))
            check(res.rc == 0, "configured + discovered volume\n%r" % res)
            st = env.status()
            check(len(st["volumes"]) == 1 and st["resources"] == ["root"],
                  "volume planned twice: %r %r" % (st["volumes"], st["resources"]))
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True)
    paths = [e["path"] for e in kbs.requests() if e["endpoint"] == "resource"]
    check(paths == ["/kbs/v0/resource/default/luks/found"] * 3, "fetched %r" % paths)


@case
def no_core_dumps_while_holding_keys(env):
    """While it holds keys the agent's core limit is 0 (it also marks itself not
    dumpable, which /proc does not show), so a crash writes no key to disk."""
    import subprocess
    import time
    data, sections = standard_resources(env)
    kbs = env.start_kbs(faults=["delay=resource:1500:1"])
    config = env.config([kbs.url], kbs.ca, resources=sections)
    proc = subprocess.Popen([os.environ["CVMBOOT_BIN"], "--config", config, "--cmdline",
                             "/dev/null", "boot"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        # Attested (it holds its TEE private key); the first resource answer
        # is held back 1.5 s by the KBS.
        while not any(e["endpoint"] == "attest" for e in kbs.requests()):
            check(time.monotonic() < deadline and proc.poll() is None, "no attestation")
            time.sleep(0.05)
        with open("/proc/%d/limits" % proc.pid) as f:
            core = [line.split() for line in f if line.startswith("Max core file size")][0]
        check(core[4:6] == ["0", "0"], "core limit is %r" % core)
        check(proc.poll() is None, "agent finished before the check")
    finally:
        proc.wait(timeout=20)
    check(proc.returncode == 0, "boot failed: rc %s" % proc.returncode)


if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
