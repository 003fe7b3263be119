# End to end through configfs-tsm: cvmboot (tee snp / tdx) against the FUSE fake and the
# test KBS, whose snp/tdx verifiers must accept the evidence and release a resource;
# a racing writer and a wrong provider must each fail with their own error (exit 4).
"""Needs /dev/fuse and fusermount (python3-fusepy, fuse3)."""

import base64
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kbs"))

import configfs_fixture as cf  # noqa: E402
import harness  # noqa: E402
from verifiers import tdx as tdxv  # noqa: E402

SECRET = b"configfs-tsm flow secret\n"
RESOURCE = "default/tee/flow"


def fuse_usable():
    return os.path.exists("/dev/fuse") and shutil.which("fusermount") is not None


class FlowBase:
    """The checks shared by the SNP and TDX flows (mixed into a TestCase per TEE)."""

    mode = None

    @classmethod
    def setUpClass(cls):
        if not fuse_usable():
            raise unittest.SkipTest("no /dev/fuse or fusermount")
        cls.tmp = tempfile.mkdtemp(prefix="cvmboot-%s-flow." % cls.mode)
        cls.material = cf.make_snp_material(os.path.join(cls.tmp, "material"))
        cls.fake = cf.FakeTsm(os.path.join(cls.tmp, "tsm"), cls.mode, cls.material)
        resources = harness.make_resources(os.path.join(cls.tmp, "resources"), {RESOURCE: SECRET})
        try:
            cls.kbs = harness.start_kbs(os.path.join(cls.tmp, "kbs"), resources,
                                        trust_dir=cls.material["trust"])
        except Exception:
            cls.fake.stop()
            raise
        open(os.path.join(cls.tmp, "empty"), "w").close()

    @classmethod
    def tearDownClass(cls):
        cls.kbs.stop()
        cls.fake.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.fake.control(provider=cf.PROVIDERS_BY_MODE[self.mode], race=0)

    def config(self, **tee):
        settings = {"type": self.mode, "configfs_tsm_root": self.fake.mountpoint}
        settings.update(tee)
        path = os.path.join(self.tmp, "cvmboot.conf")
        return harness.write_config(
            path,
            kbs={"url": self.kbs.url, "ca_file": self.kbs.ca, "request_timeout": "10s"},
            retry={"budget": "5s", "backoff_base": "100ms", "backoff_cap": "500ms"},
            tee=settings,
            secrets={"run_dir": os.path.join(self.tmp, "run"),
                     "dir": os.path.join(self.tmp, "run", "secrets"), "allow_non_tmpfs": True})

    def get_resource(self, **tee):
        return harness.run_cvmboot(["get-resource", RESOURCE], self.config(**tee), timeout=60)

    def attest_results(self):
        return [r for r in self.kbs.requests() if r.get("path", "").endswith("/attest")]

    def check_fetch_ok(self):
        before = len(self.attest_results())
        rc, out, err = self.get_resource()
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.encode(), SECRET)
        attests = self.attest_results()[before:]
        self.assertTrue(attests and attests[-1].get("status") == 200, attests)
        self.assertEqual(self.fake.entries(), [], "configfs-tsm entry left behind")

    def check_fails(self, needle, **control):
        self.fake.control(**control)
        before = len(self.attest_results())
        rc, out, err = self.get_resource()
        self.assertEqual(rc, 4, err)
        self.assertIn(needle, err)
        self.assertEqual(out, "")
        self.assertEqual(self.attest_results()[before:], [], "evidence was sent anyway")
        self.assertEqual(self.fake.entries(), [], "configfs-tsm entry left behind after an error")

    def test_kbs_accepts(self):
        self.check_fetch_ok()

    def test_racing_writer(self):
        self.check_fails("another writer raced us", race=1)

    def test_wrong_provider(self):
        other = "tdx_guest" if self.mode == "snp" else "sev_guest"
        self.check_fails("provider is '%s', expected '%s'"
                         % (other, cf.PROVIDERS_BY_MODE[self.mode]), provider=other)

    def test_detect(self):
        rc, out, err = harness.run_cvmboot(["detect"], self.config(type="auto"))
        self.assertIn("%-12s yes configfs-tsm provider is %s"
                      % (self.mode, cf.PROVIDERS_BY_MODE[self.mode]), out, err)


class SnpFlowTest(FlowBase, unittest.TestCase):
    mode = "snp"

    def test_evidence_carries_vcek_and_binding(self):
        digest = os.urandom(48)
        rc, out, err = harness.run_cvmboot(["evidence", "--report-data", digest.hex()], self.config())
        self.assertEqual(rc, 0, err)
        ev = json.loads(out)
        self.assertEqual(bytes(ev["attestation_report"]["report_data"]), digest + bytes(16))
        with open(self.material["vcek"], "rb") as f:
            self.assertEqual(ev["cert_chain"], [{"cert_type": "VCEK", "data": list(f.read())}])

    def test_privlevel_counts_as_a_write(self):
        """Writing privlevel bumps generation too: no false 'raced' error, and vmpl follows."""
        tool = os.environ.get("CONFIGFS_TSM_TOOL")
        if not tool:
            self.skipTest("CONFIGFS_TSM_TOOL not set")
        out = os.path.join(self.tmp, "outblob")
        inblob = os.urandom(64)
        for level in (2, -1):
            p = subprocess.run([tool, self.fake.mountpoint, "sev_guest", str(level), inblob.hex(), out],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out, "rb") as f:
                report = f.read()
            self.assertEqual(len(report), 1184)
            self.assertEqual(struct.unpack_from("<I", report, 0x30)[0], max(level, 0))
            self.assertEqual(report[0x50:0x90], inblob)
            with open(out + ".aux", "rb") as f:
                self.assertEqual(f.read(16).hex(), "63da758de6644564adc5f4b93be8accd")
        self.assertEqual(self.fake.entries(), [])

    def test_kbs_refuses_untrusted_vcek(self):
        """Same flow, but the KBS trusts another VCEK: attestation must be refused."""
        other = cf.make_snp_material(os.path.join(self.tmp, "other"))
        kbs = harness.start_kbs(os.path.join(self.tmp, "kbs-other"),
                                os.path.join(self.tmp, "resources"), trust_dir=other["trust"])
        try:
            cfg = self.config()
            with open(cfg, encoding="utf-8") as f:
                text = f.read().replace(self.kbs.url, kbs.url).replace(self.kbs.ca, kbs.ca)
            with open(cfg, "w", encoding="utf-8") as f:
                f.write(text)
            rc, out, err = harness.run_cvmboot(["get-resource", RESOURCE], cfg, timeout=60)
            self.assertEqual(rc, 5, err)
            self.assertIn("chain", err)
        finally:
            kbs.stop()


class TdxFlowTest(FlowBase, unittest.TestCase):
    mode = "tdx"

    def test_evidence_quote_and_eventlog(self):
        digest = os.urandom(48)
        ccel = os.path.join(cf.FIX, "ccel-ovmf.bin")
        rc, out, err = harness.run_cvmboot(["evidence", "--report-data", digest.hex()],
                                           self.config(ccel_path=ccel))
        self.assertEqual(rc, 0, err)
        ev = json.loads(out)
        quote = base64.b64decode(ev["quote"], validate=True)
        self.assertEqual(tdxv.quote_report_data(quote), digest + bytes(16))
        with open(ccel, "rb") as f:
            raw = f.read()
        expected = cf.ccel_trimmed(raw) + b"\xff" * 8
        self.assertLess(len(expected), len(raw))
        self.assertEqual(base64.b64decode(ev["cc_eventlog"], validate=True), expected)
        rc, out, err = harness.run_cvmboot(["evidence"], self.config(ccel_path=os.path.join(self.tmp, "none")))
        self.assertEqual(rc, 0, err)
        self.assertIsNone(json.loads(out)["cc_eventlog"])

    def test_corrupt_eventlog_is_refused(self):
        bad = os.path.join(self.tmp, "ccel-bad.bin")
        with open(os.path.join(cf.FIX, "ccel-ovmf.bin"), "rb") as f:
            data = bytearray(f.read())
        start = 32 + int.from_bytes(data[28:32], "little")
        data[start + 12:start + 14] = b"\x77\x00"  # unknown digest algorithm in event 1
        with open(bad, "wb") as f:
            f.write(data)
        rc, out, err = harness.run_cvmboot(["evidence"], self.config(ccel_path=bad))
        self.assertEqual(rc, 4, err)
        self.assertIn("unsupported digest algorithm 0x77", err)

    def test_damaged_eventlogs_never_crash(self):
        """Cut or corrupted CCEL tables: a clean refusal (exit 4) or a valid log, no crash."""
        with open(os.path.join(cf.FIX, "ccel-ovmf.bin"), "rb") as f:
            raw = f.read()
        used = len(cf.ccel_trimmed(raw))
        rng = random.Random(1234)
        damaged = os.path.join(self.tmp, "ccel-damaged.bin")
        cases = [raw[:n] for n in (0, 10, 31, 32, 40, used - 1, used, used + 3)]
        for _ in range(12):
            data = bytearray(raw[:used + 16])
            for _ in range(4):
                data[rng.randrange(len(data))] = rng.randrange(256)
            cases.append(bytes(data))
        for data in cases:
            with open(damaged, "wb") as f:
                f.write(data)
            rc, out, err = harness.run_cvmboot(["evidence"], self.config(ccel_path=damaged))
            self.assertIn(rc, (0, 4), err)
            if rc == 0:
                log = base64.b64decode(json.loads(out)["cc_eventlog"])
                self.assertEqual(log[-8:], b"\xff" * 8)
                self.assertLessEqual(len(log) - 8, len(data))
            else:
                self.assertIn("event log", err)

    def test_quote_v5(self):
        with cf.FakeTsm(os.path.join(self.tmp, "tsm5"), "tdx",
                        quote=os.path.join(cf.FIX, "tdx_quote_5.dat")) as fake5:
            rc, out, err = harness.run_cvmboot(["get-resource", RESOURCE],
                                               self.config(configfs_tsm_root=fake5.mountpoint))
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.encode(), SECRET)


if __name__ == "__main__":
    unittest.main(verbosity=2)
