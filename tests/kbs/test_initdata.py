#!/usr/bin/python3
# Self-tests of the test KBS's init-data checks (tests/kbs/initdata.py): per TEE, the
# evidence field must match the digest of the body sent; a changed body is refused,
# both by the module and by the running server over HTTPS.
"""Run: /usr/bin/python3 tests/kbs/test_initdata.py"""

import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import initdata  # noqa: E402
from rcar_client import RcarClient, make_tee_key, runtime_digest  # noqa: E402

PREFIX = "https://github.com/confidential-containers/kbs/errors/"


def doc(algorithm="sha256", url="https://kbs.example"):
    return ('version = "0.1.0"\nalgorithm = "%s"\n\n[data]\n"cvmboot.url" = "%s"\n'
            % (algorithm, url))


def member(body):
    return {"format": "toml", "body": body}


def digest(body, algorithm="sha256"):
    return hashlib.new(algorithm, body.encode()).digest()


def claims_for(tee, dig):
    """What each verifier reports for a launch with this digest."""
    if tee == "snp":
        return {"host_data": dig[:32].ljust(32, b"\0").hex()}
    if tee == "tdx":
        return {"mr_config_id": dig[:48].ljust(48, b"\0").hex()}
    if tee == "sample":
        return {"init_data": dig.hex()}
    return {"init_data": hashlib.sha256(bytes(32) + dig).hexdigest()}


class ModuleChecks(unittest.TestCase):
    TEES = {"snp": "sha256", "tdx": "sha384", "tpm": "sha256", "az-snp-vtpm": "sha256",
            "az-tdx-vtpm": "sha256", "sample": "sha512"}

    def test_bound_document_accepted(self):
        for tee, alg in self.TEES.items():
            body = doc(alg)
            out = initdata.check(tee, member(body), claims_for(tee, digest(body, alg)), {})
            self.assertEqual(out["digest"], digest(body, alg).hex(), tee)
            self.assertEqual(out["data"], {"cvmboot.url": "https://kbs.example"}, tee)

    def test_changed_document_refused(self):
        for tee, alg in self.TEES.items():
            launched = doc(alg)
            sent = doc(alg, url="https://evil.example")
            with self.assertRaises(initdata.InitDataError, msg=tee) as cm:
                initdata.check(tee, member(sent), claims_for(tee, digest(launched, alg)), {})
            self.assertEqual(cm.exception.type_name, "AttestationError")
            self.assertIn("a changed document", str(cm.exception))

    def test_sha384_cannot_bind_a_pcr(self):
        body = doc("sha384")
        with self.assertRaises(initdata.InitDataError) as cm:
            initdata.check("tpm", member(body), {"init_data": "00" * 32}, {})
        self.assertIn("Trustee needs sha256", str(cm.exception))

    def test_malformed_documents(self):
        bad = ['version = "0.1.0"\nalgorithm = "md5"\n[data]\n',
               'version = "0.1.0"\nalgorithm = "sha256"\n[data]\nn = 1\n',
               'algorithm = "sha256"\n[data]\n', "not toml ===", ]
        for body in bad:
            with self.assertRaises(initdata.InitDataError, msg=body):
                initdata.check("sample", member(body), {"init_data": ""}, {})
        with self.assertRaises(initdata.InitDataError):
            initdata.check("sample", {"format": "json", "body": "{}"}, {}, {})

    def test_policy(self):
        body = doc()
        claims = claims_for("snp", digest(body))
        initdata.check("snp", member(body), claims, {"init_data_digest": digest(body).hex()})
        for policy, init in (({"init_data_digest": "00" * 32}, member(body)),
                             ({"require_init_data": True}, None)):
            with self.assertRaises(initdata.InitDataError) as cm:
                initdata.check("snp", init, claims, policy)
            self.assertEqual(cm.exception.type_name, "PolicyDeny")
        self.assertEqual(initdata.check("snp", None, claims, {}), {})


class ServerChecks(unittest.TestCase):
    """The running KBS with the sample TEE: its evidence carries init_data."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kbs-initdata.")
        res = harness.make_resources(os.path.join(self.tmp, "res"), {"default/a/b": b"x"})
        self.kbs = harness.start_kbs(os.path.join(self.tmp, "work"), res)
        self.client = RcarClient(self.kbs.url, self.kbs.ca)

    def tearDown(self):
        self.client.close()
        self.kbs.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def attest(self, launched, sent):
        c = self.client
        self.assertEqual(c.auth()[0], 200)
        _, jwk = make_tee_key("ec-p256")
        evidence = {"svn": "1",
                    "report_data": base64.b64encode(runtime_digest(c.nonce, jwk)).decode(),
                    "init_data": base64.b64encode(digest(launched)).decode()}
        status, _, payload = c.request("POST", "/kbs/v0/attest", {
            "init-data": member(sent), "runtime-data": {"nonce": c.nonce, "tee-pubkey": jwk},
            "tee-evidence": {"primary_evidence": evidence, "additional_evidence": ""}})
        return status, payload

    def test_same_document(self):
        status, payload = self.attest(doc(), doc())
        self.assertEqual(status, 200, payload)
        attests = [r for r in self.kbs.requests() if r["path"].endswith("/attest")]
        self.assertEqual(attests[-1]["init_data_digest"], digest(doc()).hex())

    def test_changed_document(self):
        status, payload = self.attest(doc(), doc(url="https://evil.example"))
        self.assertEqual(status, 401, payload)
        problem = json.loads(payload)
        self.assertEqual(problem["type"], PREFIX + "AttestationError")
        self.assertIn("sample init_data", problem["detail"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
