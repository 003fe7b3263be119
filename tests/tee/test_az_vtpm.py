#!/usr/bin/python3
"""The az-snp-vtpm / az-tdx-vtpm backends against swtpm behind a simulated paravisor
(az_sim.ParavisorSim) and a stub metadata service: detection, evidence structure and
encodings equal to Trustee's fixtures, the fresh HCL report, the VCEK / TD quote from
the metadata service, the test KBS verifier, and the failure paths.
usage: test_az_vtpm.py TPM_DRIVER snp|tdx"""
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from az_sim import (HCL_NV, HCL_NV_SIZE, REPORT_TYPE_SNP, REPORT_TYPE_TDX,  # noqa: E402
                    ImdsStub, ParavisorSim, build_hcl)
from tpm_swtpm import FIXTURES, Swtpm, check, run_driver, verifier_module  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

AZ_AK = 0x81000003
B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def padded_b64url(s):
    """The encoding guest-components (serde_with Base64<UrlSafe>) writes."""
    return isinstance(s, str) and len(s) % 4 == 0 and set(s) <= B64URL


def lower_hex(s, length=None):
    return (isinstance(s, str) and s == s.lower() and len(s) % 2 == 0
            and all(c in "0123456789abcdef" for c in s) and (length is None or len(s) == length))


def load_fixture(kind):
    name = "az-snp-vtpm-evidence-v2.json" if kind == "snp" else "az-tdx-vtpm-evidence-v1.json"
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def check_structure(ev, fixture, extra_key):
    """Same keys, types and encodings as Trustee's sample (values differ)."""
    check(list(ev) == list(fixture), "keys %s, fixture has %s" % (list(ev), list(fixture)))
    check(ev["version"] == 2 and isinstance(fixture["version"], int), "version %r" % ev["version"])
    for e in (ev, fixture):
        q = e["tpm_quote"]
        check(list(q) == ["signature", "message", "pcrs"], "tpm_quote keys %s" % list(q))
        check(lower_hex(q["signature"], 512), "signature is not 256 bytes of lowercase hex")
        check(lower_hex(q["message"]), "message is not lowercase hex")
        check(len(q["pcrs"]) == 24 and all(lower_hex(p, 64) for p in q["pcrs"]),
              "pcrs are not 24 x 32 bytes of lowercase hex")
        for key in ("hcl_report", extra_key):
            check(padded_b64url(e[key]), "%s is not padded base64url" % key)


def provision(tmp, kind, tpm=None):
    """swtpm with the paravisor's AK and HCL report, the simulated paravisor in front
    of it, and the stub metadata service. -> (tpm, sim, imds, fixture)"""
    tpm = tpm or Swtpm(tmp)
    ak_pem = tpm.provision_ak(AZ_AK)
    with open(ak_pem, "rb") as f:
        ak = serialization.load_pem_public_key(f.read()).public_numbers()
    fixture = load_fixture(kind)
    if kind == "snp":
        with open(os.path.join(FIXTURES, "az-snp-hcl-report.bin"), "rb") as f:
            template, rtype = f.read()[32:32 + 1184], REPORT_TYPE_SNP
    else:
        template, rtype = b64url_decode(fixture["hcl_report"])[32:32 + 1024], REPORT_TYPE_TDX
    initial = os.path.join(tmp, "hcl0.bin")
    with open(initial, "wb") as f:
        f.write(build_hcl(rtype, template, ak.n, ak.e, b""))
    tpm.tool("tpm2_nvdefine", hex(HCL_NV), "-C", "o", "-s", str(HCL_NV_SIZE),
             "-a", "ownerread|ownerwrite")
    tpm.tool("tpm2_nvwrite", hex(HCL_NV), "-C", "o", "-i", initial)
    sim = ParavisorSim(tpm.port, rtype, template, ak)
    if kind == "snp":
        vcek = x509.load_der_x509_certificate(b64url_decode(fixture["vcek"]))
        imds = ImdsStub(vcek_pem=vcek.public_bytes(serialization.Encoding.PEM).decode())
    else:
        imds = ImdsStub(td_quote=b64url_decode(fixture["td_quote"]))
    return tpm, sim, imds, fixture


def check_verifier(kind, ev, rd):
    verifier = verifier_module("az_snp_vtpm" if kind == "snp" else "az_tdx_vtpm")
    ctx_cls = sys.modules["verifiers"].VerifierContext
    sim_ctx = ctx_cls(options={"az-simulated-paravisor": "1"})
    claims = verifier.verify(ev, rd, sim_ctx)
    check(claims["report_data"] == rd.hex(), "claims %r" % claims)
    for ctx, what in ((sim_ctx, "other report data"), (ctx_cls(), "a simulated report")):
        try:
            verifier.verify(ev, os.urandom(48) if ctx is sim_ctx else rd, ctx)
            check(False, "the verifier accepted %s" % what)
        except verifier.VerificationError:
            pass


def check_cli_detect(tmp, tcti, tee):
    """`cvmboot detect` with [tee] type = auto picks the Azure backend first."""
    conf = os.path.join(tmp, "detect.conf")
    with open(conf, "w") as f:
        f.write("[tee]\ntpm_tcti = %s\n" % tcti)
    r = subprocess.run([os.environ["CVMBOOT_BIN"], "--config", conf, "--cmdline", "/dev/null",
                        "detect"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "selected: %s\n" % tee in r.stdout,
          "cvmboot detect: %s %s" % (r.stdout, r.stderr))


def check_hostile_reports(driver, tee, tpm, sim, imds, tmp):
    """Malformed HCL reports in NV: clear errors (exit 4), no crash, no evidence."""
    good = bytearray(sim.hcl(b""))
    bad_signature = b"XXXX" + bytes(good[4:])
    huge_var = bytearray(good)
    struct.pack_into("<I", huge_var, 32 + 1184 + 16, 0xFFFFFF00)
    odd_type = bytearray(good)
    struct.pack_into("<I", odd_type, 32 + 1184 + 8, 7)
    path = os.path.join(tmp, "hostile.bin")
    for report, words in ((bad_signature, "not an HCL report"),
                          (huge_var, "overruns"), (odd_type, "unknown report type 7")):
        with open(path, "wb") as f:
            f.write(bytes(report))
        tpm.tool("tpm2_nvwrite", hex(HCL_NV), "-C", "o", "-i", path)
        rc, out, _ = run_driver(driver, tee, "detect", options=["--tcti", tpm.tcti])
        check(rc == 1 and words in out, "detect on a bad report: rc=%d %s" % (rc, out))
        rc, _, err = run_driver(driver, tee, "evidence", "22" * 48,
                                ["--tcti", tpm.tcti, "--imds", imds.url])
        check(rc == 4 and words in err, "evidence on a bad report: rc=%d %s" % (rc, err))


def main():
    driver, kind = sys.argv[1], sys.argv[2]
    tee, other = ("az-snp-vtpm", "az-tdx-vtpm") if kind == "snp" else ("az-tdx-vtpm", "az-snp-vtpm")
    extra_key = "vcek" if kind == "snp" else "td_quote"
    tmp = tempfile.mkdtemp(prefix="cvmboot-az.")
    tpm, sim, imds, fixture = provision(tmp, kind)
    try:
        opts = ["--tcti", sim.tcti, "--imds", imds.url]
        rc, out, _ = run_driver(driver, tee, "detect", options=opts)
        check(rc == 0 and out.startswith("yes"), "%s not detected: %s" % (tee, out))
        rc, out, _ = run_driver(driver, other, "detect", options=opts)
        check(rc == 1 and "not" in out, "%s detected on a %s report: %s" % (other, kind, out))

        check_cli_detect(tmp, sim.tcti, tee)

        rd = os.urandom(48)
        rc, out, err = run_driver(driver, tee, "evidence", rd.hex(), opts)
        check(rc == 0, "evidence failed: %s" % err)
        ev = json.loads(out)
        check_structure(ev, fixture, extra_key)
        check(b64url_decode(ev["hcl_report"]) == sim.hcl(rd),
              "hcl_report is not the report the paravisor made for this report data")
        check(ev["tpm_quote"]["pcrs"][0] == tpm.pcr(0), "PCR0 differs from tpm2_pcrread")
        check(b64url_decode(ev[extra_key]) == b64url_decode(fixture[extra_key]),
              "%s is not what the metadata service gave" % extra_key)
        if kind == "tdx":
            posts = [r for r in imds.requests if r[0] == "POST"]
            check(len(posts) == 1 and posts[0][1] == "/acc/tdquote" and posts[0][2] == "true",
                  "TD quote request: %r" % imds.requests)
            sent = json.loads(posts[0][3])["report"]
            check(set(sent) <= B64URL - {"="}, "report not unpadded base64url (as az-tdx-vtpm sends)")
            check(b64url_decode(sent) == sim.hcl(rd)[32:32 + 1024],
                  "the TD report sent is not the one in the HCL report")
        else:
            check(imds.requests and imds.requests[-1][:3] ==
                  ("GET", "/metadata/THIM/amd/certification", "true"), "%r" % imds.requests)
        check_verifier(kind, ev, rd)

        # A PCR moving between the quote and the PCR read: quoted again, consistent.
        sim.extend_after_quote = 1
        rc, out, err = run_driver(driver, tee, "evidence", rd.hex(), opts)
        check(rc == 0 and sim.extend_after_quote == 0, "racing PCR: rc=%d %s" % (rc, err))
        raced = json.loads(out)
        check(raced["tpm_quote"]["pcrs"][16] == tpm.pcr(16) != "00" * 32, "PCR16 not current")
        check_verifier(kind, raced, rd)
        sim.extend_after_quote = 100
        rc, _, err = run_driver(driver, tee, "evidence", rd.hex(), opts)
        sim.extend_after_quote = 0
        check(rc == 4 and "PCRs kept changing" in err, "PCRs always moving: rc=%d %s" % (rc, err))

        # Metadata service unreachable: exit code 4 naming it.
        rc, _, err = run_driver(driver, tee, "evidence", rd.hex(),
                                ["--tcti", sim.tcti, "--imds", "http://127.0.0.1:1"])
        check(rc == 4 and "metadata service" in err, "no IMDS: rc=%d %s" % (rc, err))
        # No paravisor refreshing the report (swtpm directly): refused after the wait.
        rc, _, err = run_driver(driver, tee, "evidence", os.urandom(48).hex(),
                                ["--tcti", tpm.tcti, "--imds", imds.url])
        check(rc == 4 and "did not pick up the report data" in err, "stale: rc=%d %s" % (rc, err))
        check_hostile_reports(driver, tee, tpm, sim, imds, tmp)
        print("ok: %s evidence has Trustee's structure and passes the verifier" % tee)
    finally:
        sim.stop()
        imds.stop()
        tpm.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
