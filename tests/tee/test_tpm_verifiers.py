#!/usr/bin/python3
"""The test KBS's tpm, az-snp-vtpm and az-tdx-vtpm verifiers on Trustee's real
evidence samples (full checks, including the AMD VCEK signature and the TD quote
signature), and their refusals of altered copies."""
import base64
import copy
import shutil
import tempfile
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tpm_swtpm import FIXTURES, check, verifier_module  # noqa: E402


def load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def refused(verifier, evidence, report_data, ctx, what):
    try:
        verifier.verify(evidence, report_data, ctx)
    except verifier.VerificationError as exc:
        return str(exc)
    check(False, "accepted %s" % what)


def flip_hex(s, index):
    return s[:index] + ("0" if s[index] != "0" else "1") + s[index + 1:]


def test_tpm():
    tpm = verifier_module("tpm")
    ev = load("tpm-evidence.json")
    q = ev["tpm_quote"]
    message = tpm.b64_std(q["message"], "message")
    attest = tpm.parse_attest(message)
    # This sample predates the 32-byte rule (its nonce is 64 bytes): check the parts.
    from cryptography.hazmat.primitives import serialization
    ak = serialization.load_der_public_key(tpm.b64_std(ev["ak_public"], "ak"))
    raw = tpm.parse_rsassa_signature(tpm.b64_std(q["signature"], "sig"))
    tpm.check_signature(ak, message, raw)
    pcrs = tpm.parse_pcrs(q["pcrs"], tpm.hex_bytes)
    tpm.check_quote(attest, pcrs, attest["extra_data"])
    bad = list(pcrs)
    bad[17] = bytes(32)
    try:
        tpm.check_quote(attest, bad, attest["extra_data"])
        check(False, "accepted altered PCRs")
    except tpm.VerificationError:
        pass
    try:
        tpm.check_signature(ak, message[:-1] + b"\0", raw)
        check(False, "accepted an altered message")
    except tpm.VerificationError:
        pass


def test_az(module, fixture, report_data, hw_key):
    v = verifier_module(module)
    ctx = sys.modules["verifiers"].VerifierContext()
    ev = load(fixture)
    claims = v.verify(ev, report_data, ctx)
    check(claims["hardware_checked"] and claims["report_data"] == report_data.hex(), "%r" % claims)
    refused(v, ev, report_data[:-1] + b"x", ctx, "another nonce")
    bad = copy.deepcopy(ev)
    bad["tpm_quote"]["signature"] = flip_hex(bad["tpm_quote"]["signature"], 10)
    refused(v, bad, report_data, ctx, "a bad AK signature")
    bad = copy.deepcopy(ev)
    bad["tpm_quote"]["pcrs"][3] = "00" * 32
    refused(v, bad, report_data, ctx, "altered PCRs")
    bad = copy.deepcopy(ev)
    if hw_key == "vcek":  # another real VCEK: does not sign this report
        with open(os.path.join(FIXTURES, "test-vcek.der"), "rb") as f:
            bad["vcek"] = base64.urlsafe_b64encode(f.read()).decode()
    else:
        raw = bytearray(v._az.b64url(bad[hw_key], hw_key))
        raw[200] ^= 1
        bad[hw_key] = base64.urlsafe_b64encode(bytes(raw)).decode()
    refused(v, bad, report_data, ctx, "a wrong " + hw_key)
    bad = copy.deepcopy(ev)
    bad["version"] = 3
    refused(v, bad, report_data, ctx, "an unknown version")


def test_snp_trust_dir(ev, report_data):
    """With a trust directory, the VCEK must be (or chain to) one of its certificates."""
    v = verifier_module("az_snp_vtpm")
    ctx_cls = sys.modules["verifiers"].VerifierContext
    trust = tempfile.mkdtemp(prefix="cvmboot-trust.")
    try:
        shutil.copy(os.path.join(FIXTURES, "test-vcek.der"), os.path.join(trust, "other.der"))
        msg = refused(v, ev, report_data, ctx_cls(trust_dir=trust), "an untrusted VCEK")
        check("trust" in msg, msg)
        with open(os.path.join(trust, "vcek.der"), "wb") as f:
            f.write(v.b64url(ev["vcek"], "vcek"))
        v.verify(ev, report_data, ctx_cls(trust_dir=trust))
    finally:
        shutil.rmtree(trust, ignore_errors=True)


def main():
    test_tpm()
    snp_fixture = load("az-snp-vtpm-evidence-v2.json")
    hcl_rd = bytes.fromhex("982F5C6E45DF0ED3F10B6F60B02F0C8390E281300F3805E2279C16168CD6AE9A"
                           "A398F647CAA2338748CD0FD9F5F819EF")
    check(len(snp_fixture["tpm_quote"]["pcrs"]) == 24, "fixture")
    # The az-snp sample's VCEK signs its SNP report: altering the VCEK breaks that.
    test_az("az_snp_vtpm", "az-snp-vtpm-evidence-v2.json", hcl_rd, "vcek")
    test_snp_trust_dir(snp_fixture, hcl_rd)
    # The az-tdx sample (version 1) was made with the nonce "challenge".
    test_az("az_tdx_vtpm", "az-tdx-vtpm-evidence-v1.json", b"challenge", "td_quote")
    print("ok: verifiers accept Trustee's samples and refuse altered copies")


if __name__ == "__main__":
    main()
