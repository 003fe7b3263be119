# Minimal RCAR client for the test KBS's self-tests: one keep-alive connection,
# auth/attest with sample evidence, resource fetch and decryption. Test use only.
"""RcarClient(url, ca).auth() / .attest() / .resource(path) / .decrypt(jwe)."""

import base64
import hashlib
import http.client
import json
import ssl
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa

import jwe as jwe_mod


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_tee_key(algorithm):
    """Return (private_key, jwk dict) for ec-p256 / ec-p521 / rsa-oaep-256."""
    if algorithm in ("ec-p256", "ec-p521"):
        curve, size, crv = ((ec.SECP256R1(), 32, "P-256") if algorithm == "ec-p256"
                            else (ec.SECP521R1(), 66, "P-521"))
        key = ec.generate_private_key(curve)
        nums = key.public_key().public_numbers()
        return key, {"kty": "EC", "crv": crv, "alg": "ECDH-ES+A256KW",
                     "x": _b64url(nums.x.to_bytes(size, "big")),
                     "y": _b64url(nums.y.to_bytes(size, "big"))}
    if algorithm == "rsa-oaep-256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nums = key.public_key().public_numbers()
        return key, {"kty": "RSA", "alg": "RSA-OAEP-256",
                     "n": _b64url(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
                     "e": _b64url(nums.e.to_bytes(3, "big"))}
    raise ValueError(algorithm)


def runtime_digest(nonce, jwk, additional=""):
    """The binding digest, computed with plain sorted compact JSON (ASCII inputs)."""
    text = json.dumps({"additional-evidence": additional, "nonce": nonce, "tee-pubkey": jwk},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha384(text.encode("ascii")).digest()


class RcarClient:
    def __init__(self, url, ca=None, timeout=10):
        parts = urlsplit(url)
        if parts.scheme == "https":
            ctx = ssl.create_default_context(cafile=ca)
            self.conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=ctx,
                                                    timeout=timeout)
        else:
            self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.cookie = None
        self.token = None
        self.nonce = None
        self.key = self.jwk = None

    def close(self):
        self.conn.close()

    def request(self, method, path, body=None, headers=None):
        hdrs = dict(headers or {})
        if self.cookie and "Authorization" not in hdrs:
            hdrs["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        payload = resp.read()
        return resp.status, resp, payload

    def auth(self, tee="sample", version="0.4.0"):
        status, resp, payload = self.request("POST", "/kbs/v0/auth", {
            "version": version, "tee": tee,
            "extra-params": {"supported-hash-algorithms": ["sha384"]}})
        if status == 200:
            cookie = resp.getheader("Set-Cookie")
            self.cookie = cookie.split(";")[0]
            self.nonce = json.loads(payload)["nonce"]
        return status, payload

    def attest(self, algorithm="ec-p256", jwk_override=None, evidence_override=None,
               nonce_override=None):
        self.key, self.jwk = make_tee_key(algorithm)
        jwk = jwk_override if jwk_override is not None else self.jwk
        nonce = nonce_override if nonce_override is not None else self.nonce
        digest = runtime_digest(nonce, jwk)
        evidence = evidence_override if evidence_override is not None else {
            "svn": "1", "report_data": base64.b64encode(digest).decode()}
        status, _, payload = self.request("POST", "/kbs/v0/attest", {
            "runtime-data": {"nonce": nonce, "tee-pubkey": jwk},
            "tee-evidence": {"primary_evidence": evidence, "additional_evidence": ""}})
        if status == 200:
            self.token = json.loads(payload)["token"]
        return status, payload

    def resource(self, path, bearer=None):
        headers = {"Authorization": "Bearer " + bearer} if bearer else None
        return self.request("GET", "/kbs/v0/resource/" + path, headers=headers)

    def decrypt(self, payload):
        return jwe_mod.decrypt(json.loads(payload), self.key)
