#!/usr/bin/python3
# Self-tests of the test KBS's admin API (admin.py): EdDSA bearer JWTs checked
# (signature, alg, exp, role), resources set then served to an attested client,
# deleted, and the resource policy set and read back.
"""Run: /usr/bin/python3 tests/kbs/test_admin.py"""

import base64
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from rcar_client import RcarClient  # noqa: E402

PREFIX = "https://github.com/confidential-containers/kbs/errors/"
POLICY = "package policy\ndefault allow := true\n"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def admin_jwt(key, claims, alg="EdDSA"):
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = key.sign(("%s.%s" % (head, body)).encode())
    return "%s.%s.%s" % (head, body, b64url(sig))


class AdminCase(unittest.TestCase):
    role = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kbs-admin.")
        self.key = Ed25519PrivateKey.generate()
        pub = os.path.join(self.tmp, "admin.pub")
        with open(pub, "wb") as f:
            f.write(self.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.res = os.path.join(self.tmp, "res")
        os.makedirs(self.res)
        extra = ["--admin-public-key", pub] + (["--admin-role", self.role] if self.role else [])
        self.kbs = harness.start_kbs(os.path.join(self.tmp, "work"), self.res, extra_args=extra)
        self.client = RcarClient(self.kbs.url, self.kbs.ca)

    def tearDown(self):
        self.client.close()
        self.kbs.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def token(self, **extra):
        now = int(time.time())
        claims = {"iat": now, "exp": now + 60}
        claims.update(extra)
        return admin_jwt(self.key, claims)

    def admin(self, method, path, body=b"", token=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        if body and method == "POST" and path.endswith("resource-policy"):
            headers["Content-Type"] = "application/json"
        status, _, payload = self.client.request(method, path, body, headers)
        return status, payload

    def assertAdminAuth(self, status, body):
        self.assertEqual(status, 401, body)
        self.assertEqual(json.loads(body)["type"], PREFIX + "AdminAuth", body)


class AdminTest(AdminCase):
    def test_set_then_attested_get_then_delete(self):
        secret = os.urandom(64)
        status, body = self.admin("POST", "/kbs/v0/resource/default/luks/new", secret,
                                  self.token())
        self.assertEqual(status, 200, body)
        with open(os.path.join(self.res, "default", "luks", "new"), "rb") as f:
            self.assertEqual(f.read(), secret)
        c = RcarClient(self.kbs.url, self.kbs.ca)
        self.assertEqual(c.auth()[0], 200)
        self.assertEqual(c.attest()[0], 200)
        status, _, payload = c.resource("default/luks/new")
        self.assertEqual(status, 200, payload)
        self.assertEqual(c.decrypt(payload), secret)
        c.close()
        entry = [e for e in self.kbs.requests() if e["endpoint"] == "admin"][0]
        self.assertEqual((entry["admin_action"], entry["resource"], entry["admin_bytes"]),
                         ("set-resource", "default/luks/new", 64))
        with open(self.kbs.log_path, "rb") as f:
            self.assertNotIn(secret.hex().encode(), f.read())
        status, body = self.admin("DELETE", "/kbs/v0/resource/default/luks/new",
                                  token=self.token())
        self.assertEqual(status, 200, body)
        self.assertFalse(os.path.exists(os.path.join(self.res, "default", "luks", "new")))
        status, body = self.admin("DELETE", "/kbs/v0/resource/default/luks/new",
                                  token=self.token())
        self.assertEqual(status, 401, body)
        self.assertIn("not found", json.loads(body)["detail"])

    def test_refusals_change_nothing(self):
        path = "/kbs/v0/resource/default/luks/x"
        other = Ed25519PrivateKey.generate()
        now = int(time.time())
        cases = [
            None,
            "garbage",
            admin_jwt(other, {"iat": now, "exp": now + 60}),
            admin_jwt(self.key, {"iat": now, "exp": now + 60}, alg="ES256"),
            admin_jwt(self.key, {"iat": now - 120, "exp": now - 1}),
            admin_jwt(self.key, {"iat": now}),
            admin_jwt(self.key, {"iat": now + 3600, "exp": now + 7200}),
            admin_jwt(self.key, {"exp": "tomorrow"}),
        ]
        for token in cases:
            status, body = self.admin("POST", path, b"data", token)
            self.assertAdminAuth(status, body)
        self.assertEqual(os.listdir(self.res), [])
        status, body = self.admin("POST", "/kbs/v0/resource/default/luks/..", b"x", self.token())
        self.assertEqual(status, 404, body)
        status, body = self.admin("POST", "/kbs/v0/resource/a/b", b"x", self.token())
        self.assertEqual(status, 404, body)

    def test_resource_policy(self):
        body = json.dumps({"policy": b64url(POLICY.encode())}).encode()
        status, resp = self.admin("POST", "/kbs/v0/resource-policy", body)
        self.assertAdminAuth(status, resp)
        status, resp = self.admin("POST", "/kbs/v0/resource-policy", body, self.token())
        self.assertEqual(status, 200, resp)
        status, resp = self.admin("GET", "/kbs/v0/resource-policy", token=self.token())
        self.assertEqual((status, resp), (200, POLICY.encode()))
        status, resp = self.admin("POST", "/kbs/v0/resource-policy", b'{"policy": 5}',
                                  self.token())
        self.assertEqual(status, 401, resp)
        self.assertEqual(json.loads(resp)["type"], PREFIX + "PolicyEngine")


class AdminRoleTest(AdminCase):
    role = "kbs-admin"

    def test_role_claim(self):
        path = "/kbs/v0/resource/default/luks/r"
        status, body = self.admin("POST", path, b"data", self.token())
        self.assertAdminAuth(status, body)
        status, body = self.admin("POST", path, b"data", self.token(role="reader"))
        self.assertAdminAuth(status, body)
        status, body = self.admin("POST", path, b"data", self.token(role="kbs-admin"))
        self.assertEqual(status, 200, body)


class AdminDisabledTest(unittest.TestCase):
    def test_no_public_key_refuses_all(self):
        tmp = tempfile.mkdtemp(prefix="kbs-admin.")
        try:
            with harness.start_kbs(os.path.join(tmp, "w"), os.path.join(tmp, "r")) as kbs:
                c = RcarClient(kbs.url, kbs.ca)
                status, _, body = c.request("POST", "/kbs/v0/resource/a/b/c", b"x",
                                            {"Authorization": "Bearer a.b.c"})
                c.close()
                self.assertEqual(status, 401, body)
                self.assertIn("disabled", json.loads(body)["detail"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=1)
