# Verifier for Trustee's "tpm" TEE: a TPM2_Quote over the 24 SHA-256 PCRs signed by an
# RSA AK (RSASSA-SHA256), nonce = the runtime-data digest cut to 32 bytes.
"""verify(evidence, report_data, ctx) for tee=tpm, plus TPM structure parsers shared
with the az-snp-vtpm and az-tdx-vtpm verifiers (parse_attest, check_quote, ...).

Checks: the AK signature over the TPMS_ATTEST message, its magic and type, extraData ==
report_data[:32] (zero padded), the quoted PCR selection is sha256:0-23 and its digest is
SHA-256 of the 24 PCR values sent. Trust in the AK: if ctx.trust_dir holds tpm-ak*.pem
files, ak_public must be one of them; otherwise it is taken as is (like Trustee's TPM
verifier). Options (ctx.options): expect-pcrN=HEX refuses a quote whose PCR N differs;
reference-values=FILE (JSON in the shape of Trustee's reference value provider, as
`cvmboot reference-values` prints it) refuses a quote whose PCR N is not one of the
values listed under tpm_pcrN, naming every such PCR.
"""

import base64
import binascii
import glob
import hashlib
import json
import os
import re
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from verifiers import VerificationError

TPM_GENERATED = 0xFF544347
TPM_ST_ATTEST_QUOTE = 0x8018
TPM_ALG_RSASSA = 0x0014
TPM_ALG_SHA256 = 0x000B
NUM_PCRS = 24
REPORT_DATA_SIZE = 32


class _Reader:
    def __init__(self, data, what):
        self.data, self.off, self.what = data, 0, what

    def take(self, n):
        if self.off + n > len(self.data):
            raise VerificationError("%s is truncated" % self.what)
        out = self.data[self.off:self.off + n]
        self.off += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def tpm2b(self):
        return self.take(self.u16())

    def end(self):
        if self.off != len(self.data):
            raise VerificationError("%s has %d trailing bytes" % (self.what, len(self.data) - self.off))


def parse_attest(message):
    """TPMS_ATTEST of a quote -> dict(extra_data, selection=[(hash, {pcr,...})], pcr_digest)."""
    r = _Reader(message, "TPMS_ATTEST")
    if r.u32() != TPM_GENERATED:
        raise VerificationError("quote message is not TPM-generated (magic)")
    if r.u16() != TPM_ST_ATTEST_QUOTE:
        raise VerificationError("quote message is not a quote (type)")
    r.tpm2b()                      # qualifiedSigner
    extra = r.tpm2b()              # extraData
    r.take(8 + 4 + 4 + 1)          # clockInfo
    r.take(8)                      # firmwareVersion
    selection = []
    for _ in range(r.u32()):
        alg, size = r.u16(), r.u8()
        bits = r.take(size)
        selection.append((alg, {i for i in range(8 * size) if bits[i // 8] & (1 << (i % 8))}))
    digest = r.tpm2b()
    r.end()
    return {"extra_data": extra, "selection": selection, "pcr_digest": digest}


def parse_rsassa_signature(sig):
    """Marshalled TPMT_SIGNATURE (RSASSA-SHA256) -> raw signature bytes."""
    r = _Reader(sig, "TPMT_SIGNATURE")
    alg, hash_alg = r.u16(), r.u16()
    if alg != TPM_ALG_RSASSA or hash_alg != TPM_ALG_SHA256:
        raise VerificationError("quote signature is not RSASSA-SHA256 (alg 0x%04x hash 0x%04x)"
                                % (alg, hash_alg))
    raw = r.tpm2b()
    r.end()
    return raw


def check_signature(public_key, message, raw_sig):
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise VerificationError("the AK is not an RSA key")
    try:
        public_key.verify(raw_sig, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise VerificationError("the quote signature does not verify with the AK") from None


def parse_pcrs(pcrs, decode):
    """24 PCR values (strings, decoded by decode()) -> list of 24 32-byte values."""
    if not isinstance(pcrs, list) or len(pcrs) != NUM_PCRS:
        raise VerificationError("pcrs must be an array of %d values" % NUM_PCRS)
    out = []
    for i, p in enumerate(pcrs):
        value = decode(p, "pcrs[%d]" % i)
        if len(value) != 32:
            raise VerificationError("pcrs[%d] is not 32 bytes" % i)
        out.append(value)
    return out


def check_quote(attest, pcrs, expected_nonce):
    """Nonce, PCR selection sha256:0-23 and the PCR digest."""
    if attest["extra_data"] != expected_nonce:
        raise VerificationError("quote nonce (extraData %s) does not match the report data %s"
                                % (attest["extra_data"].hex(), expected_nonce.hex()))
    if attest["selection"] != [(TPM_ALG_SHA256, set(range(NUM_PCRS)))]:
        raise VerificationError("quote does not select exactly sha256:0-23")
    if attest["pcr_digest"] != hashlib.sha256(b"".join(pcrs)).digest():
        raise VerificationError("PCR values do not match the digest in the quote")


def check_expected_pcrs(pcrs, ctx):
    options = getattr(ctx, "options", None) or {}
    for key, value in options.items():
        if key.startswith("expect-pcr"):
            index = int(key[len("expect-pcr"):])
            if pcrs[index].hex() != value.lower():
                raise VerificationError("PCR%d is %s, policy expects %s"
                                        % (index, pcrs[index].hex(), value.lower()))


def load_reference_values(path, prefix):
    """{pcr index: set of allowed lowercase hex values} of the PREFIX_pcrN names in FILE."""
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
    except (OSError, ValueError) as exc:
        raise VerificationError("reference values %s unreadable: %s" % (path, exc)) from None
    if not isinstance(values, dict):
        raise VerificationError("reference values %s: not a JSON object" % path)
    out = {}
    for name, listed in values.items():
        m = re.fullmatch(re.escape(prefix) + r"_pcr([0-9]{1,2})", name)
        if not m:
            continue
        if (int(m.group(1)) >= NUM_PCRS or not isinstance(listed, list)
                or not all(isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{64}", v)
                           for v in listed)):
            raise VerificationError("reference values %s: %s is not a list of SHA-256 "
                                    "hex values of a PCR" % (path, name))
        out[int(m.group(1))] = {v.lower() for v in listed}
    if not out:
        raise VerificationError("reference values %s name no %s_pcrN" % (path, prefix))
    return out


def check_reference_values(pcrs, ctx, prefix="tpm"):
    """Every PCR named in the reference-values file must hold one of its values."""
    path = (getattr(ctx, "options", None) or {}).get("reference-values")
    if not path:
        return
    wrong = ["PCR%d is %s, reference value %s_pcr%d is %s"
             % (i, pcrs[i].hex(), prefix, i, " or ".join(sorted(allowed)))
             for i, allowed in sorted(load_reference_values(path, prefix).items())
             if pcrs[i].hex() not in allowed]
    if wrong:
        raise VerificationError("; ".join(wrong))


def pcr_claims(pcrs):
    return {"pcr%02d" % i: p.hex() for i, p in enumerate(pcrs)}


def b64_std(value, what):
    if not isinstance(value, str):
        raise VerificationError("%s must be a base64 string" % what)
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise VerificationError("%s is not valid base64" % what) from None


def hex_bytes(value, what):
    if not isinstance(value, str):
        raise VerificationError("%s must be a hex string" % what)
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise VerificationError("%s is not valid hex" % what) from None


def _check_trusted_ak(ak_der, ctx):
    trust_dir = getattr(ctx, "trust_dir", None)
    files = sorted(glob.glob(os.path.join(trust_dir, "tpm-ak*.pem"))) if trust_dir else []
    if not files:
        return
    for name in files:
        with open(name, "rb") as f:
            key = serialization.load_pem_public_key(f.read())
        if key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo) == ak_der:
            return
    raise VerificationError("the AK is not one of the trusted tpm-ak*.pem keys")


def verify(evidence, report_data, ctx):
    if not isinstance(evidence, dict) or set(evidence) != {"tpm_quote", "ak_public"}:
        raise VerificationError("tpm evidence must be an object with tpm_quote and ak_public")
    quote = evidence["tpm_quote"]
    if not isinstance(quote, dict) or set(quote) != {"signature", "message", "pcrs"}:
        raise VerificationError("tpm_quote must have signature, message and pcrs")
    ak_der = b64_std(evidence["ak_public"], "ak_public")
    try:
        ak = serialization.load_der_public_key(ak_der)
    except ValueError:
        raise VerificationError("ak_public is not a DER SubjectPublicKeyInfo") from None
    _check_trusted_ak(ak_der, ctx)
    message = b64_std(quote["message"], "tpm_quote.message")
    raw_sig = parse_rsassa_signature(b64_std(quote["signature"], "tpm_quote.signature"))
    check_signature(ak, message, raw_sig)
    attest = parse_attest(message)
    pcrs = parse_pcrs(quote["pcrs"], hex_bytes)
    nonce = bytes(report_data[:REPORT_DATA_SIZE]).ljust(REPORT_DATA_SIZE, b"\0")
    check_quote(attest, pcrs, nonce)
    check_expected_pcrs(pcrs, ctx)
    check_reference_values(pcrs, ctx)
    return {"report_data": attest["extra_data"].hex(), "init_data": pcrs[8].hex(),
            "ak_public": evidence["ak_public"], "pcrs": pcr_claims(pcrs)}
