#!/usr/bin/python3
# Self-tests of the running test KBS over HTTPS with an independent minimal client:
# the RCAR round trip, status codes and problem types, policy, bearer tokens, faults.
"""Run: /usr/bin/python3 tests/kbs/test_server.py"""

import base64
import http.client
import json
import os
import shutil
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import jose  # noqa: E402
import jwe  # noqa: E402
from rcar_client import RcarClient, runtime_digest  # noqa: E402

PREFIX = "https://github.com/confidential-containers/kbs/errors/"
SECRET = b"root-key-\x00\x01\xff-secret"
RESOURCES = {"default/luks/root": SECRET, "default/workload/tls.key": b"KEYDATA",
             "default/luks/denied": b"nope"}


class KbsCase(unittest.TestCase):
    """Starts one KBS per test with the class's faults/policy."""
    faults = ()
    policy = None
    http = False
    extra_args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kbs-selftest.")
        res = harness.make_resources(os.path.join(self.tmp, "res"), RESOURCES)
        self.kbs = harness.start_kbs(os.path.join(self.tmp, "work"), res, faults=self.faults,
                                     policy=self.policy, http=self.http,
                                     extra_args=self.extra_args)
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.kbs.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def client(self, timeout=10):
        c = RcarClient(self.kbs.url, self.kbs.ca, timeout=timeout)
        self.clients.append(c)
        return c

    def attested(self, alg="ec-p256"):
        c = self.client()
        self.assertEqual(c.auth()[0], 200)
        status, body = c.attest(alg)
        self.assertEqual(status, 200, body)
        return c

    def assertProblem(self, status, body, want_status, want_type):
        self.assertEqual(status, want_status, body)
        prob = json.loads(body)
        self.assertEqual(prob["type"], PREFIX + want_type, body)
        self.assertIsInstance(prob["detail"], str)


class RoundTripTest(KbsCase):
    def test_all_key_algorithms_one_connection(self):
        for alg in ("ec-p256", "ec-p521", "rsa-oaep-256"):
            c = self.attested(alg)
            status, resp, body = c.resource("default/luks/root")
            self.assertEqual(status, 200, body)
            self.assertEqual(resp.getheader("Content-Type"), "application/json")
            self.assertEqual(set(json.loads(body)),
                             {"protected", "encrypted_key", "iv", "ciphertext", "tag"})
            self.assertEqual(c.decrypt(body), SECRET)
        log = self.kbs.requests()
        self.assertEqual([e["endpoint"] for e in log], ["auth", "attest", "resource"] * 3)
        conns = [e["conn"] for e in log]
        for i in range(3):  # each client: one keep-alive TLS connection
            self.assertEqual(len(set(conns[3 * i:3 * i + 3])), 1)
        self.assertEqual(len(set(conns)), 3)
        self.assertTrue(all(e["tee"] == "sample" for e in log))

    def test_auth_answer_and_cookie(self):
        c = self.client()
        c.conn.request("POST", "/kbs/v0/auth", body=json.dumps(
            {"version": "0.4.0", "tee": "sample", "extra-params": ""}))
        resp = c.conn.getresponse()
        body = json.loads(resp.read())
        self.assertEqual(resp.status, 200)
        self.assertEqual(body["extra-params"], "")
        self.assertEqual(len(base64.b64decode(body["nonce"], validate=True)), 32)
        cookie = resp.getheader("Set-Cookie")
        self.assertRegex(cookie, r"^kbs-session-id=[0-9a-f]{32}; Expires=\w{3}, \d\d \w{3} "
                                 r"\d{4} \d\d:\d\d:\d\d GMT$")

    def test_token_is_es256_jwt_and_second_attest_same(self):
        c = self.attested()
        head, claims_b64, sig = c.token.split(".")
        self.assertEqual(json.loads(jose.b64url_decode(head)), {"alg": "ES256", "typ": "JWT"})
        claims = json.loads(jose.b64url_decode(claims_b64))
        self.assertEqual(claims["tee-pubkey"], c.jwk)
        self.assertEqual(claims["tee"], "sample")
        self.assertGreater(claims["exp"], time.time() + 200)
        self.assertIn("evaluation-reports", claims)
        self.assertEqual(len(jose.b64url_decode(sig)), 64)
        first = c.token
        status, _ = c.attest()  # new key, but the session is attested: same token
        self.assertEqual(status, 200)
        self.assertEqual(c.token, first)

    def test_bearer_token(self):
        c = self.attested()
        other = self.client()  # no cookie, new connection
        status, _, body = other.resource("default/luks/root", bearer=c.token)
        self.assertEqual(status, 200, body)
        self.assertEqual(c.decrypt(body), SECRET)
        self.assertEqual(self.kbs.requests()[-1]["auth"], "bearer")
        head, claims, sig = c.token.split(".")
        bad_sig = jose.b64url_encode(bytes(64))
        status, _, body = other.resource("default/luks/root", bearer=head + "." + claims + "." + bad_sig)
        self.assertProblem(status, body, 401, "TokenVerifierError")
        status, _, body = other.resource("default/luks/root", bearer="garbage")
        self.assertProblem(status, body, 401, "TokenVerifierError")

    def test_version_and_tee_checks(self):
        c = self.client()
        for version in ("0.3.0", "0.4.1", "0.4", "v0.4.0"):
            status, body = c.auth(version=version)
            self.assertProblem(status, body, 401, "AttestationError")
        status, body = c.auth(tee="nosuchtee")
        self.assertProblem(status, body, 401, "SerdeError")
        status, _, body = c.request("POST", "/kbs/v0/auth", b"{not json")
        self.assertProblem(status, body, 401, "SerdeError")

    def test_attest_rejections(self):
        c = self.client()
        status, body = c.attest()  # no session
        self.assertProblem(status, body, 401, "AttestationError")
        c.auth()
        status, body = c.attest(nonce_override=base64.b64encode(bytes(32)).decode())
        self.assertProblem(status, body, 401, "AttestationError")
        self.assertIn("nonce", json.loads(body)["detail"])
        _, jwk = __import__("rcar_client").make_tee_key("ec-p256")
        status, body = c.attest(jwk_override=dict(jwk, kid="x"))
        self.assertProblem(status, body, 401, "AttestationError")
        self.assertIn("tee-pubkey", json.loads(body)["detail"])
        wrong = {"svn": "1", "report_data": base64.b64encode(bytes(48)).decode()}
        status, body = c.attest(evidence_override=wrong)
        self.assertProblem(status, body, 401, "AttestationError")
        status, body = c.attest(evidence_override={"svn": "1"})
        self.assertProblem(status, body, 401, "AttestationError")
        # an extra evidence member is refused too
        digest = runtime_digest(c.nonce, jwk)
        extra = {"svn": "1", "report_data": base64.b64encode(digest).decode(), "x": 1}
        status, body = c.attest(jwk_override=jwk, evidence_override=extra)
        self.assertProblem(status, body, 401, "AttestationError")
        status, body = c.attest()  # still possible after failures
        self.assertEqual(status, 200, body)

    def test_resource_errors(self):
        c = self.client()
        status, _, body = c.resource("default/luks/root")
        self.assertProblem(status, body, 401, "TokenNotFound")
        c.auth()
        status, _, body = c.resource("default/luks/root")  # session not attested
        self.assertProblem(status, body, 401, "TokenNotFound")
        c.attest()
        status, _, body = c.resource("default/luks/missing")
        self.assertProblem(status, body, 401, "PluginInternalError")
        for bad in ("default/luks", "default/luks/root/x", "default/../root", "a//b",
                    "default/luks/%2e%2e", "default/luks/.."):
            status, _, body = c.resource(bad)
            self.assertProblem(status, body, 404, "InvalidRequestPath")
        status, _, body = c.request("GET", "/kbs/v0/nosuchplugin/a/b/c")
        self.assertProblem(status, body, 404, "PluginNotFound")
        status, _, body = c.resource("default/luks/root")  # connection still usable
        self.assertEqual(status, 200)


class PolicyTest(KbsCase):
    policy = {"deny_resources": ["default/luks/denied"]}

    def test_deny_resource(self):
        c = self.attested()
        status, _, body = c.resource("default/luks/denied")
        self.assertProblem(status, body, 401, "PolicyDeny")
        self.assertEqual(c.resource("default/luks/root")[0], 200)


class PolicyAttestTest(KbsCase):
    policy = {"allowed_tees": ["snp"]}

    def test_tee_not_allowed(self):
        c = self.client()
        c.auth()
        status, body = c.attest()
        self.assertProblem(status, body, 401, "PolicyDeny")


class CurrentProfileTest(KbsCase):
    extra_args = ("--error-profile", "current")
    policy = {"deny_resources": ["default/luks/denied"]}

    def test_newer_trustee_statuses(self):
        c = self.attested()
        status, _, body = c.resource("default/luks/denied")
        self.assertProblem(status, body, 403, "PolicyDeny")
        status, _, body = c.resource("default/luks/missing")
        self.assertProblem(status, body, 500, "PluginInternalError")


class HttpTest(KbsCase):
    http = True

    def test_plain_http(self):
        self.assertTrue(self.kbs.url.startswith("http://"))
        c = self.attested()
        status, _, body = c.resource("default/luks/root")
        self.assertEqual(c.decrypt(body), SECRET)


class SessionLifetimeTest(KbsCase):
    extra_args = ("--session-lifetime", "1")

    def test_session_expires(self):
        c = self.attested()
        time.sleep(1.2)
        status, _, body = c.resource("default/luks/root")
        self.assertProblem(status, body, 401, "TokenNotFound")
        status, _, body = self.client().resource("default/luks/root", bearer=c.token)
        self.assertProblem(status, body, 401, "TokenVerifierError")


# ------------------------------------------------------------------ faults

class DelayFault(KbsCase):
    faults = ("delay=auth:300",)

    def test_delay(self):
        c = self.client()
        start = time.monotonic()
        self.assertEqual(c.auth()[0], 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertEqual(self.kbs.requests()[0]["fault"], "delay")


class FailFault(KbsCase):
    faults = ("fail=attest:2:503", "fail=auth:1:429:retry_after=3", "fail=resource:1:500")

    def test_fail(self):
        c = self.client()
        status, _, body = c.request("POST", "/kbs/v0/auth", {"version": "0.4.0", "tee": "sample",
                                                             "extra-params": ""})
        self.assertEqual(status, 429)
        self.assertEqual(self.kbs.requests()[-1]["retry_after"], 3)
        self.assertEqual(c.auth()[0], 200)
        for _ in range(2):
            c.conn.request("POST", "/kbs/v0/attest", body=b"{}", headers={"Cookie": c.cookie})
            resp = c.conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 503)
            self.assertEqual(resp.getheader("Retry-After"), "1")
        self.assertEqual(c.attest()[0], 200)
        c.conn.request("GET", "/kbs/v0/resource/default/luks/root", headers={"Cookie": c.cookie})
        resp = c.conn.getresponse()
        body = resp.read()
        self.assertEqual(resp.status, 500)
        self.assertIsNone(resp.getheader("Retry-After"))
        self.assertEqual(body, b"injected fault: status 500")  # plain, like a proxy
        self.assertEqual(c.decrypt(c.resource("default/luks/root")[2]), SECRET)
        log = self.kbs.requests()
        self.assertEqual([e["status"] for e in log], [429, 200, 503, 503, 200, 500, 200])
        self.assertEqual(len({e["conn"] for e in log}), 1)


class DropFault(KbsCase):
    faults = ("drop=auth:1",)

    def test_drop(self):
        c = self.client()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            c.auth()
        c.close()
        c2 = self.client()
        self.assertEqual(c2.auth()[0], 200)
        log = self.kbs.requests()
        self.assertEqual([(e["status"], e["fault"]) for e in log], [(0, "drop"), (200, None)])
        self.assertNotEqual(log[0]["conn"], log[1]["conn"])


class TruncateFault(KbsCase):
    faults = ("truncate=resource",)

    def test_truncate_once(self):
        c = self.attested()
        with self.assertRaises(http.client.IncompleteRead):
            c.resource("default/luks/root")
        c.close()
        c2 = self.client()
        status, _, body = c2.resource("default/luks/root", bearer=c.token)
        self.assertEqual(c.decrypt(body), SECRET)


class OversizeFault(KbsCase):
    faults = ("oversize=resource",)

    def test_oversize(self):
        c = self.attested()
        status, resp, body = c.resource("default/luks/root")
        self.assertEqual(status, 200)
        self.assertEqual(len(body), 2 * 1024 * 1024)
        self.assertEqual(int(resp.getheader("Content-Length")), len(body))


class CorruptTagFault(KbsCase):
    faults = ("corrupt-tag",)

    def test_corrupt_tag(self):
        c = self.attested()
        status, _, body = c.resource("default/luks/root")
        self.assertEqual(status, 200)
        with self.assertRaises(jwe.JweError):
            c.decrypt(body)


class DenyAttestFault(KbsCase):
    faults = ("deny-attest",)

    def test_deny_attest(self):
        c = self.client()
        c.auth()
        status, body = c.attest()
        self.assertProblem(status, body, 401, "PolicyDeny")


class ExpireAfterAttestFault(KbsCase):
    faults = ("expire-after-attest",)

    def test_first_session_only(self):
        c = self.attested()
        status, _, body = c.resource("default/luks/root")
        self.assertProblem(status, body, 401, "TokenNotFound")
        c.auth()
        self.assertEqual(c.attest()[0], 200)
        status, _, body = c.resource("default/luks/root")
        self.assertEqual(c.decrypt(body), SECRET)
        log = self.kbs.requests()
        self.assertEqual([e["endpoint"] for e in log],
                         ["auth", "attest", "resource", "auth", "attest", "resource"])


class ExpireAlwaysFault(KbsCase):
    faults = ("expire-always",)

    def test_every_session(self):
        for _ in range(2):
            c = self.attested()
            status, _, body = c.resource("default/luks/root")
            self.assertProblem(status, body, 401, "TokenNotFound")


class SlowDripFault(KbsCase):
    faults = ("slow-drip=resource:1000",)

    def test_slow(self):
        c = self.attested()
        start = time.monotonic()
        status, _, body = c.resource("default/luks/root")
        elapsed = time.monotonic() - start
        self.assertEqual(c.decrypt(body), SECRET)
        self.assertGreaterEqual(elapsed, len(body) / 1000.0 * 0.8)


class BadFaultSyntax(unittest.TestCase):
    def test_rejected(self):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import faults
        for bad in ("nosuch", "fail=attest:1", "fail=x:1:500", "delay=auth", "drop=auth:x",
                    "slow-drip=resource:0", "expire-always=1", "fail=auth:1:500:bogus=1"):
            with self.assertRaises(faults.FaultSyntaxError, msg=bad):
                faults.parse_one(bad)
        f = faults.parse_one("fail=attest:2:503:retry_after=none")
        self.assertIsNone(f.retry_after)


class TlsTest(KbsCase):
    def test_certificate_for_loopback(self):
        ctx = ssl.create_default_context(cafile=self.kbs.ca)
        for host in ("127.0.0.1", "localhost"):
            conn = http.client.HTTPSConnection(host, self.kbs.port, context=ctx, timeout=5)
            conn.request("GET", "/kbs/v0/resource/a/b/c")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 401)
            conn.close()
        with self.assertRaises(ssl.SSLError):
            conn = http.client.HTTPSConnection("127.0.0.1", self.kbs.port,
                                               context=ssl.create_default_context(), timeout=5)
            conn.request("GET", "/")
            conn.getresponse()
        for name in ("ca.pem", "ca-key.pem", "server.pem"):
            self.assertTrue(os.path.exists(os.path.join(self.kbs.workdir, name)))


class ChallengeExtraParamsTest(KbsCase):
    extra_args = ("--challenge-extra-params", '{"selected-hash-algorithm":"sha384"}')

    def test_object_extra_params(self):
        c = self.client()
        status, body = c.auth()
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["extra-params"], {"selected-hash-algorithm": "sha384"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
