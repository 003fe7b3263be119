# JWE (flattened JSON serialization) as Trustee's KBS sends resources: ECDH-ES+A256KW
# or RSA-OAEP-256 key management, A256GCM content. Own code on cryptography primitives.
"""encrypt(public_key, plaintext) for the KBS; decrypt(jwe, private_key) for tests."""

import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap, aes_key_unwrap, aes_key_wrap)

from jose import CURVES, JoseError, b64url_decode, b64url_encode

_CURVE_NAMES = {cls.name: (name, size) for name, (cls, size) in CURVES.items()}


class JweError(JoseError):
    """A JWE could not be built or opened."""


def _u32(n):
    return n.to_bytes(4, "big")


def concat_kdf(z, keydatalen_bits, algorithm_id, apu=b"", apv=b""):
    """NIST SP 800-56A Concat KDF with SHA-256 as JWA (RFC 7518 4.6.2) uses it."""
    other_info = (_u32(len(algorithm_id)) + algorithm_id + _u32(len(apu)) + apu
                  + _u32(len(apv)) + apv + _u32(keydatalen_bits))
    out = b""
    counter = 1
    while len(out) * 8 < keydatalen_bits:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(_u32(counter) + z + other_info)
        out += digest.finalize()
        counter += 1
    return out[:keydatalen_bits // 8]


def _epk_of(public_key):
    name, size = _CURVE_NAMES[public_key.curve.name]
    nums = public_key.public_numbers()
    return {"crv": name, "kty": "EC",
            "x": b64url_encode(nums.x.to_bytes(size, "big")),
            "y": b64url_encode(nums.y.to_bytes(size, "big"))}


def _header_json(header):
    return json.dumps(header, separators=(",", ":")).encode("utf-8")


def encrypt(public_key, plaintext):
    """Encrypt plaintext to a TEE public key; return the flattened JWE dict."""
    cek = os.urandom(32)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        ephemeral = ec.generate_private_key(public_key.curve)
        z = ephemeral.exchange(ec.ECDH(), public_key)
        kek = concat_kdf(z, 256, b"ECDH-ES+A256KW")
        encrypted_key = aes_key_wrap(kek, cek)
        header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM",
                  "epk": _epk_of(ephemeral.public_key())}
    elif isinstance(public_key, rsa.RSAPublicKey):
        encrypted_key = public_key.encrypt(cek, padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
        header = {"alg": "RSA-OAEP-256", "enc": "A256GCM"}
    else:
        raise JweError("unsupported key type")
    protected = b64url_encode(_header_json(header))
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    return {"protected": protected,
            "encrypted_key": b64url_encode(encrypted_key),
            "iv": b64url_encode(iv),
            "ciphertext": b64url_encode(sealed[:-16]),
            "tag": b64url_encode(sealed[-16:])}


def _unwrap_cek(header, encrypted_key, private_key):
    alg = header.get("alg")
    if alg == "ECDH-ES+A256KW":
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise JweError("ECDH-ES needs an EC private key")
        epk = header.get("epk")
        if not isinstance(epk, dict) or epk.get("kty") != "EC" or epk.get("crv") not in CURVES:
            raise JweError("bad epk")
        curve_cls, size = CURVES[epk["crv"]]
        if curve_cls.name != private_key.curve.name:
            raise JweError("epk is on another curve than the key")
        x, y = b64url_decode(epk["x"]), b64url_decode(epk["y"])
        if len(x) != size or len(y) != size:
            raise JweError("epk coordinates have the wrong size")
        try:
            peer = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve_cls()).public_key()
        except ValueError:
            raise JweError("epk is not on the curve") from None
        kek = concat_kdf(private_key.exchange(ec.ECDH(), peer), 256, b"ECDH-ES+A256KW")
        try:
            return aes_key_unwrap(kek, encrypted_key)
        except InvalidUnwrap:
            raise JweError("AES key unwrap failed") from None
    if alg in ("RSA-OAEP", "RSA-OAEP-256"):
        hash_cls = hashes.SHA1 if alg == "RSA-OAEP" else hashes.SHA256
        try:
            return private_key.decrypt(encrypted_key, padding.OAEP(
                mgf=padding.MGF1(hash_cls()), algorithm=hash_cls(), label=None))
        except ValueError:
            raise JweError("RSA-OAEP decryption failed") from None
    raise JweError("unsupported alg %r" % (alg,))


def decrypt(jwe, private_key):
    """Open a flattened JWE dict (or compact string); return the plaintext bytes."""
    if isinstance(jwe, str):
        parts = jwe.split(".")
        if len(parts) != 5:
            raise JweError("compact JWE needs 5 parts")
        jwe = dict(zip(("protected", "encrypted_key", "iv", "ciphertext", "tag"), parts))
    header = json.loads(b64url_decode(jwe["protected"]))
    if header.get("enc") != "A256GCM":
        raise JweError("unsupported enc %r" % header.get("enc"))
    cek = _unwrap_cek(header, b64url_decode(jwe["encrypted_key"]), private_key)
    if len(cek) != 32:
        raise JweError("CEK is not 32 bytes")
    iv = b64url_decode(jwe["iv"])
    if len(iv) != 12:
        raise JweError("IV is not 96 bits")
    tag = b64url_decode(jwe["tag"])
    if len(tag) != 16:
        raise JweError("tag is not 128 bits")
    aad = jwe["protected"]
    if jwe.get("aad") is not None:
        aad += "." + jwe["aad"]
    try:
        return AESGCM(cek).decrypt(iv, b64url_decode(jwe["ciphertext"]) + tag,
                                   aad.encode("ascii"))
    except InvalidTag:
        raise JweError("GCM tag does not verify") from None
