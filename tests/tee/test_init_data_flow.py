#!/usr/bin/python3
# End to end: cvmboot with [tee] init_data against the test KBS, per TEE. sample: the KBS
# checks the document and its pinned digest; tpm (swtpm): PCR 8 is extended once, a
# second run does not extend again, a foreign PCR 8 is refused before any attestation;
# snp/tdx (FUSE configfs-tsm fake): HOST_DATA / MRCONFIGID must match, else exit 4.
"""Run: CVMBOOT_BIN=build/cvmboot /usr/bin/python3 tests/tee/test_init_data_flow.py"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "kbs"))

import configfs_fixture as cf  # noqa: E402
import harness  # noqa: E402

RESOURCE = "default/initdata/secret"
SECRET = b"init-data flow secret\n"


def document(algorithm="sha256", extra=""):
    return ('# deploy-time settings\nversion = "0.1.0"\nalgorithm = "%s"\n\n[data]\n'
            '"policy.txt" = \'\'\'\nanything\n\'\'\'\n%s' % (algorithm, extra))


def digest(text, algorithm="sha256"):
    return hashlib.new(algorithm, text.encode()).digest()


class Base(unittest.TestCase):
    tee = None
    policy = None
    kbs_args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cvmboot-initdata-%s." % self.tee)
        res = harness.make_resources(os.path.join(self.tmp, "res"), {RESOURCE: SECRET})
        self.kbs = harness.start_kbs(os.path.join(self.tmp, "kbs"), res, policy=self.policy,
                                     trust_dir=getattr(self, "trust", None),
                                     extra_args=self.kbs_args)
        self.cleanups = [self.kbs.stop]

    def tearDown(self):
        for stop in reversed(self.cleanups):
            stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_doc(self, text, name="init-data.toml"):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run_agent(self, doc_path, tee_settings, kbs_url=None, cmdline="", ca=None):
        tee = {"type": self.tee}
        tee.update(tee_settings)
        if doc_path:
            tee["init_data"] = doc_path
        config = harness.write_config(
            os.path.join(self.tmp, "cvmboot.conf"),
            kbs={"url": kbs_url or self.kbs.url, "ca_file": ca or self.kbs.ca,
                 "request_timeout": "10s"},
            retry={"budget": "3s", "backoff_base": "100ms", "backoff_cap": "300ms"},
            tee=tee,
            secrets={"run_dir": os.path.join(self.tmp, "run"),
                     "dir": os.path.join(self.tmp, "run", "secrets"), "allow_non_tmpfs": True})
        return harness.run_cvmboot(["get-resource", RESOURCE], config, cmdline_text=cmdline)

    def attests(self):
        return [r for r in self.kbs.requests() if r.get("path", "").endswith("/attest")]

    def assert_served(self, res, text, algorithm="sha256"):
        rc, out, err = res
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.encode(), SECRET)
        attest = self.attests()[-1]
        self.assertEqual(attest["status"], 200, attest)
        self.assertEqual(attest["init_data_digest"], digest(text, algorithm).hex())

    def assert_refused_locally(self, res, needle):
        rc, _, err = res
        self.assertEqual(rc, 4, err)
        self.assertIn(needle, err)
        self.assertEqual(self.attests(), [], "an attestation was sent anyway")


class Sample(Base):
    tee = "sample"

    def test_bound_and_verified(self):
        text = document("sha384")
        self.assert_served(self.run_agent(self.write_doc(text), {}), text, "sha384")

    def test_settings_from_init_data(self):
        """cvmboot.url in the document replaces the file's URL, and the boot says so."""
        text = document(extra='"cvmboot.url" = "%s"\n' % self.kbs.url)
        res = self.run_agent(self.write_doc(text), {}, kbs_url="https://127.0.0.1:9")
        self.assert_served(res, text)
        self.assertIn("init-data %s: [kbs] url = %s" % (os.path.join(self.tmp, "init-data.toml"),
                                                         self.kbs.url), res[2])

    def test_boot(self):
        """The boot job itself sends the document."""
        text = document()
        tee = {"type": "sample", "init_data": self.write_doc(text)}
        config = harness.write_config(
            os.path.join(self.tmp, "boot.conf"),
            kbs={"url": self.kbs.url, "ca_file": self.kbs.ca},
            tee=tee, secrets={"run_dir": os.path.join(self.tmp, "run"),
                              "dir": os.path.join(self.tmp, "run", "secrets"),
                              "allow_non_tmpfs": True},
            **{"resource.secret": {"path": RESOURCE, "file": "secret"}})
        rc, _, err = harness.run_cvmboot(["boot", "--no-activate"], config)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(self.tmp, "run", "secrets", "secret"), "rb") as f:
            self.assertEqual(f.read(), SECRET)
        self.assertEqual(self.attests()[-1]["init_data_digest"], digest(text).hex())

    def test_ca_from_init_data_when_allowed(self):
        """With init_data_ca = true the document's CA is the only anchor for the KBS."""
        with open(self.kbs.ca, encoding="ascii") as f:
            pem = f.read()
        text = document(extra='"cvmboot.ca" = \'\'\'\n%s\'\'\'\n' % pem)
        wrong = self.own_ca()  # a CA that did not sign the KBS certificate
        config = harness.write_config(
            os.path.join(self.tmp, "ca.conf"),
            kbs={"url": self.kbs.url, "ca_file": wrong},
            retry={"budget": "2s", "backoff_base": "100ms", "backoff_cap": "300ms"},
            tee={"type": "sample", "init_data": self.write_doc(text), "init_data_ca": True},
            secrets={"run_dir": os.path.join(self.tmp, "run"),
                     "dir": os.path.join(self.tmp, "run", "secrets"), "allow_non_tmpfs": True})
        rc, out, err = harness.run_cvmboot(["get-resource", RESOURCE], config)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.encode(), SECRET)
        installed = os.path.join(self.tmp, "run", "init-data-ca.pem")
        self.assertIn("[kbs] ca_file = %s (the document's cvmboot.ca)" % installed, err)
        with open(installed, encoding="ascii") as f:
            self.assertEqual(f.read(), pem)
        # Without the document's CA, the file's (wrong) CA is refused: the test can fail.
        rc, _, err = self.run_agent(None, {}, ca=wrong)
        self.assertEqual(rc, 6, err)
        self.assertIn("does not verify", err)

    def own_ca(self):
        """A self-signed CA certificate of this test's own (not the KBS's)."""
        path = os.path.join(self.tmp, "own-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", path + ".key",
                        "-out", path, "-subj", "/CN=not the KBS CA", "-days", "2"],
                       check=True, capture_output=True)
        return path

    def test_cmdline_names_the_document(self):
        text = document()
        res = self.run_agent(None, {}, cmdline="rd.cvmboot.init_data=" + self.write_doc(text))
        self.assert_served(res, text)

    def test_refusals_before_any_request(self):
        """A malformed document, a CA without the file's consent, a weakening setting."""
        cases = [(document(extra="n = 1\n"), "init-data.toml:9: the value must be a string"),
                 (document(extra='"cvmboot.ca" = "-----BEGIN CERTIFICATE-----"\n'),
                  "cvmboot.ca is refused"),
                 (document(extra='"cvmboot.insecure_http" = "true"\n'),
                  "unknown setting 'cvmboot.insecure_http'")]
        for text, needle in cases:
            rc, _, err = self.run_agent(self.write_doc(text), {})
            self.assertEqual(rc, 3, err)
            self.assertIn(needle, err)
        self.assertEqual(self.kbs.requests(), [])


    def test_only_attesting_commands_read_it(self):
        """detect does not need the document; get-resource with a missing one stops."""
        missing = os.path.join(self.tmp, "missing.toml")
        config = harness.write_config(os.path.join(self.tmp, "d.conf"),
                                      tee={"type": "sample", "init_data": missing})
        rc, out, err = harness.run_cvmboot(["detect"], config)
        self.assertEqual(rc, 0, err)
        self.assertIn("selected: sample", out)
        rc, _, err = self.run_agent(missing, {})
        self.assertEqual(rc, 3, err)
        self.assertIn("missing.toml: cannot open", err)


class SamplePinned(Base):
    """The KBS policy pins one document: another one, however well bound, is denied."""
    tee = "sample"
    policy = {"init_data_digest": digest(document()).hex()}

    def test_pinned(self):
        self.assert_served(self.run_agent(self.write_doc(document()), {}), document())
        rc, _, err = self.run_agent(self.write_doc(document(extra='x = "y"\n')), {})
        self.assertEqual(rc, 5, err)
        self.assertIn("PolicyDeny", err)
        self.assertIn("init-data digest", err)


class Tpm(Base):
    tee = "tpm"

    def setUp(self):
        super().setUp()
        from tpm_swtpm import Swtpm
        self.swtpm = Swtpm(self.tmp)
        self.cleanups.append(self.swtpm.stop)
        self.swtpm.provision_ak(0x81010002)
        self.settings = {"tpm_tcti": self.swtpm.tcti}

    def test_extend_once(self):
        text = document()
        path = self.write_doc(text)
        bound = hashlib.sha256(bytes(32) + digest(text)).hexdigest()
        self.assertEqual(self.swtpm.pcr(8), "00" * 32)
        res = self.run_agent(path, self.settings)
        self.assert_served(res, text)
        self.assertIn("extended PCR 8", res[2])
        self.assertEqual(self.swtpm.pcr(8), bound)
        # The boot job started again: PCR 8 already binds the document.
        res = self.run_agent(path, self.settings)
        self.assert_served(res, text)
        self.assertIn("PCR 8 already binds", res[2])
        self.assertEqual(self.swtpm.pcr(8), bound, "PCR 8 was extended a second time")
        # Another document now: PCR 8 holds the first binding, refused locally.
        before = len(self.attests())
        rc, _, err = self.run_agent(self.write_doc(document(extra='x = "y"\n'), "other.toml"),
                                    self.settings)
        self.assertEqual(rc, 4, err)
        self.assertIn("neither zero nor the binding", err)
        self.assertEqual(len(self.attests()), before)

    def test_foreign_pcr8(self):
        self.swtpm.tool("tpm2_pcrextend", "8:sha256=" + "ab" * 32)
        self.assert_refused_locally(self.run_agent(self.write_doc(document()), self.settings),
                                    "neither zero nor the binding")

    def test_sha384_refused(self):
        self.assert_refused_locally(
            self.run_agent(self.write_doc(document("sha384")), self.settings),
            "algorithm sha384 cannot be bound in a vTPM")
        self.assertEqual(self.swtpm.pcr(8), "00" * 32)


class AzSnpVtpm(Base):
    """The Azure paravisor's vTPM (simulated in front of swtpm): the same PCR 8 rule."""
    tee = "az-snp-vtpm"
    kbs_args = ("--verifier-option", "az-simulated-paravisor=1")

    def setUp(self):
        super().setUp()
        import test_az_vtpm as az_vtpm_test
        tpm, sim, imds, _ = az_vtpm_test.provision(self.tmp, "snp")
        self.swtpm = tpm
        self.cleanups += [tpm.stop, sim.stop, imds.stop]
        self.settings = {"tpm_tcti": sim.tcti, "azure_imds_url": imds.url}

    def test_extend_once_then_refuse_another(self):
        text = document()
        path = self.write_doc(text)
        for _ in range(2):
            self.assert_served(self.run_agent(path, self.settings), text)
            self.assertEqual(self.swtpm.pcr(8), hashlib.sha256(bytes(32) + digest(text)).hexdigest())
        before = len(self.attests())
        rc, _, err = self.run_agent(self.write_doc(document(extra='x = "y"\n'), "o.toml"),
                                    self.settings)
        self.assertEqual(rc, 4, err)
        self.assertIn("neither zero nor the binding", err)
        self.assertEqual(len(self.attests()), before)


def fuse_usable():
    return os.path.exists("/dev/fuse") and shutil.which("fusermount") is not None


class ConfigfsBase:
    """Mixed into a Base per TEE (snp, tdx)."""

    field = None
    size = None

    def setUp(self):
        if not fuse_usable():
            raise unittest.SkipTest("no /dev/fuse or fusermount")
        self.tmp0 = tempfile.mkdtemp(prefix="cvmboot-initdata-material.")
        self.material = cf.make_snp_material(os.path.join(self.tmp0, "material"))
        self.trust = self.material["trust"]
        super().setUp()
        self.fake = cf.FakeTsm(os.path.join(self.tmp, "tsm"), self.tee, self.material,
                               quote=getattr(self, "quote", None))
        self.cleanups.append(self.fake.stop)
        self.cleanups.append(lambda: shutil.rmtree(self.tmp0, ignore_errors=True))
        self.settings = {"configfs_tsm_root": self.fake.mountpoint}

    def launch(self, text, algorithm):
        self.fake.control(launch_data=digest(text, algorithm)[:self.size].ljust(self.size, b"\0").hex())

    def test_bound(self):
        for algorithm in ("sha256", "sha384", "sha512"):
            text = document(algorithm)
            self.launch(text, algorithm)
            self.assert_served(self.run_agent(self.write_doc(text), self.settings), text, algorithm)

    def test_other_launch_data(self):
        self.launch(document(extra='x = "launched"\n'), "sha256")
        self.assert_refused_locally(self.run_agent(self.write_doc(document()), self.settings),
                                    "the report's %s is " % self.field)

    def test_no_init_data_ignores_the_field(self):
        self.launch(document(), "sha256")
        rc, out, err = self.run_agent(None, self.settings)
        self.assertEqual(rc, 0, err)
        self.assertIsNone(self.attests()[-1].get("init_data_digest"))


class Snp(ConfigfsBase, Base):
    tee, field, size = "snp", "HOST_DATA", 32


class Tdx(ConfigfsBase, Base):
    tee, field, size = "tdx", "MRCONFIGID", 48


class TdxQuoteV5(ConfigfsBase, Base):
    """MRCONFIGID sits 6 bytes further in a v5 quote (body type and size first)."""
    tee, field, size = "tdx", "MRCONFIGID", 48
    quote = os.path.join(cf.FIX, "tdx_quote_5.dat")


if __name__ == "__main__":
    if not os.environ.get("CVMBOOT_BIN"):
        sys.exit("set CVMBOOT_BIN")
    unittest.main(verbosity=2)
