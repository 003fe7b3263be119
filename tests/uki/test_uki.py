#!/usr/bin/python3
"""scripts/build-uki.sh and `cvmboot reference-values` against independent
implementations: PCR 11 against systemd's own `systemd-measure calculate`, the
Authenticode digest against the one sbsign signs; the JSON shape Trustee's RVPS
takes; refusals of files that are not measurable UKIs; and the test KBS's
reference-values policy (tests/kbs/verifiers/tpm.py) naming mismatching PCRs."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("CVMBOOT_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
CVMBOOT = os.environ.get("CVMBOOT_BIN", os.path.join(SRC, "build", "cvmboot"))
BUILD_UKI = os.path.join(SRC, "scripts", "build-uki.sh")
MEASURE = "/usr/lib/systemd/systemd-measure"
STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
NAMES = ["tpm_pcr11", "snp_pcr11", "tdx_pcr11", "tpm_pcr4", "tpm_pcr12", "tdvfkernel",
         "tdvfkernelparams"]
LISTS = NAMES[:5]
sys.path.insert(0, os.path.join(SRC, "tests", "kbs"))

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what, file=sys.stderr)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def reference_values(uki, phases=None):
    args = [CVMBOOT, "--cmdline", "/dev/null", "reference-values", "--uki", uki]
    if phases is not None:
        args += ["--phases", phases]
    p = run(args)
    if p.returncode != 0:
        raise SystemExit("reference-values failed: " + p.stderr)
    m = re.search(r"Authenticode SHA-256 ([0-9a-f]{64})", p.stderr)
    return json.loads(p.stdout), m.group(1) if m else None


def make_kernel(path, image_version=1):
    """A stand-in for a kernel: a PE image (systemd-stub's own file) whose image
    version says it speaks the EFI initrd protocol, as Linux >= 5.8 does, plus about
    1 MiB; 8-byte aligned, so that sbsign (which pads) hashes the same bytes."""
    with open(STUB, "rb") as f:
        data = bytearray(f.read())
    opt = int.from_bytes(data[0x3c:0x40], "little") + 24
    data[opt + 44:opt + 46] = image_version.to_bytes(2, "little")  # MajorImageVersion
    with open(path, "wb") as f:
        f.write(bytes(data) + os.urandom((1 << 20) + (-len(data) % 8)))


def build_uki(tmp, name, cmdline, initrd, extra=(), kernel="kernel"):
    out = os.path.join(tmp, name)
    p = run([BUILD_UKI, "--kernel", os.path.join(tmp, kernel), "--initrd", initrd,
             "--cmdline", cmdline, "--osrel", os.path.join(tmp, "os-release"), "-o", out,
             *extra])
    if p.returncode != 0:
        raise SystemExit("build-uki.sh failed: " + p.stderr)
    return out


def sections(tmp, uki):
    out = {}
    for s in ("linux", "osrel", "cmdline", "initrd"):
        path = os.path.join(tmp, "%s.%s" % (os.path.basename(uki), s))
        subprocess.run(["objcopy", "-O", "binary", "--only-section=." + s, uki, path], check=True)
        out[s] = path
    return out


def systemd_measure(tmp, uki, phase):
    """PCR 11 (sha256) as systemd-measure computes it from the UKI's sections."""
    secs = sections(tmp, uki)
    p = run([MEASURE, "calculate", "--bank=sha256", "--phase=" + phase]
            + ["--%s=%s" % (k, v) for k, v in secs.items()])
    if p.returncode != 0:
        raise SystemExit("systemd-measure failed: " + p.stderr)
    return re.search(r"^11:sha256=([0-9a-f]{64})$", p.stdout, re.M).group(1)


def signed_digest(tmp, uki):
    """The Authenticode digest inside the PKCS#7 signature sbsign attached."""
    sig = os.path.join(tmp, "sig.p7")
    subprocess.run(["sbattach", "--detach", sig, uki], check=True, capture_output=True)
    dump = run(["openssl", "asn1parse", "-inform", "DER", "-in", sig]).stdout
    after = dump[dump.index("1.3.6.1.4.1.311.2.1.4"):]  # SpcIndirectDataContent
    return re.search(r"OCTET STRING\s+\[HEX DUMP\]:([0-9A-F]{64})", after).group(1).lower()


def pcr4_chain(*authenticodes):
    """Boot option action, separator, then each application's Authenticode digest."""
    pcr = bytes(32)
    for data in (hashlib.sha256(b"Calling EFI Application from Boot Option").digest(),
                 hashlib.sha256(bytes(4)).digest(), *map(bytes.fromhex, authenticodes)):
        pcr = hashlib.sha256(pcr + data).digest()
    return pcr.hex()


def test_values(tmp):
    initrd = os.path.join(tmp, "initrd.img")
    uki = build_uki(tmp, "a.efi", "root=/dev/mapper/root console=ttyS0", initrd)
    rv, authenticode = reference_values(uki)
    check(list(rv) == NAMES, "names %r" % list(rv))
    check(all(isinstance(rv[k], list) and len(rv[k]) == 1 and re.fullmatch("[0-9a-f]{64}", rv[k][0])
              for k in LISTS), "PCR values are lists of one lowercase SHA-256 hex: %r" % rv)
    check(all(re.fullmatch("[0-9a-f]{96}", rv[k]) for k in NAMES[5:]),
          "TDX event digests are one lowercase SHA-384 hex each: %r" % rv)
    params = "root=/dev/mapper/root console=ttyS0".encode("utf-16-le") + b"\0\0"
    check(rv["tdvfkernelparams"] == hashlib.sha384(params).hexdigest(),
          "tdvfkernelparams: SHA-384 of the command line as UTF-16 with its NUL")
    check(rv["tpm_pcr11"] == rv["snp_pcr11"] == rv["tdx_pcr11"], "PCR 11 under every name")
    check(rv["tpm_pcr12"] == ["00" * 32], "PCR 12: nothing passed in")
    for phase in ("", "enter-initrd", "enter-initrd:leave-initrd"):
        mine = reference_values(uki, phase)[0]["tpm_pcr11"][0]
        check(mine == systemd_measure(tmp, uki, phase or ":"),
              "PCR 11 with phases %r differs from systemd-measure" % phase)
    # the kernel's digest, as sbsign signs it
    kernel_signed = os.path.join(tmp, "kernel.signed")
    subprocess.run(["sbsign", "--key", os.path.join(tmp, "db.key"), "--cert",
                    os.path.join(tmp, "db.pem"), "--output", kernel_signed,
                    os.path.join(tmp, "kernel")], check=True, capture_output=True)
    kernel_ac = signed_digest(tmp, kernel_signed)
    check(rv["tpm_pcr4"][0] == pcr4_chain(authenticode, kernel_ac),
          "PCR 4 chain over the UKI's and the kernel's Authenticode")

    again = build_uki(tmp, "a2.efi", "root=/dev/mapper/root console=ttyS0", initrd)
    check(reference_values(again)[0] == rv, "the same inputs give the same reference values")
    with open(uki, "rb") as a, open(again, "rb") as b:
        check(a.read() == b.read(), "the same inputs give the same bytes")
    other = build_uki(tmp, "b.efi", "root=/dev/mapper/root console=ttyS0 init=/bin/sh", initrd)
    rv_other = reference_values(other)[0]
    check(rv_other["tpm_pcr11"] != rv["tpm_pcr11"], "another command line changes PCR 11")
    check(rv_other["tpm_pcr4"] != rv["tpm_pcr4"], "another command line changes PCR 4")

    # Secure Boot signing: what sbsign signed is what we predict the firmware measures
    signed = build_uki(tmp, "s.efi", "root=/dev/mapper/root console=ttyS0", initrd,
                       ("--sign", os.path.join(tmp, "db.key"), os.path.join(tmp, "db.pem")))
    rv_signed, ac_signed = reference_values(signed)
    check(ac_signed == signed_digest(tmp, signed), "Authenticode differs from sbsign's digest")
    check(rv_signed["tpm_pcr11"] == rv["tpm_pcr11"], "signing leaves PCR 11 alone")
    check(rv_signed["tpm_pcr4"][0] == pcr4_chain(ac_signed, kernel_ac), "PCR 4 of the signed UKI")


def refused(args, needle, what):
    p = run([CVMBOOT, "--cmdline", "/dev/null", "reference-values"] + args)
    check(p.returncode == 2 and needle in p.stderr and p.stdout == "",
          "%s: exit %d, stderr %r" % (what, p.returncode, p.stderr))


def test_refusals(tmp):
    uki = build_uki(tmp, "r.efi", "quiet", os.path.join(tmp, "initrd.img"))
    with open(uki, "rb") as f:
        data = f.read()
    refused([], "usage", "no --uki")
    refused(["--uki", uki, "extra"], "usage", "an extra argument")
    refused(["--uki", os.path.join(tmp, "missing.efi")], "cannot open", "a missing file")
    refused(["--uki", tmp], "not a regular file", "a directory")
    refused(["--uki", os.path.join(tmp, "os-release")], "no MZ header", "a text file")
    for n in (64, 1000, len(data) // 3, len(data) // 2):
        cut = os.path.join(tmp, "cut.efi")
        with open(cut, "wb") as f:
            f.write(data[:n])
        p = run([CVMBOOT, "--cmdline", "/dev/null", "reference-values", "--uki", cut])
        check(p.returncode == 2 and p.stdout == "", "a %d-byte prefix: exit %d" % (n, p.returncode))
    other = os.path.join(tmp, "stub999.efi")
    with open(other, "wb") as f:
        f.write(data.replace(b"systemd-stub 252.", b"systemd-stub 999.", 1))
    refused(["--uki", other], "only systemd-stub 252", "another stub version")
    refused(["--uki", uki, "--phases", "enter initrd"], "printable", "a phase with a space")
    make_kernel(os.path.join(tmp, "old-kernel"), image_version=0)
    old = build_uki(tmp, "old.efi", "quiet", os.path.join(tmp, "initrd.img"), kernel="old-kernel")
    refused(["--uki", old], "predates the EFI initrd protocol", "a kernel without the initrd protocol")
    with open(os.path.join(tmp, "not-pe"), "wb") as f:
        f.write(os.urandom(4096))
    not_pe = build_uki(tmp, "not-pe.efi", "quiet", os.path.join(tmp, "initrd.img"), kernel="not-pe")
    refused(["--uki", not_pe], "the kernel in .linux: not a PE image", "a kernel that is not PE")


def test_kbs_policy(tmp):
    from verifiers import VerificationError, VerifierContext, tpm  # noqa: E402
    pcrs = [bytes([i]) * 32 for i in range(24)]
    path = os.path.join(tmp, "rv.json")

    def verdict(values, prefix="tpm"):
        with open(path, "w") as f:
            json.dump(values, f)
        try:
            tpm.check_reference_values(pcrs, VerifierContext(options={"reference-values": path}),
                                       prefix)
            return None
        except VerificationError as exc:
            return str(exc)

    good = {"tpm_pcr11": [pcrs[11].hex()], "tpm_pcr4": ["00" * 32, pcrs[4].hex()],
            "snp_pcr11": ["ff" * 32], "other": ["x"]}
    check(verdict(good) is None, "the right PCRs are accepted")
    bad = dict(good, tpm_pcr11=["ab" * 32])
    msg = verdict(bad) or ""
    check(msg.startswith("PCR11 is %s, reference value tpm_pcr11 is %s" % (pcrs[11].hex(), "ab" * 32)),
          "PCR 11 named: %r" % msg)
    msg = verdict(dict(bad, tpm_pcr4=["cd" * 32])) or ""
    check("PCR4 is" in msg and "PCR11 is" in msg and msg.index("PCR4") < msg.index("PCR11"),
          "both PCRs named, in order: %r" % msg)
    check("name no tpm_pcrN" in (verdict({"snp_pcr11": [pcrs[11].hex()]}) or ""),
          "a file pinning no tpm PCR is refused")
    # the Azure vTPM verifiers read Trustee's snp_/tdx_ names
    check(verdict(good, "snp") and "snp_pcr11" in verdict(good, "snp"), "snp_pcr11 checked")
    check(verdict(dict(good, snp_pcr11=[pcrs[11].hex()]), "snp") is None, "snp_pcr11 accepted")
    check("not a list" in (verdict({"tpm_pcr11": pcrs[11].hex()}) or ""), "a bare string")
    check("not a list" in (verdict({"tpm_pcr24": ["00" * 32]}) or ""), "PCR 24")
    check("not a list" in (verdict({"tpm_pcr11": ["00" * 31]}) or ""), "a short value")
    with open(path, "w") as f:
        f.write("{")
    try:
        tpm.check_reference_values(pcrs, VerifierContext(options={"reference-values": path}))
        check(False, "a broken JSON file was accepted")
    except VerificationError as exc:
        check("unreadable" in str(exc), str(exc))


def main():
    tmp = tempfile.mkdtemp(prefix="uki-test.")
    try:
        make_kernel(os.path.join(tmp, "kernel"))
        with open(os.path.join(tmp, "initrd.img"), "wb") as f:
            f.write(os.urandom(300000))
        with open(os.path.join(tmp, "os-release"), "w") as f:
            f.write('ID=cvmboot-test\nPRETTY_NAME="cvmboot test"\n')
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=cvmboot test db", "-keyout", os.path.join(tmp, "db.key"),
                        "-out", os.path.join(tmp, "db.pem")], check=True, capture_output=True)
        test_values(tmp)
        test_refusals(tmp)
        test_kbs_policy(tmp)
    finally:
        shutil.rmtree(tmp)
    if failures:
        print("uki: %d check(s) failed" % len(failures))
        return 1
    print("uki: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
