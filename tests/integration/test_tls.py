#!/usr/bin/python3
# TLS and HTTP hardening of the agent's KBS connection, end to end: ca_file as the only
# trust anchor (system CA directory replaced in a private mount namespace), expired and
# wrong-host certificates, stalled and reset handshakes, CA rotation bundles, TLS failover,
# and hostile HTTP answers (redirects, proxies from the environment, huge headers).
"""Run one case: /usr/bin/python3 tests/integration/test_tls.py CASE (CVMBOOT_BIN set)."""

import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tls"))

from common import Result, check, run_case  # noqa: E402
import harness  # noqa: E402  (common puts tests/kbs on sys.path)
from tlsfixture import Ca, Front, bundle  # noqa: E402

RESOURCE = "default/workload/tls.key"
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


UNTRUSTED = r"(unable to get local issuer|self-signed certificate in certificate chain)"


WRONG_HOST = r"(no alternative certificate subject name|subject name).*target host name '127\.0\.0\.1'"


def error_lines(res):
    """The lines logged at priority err or worse (<0> to <3>)."""
    return re.findall(r"^<[0-3]>.*$", res.err, re.M)


class World:
    """A plain-HTTP test KBS holding one secret, CAs and TLS fronts in env.tmp."""

    def __init__(self, env, faults=()):
        self.env = env
        self.secret = env.random_secret(RESOURCE, b"TLSKEY-")
        self.kbs = env.start_kbs(faults=faults, http=True)
        self.fronts = []
        self.out = os.path.join(env.private_dir, "fetched.key")

    def ca(self, name):
        return Ca(self.env.tmp, name)

    def front(self, mode, leaf=None, **kw):
        front = Front(mode, leaf=leaf, backend_port=self.kbs.port, **kw)
        self.fronts.append(front)
        return front

    def get(self, urls, ca=None, kbs=None, retry=None):
        """cvmboot get-resource RESOURCE -o FILE through the given URLs."""
        if os.path.exists(self.out):
            os.unlink(self.out)
        return self.env.run(["get-resource", RESOURCE, "-o", self.out],
                            self.env.config(list(urls), ca, kbs=kbs, retry=retry))

    def check_ok(self, res):
        check(res.rc == 0, "get-resource failed\n%r" % res)
        with open(self.out, "rb") as f:
            check(f.read() == self.secret, "fetched content differs from the KBS resource")
        check(not error_lines(res), "error line on success\n%r" % res)

    def check_refused(self, res, url, reason_re, code=6):
        """Failed with code, no output file, and the error names url and the reason."""
        check(res.rc == code, "exit code %s, want %d\n%r" % (res.rc, code, res))
        check(not os.path.exists(self.out), "output file left behind by a failed fetch")
        check(url in res.err, "the error does not name the KBS %s\n%r" % (url, res))
        check(re.search(reason_re, res.err, re.I),
              "the error does not give the reason /%s/\n%r" % (reason_re, res))

    def kbs_saw_nothing(self):
        check(self.kbs.requests() == [], "requests got through a connection that must fail: %r"
              % self.kbs.requests())

    def close(self):
        for front in self.fronts:
            front.close()


def world_case(fn):
    """A case that gets a World(env) and always closes its servers."""
    def run(env):
        w = World(env)
        try:
            fn(env, w)
        finally:
            w.close()
    run.__name__ = fn.__name__
    return case(run)


# ------------------------------------------------------- ca_file is the only trust anchor

@contextlib.contextmanager
def system_store(env, ca):
    """Runs of cvmboot inside this block see a system CA directory (/etc/ssl/certs, both
    the hashed directory and ca-certificates.crt) holding only `ca`, bind-mounted in a
    private mount namespace (unshare -m), so the host's store is untouched."""
    probe = ["unshare", "-m", "--propagation", "private", "true"]
    if os.geteuid() != 0 or not shutil.which("unshare") or subprocess.run(probe).returncode:
        print("SKIP: needs root and unshare -m (a private mount namespace)")
        sys.exit(77)
    certs = os.path.join(env.tmp, "system-certs")
    os.makedirs(certs)
    shutil.copy(ca.path, os.path.join(certs, "system-test-ca.pem"))
    shutil.copy(ca.path, os.path.join(certs, "ca-certificates.crt"))
    subprocess.run(["openssl", "rehash", certs], check=True, capture_output=True, timeout=30)
    check(any(re.fullmatch(r"[0-9a-f]{8}\.0", n) for n in os.listdir(certs)),
          "openssl rehash made no hash link in %s" % certs)
    old = os.environ.get("CVMBOOT_WRAPPER", "")
    mount = 'mount --bind "$0" /etc/ssl/certs && exec "$@"'
    os.environ["CVMBOOT_WRAPPER"] = shlex.join(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, certs]) + " " + old
    try:
        yield
    finally:
        os.environ["CVMBOOT_WRAPPER"] = old


def system_signed_front(w):
    system_ca = w.ca("system test CA")
    return system_ca, w.front("relay", system_ca.issue("system-signed"))


@world_case
def ca_file_excludes_system_store(env, w):
    system_ca, front = system_signed_front(w)
    unrelated = w.ca("unrelated CA")
    with system_store(env, system_ca):
        res = w.get([front.url], unrelated.path)
    w.check_refused(res, front.url, r"certificate does not verify.*" + UNTRUSTED)
    check(unrelated.path in res.err, "the error does not name the ca_file\n%r" % res)
    w.kbs_saw_nothing()


@world_case
def no_ca_file_uses_system_store(env, w):
    system_ca, front = system_signed_front(w)
    with system_store(env, system_ca):
        w.check_ok(w.get([front.url]))
    # And the control: the same run without the replaced store cannot know that CA.
    res = w.get([front.url])
    w.check_refused(res, front.url, r"\(system store\).*" + UNTRUSTED)


@world_case
def ca_file_right_ca_accepts(env, w):
    system_ca, front = system_signed_front(w)
    other = w.ca("other system CA")
    with system_store(env, other):
        w.check_ok(w.get([front.url], system_ca.path))


@world_case
def ca_file_missing_or_garbage_refused(env, w):
    ca = w.ca("test CA")
    front = w.front("relay", ca.issue("server"))
    garbage = os.path.join(env.tmp, "garbage.pem")
    with open(garbage, "w", encoding="ascii") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    for path in (os.path.join(env.tmp, "missing.pem"), garbage):
        res = w.get([front.url], path)
        w.check_refused(res, front.url, re.escape(path) + r".*certificate")
        # Not transient: one try, no waiting out the budget.
        check(not re.search(r"gave up after", res.err), "an unusable ca_file was retried\n%r"
              % res)
    w.kbs_saw_nothing()


# ------------------------------------------------------------- certificate faults

@world_case
def expired_certificate_refused(env, w):
    ca = w.ca("test CA")
    front = w.front("relay", ca.issue("expired", valid_from=-2 * 86400, valid_until=-3600))
    res = w.get([front.url], ca.path)
    w.check_refused(res, front.url, r"certificate does not verify.*certificate has expired")
    check(front.accepted == 1, "an expired certificate was retried (%d connections)"
          % front.accepted)
    w.kbs_saw_nothing()


@world_case
def not_yet_valid_certificate_refused(env, w):
    ca = w.ca("test CA")
    front = w.front("relay", ca.issue("future", valid_from=3600, valid_until=86400))
    res = w.get([front.url], ca.path)
    w.check_refused(res, front.url, r"certificate does not verify.*certificate is not yet valid")
    w.kbs_saw_nothing()


@world_case
def wrong_host_name_refused(env, w):
    ca = w.ca("test CA")
    front = w.front("relay", ca.issue("other-host", hosts=("kbs.example.com",)))
    res = w.get([front.url], ca.path)
    w.check_refused(res, front.url,
                    r"certificate does not verify.*" + WRONG_HOST)
    check(front.accepted == 1, "a host name mismatch was retried (%d connections)"
          % front.accepted)
    w.kbs_saw_nothing()


@world_case
def ca_bundle_rotation_accepts_old_and_new(env, w):
    old, new = w.ca("old CA"), w.ca("new CA")
    old_front = w.front("relay", old.issue("old-signed"))
    new_front = w.front("relay", new.issue("new-signed"))
    both = bundle(os.path.join(env.tmp, "old+new.pem"), old, new)
    w.check_ok(w.get([old_front.url], both))
    w.check_ok(w.get([new_front.url], both))
    # After the rotation the old CA is dropped from the bundle: its servers are refused.
    res = w.get([old_front.url], bundle(os.path.join(env.tmp, "new.pem"), new))
    w.check_refused(res, old_front.url, r"certificate does not verify.*" + UNTRUSTED)


# ------------------------------------------------------------- handshake faults

@world_case
def handshake_never_completes_bounded(env, w):
    ca = w.ca("test CA")
    front = w.front("stall")
    res = w.get([front.url], ca.path, kbs={"connect_timeout": "500ms", "request_timeout": "1s"},
                retry={"budget": "2s"})
    w.check_refused(res, front.url, r"timed? ?out")
    check(re.search(r"gave up after \d+ round", res.err), "not a budget exhaustion\n%r" % res)
    # Bounded by the 2 s budget plus at most one connect timeout, not by the harness kill.
    check(res.elapsed < 6, "a stalled handshake held the agent for %.1fs" % res.elapsed)
    check(front.accepted >= 2, "a stalled handshake was not retried (%d connections)"
          % front.accepted)


@world_case
def handshake_reset_retried_then_exits_6(env, w):
    ca = w.ca("test CA")
    front = w.front("reset")
    res = w.get([front.url], ca.path, retry={"budget": "2s"})
    w.check_refused(res, front.url, r"reset by peer|SSL_connect|SSL connect error")
    check(re.search(r"gave up after \d+ round", res.err), "not a budget exhaustion\n%r" % res)
    check(front.accepted >= 2, "a reset handshake was not retried (%d connections)"
          % front.accepted)


@world_case
def handshake_reset_once_recovers(env, w):
    ca = w.ca("test CA")
    front = w.front("reset", ca.issue("server"), resets=1)
    w.check_ok(w.get([front.url], ca.path))
    check(front.accepted == 2, "want one reset and one good connection, got %d"
          % front.accepted)


# ------------------------------------------- TLS failover (needs the wip-retry kbs.c)

@world_case
def failover_tls_bad_first_kbs_good_second(env, w):
    ca = w.ca("test CA")
    expired = w.front("relay", ca.issue("expired", valid_from=-2 * 86400, valid_until=-3600))
    good = w.front("relay", ca.issue("good"))
    res = w.get([expired.url, good.url], ca.path)
    w.check_ok(res)
    check(expired.accepted == 1, "the bad-TLS KBS was tried %d times" % expired.accepted)
    check(re.search(re.escape(expired.url) + r".*certificate has expired", res.err),
          "the skipped KBS and its TLS failure are not logged\n%r" % res)


@world_case
def failover_tls_all_bad_names_each_kbs(env, w):
    ca = w.ca("test CA")
    expired = w.front("relay", ca.issue("expired", valid_from=-2 * 86400, valid_until=-3600))
    wrong_host = w.front("relay", ca.issue("other-host", hosts=("kbs.example.com",)))
    res = w.get([expired.url, wrong_host.url], ca.path)
    check(res.rc == 6, "exit code %s, want 6\n%r" % (res.rc, res))
    final = error_lines(res)
    check(final, "no error line\n%r" % res)
    last = final[-1]
    check(re.search(re.escape(expired.url) + r".*certificate has expired", last),
          "the final error does not name %s and why\n%r" % (expired.url, res))
    check(re.search(re.escape(wrong_host.url) + r".*" + WRONG_HOST, last),
          "the final error does not name %s and why\n%r" % (wrong_host.url, res))
    w.kbs_saw_nothing()


# ------------------------------------------------------------- hostile HTTP answers

def canned_front(w, answer):
    ca = w.ca("test CA")
    return ca, w.front("canned", ca.issue("server"), canned=answer)


@world_case
def redirect_not_followed(env, w):
    good = w.front("relay", w.ca("unused CA").issue("unused"))
    target = "https://127.0.0.1:%d/kbs/v0/auth" % good.port

    def redirect(n, head):
        return ("HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n" % target).encode()
    ca, front = canned_front(w, redirect)
    res = w.get([front.url], ca.path)
    w.check_refused(res, front.url, r"HTTP 307", code=5)
    check(good.accepted == 0, "the agent followed a redirect")
    check(len(front.requests) == 1, "a redirect was retried: %d requests" % len(front.requests))


@world_case
def proxy_environment_ignored(env, w):
    ca = w.ca("test CA")
    front = w.front("relay", ca.issue("server"))
    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(8)
    proxy.settimeout(0.1)
    purl = "http://127.0.0.1:%d" % proxy.getsockname()[1]
    config = env.config([front.url], ca.path)
    try:
        rc, out, err = harness.run_cvmboot(
            ["get-resource", RESOURCE, "-o", w.out], config, timeout=40,
            env=dict(os.environ, https_proxy=purl, HTTPS_PROXY=purl, http_proxy=purl,
                     ALL_PROXY=purl, all_proxy=purl))
        try:
            proxy.accept()[0].close()
            used = True
        except socket.timeout:
            used = False
    finally:
        proxy.close()
    check(not used, "the agent connected to a proxy named only in its environment")
    res = Result(rc, out, err, 0)
    env.check_sane(res)
    w.check_ok(res)


@world_case
def oversized_headers_refused(env, w):
    filler = "".join("X-Filler-%d: %s\r\n" % (i, "a" * 1000) for i in range(80))

    def huge(n, head):
        return ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%sContent-Length: 2\r\n"
                "Connection: close\r\n\r\n{}" % filler).encode()
    ca, front = canned_front(w, huge)
    res = w.get([front.url], ca.path, retry={"budget": "1s"})
    w.check_refused(res, front.url, r"response headers larger than \d+ bytes")


@world_case
def hostile_retry_after_values(env, w):
    values = ["-1", "1e9", "0x10", "99999999999999999999999999", " " * 300 + "1",
              "1" + "0" * 300, "Sun, 06 Nov 1994 08:49:37 GMT\x01", "\x7f\xff", ""]

    def overloaded(n, head):
        value = values[n % len(values)]
        return ("HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n" % value).encode("latin-1")
    ca, front = canned_front(w, overloaded)
    res = w.get([front.url], ca.path, retry={"budget": "2s"})
    w.check_refused(res, front.url, r"HTTP 503")
    check(res.elapsed < 6, "hostile Retry-After values held the agent for %.1fs" % res.elapsed)
    # "-1", "1e9", "0x10" and the long values are not delays: the agent backs off (100 ms to
    # 500 ms) and tries again instead of waiting the whole budget on the first answer.
    check(len(front.requests) >= 3, "only %d requests: a hostile Retry-After was obeyed"
          % len(front.requests))


if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
