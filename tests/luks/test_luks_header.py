"""A LUKS2 header rewritten by the host is refused before any key is tried.
Each case takes an image enrolled with `cvmboot enroll`, rewrites its header
JSON with luks2_header.py (both copies, checksums recomputed), checks that
cryptsetup still reads it (the tamper is realistic), and that our luks_unlock
(through `test_luks verify`) refuses it naming the image and the cipher.
Usage: test_luks_header.py TEST_LUKS_BINARY  (CVMBOOT_BIN from the environment)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import luks2_header  # noqa: E402
from lukstest import WRAP, check, run_all  # noqa: E402

CVMBOOT = os.environ["CVMBOOT_BIN"]
TEST_LUKS = sys.argv[1]
def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


class Images:
    def __init__(self, tmp):
        self.tmp = tmp
        self.passfile = self.path("pass")
        self.keyfile = self.path("key")
        with open(self.passfile, "wb") as f:
            f.write(b"existing passphrase")
        with open(self.keyfile, "wb") as f:
            f.write(os.urandom(32))
        conf, cmdline = self.path("c.conf"), self.path("cmdline")
        with open(conf, "w") as f:
            f.write("[kbs]\nurl = https://kbs.example:8080\n")
        open(cmdline, "w").close()
        self.enrolled = {}
        for key_bits in (512, 256):
            img = self.path("enrolled-%d.img" % key_bits)
            with open(img, "wb") as f:
                f.truncate(20 << 20)
            subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", "luks2", "--key-size",
                            str(key_bits), "--pbkdf", "pbkdf2", "--pbkdf-force-iterations",
                            "1000", "--key-file", self.passfile, img], check=True,
                           capture_output=True)
            r = run(WRAP + [CVMBOOT, "--config", conf, "--cmdline", cmdline, "enroll", img,
                     "--resource", "default/luks/root", "--key-file", self.keyfile,
                     "--passphrase-file", self.passfile])
            if r.returncode != 0:
                raise RuntimeError("enroll: %s" % r.stderr)
            self.enrolled[key_bits] = img

    def path(self, name):
        return os.path.join(self.tmp, name)

    def copy(self, name, key_bits=512):
        img = self.path(name + ".img")
        shutil.copyfile(self.enrolled[key_bits], img)
        return img


def cryptsetup_reads(img):
    return run(["cryptsetup", "luksDump", img]).returncode == 0


def cryptsetup_opens(img, keyfile):
    """cryptsetup's own verdict on the key (no device-mapper needed)."""
    return run(["cryptsetup", "open", "--test-passphrase", "--key-file", keyfile,
                img]).returncode == 0


def verify(imgs, img, *ciphers):
    return run(WRAP + [TEST_LUKS, "verify", img, imgs.keyfile] + list(ciphers))


def refused(imgs, name, img, needles, *ciphers):
    r = verify(imgs, img, *ciphers)
    msg = r.stderr.strip()
    check(r.returncode == 9, "%s: not refused (rc %d): %s" % (name, r.returncode, msg))
    for needle in [img] + list(needles):
        check(needle in msg, "%s: %r not in the error %r" % (name, needle, msg))


def accepted(imgs, name, img, *ciphers):
    r = verify(imgs, img, *ciphers)
    check(r.returncode == 0, "%s: refused (rc %d): %s" % (name, r.returncode, r.stderr.strip()))


def tamper(imgs, name, edits, key_bits=512):
    """A copy of the enrolled image with edits [(dotted.path, value)]."""
    img = imgs.copy(name, key_bits)
    for path, value in edits:
        luks2_header.set_field(img, path, value)
    check(cryptsetup_reads(img), "%s: cryptsetup luksDump cannot read the tampered image" % name)
    return img


SEGMENT = "segments.0."


def test_untampered(imgs):
    accepted(imgs, "untampered", imgs.enrolled[512])
    check(cryptsetup_opens(imgs.enrolled[512], imgs.keyfile), "cryptsetup: key does not open")


def test_null_segment(imgs):
    """The high-severity rewrite: the data in clear, the key still opening."""
    for enc in ("cipher_null-ecb", "cipher_null", "CIPHER_NULL-ECB",
                "capi:ecb(cipher_null)-plain"):
        img = tamper(imgs, "null-" + enc.replace(":", "_").replace("(", "_").replace(")", "_"),
                     [(SEGMENT + "encryption", enc)])
        check(cryptsetup_opens(img, imgs.keyfile),
              "%s: cryptsetup no longer accepts the key, the tamper is not the attack" % enc)
        refused(imgs, enc, img, ["null cipher", "'%s'" % enc, "tampered"])
    # An allow-list naming a null cipher is refused before any image is read.
    r = verify(imgs, imgs.enrolled[512], "cipher_null-ecb:512")
    check(r.returncode == 2 and "null cipher is never allowed" in r.stderr,
          "cipher_null in the allow-list: rc %d %r" % (r.returncode, r.stderr))


def test_cipher_not_allowed(imgs):
    img = tamper(imgs, "cbc", [(SEGMENT + "encryption", "aes-cbc-essiv:sha256")])
    refused(imgs, "aes-cbc-essiv", img,
            ["aes-cbc-essiv:sha256:512", "not allowed", "allowed_ciphers = aes-xts-plain64:512"])
    accepted(imgs, "aes-cbc-essiv once allowed", img, "aes-cbc-essiv:sha256:512")
    img = imgs.copy("xts256", 256)
    refused(imgs, "256-bit xts by default", img, ["aes-xts-plain64:256", "not allowed"])
    accepted(imgs, "256-bit xts once allowed", img, "aes-xts-plain64:512",
             "aes-xts-plain64:256")
    img = tamper(imgs, "integrity", [(SEGMENT + "integrity", {
        "type": "hmac(sha256)", "journal_encryption": "none", "journal_integrity": "none"})])
    refused(imgs, "integrity added", img, ["aes-xts-plain64:512:hmac(sha256)", "not allowed"])


def test_null_keyslot(imgs):
    """A keyslot area in clear: the volume key AF-split, readable with any key
    where libcryptsetup allows it (CVE-2025-59054); refused before trying."""
    vk = imgs.path("volume.key")
    subprocess.run(["cryptsetup", "luksDump", "-q", "--dump-volume-key", "--volume-key-file", vk,
                    "--key-file", imgs.passfile, imgs.enrolled[512]], check=True,
                   capture_output=True)
    img = imgs.copy("null-keyslot")
    luks2_header.null_keyslot(img, 1, vk)
    os.unlink(vk)
    check(cryptsetup_reads(img), "null keyslot: cryptsetup luksDump cannot read it")
    refused(imgs, "null keyslot 1", img, ["keyslot 1", "'cipher_null-ecb'", "any key"])
    img = tamper(imgs, "null-keyslot0", [("keyslots.0.area.encryption", "Cipher_Null-ECB")])
    refused(imgs, "null keyslot 0", img, ["keyslot 0", "'Cipher_Null-ECB'"])


def test_segment_placement(imgs):
    cases = [
        ("offset 0 (over the header)", "offset", "0", ["offset 0 ", "16777216 bytes of header"]),
        ("offset past the end", "offset", str(1 << 40), ["offset 1099511627776", "20971520-byte"]),
        ("size past the end", "size", str(1 << 40), ["size '1099511627776'", "20971520-byte"]),
        ("size one sector too big", "size", str((4 << 20) + 4096), ["size '4198400'"]),
    ]
    for name, field, value, needles in cases:
        img = tamper(imgs, name.replace(" ", "-"), [(SEGMENT + field, value)])
        refused(imgs, name, img, needles)
    img = tamper(imgs, "size-fits", [(SEGMENT + "size", str(4 << 20))])
    accepted(imgs, "a fixed size that fits", img)


def test_other_rewrites(imgs):
    img = tamper(imgs, "linear", [(SEGMENT + "type", "linear")])
    refused(imgs, "linear segment", img, ["type 'linear'"])
    img = tamper(imgs, "escape", [(SEGMENT + "encryption", "aes-xts-plain64\x1b[2J")])
    refused(imgs, "terminal escape in the cipher name", img, ["names no encryption"])
    img = tamper(imgs, "tweak", [(SEGMENT + "iv_tweak", "8")])
    refused(imgs, "iv_tweak", img, ["iv_tweak"])
    img = tamper(imgs, "keysize", [("keyslots.0.key_size", 32)])
    refused(imgs, "keyslot key size", img, ["keyslot 1", "512-bit key", "256 bits"])
    # Flags stored in the header are ignored at activation, not refused.
    img = tamper(imgs, "discards", [("config.flags", ["allow-discards"])])
    accepted(imgs, "persistent flags", img)
    # Rewrites libcryptsetup itself will not load fail closed all the same.
    img = imgs.copy("two-segments")
    luks2_header.set_field(img, "segments.1", {
        "type": "crypt", "offset": str(18 << 20), "size": "dynamic", "iv_tweak": "0",
        "encryption": "aes-xts-plain64", "sector_size": 4096})
    refused(imgs, "two segments", img, ["not a LUKS2 volume"])


def main():
    return run_all("cvmboot-luks-header.", Images, (
        test_untampered, test_null_segment, test_cipher_not_allowed, test_null_keyslot,
        test_segment_placement, test_other_rewrites))


if __name__ == "__main__":
    sys.exit(main())
