# tpm2-tss is loaded with dlopen (tee/tss2_loader.c) only when a TPM-based TEE
# is used: an SNP or TDX evidence never maps it, a tpm one does. ld.so's
# LD_DEBUG=libs trace says which libraries each run loaded.
"""Run: CVMBOOT_BIN=build/cvmboot /usr/bin/python3 tests/tee/test_tss2_lazy.py"""

import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kbs"))

import configfs_fixture as cf  # noqa: E402
import harness  # noqa: E402
from tpm_swtpm import Swtpm  # noqa: E402

REPORT_DATA = "ab" * 48


def loaded_libraries(ld_debug):
    """The sonames of the libraries ld.so initialised ("calling init: PATH")."""
    names = set()
    for line in ld_debug.splitlines():
        part = line.split("calling init: ", 1)
        if len(part) == 2:
            names.add(os.path.basename(part[1].split()[0]))
    return names


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cvmboot-tss2-lazy.")
        self.cleanups = []

    def tearDown(self):
        for stop in reversed(self.cleanups):
            stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def evidence(self, tee):
        config = harness.write_config(os.path.join(self.tmp, "cvmboot.conf"), tee=tee)
        env = dict(os.environ, LD_DEBUG="libs")
        rc, out, err = harness.run_cvmboot(["evidence", "--report-data", REPORT_DATA], config,
                                           env=env)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("{"), out[:200])
        libs = loaded_libraries(err)
        # The trace worked: the agent's own NEEDED libraries are in it.
        self.assertIn("libcurl.so.4", libs, err[-2000:])
        return libs


class Snp(Base):
    def test_snp_never_loads_tpm2_tss(self):
        if not (os.path.exists("/dev/fuse") and shutil.which("fusermount")):
            self.skipTest("no /dev/fuse or fusermount")
        material = cf.make_snp_material(os.path.join(self.tmp, "material"))
        fake = cf.FakeTsm(os.path.join(self.tmp, "tsm"), "snp", material)
        self.cleanups.append(fake.stop)
        libs = self.evidence({"type": "snp", "configfs_tsm_root": fake.mountpoint})
        self.assertEqual(sorted(n for n in libs if n.startswith("libtss2")), [])


class Tpm(Base):
    def test_tpm_loads_tpm2_tss(self):
        tpm = Swtpm(self.tmp)
        self.cleanups.append(tpm.stop)
        tpm.provision_ak(0x81010002)
        libs = self.evidence({"type": "tpm", "tpm_tcti": tpm.tcti})
        for name in ("libtss2-esys.so.0", "libtss2-mu.so.0", "libtss2-rc.so.0",
                     "libtss2-tctildr.so.0"):
            self.assertIn(name, libs)


if __name__ == "__main__":
    unittest.main()
