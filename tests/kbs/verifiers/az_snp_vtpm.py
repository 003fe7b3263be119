# Verifier for Trustee's "az-snp-vtpm" TEE (Azure SEV-SNP CVM behind the paravisor's
# vTPM): TPM quote signed by the AK published in the HCL report, bound to the report data.
"""verify(evidence, report_data, ctx) for tee=az-snp-vtpm (evidence versions 1 and 2),
plus the HCL report helpers shared with az_tdx_vtpm.

Checks, in the order of Trustee's deps/verifier/src/az_snp_vtpm/mod.rs:
 1. the TPM quote verifies with the AK ("HCLAkPub" JWK) in the HCL variable data;
 2. its extraData equals the report data (the whole 48-byte digest);
 3. SHA-256 of the 24 PCR values equals the quote's PCR digest;
 4. SHA-256 of the HCL variable data equals report_data[0:32] of the SNP report;
 5. version 2: the variable data's "user-data" (hex) starts with the report data;
 6. the SNP report is signed by the VCEK of the evidence, which chains to a certificate
    of ctx.trust_dir when that holds any (snp verifier's rules), and was made at VMPL 0.
Option az-simulated-paravisor=1 (tests on swtpm only) skips the hardware signature of
step 6: a simulated paravisor cannot produce an AMD-signed report for its own AK.
Option expect-pcrN=HEX refuses a quote whose PCR N differs. (Trustee also matches the
VCEK's TCB and chip-id extensions; this test verifier does not.)
"""

import base64
import binascii
import hashlib
import json
import struct

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from verifiers import VerificationError
from verifiers import snp as _snp
from verifiers import tpm as _tpm

HCL_SIGNATURE = b"HCLA"
HCL_HEADER_LEN = 32
HW_SLOT_LEN = 1184
HCL_FIXED_LEN = HCL_HEADER_LEN + HW_SLOT_LEN + 20
REPORT_TYPE_SNP, REPORT_TYPE_TDX = 2, 4
HW_REPORT_LEN = {REPORT_TYPE_SNP: 1184, REPORT_TYPE_TDX: 1024}
HASH_TYPE_SHA256 = 1
SIMULATED = "az-simulated-paravisor"


def b64url(value, what):
    """base64url, padded or not (guest-components pads)."""
    if not isinstance(value, str):
        raise VerificationError("%s must be a base64url string" % what)
    stripped = value.rstrip("=")
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
           for c in stripped):
        raise VerificationError("%s is not base64url" % what)
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except binascii.Error:
        raise VerificationError("%s is not valid base64url" % what) from None


def parse_hcl(hcl, want_type):
    """-> dict(hw_report, var_data) of an HCL report of want_type."""
    if len(hcl) < HCL_FIXED_LEN:
        raise VerificationError("HCL report too short (%d bytes)" % len(hcl))
    if hcl[:4] != HCL_SIGNATURE:
        raise VerificationError("not an HCL report (signature)")
    _, _, report_type, hash_type, var_len = struct.unpack_from("<5I", hcl, HCL_HEADER_LEN + HW_SLOT_LEN)
    if report_type != want_type:
        raise VerificationError("HCL report type %d, expected %d" % (report_type, want_type))
    if hash_type != HASH_TYPE_SHA256:
        raise VerificationError("HCL report data hash type %d is not SHA-256" % hash_type)
    if var_len > len(hcl) - HCL_FIXED_LEN:
        raise VerificationError("HCL variable data overruns the report")
    return {"hw_report": hcl[HCL_HEADER_LEN:HCL_HEADER_LEN + HW_REPORT_LEN[report_type]],
            "var_data": hcl[HCL_FIXED_LEN:HCL_FIXED_LEN + var_len]}


def _var_json(var_data):
    try:
        obj = json.loads(var_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise VerificationError("HCL variable data is not JSON") from None
    if not isinstance(obj, dict):
        raise VerificationError("HCL variable data is not a JSON object")
    return obj


def hcl_ak(var_data):
    """The RSA AK the paravisor publishes as JWK "HCLAkPub" in the variable data."""
    keys = _var_json(var_data).get("keys")
    if not isinstance(keys, list):
        raise VerificationError("HCL variable data has no keys")
    for key in keys:
        if isinstance(key, dict) and key.get("kid") == "HCLAkPub":
            if key.get("kty") != "RSA":
                raise VerificationError("HCLAkPub is not an RSA key")
            n = int.from_bytes(b64url(key.get("n"), "HCLAkPub.n"), "big")
            e = int.from_bytes(b64url(key.get("e"), "HCLAkPub.e"), "big")
            try:
                return rsa.RSAPublicNumbers(e, n).public_key()
            except ValueError:
                raise VerificationError("HCLAkPub is not a valid RSA key") from None
    raise VerificationError("HCL variable data has no HCLAkPub key")


def check_user_data(var_data, report_data):
    user = _var_json(var_data).get("user-data")
    if not isinstance(user, str):
        raise VerificationError("HCL variable data has no user-data")
    user = _tpm.hex_bytes(user, "user-data")
    if user[:len(report_data)] != bytes(report_data):
        raise VerificationError("HCL user-data does not carry the report data")


def check_var_data_hash(var_data, hw_report_data):
    if hashlib.sha256(var_data).digest() != hw_report_data[:32]:
        raise VerificationError("hardware report_data is not SHA-256 of the HCL variable data")


def check_tpm_quote(evidence, hcl, report_data, ctx):
    """Steps 1-3; returns the 24 PCR values."""
    quote = evidence.get("tpm_quote")
    if not isinstance(quote, dict) or set(quote) != {"signature", "message", "pcrs"}:
        raise VerificationError("tpm_quote must have signature, message and pcrs")
    message = _tpm.hex_bytes(quote["message"], "tpm_quote.message")
    signature = _tpm.hex_bytes(quote["signature"], "tpm_quote.signature")
    _tpm.check_signature(hcl_ak(hcl["var_data"]), message, signature)
    attest = _tpm.parse_attest(message)
    pcrs = _tpm.parse_pcrs(quote["pcrs"], _tpm.hex_bytes)
    _tpm.check_quote(attest, pcrs, bytes(report_data))
    _tpm.check_expected_pcrs(pcrs, ctx)
    # Trustee's names: snp_pcrN for az-snp-vtpm, tdx_pcrN for az-tdx-vtpm
    _tpm.check_reference_values(pcrs, ctx, "tdx" if ctx.tee == "az-tdx-vtpm" else "snp")
    return pcrs


def check_version(evidence, keys):
    if not isinstance(evidence, dict) or set(evidence) != keys:
        raise VerificationError("evidence must have exactly %s" % ", ".join(sorted(keys)))
    version = evidence["version"]
    if version not in (1, 2) or isinstance(version, bool):
        raise VerificationError("unsupported evidence version %r" % (version,))
    return version


def simulated(ctx):
    return (getattr(ctx, "options", None) or {}).get(SIMULATED) in ("1", "true", "yes")


def _check_snp_report(report, vcek_der, ctx):
    try:
        vcek = x509.load_der_x509_certificate(vcek_der)
    except ValueError:
        raise VerificationError("vcek is not a DER certificate") from None
    _snp.verify_report_signature(report, vcek.public_key())
    trusted = _snp._trusted_certs(getattr(ctx, "trust_dir", None))
    if trusted:
        _snp._chain_to_trust(vcek, [], trusted)


def verify(evidence, report_data, ctx):
    version = check_version(evidence, {"version", "tpm_quote", "hcl_report", "vcek"})
    hcl = parse_hcl(b64url(evidence["hcl_report"], "hcl_report"), REPORT_TYPE_SNP)
    pcrs = check_tpm_quote(evidence, hcl, report_data, ctx)
    report = hcl["hw_report"]
    check_var_data_hash(hcl["var_data"], report[0x50:0x90])
    if version >= 2:
        check_user_data(hcl["var_data"], report_data)
    vcek_der = b64url(evidence["vcek"], "vcek")
    if not simulated(ctx):
        _check_snp_report(report, vcek_der, ctx)
    if struct.unpack_from("<I", report, 0x30)[0] != 0:
        raise VerificationError("the SNP report was not made at VMPL 0")
    return {"report_data": bytes(report_data).hex(), "measurement": report[0x90:0xC0].hex(),
            "init_data": pcrs[8].hex(), "tpm": _tpm.pcr_claims(pcrs),
            "hardware_checked": not simulated(ctx)}
