# SNP binary report -> Trustee JSON converter, checked byte for byte: a report rebuilt
# from the converter's JSON must keep a valid signature (real fixtures from Trustee, and
# hand-made version 2/5/Turin reports signed here with a test P-384 key).
"""Runs $SNP_REPORT_TOOL (snp_evidence_from_files) and, once the CLI has it,
`$CVMBOOT_BIN evidence --tee snp --report FILE [--certs FILE]`."""

import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kbs"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402

from verifiers import VerificationError  # noqa: E402
from verifiers import snp as snpv  # noqa: E402

FIX = os.path.join(HERE, "fixtures")
TOOL = os.environ.get("SNP_REPORT_TOOL")
CVMBOOT = os.environ.get("CVMBOOT_BIN")
VCEK_GUID = "63da758d-e664-4564-adc5-f4b93be8accd"
ASK_GUID = "4ab7b379-bbac-4fe4-a02f-05aef327c782"


def load_fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def genoa_evidence():
    ev = json.loads(load_fixture("snp-evidence-genoa.json"))
    # The fixture predates the mitigation-vector fields; serde reads absent Options as None.
    ev["attestation_report"].setdefault("launch_mit_vector", None)
    ev["attestation_report"].setdefault("current_mit_vector", None)
    return ev


def sign_report(binary, key):
    """Re-sign bytes 0..0x29F with a P-384 key, r and s little-endian in 72 bytes."""
    der = key.sign(bytes(binary[:0x2A0]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    out = bytearray(binary)
    out[0x2A0:0x2E8] = r.to_bytes(72, "little")
    out[0x2E8:0x330] = s.to_bytes(72, "little")
    return bytes(out)


def cert_table(entries):
    """A GHCB certificate table: 24-byte entries (GUID, offset, length), zero entry, data."""
    header_len = 24 * (len(entries) + 1)
    table, blobs, offset = b"", b"", header_len
    for guid, data in entries:
        table += uuid.UUID(guid).bytes + struct.pack("<II", offset, len(data))
        blobs += data
        offset += len(data)
    return table + bytes(24) + blobs


class Runner:
    """Converts files with the test tool and, when wired, with the cvmboot CLI."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.cli = False
        if CVMBOOT:
            cfg = os.path.join(tmp, "cvmboot.conf")
            with open(cfg, "w") as f:
                f.write("[tee]\ntype = snp\n")
            open(os.path.join(tmp, "cmdline"), "w").close()
            probe = self.run_cli([os.path.join(FIX, "test-report.bin")])
            self.cli = probe.returncode == 0
            if not self.cli:
                sys.stderr.write("note: `cvmboot evidence --report` not available (rc %d): %s\n"
                                 % (probe.returncode, probe.stderr.strip()[:200]))

    def run_cli(self, files):
        args = [CVMBOOT, "--config", os.path.join(self.tmp, "cvmboot.conf"), "--cmdline",
                os.path.join(self.tmp, "cmdline"), "evidence", "--tee", "snp", "--report", files[0]]
        if len(files) > 1:
            args += ["--certs", files[1]]
        return subprocess.run(args, capture_output=True, text=True, timeout=30)

    def convert(self, report, certs=None):
        """Returns [(who, returncode, parsed JSON or None, stderr)] for each converter."""
        files = [self.write("report.bin", report)]
        if certs is not None:
            files.append(self.write("certs.bin", certs))
        results = []
        p = subprocess.run([TOOL] + files, capture_output=True, text=True, timeout=30)
        results.append(("snp_report_tool", p))
        if self.cli:
            results.append(("cvmboot evidence", self.run_cli(files)))
        out = []
        for who, proc in results:
            parsed = json.loads(proc.stdout) if proc.returncode == 0 else None
            out.append((who, proc.returncode, parsed, proc.stderr))
        return out

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


class SnpReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not TOOL:
            raise unittest.SkipTest("SNP_REPORT_TOOL not set")
        cls.tmpdir = tempfile.TemporaryDirectory()
        cls.runner = Runner(cls.tmpdir.name)
        cls.key = ec.generate_private_key(ec.SECP384R1())
        cls.genoa = genoa_evidence()
        cls.genoa_bin = snpv.report_to_bytes(cls.genoa["attestation_report"])

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def convert_ok(self, binary, certs=None):
        results = self.runner.convert(binary, certs)
        for who, rc, parsed, err in results:
            self.assertEqual(rc, 0, "%s failed: %s" % (who, err))
        first = results[0][2]
        for who, _, parsed, _ in results[1:]:
            self.assertEqual(parsed, first, "%s differs from snp_report_tool" % who)
        return first

    def convert_fails(self, binary, certs=None, *needles):
        for who, rc, _, err in self.runner.convert(binary, certs):
            self.assertNotEqual(rc, 0, "%s accepted a bad input" % who)
            for needle in needles:
                self.assertIn(needle, err, "%s: error should say %r: %s" % (who, needle, err))

    def test_genoa_fixture_round_trip(self):
        vcek = x509.load_der_x509_certificate(bytes(self.genoa["cert_chain"][0]["data"]))
        snpv.verify_report_signature(self.genoa_bin, vcek.public_key())  # our own rebuild is exact
        out = self.convert_ok(self.genoa_bin)
        self.assertEqual(out["attestation_report"], self.genoa["attestation_report"])
        self.assertIsNone(out["cert_chain"])
        # The converter's JSON, rebuilt, still carries a valid signature.
        snpv.verify_report_signature(snpv.report_to_bytes(out["attestation_report"]), vcek.public_key())

    def test_genoa_with_cert_table(self):
        vcek_der = bytes(self.genoa["cert_chain"][0]["data"])
        other = "11111111-2222-3333-4444-555555555555"
        out = self.convert_ok(self.genoa_bin, cert_table([(VCEK_GUID, vcek_der), (other, b"xyz"),
                                                          (ASK_GUID, b"")]))
        self.assertEqual(out["cert_chain"], [
            {"cert_type": "VCEK", "data": list(vcek_der)},
            {"cert_type": {"OTHER": other}, "data": list(b"xyz")},
            {"cert_type": "ASK", "data": []},
        ])
        self.assertEqual(out["cert_chain"][0], self.genoa["cert_chain"][0])
        empty = self.convert_ok(self.genoa_bin, bytes(24))
        self.assertIsNone(empty["cert_chain"])

    def test_bad_cert_tables(self):
        vcek_der = bytes(self.genoa["cert_chain"][0]["data"])
        good = cert_table([(VCEK_GUID, vcek_der)])
        past_end = bytearray(good)
        past_end[20:24] = struct.pack("<I", len(good))  # length runs past the table
        self.convert_fails(self.genoa_bin, bytes(past_end), "outside the table")
        unterminated = uuid.UUID(VCEK_GUID).bytes + struct.pack("<II", 24, 3) + b"abc"
        self.convert_fails(self.genoa_bin, unterminated, "no terminating zero entry")
        huge_offset = bytearray(good)
        huge_offset[16:20] = struct.pack("<I", 0xFFFFFFF0)
        self.convert_fails(self.genoa_bin, bytes(huge_offset), "outside the table")

    def test_trustee_test_report_v2(self):
        original = load_fixture("test-report.bin")
        vcek = x509.load_der_x509_certificate(load_fixture("test-vcek.der"))
        out = self.convert_ok(original)
        report = out["attestation_report"]
        self.assertEqual(report["version"], 2)
        self.assertIsNone(report["cpuid_fam_id"])
        self.assertIsNone(report["launch_mit_vector"])
        self.assertIsNone(report["current_tcb"]["fmc"])
        rebuilt = snpv.report_to_bytes(report)
        self.assertEqual(rebuilt[:0x330], original[:0x330])
        snpv.verify_report_signature(rebuilt, vcek.public_key())

    def craft(self, version=None, fam=None, mod=None, mit=None, tcb=None):
        b = bytearray(self.genoa_bin)
        if version is not None:
            b[0:4] = struct.pack("<I", version)
        if fam is not None:
            b[0x188], b[0x189] = fam, mod
        if version == 2:
            b[0x188:0x18B] = bytes(3)
        if mit is not None:
            b[0x1F8:0x208] = struct.pack("<QQ", *mit)
        if tcb is not None:
            for off in (0x038, 0x180, 0x1E0, 0x1F0):
                b[off:off + 8] = tcb
        return sign_report(b, self.key)

    def check_signed_round_trip(self, binary):
        out = self.convert_ok(binary)
        rebuilt = snpv.report_to_bytes(out["attestation_report"])
        self.assertEqual(rebuilt[:0x330], binary[:0x330])
        snpv.verify_report_signature(rebuilt, self.key.public_key())
        return out["attestation_report"]

    def test_version_2_crafted(self):
        report = self.check_signed_round_trip(self.craft(version=2))
        self.assertEqual(report["version"], 2)
        for k in ("cpuid_fam_id", "cpuid_mod_id", "cpuid_step", "launch_mit_vector", "current_mit_vector"):
            self.assertIsNone(report[k], k)

    def test_version_5_crafted(self):
        report = self.check_signed_round_trip(self.craft(version=5, mit=(0x1234, 0xABCDEF)))
        self.assertEqual(report["launch_mit_vector"], 0x1234)
        self.assertEqual(report["current_mit_vector"], 0xABCDEF)
        self.assertEqual(report["cpuid_fam_id"], 0x19)

    def test_turin_tcb_has_fmc(self):
        report = self.check_signed_round_trip(self.craft(version=5, fam=0x1A, mod=0x02, mit=(1, 2),
                                                         tcb=bytes([7, 9, 1, 24, 0, 0, 0, 0x48])))
        self.assertEqual(report["current_tcb"], {"fmc": 7, "bootloader": 9, "tee": 1, "snp": 24,
                                                 "microcode": 0x48})

    def test_rejected_versions_and_cpus(self):
        for version in (0, 1, 4, 6):
            self.convert_fails(self.craft(version=version), None, "version %d" % version)
        self.convert_fails(self.craft(fam=0x17, mod=0x31), None, "unknown CPU")

    def test_truncated_and_oversized(self):
        self.convert_fails(self.genoa_bin[:1183], None, "1183 bytes", "expected 1184", "truncated")
        self.convert_fails(self.genoa_bin + b"\0", None, "1185 bytes", "oversized")
        self.convert_fails(b"", None, "0 bytes")

    def test_nonzero_reserved_is_refused(self):
        b = bytearray(self.genoa_bin)
        b[0x04C] = 1
        self.convert_fails(sign_report(b, self.key), None, "reserved bytes at 0x04c")

    def test_random_damage_never_crashes(self):
        """Mutated reports and certificate tables: accepted or refused (exit 4), never a crash."""
        import random
        rng = random.Random(42)
        vcek_der = bytes(self.genoa["cert_chain"][0]["data"])
        table = cert_table([(VCEK_GUID, vcek_der), (ASK_GUID, b"ask")])
        for _ in range(40):
            b, t = bytearray(self.genoa_bin), bytearray(table)
            for _ in range(3):
                b[rng.randrange(0x2A0)] = rng.randrange(256)
                t[rng.randrange(72)] = rng.randrange(256)
            for who, rc, parsed, err in self.runner.convert(bytes(b), bytes(t)):
                self.assertIn(rc, (0, 4), "%s: %s" % (who, err))
                if rc == 0:  # what it accepts must still rebuild byte for byte
                    self.assertEqual(snpv.report_to_bytes(parsed["attestation_report"])[:0x2A0],
                                     bytes(b[:0x2A0]))

    def test_verifier_checks(self):
        """The test KBS's snp verifier: binding, signature, chain, Trustee's version range."""
        digest = os.urandom(48)
        b = bytearray(self.genoa_bin)
        b[0x50:0x90] = digest + bytes(16)
        out = self.convert_ok(sign_report(b, self.key), cert_table([(VCEK_GUID, self_signed_der(self.key))]))
        claims = snpv.verify(out, digest, None)
        self.assertEqual(claims["report_data"], (digest + bytes(16)).hex())
        with self.assertRaisesRegex(VerificationError, "report_data"):
            snpv.verify(out, bytes(48), None)
        tampered = json.loads(json.dumps(out))
        tampered["attestation_report"]["guest_svn"] = 1
        with self.assertRaisesRegex(VerificationError, "signature"):
            snpv.verify(tampered, digest, None)
        v2 = self.convert_ok(self.craft(version=2), None)
        v2["cert_chain"] = out["cert_chain"]
        with self.assertRaisesRegex(VerificationError, "version 2"):
            snpv.verify(v2, digest, None)
        # A trust directory that does not hold the VCEK (or its issuer) refuses it.
        other = ec.generate_private_key(ec.SECP384R1())
        with tempfile.TemporaryDirectory() as trust:
            with open(os.path.join(trust, "ark.der"), "wb") as f:
                f.write(self_signed_der(other))
            ctx = type("Ctx", (), {"trust_dir": trust, "options": {}})()
            with self.assertRaisesRegex(VerificationError, "chain"):
                snpv.verify(out, digest, ctx)
            with open(os.path.join(trust, "vcek.der"), "wb") as f:
                f.write(self_signed_der(self.key))
            snpv.verify(out, digest, ctx)
            # Without cert_chain, the VCEK provisioned in the trust directory is used.
            bare = dict(out, cert_chain=None)
            snpv.verify(bare, digest, ctx)


def self_signed_der(key):
    import datetime
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SEV-VCEK (cvmboot test)")])
    now = datetime.datetime(2025, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA384()))
    return cert.public_bytes(Encoding.DER)


if __name__ == "__main__":
    unittest.main(verbosity=2)
