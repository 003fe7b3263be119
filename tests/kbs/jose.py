# Base64 codecs, strict TEE public key (JWK) parsing as Trustee does it, and the
# ES256 JWT attestation token of the test KBS. Independent of the agent's C code.
"""JOSE helpers for the test KBS: b64url/b64std, parse_tee_pubkey, JWT sign/verify."""

import base64
import binascii
import json
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)

_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_B64STD_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")

CURVES = {
    "P-256": (ec.SECP256R1, 32),
    "P-384": (ec.SECP384R1, 48),
    "P-521": (ec.SECP521R1, 66),
}
# Curves the KBS accepts in a tee-pubkey (ECDH-ES+A256KW).
TEE_KEY_CURVES = ("P-256", "P-521")


class JoseError(ValueError):
    """Malformed or unacceptable JOSE input."""


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Strict base64url without padding (RFC 7515 section 2)."""
    if not isinstance(text, str) or not _B64URL_RE.match(text) or len(text) % 4 == 1:
        raise JoseError("not base64url without padding")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise JoseError("non-canonical base64url (stray bits)")
    return data


def b64std_encode(data):
    return base64.b64encode(data).decode("ascii")


def b64std_decode(text):
    """Strict standard base64 with padding."""
    if not isinstance(text, str) or len(text) % 4 or not _B64STD_RE.match(text):
        raise JoseError("not standard padded base64")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise JoseError("bad base64: %s" % exc) from None
    if b64std_encode(data) != text:
        raise JoseError("non-canonical base64 (stray bits)")
    return data


def _exact_members(jwk, members):
    if set(jwk) != set(members):
        extra = sorted(set(jwk) - set(members))
        missing = sorted(set(members) - set(jwk))
        raise JoseError("tee-pubkey members must be exactly %s (extra %s, missing %s)"
                        % (sorted(members), extra, missing))
    for name in members:
        if not isinstance(jwk[name], str):
            raise JoseError("tee-pubkey member %r is not a string" % name)


def _parse_ec(jwk):
    _exact_members(jwk, ("kty", "crv", "alg", "x", "y"))
    if jwk["alg"] != "ECDH-ES+A256KW":
        raise JoseError("EC tee-pubkey alg must be ECDH-ES+A256KW, got %r" % jwk["alg"])
    if jwk["crv"] not in TEE_KEY_CURVES:
        raise JoseError("unsupported curve %r" % jwk["crv"])
    curve_cls, size = CURVES[jwk["crv"]]
    x = b64url_decode(jwk["x"])
    y = b64url_decode(jwk["y"])
    if len(x) != size or len(y) != size:
        raise JoseError("EC coordinates must be exactly %d bytes (x %d, y %d)"
                        % (size, len(x), len(y)))
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve_cls())
    try:
        return numbers.public_key()
    except ValueError as exc:
        raise JoseError("EC point rejected: %s" % exc) from None


def _parse_rsa(jwk):
    _exact_members(jwk, ("kty", "alg", "n", "e"))
    if jwk["alg"] != "RSA-OAEP-256":
        raise JoseError("RSA tee-pubkey alg must be RSA-OAEP-256, got %r" % jwk["alg"])
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    if n.bit_length() < 2048:
        raise JoseError("RSA modulus too small (%d bits)" % n.bit_length())
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise JoseError("RSA key rejected: %s" % exc) from None


def parse_tee_pubkey(jwk):
    """Parse a tee-pubkey JWK strictly; return a cryptography public key."""
    if not isinstance(jwk, dict):
        raise JoseError("tee-pubkey is not a JSON object")
    kty = jwk.get("kty")
    if kty == "EC":
        return _parse_ec(jwk)
    if kty == "RSA":
        return _parse_rsa(jwk)
    raise JoseError("unsupported tee-pubkey kty %r" % (kty,))


def _compact_json(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")


def jwt_sign_es256(claims, private_key):
    """Sign claims as a compact JWS (ES256, raw r||s signature)."""
    header = b64url_encode(_compact_json({"alg": "ES256", "typ": "JWT"}))
    payload = b64url_encode(_compact_json(claims))
    signing_input = (header + "." + payload).encode("ascii")
    der = private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return header + "." + payload + "." + b64url_encode(sig)


def jwt_verify_es256(token, public_key):
    """Verify a compact ES256 JWS; return the claims dict. Does not check exp."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise JoseError("token is not a compact JWS")
    header_b64, payload_b64, sig_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    if not isinstance(header, dict) or header.get("alg") != "ES256":
        raise JoseError("token alg is not ES256")
    sig = b64url_decode(sig_b64)
    if len(sig) != 64:
        raise JoseError("ES256 signature must be 64 bytes")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public_key.verify(der, (header_b64 + "." + payload_b64).encode("ascii"),
                          ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise JoseError("token signature does not verify") from None
    claims = json.loads(b64url_decode(payload_b64))
    if not isinstance(claims, dict):
        raise JoseError("token claims are not an object")
    return claims
