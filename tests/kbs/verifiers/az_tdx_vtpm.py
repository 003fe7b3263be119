# Verifier for Trustee's "az-tdx-vtpm" TEE (Azure TDX CVM behind the paravisor's vTPM):
# TPM quote signed by the HCL report's AK and bound to the report data; TD quote binding.
"""verify(evidence, report_data, ctx) for tee=az-tdx-vtpm (evidence versions 1 and 2).

Checks, after Trustee's deps/verifier/src/az_tdx_vtpm/mod.rs: the TPM quote verifies
with the HCL report's AK, carries the report data as extraData, and its PCR digest
matches; the TD quote (version 4 or 5) carries SHA-256 of the HCL variable data in its
report_data and its ECDSA-P256 signature verifies with the attestation key it embeds;
version 2: the HCL user-data starts with the report data. Not checked here (needs
Intel's collateral): the quoting enclave's certification chain to Intel.
Option az-simulated-paravisor=1 (swtpm tests only) skips the TD quote checks.
"""

import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from verifiers import VerificationError
from verifiers import az_snp_vtpm as _az
from verifiers import tpm as _tpm

QUOTE_HEADER_LEN = 48
TD_BODY_V4_LEN = 584


def _signed_part(quote):
    """(signed bytes, report_data, rest) of a v4 or v5 TD quote."""
    if len(quote) < QUOTE_HEADER_LEN + 6:
        raise VerificationError("td_quote too short")
    version, _, tee_type = struct.unpack_from("<HHI", quote, 0)
    if tee_type != 0x81:
        raise VerificationError("td_quote is not a TDX quote (tee type 0x%x)" % tee_type)
    if version == 4:
        end, rd_off = QUOTE_HEADER_LEN + TD_BODY_V4_LEN, 568
    elif version == 5:
        _, body_len = struct.unpack_from("<HI", quote, QUOTE_HEADER_LEN)
        end, rd_off = QUOTE_HEADER_LEN + 6 + body_len, 574
    else:
        raise VerificationError("td_quote version %d is not 4 or 5" % version)
    if len(quote) < end + 4 + 128:
        raise VerificationError("td_quote truncated")
    return quote[:end], quote[rd_off:rd_off + 64], quote[end:]


def check_td_quote(quote, var_data):
    signed, report_data, rest = _signed_part(quote)
    _az.check_var_data_hash(var_data, report_data)
    (sig_len,) = struct.unpack_from("<I", rest, 0)
    if sig_len < 128 or sig_len > len(rest) - 4:
        raise VerificationError("td_quote signature data length is wrong")
    sig, key = rest[4:68], rest[68:132]
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + key)
        public.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                           int.from_bytes(sig[32:], "big")),
                      signed, ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature):
        raise VerificationError("td_quote signature does not verify with its attestation key") from None


def verify(evidence, report_data, ctx):
    version = _az.check_version(evidence, {"version", "tpm_quote", "hcl_report", "td_quote"})
    hcl = _az.parse_hcl(_az.b64url(evidence["hcl_report"], "hcl_report"), _az.REPORT_TYPE_TDX)
    pcrs = _az.check_tpm_quote(evidence, hcl, report_data, ctx)
    td_quote = _az.b64url(evidence["td_quote"], "td_quote")
    # The TD report inside the HCL report carries the same variable-data hash.
    _az.check_var_data_hash(hcl["var_data"], hcl["hw_report"][128:192])
    if not _az.simulated(ctx):
        check_td_quote(td_quote, hcl["var_data"])
    if version >= 2:
        _az.check_user_data(hcl["var_data"], report_data)
    return {"report_data": bytes(report_data).hex(), "init_data": pcrs[8].hex(),
            "tpm": _tpm.pcr_claims(pcrs), "hardware_checked": not _az.simulated(ctx)}
