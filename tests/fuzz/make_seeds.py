#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz harnesses (tests/fuzz/corpus/<target>/seed-*).

Run once by hand when a harness changes; the seeds are kept in the repo. The
JWE seeds are encrypted to the fixed keys of fuzz_keys.h with the test KBS's
own JOSE code (tests/kbs), which shares nothing with the agent. Crash inputs
(corpus/<target>/regress-*) are never written here: they are kept as found.
Usage: make_seeds.py [SRC]   (SRC: the source tree, default two levels up)
"""

import base64
import json
import os
import re
import struct
import sys

SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "kbs"))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.keywrap import aes_key_wrap  # noqa: E402

import jwe  # noqa: E402  (tests/kbs/jwe.py)
from jose import b64url_encode  # noqa: E402

CORPUS = os.path.join(SRC, "tests", "fuzz", "corpus")
FIXTURES = os.path.join(SRC, "tests", "tee", "fixtures")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


# ---- jwe ------------------------------------------------------------------

def fuzz_keys():
    text = open(os.path.join(SRC, "tests", "fuzz", "fuzz_keys.h")).read()
    keys = {}
    for name, body in re.findall(r"fuzz_key_(\w+)\[\] =\n((?:\t\".*\"\n?)+);", text):
        pem = "".join(line + "\n" for line in re.findall(r"\"(.*?)\\n\"", body))
        keys[name] = serialization.load_pem_private_key(pem.encode(), None)
    return keys


def ecdh_jwe(public_key, plaintext, apu=b"", apv=b"", aad=None, extra=None):
    """ECDH-ES+A256KW with optional apu/apv, a top-level aad and more header members."""
    cek = os.urandom(32)
    eph = ec.generate_private_key(public_key.curve)
    z = eph.exchange(ec.ECDH(), public_key)
    kek = jwe.concat_kdf(z, 256, b"ECDH-ES+A256KW", apu, apv)
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "epk": jwe._epk_of(eph.public_key())}
    if apu:
        header["apu"] = b64url_encode(apu)
    if apv:
        header["apv"] = b64url_encode(apv)
    header.update(extra or {})
    protected = b64url_encode(compact(header).encode())
    full_aad = protected + ("." + b64url_encode(aad) if aad is not None else "")
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, full_aad.encode("ascii"))
    out = {"protected": protected, "encrypted_key": b64url_encode(aes_key_wrap(kek, cek)),
           "iv": b64url_encode(iv), "ciphertext": b64url_encode(sealed[:-16]),
           "tag": b64url_encode(sealed[-16:])}
    if aad is not None:
        out["aad"] = b64url_encode(aad)
    return out


def seeds_jwe():
    keys = fuzz_keys()
    secret = b"0123456789abcdef0123456789abcdef"
    for name in ("p256", "p521", "rsa2048"):
        write("jwe", "valid-" + name, compact(jwe.encrypt(keys[name].public_key(), secret)))
    p256 = keys["p256"].public_key()
    write("jwe", "empty-plaintext-p256", compact(jwe.encrypt(p256, b"")))
    write("jwe", "apu-apv-p256", compact(ecdh_jwe(p256, secret, b"Alice", b"Bob")))
    write("jwe", "aad-p256", compact(ecdh_jwe(p256, secret, aad=b"extra authenticated")))
    write("jwe", "kid-p521", compact(ecdh_jwe(keys["p521"].public_key(), secret,
                                              extra={"kid": "tee", "typ": "JWE"})))
    bad = jwe.encrypt(p256, secret)
    bad["recipients"] = []
    write("jwe", "recipients", compact(bad))
    write("jwe", "zip", compact(ecdh_jwe(p256, secret, extra={"zip": "DEF"})))
    write("jwe", "not-object", "[\"protected\"]")
    write("jwe", "pretty-p256", json.dumps(jwe.encrypt(p256, b"pretty"), indent=2))


# ---- kbs_answer -------------------------------------------------------------

def seeds_kbs_answer():
    prefix = "https://github.com/confidential-containers/kbs/errors/"
    claims = b64url_encode(compact({"exp": 1893456000, "iat": 1764547200,
                                    "customized_claims": {"x": 1}}).encode())
    token = b64url_encode(b'{"alg":"ES256","typ":"JWT"}') + "." + claims + ".c2ln"
    write("kbs_answer", "challenge", compact({"nonce": "q1w2e3r4t5y6u7i8o9p0+/=", "extra-params": ""}))
    write("kbs_answer", "challenge-hash", compact({
        "nonce": "abc", "extra-params": {"selected-hash-algorithm": "sha384"}}))
    write("kbs_answer", "challenge-sha512", compact({
        "nonce": "abc", "extra-params": {"selected-hash-algorithm": "sha512"}}))
    write("kbs_answer", "token", compact({"token": token, "tee_pubkey": {"kty": "EC"}}))
    write("kbs_answer", "token-raw", token)
    write("kbs_answer", "problem-kbs", compact({"type": prefix + "PolicyDeny",
                                               "detail": "Resource policy denied"}))
    write("kbs_answer", "problem-proxy", compact({"type": "about:blank", "title": "Bad Gateway",
                                                 "detail": "upstream\u001b[2J\ttimed out"}))
    write("kbs_answer", "plain-text", "503 Service Temporarily Unavailable\n")
    write("kbs_answer", "duplicate-keys", '{"nonce":"a","nonce":"b"}')


# ---- config_file, cmdline ---------------------------------------------------

def seeds_config():
    for src, name in ((os.path.join(SRC, "configs", "cvmboot.conf"), "shipped"),
                      (os.path.join(SRC, "tests", "unit", "data", "config_full.conf"), "full")):
        write("config_file", name, open(src, "rb").read())
    write("config_file", "luks-and-file", "[kbs]\nurl = https://kbs:8080\n\n"
          "[resource.root]\npath = default/luks/root\nluks_device = /dev/vda2\n\n"
          "[resource.tls.key]\npath = default/tls/key\nfile = tls.key\nmode = 0400\n")
    write("config_file", "signing", "[workload]\nimage = reg.example:5000/ns/app:1\n"
          "signing_key = default/workload/signing-key\n"
          "signature_lookaside = http://sigs.example/x\n")
    write("config_file", "duplicate-key", "[retry]\nbudget = 1s\nbudget = 2s\n")
    write("config_file", "conflict", "[resource.x]\npath = a/b/c\nfile = x\nluks_device = /dev/sda\n")
    write("config_file", "crlf-comments", "# c\r\n[kbs]\r\nurl=http://10.0.0.1 ; x\r\n"
          "insecure_http=1\r\n[tee]\r\nseal_pcr=23\r\ntpm_ak_handle=0xffffffff\r\n")


def seeds_cmdline():
    write("cmdline", "typical", "BOOT_IMAGE=/vmlinuz root=/dev/mapper/root ro quiet "
          "rd.cvmboot.url=https://kbs:8080 rd.cvmboot.resource.root-key=default/luks/root "
          "rd.cvmboot.tee=sample rd.cvmboot.key_algorithm=ec-p521\n")
    write("cmdline", "quoted", 'rd.cvmboot.resource.x="r/t/x" "rd.cvmboot.on_failure=retry" '
          'rd.cvmboot.debug rd.cvmboot=1\n')
    write("cmdline", "refused", "rd.cvmboot.ca_file=/tmp/evil.pem rd.cvmboot.insecure_http=1")
    write("cmdline", "many-urls", " ".join("rd.cvmboot.url=https://k%d" % i for i in range(10)))
    write("cmdline", "off", "rd.cvmboot=0")


# ---- jcs ---------------------------------------------------------------------

def seeds_jcs():
    write("jcs", "rfc8785-example",
          '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],'
          '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
          '"literals":[null,true,false]}')
    write("jcs", "key-order", '{"\\u20ac":1,"\\r":2,"\\ufb33":3,"1":4,"\\ud83d\\ude00":5,'
          '"\\u0080":6,"\\u00f6":7}')
    write("jcs", "runtime-data", compact({"nonce": "abc", "tee-pubkey": {
        "kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW", "x": "AAEC", "y": "ICEi"},
        "additional-evidence": ""}))
    write("jcs", "numbers", "[0,-0,-0.0,1e21,1e20,123456789012345680000,5e-324,"
          "1.7976931348623157e308,9007199254740992,-9007199254740992,0.1,1e-7,100]")
    write("jcs", "nested", "[[[[{\"a\":[{\"b\":{}}]}]]]]")
    write("jcs", "string-nul", '"a\\u0000b\\u001f\\u007f"')


# ---- luks_token --------------------------------------------------------------

def seeds_luks_token():
    good = {"type": "cvmboot", "keyslots": ["1"], "resource": "default/luks/root",
            "kbs_urls": ["https://kbs.example.com:8080", "http://10.0.0.2:8080"]}
    write("luks_token", "valid", compact(good))
    write("luks_token", "no-urls", compact(dict(good, kbs_urls=[])))
    write("luks_token", "slot-31", compact(dict(good, keyslots=["31"])))
    write("luks_token", "slot-leading-zero", compact(dict(good, keyslots=["01"])))
    write("luks_token", "resource-dotdot", compact(dict(good, resource="../luks/root")))
    write("luks_token", "nul-in-string", '{"type":"cvmboot","keyslots":["1"],'
          '"resource":"a/b/c\\u0000x","kbs_urls":[]}')
    write("luks_token", "systemd-tpm2", compact({"type": "systemd-tpm2", "keyslots": ["0"]}))


# ---- TEE-side inputs -----------------------------------------------------------

def seeds_snp():
    report = fixture("test-report.bin")
    write("snp_report", "v2", report)
    v3 = bytearray(report)
    v3[0:4] = struct.pack("<I", 3)
    v3[0x188:0x18A] = b"\x19\x11"   # CPUID family, model: Genoa
    write("snp_report", "v3-patched", bytes(v3))
    v5 = bytearray(report)
    v5[0:4] = struct.pack("<I", 5)
    v5[0x188:0x18A] = b"\x1a\x02"   # Turin
    write("snp_report", "v5-patched", bytes(v5))
    write("snp_report", "short", report[:100])

    guids = {"ARK": "c0b406a4-a803-4952-9743-3fb6014cd0ae",
             "ASK": "4ab7b379-bbac-4fe4-a02f-05aef327c782",
             "VCEK": "63da758d-e664-4564-adc5-f4b93be8accd"}
    vcek = fixture("test-vcek.der")
    blobs = [("VCEK", vcek), ("ASK", b"\x30\x03\x02\x01\x01"), ("ARK", b"\x30\x00")]
    header_len = 24 * (len(blobs) + 1)
    table, data, off = b"", b"", header_len
    for name, blob in blobs:
        g = guids[name].replace("-", "")
        b = bytes.fromhex(g)
        guid = b[0:4][::-1] + b[4:6][::-1] + b[6:8][::-1] + b[8:]   # GUID byte order
        table += guid + struct.pack("<II", off, len(blob))
        data += blob
        off += len(blob)
    write("snp_cert_table", "vcek-ask-ark", table + b"\0" * 24 + data)
    write("snp_cert_table", "empty", b"\0" * 24)
    write("snp_cert_table", "unknown-guid", bytes(range(16)) + struct.pack("<II", 48, 4)
          + b"\0" * 24 + b"abcd")


def tpm2b(b):
    return struct.pack(">H", len(b)) + b


def seeds_tpm():
    ev = json.loads(fixture("tpm-evidence.json"))
    q = ev["tpm_quote"]
    msg = base64.b64decode(q["message"])
    signer_len = struct.unpack(">H", msg[6:8])[0]
    p = 8 + signer_len
    extra_len = struct.unpack(">H", msg[p:p + 2])[0]
    qualifying = msg[p + 2:p + 2 + extra_len]
    pcrs = b"".join(bytes.fromhex(h) for h in q["pcrs"])
    write("tpm", "quote-trustee", b"\x00" + bytes([len(qualifying)]) + qualifying + pcrs + msg)
    write("tpm", "quote-other-pcrs", b"\x00" + bytes([len(qualifying)]) + qualifying
          + b"\x01" * 768 + msg)

    def selection(banks):
        out = struct.pack(">I", len(banks))
        for alg, bits in banks:
            out += struct.pack(">HB", alg, len(bits)) + bits
        return out

    def digests(n, size=32):
        return struct.pack(">I", n) + b"".join(tpm2b(bytes([i]) * size) for i in range(n))

    write("tpm", "pcr-read-0-7", b"\x01" + selection([(0x000b, b"\xff\x00\x00")]) + digests(8))
    write("tpm", "pcr-read-8-15", b"\x01" + selection([(0x000b, b"\x00\xff\x00")]) + digests(8))
    write("tpm", "pcr-read-sha1", b"\x01" + selection([(0x0004, b"\xff\x00\x00")]) + digests(8, 20))
    write("tpm", "pcr-read-short", b"\x01" + selection([(0x000b, b"\xff\xff\xff")]) + digests(3))

    spki = serialization.load_der_public_key(base64.b64decode(ev["ak_public"]))
    nums = spki.public_numbers()
    modulus = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    area = (struct.pack(">HHI", 0x0001, 0x000b, 0x00050072) + tpm2b(b"")
            + struct.pack(">HHHHI", 0x0010, 0x0014, 0x000b, len(modulus) * 8, 0)
            + tpm2b(modulus))
    write("tpm", "ak-public-rsa", b"\x02" + tpm2b(area))
    area65537 = area.replace(struct.pack(">HI", len(modulus) * 8, 0),
                             struct.pack(">HI", len(modulus) * 8, 65537), 1)
    write("tpm", "ak-public-rsa-e", b"\x02" + tpm2b(area65537))


def seeds_az_tdx():
    write("az_hcl", "snp", fixture("az-snp-hcl-report.bin"))
    hcl = bytearray(fixture("az-snp-hcl-report.bin"))
    hcl[32 + 1184 + 8:32 + 1184 + 12] = struct.pack("<I", 4)   # report_type TDX
    write("az_hcl", "tdx-patched", bytes(hcl))
    write("td_quote", "v4", fixture("tdx_quote_4.dat"))
    write("td_quote", "v5", fixture("tdx_quote_5.dat"))
    ccel = fixture("ccel-ovmf.bin")
    used = len(ccel.rstrip(b"\xff"))
    write("ccel", "ovmf", ccel[:used] + b"\xff" * 8)
    write("ccel", "ovmf-no-marker", ccel[:used])


# ---- headers and codecs -----------------------------------------------------------

def seeds_text():
    for i, h in enumerate(["Retry-After: 1\r\n", "retry-after:\t120 \r\n",
                           "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
                           "Retry-After: Wed, 30 Dec 2026 23:59:60 GMT\r\n",
                           "Retry-After: 99999999999999999999999\r\n",
                           "Content-Type: application/json; charset=utf-8\r\n",
                           "HTTP/1.1 503 Service Unavailable\r\n", "\r\n"]):
        write("http_header", "%d" % i, h)
    for i, s in enumerate(["", "Zg==", "Zm8=", "Zm9v", "Zm9vYmFy", "-_8", "+/8=", "Zh==",
                           "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"]):
        write("b64", "%d" % i, s)
    for i, s in enumerate(["", "00", "deadBEEF", "0g", "abc", "ff" * 64]):
        write("hex", "%d" % i, s)


def main():
    seeds_jwe()
    seeds_kbs_answer()
    seeds_config()
    seeds_cmdline()
    seeds_jcs()
    seeds_luks_token()
    seeds_snp()
    seeds_tpm()
    seeds_az_tdx()
    seeds_text()


if __name__ == "__main__":
    main()
