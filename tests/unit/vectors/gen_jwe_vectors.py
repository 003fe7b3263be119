#!/usr/bin/python3
"""Writes jwe_python.json: flattened JWEs built with python3-cryptography (an
implementation independent of kbs/jwe.c, written from RFC 7516/7518), with
the recipients' private keys, for test_jwe.c (which also uses the RSA
keys from here, as RSA key generation is slow under valgrind). Run:
    /usr/bin/python3 tests/unit/vectors/gen_jwe_vectors.py > tests/unit/vectors/jwe_python.json
"""
import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def concat_kdf(z, alg, apu, apv, bits):
    other = b"".join(struct.pack(">I", len(x)) + x for x in (alg.encode(), apu, apv))
    other += struct.pack(">I", bits)
    out = b""
    counter = 1
    while len(out) < bits // 8:
        out += hashlib.sha256(struct.pack(">I", counter) + z + other).digest()
        counter += 1
    return out[: bits // 8]


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def ec_jwe(priv, crv, size, plaintext, apu=b"", apv=b"", aad=None):
    eph = ec.generate_private_key(priv.curve)
    z = eph.exchange(ec.ECDH(), priv.public_key())
    kek = concat_kdf(z, "ECDH-ES+A256KW", apu, apv, 256)
    cek = os.urandom(32)
    nums = eph.public_key().public_numbers()
    epk = {"crv": crv, "kty": "EC", "x": b64u(nums.x.to_bytes(size, "big")),
           "y": b64u(nums.y.to_bytes(size, "big"))}
    hdr = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "epk": epk}
    if apu:
        hdr["apu"] = b64u(apu)
    if apv:
        hdr["apv"] = b64u(apv)
    return finish(hdr, aes_key_wrap(kek, cek), cek, plaintext, aad)


def rsa_jwe(priv, plaintext, aad=None):
    cek = os.urandom(32)
    ek = priv.public_key().encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                      algorithm=hashes.SHA256(), label=None))
    return finish({"alg": "RSA-OAEP-256", "enc": "A256GCM"}, ek, cek, plaintext, aad)


def finish(hdr, ek, cek, plaintext, aad):
    prot = b64u(json.dumps(hdr).encode())   # with spaces, as some servers send it
    iv = os.urandom(12)
    aad_bytes = prot.encode() + (b"." + aad.encode() if aad else b"")
    sealed = AESGCM(cek).encrypt(iv, plaintext, aad_bytes)
    jwe = {"protected": prot, "encrypted_key": b64u(ek), "iv": b64u(iv),
           "ciphertext": b64u(sealed[:-16]), "tag": b64u(sealed[-16:])}
    if aad:
        jwe["aad"] = aad
    return jwe


def main():
    cases = []
    p256 = ec.generate_private_key(ec.SECP256R1())
    p521 = ec.generate_private_key(ec.SECP521R1())
    rsa3072 = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    rsa2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = b"-----BEGIN LUKS KEY-----\x00\xff binary \x01 payload\n"
    for name, key, jwe in [
        ("P-256", p256, ec_jwe(p256, "P-256", 32, text)),
        ("P-256 apu/apv", p256, ec_jwe(p256, "P-256", 32, text, b"Alice", b"Bob")),
        ("P-256 aad", p256, ec_jwe(p256, "P-256", 32, text, aad="c29tZSBhYWQ")),
        ("P-256 empty", p256, ec_jwe(p256, "P-256", 32, b"")),
        ("P-521", p521, ec_jwe(p521, "P-521", 66, text)),
        ("RSA-OAEP-256", rsa3072, rsa_jwe(rsa3072, text)),
        ("RSA-OAEP-256 aad", rsa3072, rsa_jwe(rsa3072, text, aad="eA")),
        ("RSA-2048", rsa2048, rsa_jwe(rsa2048, text)),
    ]:
        cases.append({"name": name, "key": pem(key), "jwe": json.dumps(jwe),
                      "plaintext": b64u(text if "empty" not in name else b"")})
    print(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
