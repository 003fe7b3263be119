# Verifier for Trustee's "sample" TEE: evidence {"svn": str, "report_data": base64 of
# the 48-byte runtime-data digest[, "init_data": base64]}. No hardware root of trust.
"""verify(evidence, report_data, ctx) for tee=sample."""

import base64
import binascii

from verifiers import VerificationError


def verify(evidence, report_data, ctx):
    if not isinstance(evidence, dict):
        raise VerificationError("sample evidence is not a JSON object")
    if set(evidence) - {"init_data"} != {"svn", "report_data"}:
        raise VerificationError("sample evidence must have exactly svn and report_data "
                                "(and init_data), got %s" % sorted(evidence))
    if not isinstance(evidence["svn"], str) or not isinstance(evidence["report_data"], str):
        raise VerificationError("sample evidence svn and report_data must be strings")
    bound = _b64(evidence["report_data"], "report_data")
    if len(bound) != 48:
        raise VerificationError("sample report_data is %d bytes, want 48" % len(bound))
    if bound != report_data:
        raise VerificationError("sample report_data does not match the runtime-data digest")
    min_svn = ctx.options.get("sample_min_svn") if ctx is not None else None
    if min_svn is not None and (not evidence["svn"].isdigit() or int(evidence["svn"]) < int(min_svn)):
        raise VerificationError("sample svn %r below minimum %s" % (evidence["svn"], min_svn))
    claims = {"svn": evidence["svn"], "report_data": report_data.hex()}
    if "init_data" in evidence:  # the emulated launch field: base64 of the init-data digest
        claims["init_data"] = _b64(evidence["init_data"], "init_data").hex()
    return claims


def _b64(text, what):
    if not isinstance(text, str):
        raise VerificationError("sample %s must be a string" % what)
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise VerificationError("sample %s is not standard base64" % what) from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerificationError("sample %s is not canonical padded base64" % what)
    return raw
