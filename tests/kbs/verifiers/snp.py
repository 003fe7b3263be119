# Verifier for Trustee's "snp" TEE: rebuilds the 1184-byte SEV-SNP report from the
# serde JSON form (virtee/sev AttestationReport), checks its ECDSA P-384 signature with
# the VCEK, the VCEK's chain to a trusted certificate, and the report_data binding.
"""verify(evidence, report_data, ctx) for tee=snp; report_to_bytes() for tests.

Trust: when ctx.trust_dir holds certificates (*.pem, *.der, *.crt), the VCEK (from the
evidence's cert_chain, or else a VCEK certificate found in trust_dir itself) must be
one of them or chain to one of them, through an ASK/ARK of the cert_chain if needed.
Without trusted certificates the VCEK from the evidence is taken as is (tests only).
Like Trustee, reports older than version 3 are refused (no CPUID fields).
"""

import os

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from verifiers import VerificationError

REPORT_SIZE = 1184
SIGNED_END = 0x2A0
_DER = Encoding.DER
MIN_VERSION, MAX_VERSION = 3, 5

BYTE_FIELDS = [  # name, offset, length
    ("family_id", 0x010, 16), ("image_id", 0x020, 16), ("report_data", 0x050, 64),
    ("measurement", 0x090, 48), ("host_data", 0x0C0, 32), ("id_key_digest", 0x0E0, 48),
    ("author_key_digest", 0x110, 48), ("report_id", 0x140, 32), ("report_id_ma", 0x160, 32),
    ("chip_id", 0x1A0, 64),
]
INT_FIELDS = [  # name, offset, size in bytes
    ("version", 0x000, 4), ("guest_svn", 0x004, 4), ("policy", 0x008, 8), ("vmpl", 0x030, 4),
    ("sig_algo", 0x034, 4), ("plat_info", 0x040, 8), ("key_info", 0x048, 4),
]
TCB_FIELDS = [("current_tcb", 0x038), ("reported_tcb", 0x180), ("committed_tcb", 0x1E0),
              ("launch_tcb", 0x1F0)]


def _int(obj, name, size, nullable=False):
    value = obj.get(name) if isinstance(obj, dict) else None
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < (1 << (8 * size)):
        raise VerificationError("snp report field %s must be a %d-byte unsigned integer, got %r"
                                % (name, size, value))
    return value


def _bytes(obj, name, length):
    value = obj.get(name)
    if (not isinstance(value, list) or len(value) != length
            or any(not isinstance(b, int) or isinstance(b, bool) or not 0 <= b <= 255 for b in value)):
        raise VerificationError("snp report field %s must be an array of %d byte values"
                                % (name, length))
    return bytes(value)


def _turin_layout(report, version):
    """Whether TCB values use the Turin layout, decided as the sev crate decides."""
    if version == 2:
        chip_id = _bytes(report, "chip_id", 64)
        if chip_id == bytes(64):
            raise VerificationError("version 2 report with a masked chip_id: TCB layout unknown")
        return chip_id[8:] == bytes(56)
    fam = _int(report, "cpuid_fam_id", 1, nullable=True) or 0
    mod = _int(report, "cpuid_mod_id", 1, nullable=True) or 0
    if fam == 0x19 and (mod <= 0x0F or 0x10 <= mod <= 0x1F or 0xA0 <= mod <= 0xAF):
        return False
    if fam == 0x1A and mod <= 0x11:
        return True
    raise VerificationError("snp report from an unknown CPU family 0x%x model 0x%x" % (fam, mod))


def _tcb_bytes(tcb, name, turin):
    if not isinstance(tcb, dict):
        raise VerificationError("snp report field %s must be an object" % name)
    bl, tee, snp, ucode = (_int(tcb, k, 1) for k in ("bootloader", "tee", "snp", "microcode"))
    if turin:
        fmc = _int(tcb, "fmc", 1, nullable=True) or 0
        return bytes([fmc, bl, tee, snp, 0, 0, 0, ucode])
    return bytes([bl, tee, 0, 0, 0, 0, snp, ucode])


def report_to_bytes(report):
    """The 1184-byte binary form of a serde-JSON SNP report (what Trustee re-encodes)."""
    if not isinstance(report, dict):
        raise VerificationError("attestation_report is not a JSON object")
    out = bytearray(REPORT_SIZE)
    for name, off, size in INT_FIELDS:
        out[off:off + size] = _int(report, name, size).to_bytes(size, "little")
    version = _int(report, "version", 4)
    if version < 2:
        raise VerificationError("snp report version %d is not supported" % version)
    turin = _turin_layout(report, version)
    for name, off, length in BYTE_FIELDS:
        out[off:off + length] = _bytes(report, name, length)
    for name, off in TCB_FIELDS:
        out[off:off + 8] = _tcb_bytes(report.get(name), name, turin)
    if version >= 3:
        out[0x188:0x18B] = bytes(_int(report, k, 1, nullable=True) or 0
                                 for k in ("cpuid_fam_id", "cpuid_mod_id", "cpuid_step"))
    for name, off in (("current", 0x1E8), ("committed", 0x1EC)):
        ver = report.get(name)
        if not isinstance(ver, dict):
            raise VerificationError("snp report field %s must be an object" % name)
        out[off:off + 3] = bytes([_int(ver, "build", 1), _int(ver, "minor", 1), _int(ver, "major", 1)])
    if version >= 5:
        out[0x1F8:0x200] = (_int(report, "launch_mit_vector", 8, nullable=True) or 0).to_bytes(8, "little")
        out[0x200:0x208] = (_int(report, "current_mit_vector", 8, nullable=True) or 0).to_bytes(8, "little")
    sig = report.get("signature")
    if not isinstance(sig, dict):
        raise VerificationError("snp report field signature must be an object")
    out[0x2A0:0x2E8] = _bytes(sig, "r", 72)
    out[0x2E8:0x330] = _bytes(sig, "s", 72)
    return bytes(out)


def verify_report_signature(binary, public_key):
    """ECDSA P-384 / SHA-384 over bytes 0..0x29F; r and s little-endian (72 bytes)."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp384r1":
        raise VerificationError("the VCEK does not hold a P-384 key")
    r = int.from_bytes(binary[0x2A0:0x2E8], "little")
    s = int.from_bytes(binary[0x2E8:0x330], "little")
    try:
        public_key.verify(encode_dss_signature(r, s), binary[:SIGNED_END], ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise VerificationError("the snp report signature does not verify with the VCEK") from None


def _load_cert(data):
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise VerificationError("unreadable certificate: %s" % exc) from None


def _trusted_certs(trust_dir):
    certs = []
    if not trust_dir or not os.path.isdir(trust_dir):
        return certs
    for name in sorted(os.listdir(trust_dir)):
        if name.endswith((".pem", ".der", ".crt")):
            with open(os.path.join(trust_dir, name), "rb") as f:
                try:
                    certs.append(_load_cert(f.read()))
                except VerificationError:
                    continue
    return certs


def _signed_by(cert, issuer):
    """Whether issuer's key made cert's signature (ECDSA, RSA PKCS#1 v1.5 or RSA-PSS)."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    algo = cert.signature_hash_algorithm or hashes.SHA384()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algo))
        elif isinstance(key, rsa.RSAPublicKey):
            if cert.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10":
                pad = padding.PSS(mgf=padding.MGF1(algo), salt_length=algo.digest_size)
            else:
                pad = padding.PKCS1v15()
            key.verify(cert.signature, cert.tbs_certificate_bytes, pad, algo)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _chain_to_trust(vcek, intermediates, trusted):
    trusted_der = {c.public_bytes(_DER) for c in trusted}
    current = vcek
    for _ in range(4):
        if current.public_bytes(_DER) in trusted_der:
            return
        issuer = next((c for c in trusted + intermediates if _signed_by(current, c)), None)
        if issuer is None:
            break
        if issuer.public_bytes(_DER) in trusted_der:
            return
        current = issuer
    raise VerificationError("the VCEK does not chain to a certificate in the trust directory")


def _cert_chain(evidence):
    """{"VCEK": cert, ...} and the list of other certificates from cert_chain."""
    chain = evidence.get("cert_chain")
    found, others = {}, []
    if chain is None:
        return found, others
    if not isinstance(chain, list):
        raise VerificationError("snp cert_chain must be an array or null")
    for entry in chain:
        if not isinstance(entry, dict) or set(entry) != {"cert_type", "data"}:
            raise VerificationError("snp cert_chain entries must be {cert_type, data}")
        kind = entry["cert_type"]
        if isinstance(kind, dict) and set(kind) == {"OTHER"} and isinstance(kind["OTHER"], str):
            continue
        if kind not in ("ARK", "ASK", "VCEK", "VLEK", "CRL"):
            raise VerificationError("snp cert_chain has an unknown cert_type %r" % (kind,))
        data = entry["data"]
        if not isinstance(data, list) or any(not isinstance(b, int) or not 0 <= b <= 255 for b in data):
            raise VerificationError("snp cert_chain data must be an array of byte values")
        if kind == "CRL":
            continue
        cert = _load_cert(bytes(data))
        if kind in ("VCEK", "VLEK") and "VEK" not in found:
            found["VEK"] = cert
        else:
            others.append(cert)
    return found, others


def verify(evidence, report_data, ctx):
    if not isinstance(evidence, dict) or "attestation_report" not in evidence:
        raise VerificationError("snp evidence must be an object with attestation_report")
    report = evidence["attestation_report"]
    binary = report_to_bytes(report)
    version = report["version"]
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise VerificationError("snp report version %d is outside %d..%d (Trustee's range)"
                                % (version, MIN_VERSION, MAX_VERSION))
    found, intermediates = _cert_chain(evidence)
    trusted = _trusted_certs(ctx.trust_dir if ctx is not None else None)
    vek = found.get("VEK")
    if vek is None:
        for cert in trusted:  # a VCEK provisioned in the trust directory
            try:
                verify_report_signature(binary, cert.public_key())
                vek = cert
                break
            except VerificationError:
                continue
        if vek is None:
            raise VerificationError("no VCEK: cert_chain has none and none in the trust directory signs the report")
    verify_report_signature(binary, vek.public_key())
    if trusted:
        _chain_to_trust(vek, intermediates, trusted)
    expected = bytes(report_data) + bytes(64 - len(report_data))
    if binary[0x50:0x90] != expected:
        raise VerificationError("snp report_data does not match the runtime-data digest (+16 zero bytes)")
    return {
        "version": version, "measurement": binary[0x90:0xC0].hex(),
        "report_data": binary[0x50:0x90].hex(), "host_data": binary[0xC0:0xE0].hex(),
        "policy": report["policy"], "vmpl": report["vmpl"], "chip_id": binary[0x1A0:0x1E0].hex(),
        "reported_tcb": report["reported_tcb"],
    }
