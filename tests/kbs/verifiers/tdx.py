# Verifier for Trustee's "tdx" TEE: {"cc_eventlog": base64|null, "quote": base64}.
# Parses TD quotes v4/v5 and checks the report_data binding; no signature check (below).
"""verify(evidence, report_data, ctx) for tee=tdx; quote_report_data() for tests.

What this does NOT do: verify the quote's ECDSA signature chain. A real TD quote is
signed by the Quoting Enclave's attestation key, certified by a PCK certificate whose
validity (TCB level, revocation) needs Intel PCS collateral (TCB info, QE identity,
CRLs) fetched from Intel's service; that is impossible offline in this sandbox, so
this test verifier only checks the quote's structure and that REPORTDATA equals the
runtime-data digest plus 16 zero bytes. Trustee does the full DCAP verification.
"""

import base64
import binascii
import struct

from verifiers import VerificationError

HEADER_LEN = 48
TD_REPORT_BODY_LEN = 584        # TD 1.0 report body; TD 1.5 bodies (v5 type 3) are 648
TEE_TYPE_TDX = 0x81
REPORT_DATA_IN_BODY = 520       # offset of REPORTDATA inside the body


def _b64(text, what):
    if not isinstance(text, str):
        raise VerificationError("tdx %s must be a base64 string" % what)
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise VerificationError("tdx %s is not standard base64" % what) from None
    return raw


def quote_body(quote):
    """(version, body offset) of a v4/v5 TD quote, after checking its header."""
    if len(quote) < HEADER_LEN + 6 + TD_REPORT_BODY_LEN:
        raise VerificationError("tdx quote is only %d bytes" % len(quote))
    version, _key_type, tee_type = struct.unpack_from("<HHI", quote, 0)
    if tee_type != TEE_TYPE_TDX:
        raise VerificationError("quote TEE type 0x%x is not TDX" % tee_type)
    if version == 4:
        return version, HEADER_LEN
    if version == 5:
        body_type, body_size = struct.unpack_from("<HI", quote, HEADER_LEN)
        if body_type not in (2, 3) or body_size < TD_REPORT_BODY_LEN \
                or HEADER_LEN + 6 + body_size > len(quote):
            raise VerificationError("tdx v5 quote body (type %d, %d bytes) is malformed"
                                    % (body_type, body_size))
        return version, HEADER_LEN + 6
    raise VerificationError("tdx quote version %d is not 4 or 5" % version)


def quote_report_data(quote):
    """REPORTDATA (64 bytes): offset 568 in a v4 quote, 574 in a v5 quote."""
    _, body = quote_body(quote)
    off = body + REPORT_DATA_IN_BODY
    return quote[off:off + 64]


def verify(evidence, report_data, ctx):
    if not isinstance(evidence, dict) or set(evidence) != {"cc_eventlog", "quote"}:
        raise VerificationError("tdx evidence must be {cc_eventlog, quote}")
    quote = _b64(evidence["quote"], "quote")
    version, body = quote_body(quote)
    if evidence["cc_eventlog"] is not None:
        eventlog = _b64(evidence["cc_eventlog"], "cc_eventlog")
        if len(eventlog) < 32 or struct.unpack_from("<I", eventlog, 4)[0] != 3:
            raise VerificationError("tdx cc_eventlog does not start with a spec ID event")
    expected = bytes(report_data) + bytes(64 - len(report_data))
    if quote_report_data(quote) != expected:
        raise VerificationError("tdx REPORTDATA does not match the runtime-data digest (+16 zero bytes)")
    mr = lambda i: quote[body + 136 + 48 * i: body + 184 + 48 * i].hex()  # noqa: E731
    return {
        "quote_version": version,
        "mr_td": mr(0), "mr_config_id": mr(1), "mr_owner": mr(2),
        "rtmr": [quote[body + 328 + 48 * i: body + 376 + 48 * i].hex() for i in range(4)],
        "report_data": expected.hex(),
        "cc_eventlog": evidence["cc_eventlog"] is not None,
        "signature_verified": False,
    }
