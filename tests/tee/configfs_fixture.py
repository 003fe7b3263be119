# Shared by the configfs-tsm tests and bench/evidence-snp-tdx.sh: test SNP signing
# material, the FUSE fake's lifecycle, and an independent CCEL trimmer.
"""make_snp_material(dir), FakeTsm(mountpoint, mode, material), ccel_trimmed(bytes)."""

import datetime
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kbs"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from verifiers import snp as snpv  # noqa: E402

PYTHON = "/usr/bin/python3"
FIX = os.path.join(HERE, "fixtures")
FAKE = os.path.join(HERE, "configfs_tsm_fake.py")


def make_snp_material(directory):
    """A test VCEK (P-384 key + self-signed certificate), the report template (the
    Genoa fixture's report), and a trust dir holding the VCEK. Returns a dict of paths."""
    os.makedirs(directory, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SEV-VCEK (cvmboot test)")])
    start = datetime.datetime(2025, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA384()))
    paths = {"key": os.path.join(directory, "vcek-key.pem"),
             "vcek": os.path.join(directory, "vcek.der"),
             "template": os.path.join(directory, "template.bin"),
             "trust": os.path.join(directory, "trust")}
    with open(paths["key"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(paths["vcek"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.DER))
    with open(os.path.join(FIX, "snp-evidence-genoa.json"), encoding="utf-8") as f:
        genoa = json.load(f)
    with open(paths["template"], "wb") as f:
        f.write(snpv.report_to_bytes(genoa["attestation_report"]))
    os.makedirs(paths["trust"], exist_ok=True)
    with open(os.path.join(paths["trust"], "vcek.der"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.DER))
    return paths


class FakeTsm:
    """The FUSE fake mounted at mountpoint while the object lives (context manager)."""

    def __init__(self, mountpoint, mode, material=None, quote=None):
        os.makedirs(mountpoint, exist_ok=True)
        self.mountpoint = mountpoint
        args = [PYTHON, FAKE, mountpoint, "--mode", mode]
        if mode == "snp":
            args += ["--snp-key", material["key"], "--snp-template", material["template"],
                     "--snp-vcek", material["vcek"]]
        else:
            args += ["--tdx-quote", quote or os.path.join(FIX, "tdx_quote_4.dat")]
        self.log_path = mountpoint.rstrip("/") + ".log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.ismount(mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(self.log_path, encoding="utf-8", errors="replace") as f:
                    raise RuntimeError("FUSE fake did not mount: %s" % f.read())
            time.sleep(0.05)

    def control(self, **settings):
        with open(os.path.join(self.mountpoint, ".control"), "w", encoding="ascii") as f:
            f.write("".join("%s=%s\n" % kv for kv in settings.items()))

    def entries(self):
        return [n for n in os.listdir(self.mountpoint) if not n.startswith(".")]

    def stop(self):
        if os.path.ismount(self.mountpoint):
            subprocess.run(["fusermount", "-u", self.mountpoint], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


DIGEST_SIZES = {0x0B: 32, 0x0C: 48, 0x0D: 64, 0x12: 32}


def ccel_trimmed(data):
    """The used part of a CCEL table: spec-ID event (TCG_PCR_EVENT), then crypto-agile
    events until 8 bytes of 0xFF or 0x00."""
    size = struct.unpack_from("<I", data, 28)[0]
    off = 32 + size
    while True:
        marker = data[off:off + 8]
        if marker in (b"\xff" * len(marker), b"\0" * len(marker)):
            return data[:off]
        count = struct.unpack_from("<I", data, off + 8)[0]
        off += 12
        for _ in range(count):
            alg = struct.unpack_from("<H", data, off)[0]
            off += 2 + DIGEST_SIZES[alg]
        off += 4 + struct.unpack_from("<I", data, off)[0]


PROVIDERS_BY_MODE = {"snp": "sev_guest", "tdx": "tdx_guest"}
