#!/usr/bin/python3
"""The "tpm" backend against swtpm: evidence through the CLI and the test driver,
checked independently with tpm2_checkquote and the test KBS verifier; missing AK;
short report data; PCR values follow the TPM. usage: test_tpm_evidence.py TPM_DRIVER"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tpm_swtpm import (FIXTURES, Swtpm, check, run_driver, tpm2_checkquote,  # noqa: E402
                       verifier_module)

from cryptography.hazmat.primitives import serialization  # noqa: E402

AK = 0x81010002


def cli_evidence(tmp, tcti, report_data_hex):
    conf = os.path.join(tmp, "cvmboot.conf")
    with open(conf, "w") as f:
        f.write("[tee]\ntpm_tcti = %s\n" % tcti)
    cmdline = os.path.join(tmp, "cmdline")
    open(cmdline, "w").close()
    r = subprocess.run([os.environ["CVMBOOT_BIN"], "--config", conf, "--cmdline", cmdline,
                        "evidence", "--tee", "tpm", "--report-data", report_data_hex],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "cvmboot evidence failed: %s" % r.stderr)
    return json.loads(r.stdout)


def decode(ev):
    check(set(ev) == {"tpm_quote", "ak_public"}, "evidence keys: %s" % sorted(ev))
    q = ev["tpm_quote"]
    check(set(q) == {"signature", "message", "pcrs"}, "tpm_quote keys: %s" % sorted(q))
    check(len(q["pcrs"]) == 24, "24 PCRs expected")
    for p in q["pcrs"]:
        check(len(p) == 64 and p == p.lower() and all(c in "0123456789abcdef" for c in p),
              "PCR not 64 lowercase hex: %r" % p)
    b64 = lambda s: base64.b64decode(s, validate=True)  # noqa: E731
    sig = b64(q["signature"])
    check(sig[:4] == bytes.fromhex("0014000b"), "signature is not a TPMT_SIGNATURE RSASSA-SHA256")
    return b64(q["message"]), sig, [bytes.fromhex(p) for p in q["pcrs"]], b64(ev["ak_public"])


def check_like_fixture(ev):
    """Same members and encodings as Trustee's tpm sample (values differ)."""
    with open(os.path.join(FIXTURES, "tpm-evidence.json")) as f:
        fixture = json.load(f)
    check(set(ev) == set(fixture) and set(ev["tpm_quote"]) == set(fixture["tpm_quote"]),
          "members differ from Trustee's sample")
    for e in (ev, fixture):
        for text in (e["ak_public"], e["tpm_quote"]["signature"], e["tpm_quote"]["message"]):
            check(len(text) % 4 == 0 and base64.b64encode(base64.b64decode(text)).decode() == text,
                  "not padded standard base64: %.20s..." % text)
        check(base64.b64decode(e["tpm_quote"]["signature"])[:6] ==
              bytes.fromhex("0014000b0100"), "signature is not TPMT_SIGNATURE RSASSA-SHA256/2048")
        check(base64.b64decode(e["tpm_quote"]["message"])[:6] == bytes.fromhex("ff5443478018"),
              "message is not a TPMS_ATTEST quote")


def check_against_tools(tmp, ev, ak_pem, nonce):
    message, sig, pcrs, ak_der = decode(ev)
    with open(ak_pem, "rb") as f:
        tools_ak = serialization.load_pem_public_key(f.read())
    check(tools_ak.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo) == ak_der,
          "ak_public differs from the AK tpm2_createak made")
    check(tpm2_checkquote(tmp, ak_pem, message, sig, pcrs, nonce.hex()) == 0,
          "tpm2_checkquote refused the quote")
    wrong = bytes([nonce[0] ^ 1]) + nonce[1:]
    check(tpm2_checkquote(tmp, ak_pem, message, sig, pcrs, wrong.hex()) != 0,
          "tpm2_checkquote accepted a wrong nonce")
    bad_pcrs = list(pcrs)
    bad_pcrs[7] = bytes(31) + b"\x01"
    check(tpm2_checkquote(tmp, ak_pem, message, sig, bad_pcrs, nonce.hex()) != 0,
          "tpm2_checkquote accepted altered PCR values")


def main():
    driver = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="cvmboot-tpm.")
    tpm = Swtpm(tmp)
    try:
        ak_pem = tpm.provision_ak(AK)
        opts = ["--tcti", tpm.tcti]
        rc, out, _ = run_driver(driver, "tpm", "detect", options=opts)
        check(rc == 0 and out.startswith("yes"), "tpm not detected: %s" % out)

        # 1. The CLI, report data = a 48-byte digest: nonce = its first 32 bytes.
        rd = os.urandom(48)
        ev = cli_evidence(tmp, tpm.tcti, rd.hex())
        check_like_fixture(ev)
        check_against_tools(tmp, ev, ak_pem, rd[:32])
        detect = subprocess.run([os.environ["CVMBOOT_BIN"], "--config",
                                 os.path.join(tmp, "cvmboot.conf"), "--cmdline",
                                 os.path.join(tmp, "cmdline"), "detect"],
                                capture_output=True, text=True, timeout=60)
        check(detect.returncode == 0 and "selected: tpm" in detect.stdout,
              "cvmboot detect: %s %s" % (detect.stdout, detect.stderr))
        verifier = verifier_module("tpm")
        claims = verifier.verify(ev, rd, None)
        check(claims["report_data"] == rd[:32].hex(), "verifier claims: %r" % claims)
        try:
            verifier.verify(ev, os.urandom(48), None)
            check(False, "the tpm verifier accepted other report data")
        except verifier.VerificationError:
            pass

        # 2. Short report data is zero padded to 32 bytes (guest-components' rule).
        rc, out, err = run_driver(driver, "tpm", "evidence", "0102", opts)
        check(rc == 0, "driver evidence failed: %s" % err)
        check_against_tools(tmp, json.loads(out), ak_pem, b"\x01\x02" + bytes(30))

        # 3. PCR values are the TPM's: extend PCR 10 and look again.
        tpm.tool("tpm2_pcrextend", "10:sha256=" + "ab" * 32)
        rc, out, err = run_driver(driver, "tpm", "evidence", rd.hex(), opts)
        check(rc == 0, "driver evidence failed: %s" % err)
        ev2 = json.loads(out)
        check(ev2["tpm_quote"]["pcrs"][10] == tpm.pcr(10) != "00" * 32,
              "PCR10 in the evidence is not what tpm2_pcrread says")
        check_against_tools(tmp, ev2, ak_pem, rd[:32])

        # 4. No AK at the handle: a clear error, exit code 4 (tee).
        rc, _, err = run_driver(driver, "tpm", "evidence", rd.hex(), opts + ["--ak-handle", "0x81010009"])
        check(rc == 4 and "no AK at persistent handle 0x81010009" in err,
              "missing AK: rc=%d %s" % (rc, err))
        # 5. An ECC key at the handle is not an AK this format can carry.
        ek = os.path.join(tmp, "ek.ctx")
        ecc = os.path.join(tmp, "ak-ecc.ctx")
        tpm.tool("tpm2_createak", "-C", ek, "-c", ecc, "-G", "ecc", "-g", "sha256", "-s", "ecdsa")
        subprocess.run(["tpm2_flushcontext", "-s"], env=tpm.env(), capture_output=True)
        tpm.tool("tpm2_evictcontrol", "-C", "o", "-c", ecc, "0x81010005")
        rc, _, err = run_driver(driver, "tpm", "evidence", rd.hex(), opts + ["--ak-handle", "0x81010005"])
        check(rc == 4 and "not an RSA signing key" in err, "ECC AK: rc=%d %s" % (rc, err))
        # 6. No TPM at the TCTI: an error, not a hang or crash.
        rc, _, err = run_driver(driver, "tpm", "evidence", rd.hex(),
                                ["--tcti", "swtpm:host=127.0.0.1,port=1"])
        check(rc == 4 and "TPM" in err, "unreachable TPM: rc=%d %s" % (rc, err))
        print("ok: tpm evidence verified by tpm2_checkquote and the tpm verifier")
    finally:
        tpm.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
