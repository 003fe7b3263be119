"""`cvmboot enroll` and the KBS-free paths of `cvmboot unlock`, driven through
the built binary on LUKS2 image files; cryptsetup and test_luks (libcryptsetup
through our own luks_unlock) check the result independently.
Usage: test_luks_cli.py TEST_LUKS_BINARY  (CVMBOOT_BIN from the environment)."""
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lukstest import WRAP, check, run_all  # noqa: E402

CVMBOOT = os.environ["CVMBOOT_BIN"]
TEST_LUKS = sys.argv[1]
EXISTING = b"existing passphrase"
RESOURCE = "default/luks/root"
URLS = ["https://kbs-a.example:8080", "http://127.0.0.1:9"]



class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.cmdline = self.path("cmdline")
        open(self.cmdline, "w").close()
        self.conf = self.write_conf("with-urls.conf", URLS)
        self.conf_nourl = self.write_conf("no-url.conf", [])
        self.passfile = self.path("pass")
        with open(self.passfile, "wb") as f:
            f.write(EXISTING)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_conf(self, name, urls):
        lines = ["[kbs]"] + ["url = " + u for u in urls]
        lines += ["insecure_http = true", "[luks]", "device_timeout = 300ms", ""]
        p = self.path(name)
        with open(p, "w") as f:
            f.write("\n".join(lines))
        return p

    def cvmboot(self, *args, conf=None, stdin=subprocess.DEVNULL):
        cmd = WRAP + [CVMBOOT, "--config", conf or self.conf, "--cmdline", self.cmdline]
        return subprocess.run(cmd + list(args), stdin=stdin, capture_output=True, text=True,
                              timeout=120)

    def image(self, name, luks_type="luks2"):
        p = self.path(name)
        with open(p, "wb") as f:
            f.truncate(20 << 20)
        subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", luks_type, "--pbkdf",
                        "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file",
                        self.passfile, p], check=True, capture_output=True)
        return p


def dump(img):
    out = subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", img],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def opens(img, keyfile, slot=None):
    """cryptsetup's own verdict: does keyfile open img (in slot)?"""
    cmd = ["cryptsetup", "open", "--test-passphrase", "--key-file", keyfile, img]
    if slot is not None:
        cmd[3:3] = ["--key-slot", str(slot)]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def verify(img, keyfile):
    return subprocess.run(WRAP + [TEST_LUKS, "verify", img, keyfile], capture_output=True,
                          text=True)


def leftovers(env, allowed):
    return sorted(set(os.listdir(env.tmp)) - set(allowed))


def test_generate_key(env):
    img = env.image("gen.img")
    key = env.path("gen.key")
    r = env.cvmboot("enroll", img, "--resource", RESOURCE, "--generate-key", key,
                    "--passphrase-file", env.passfile)
    check(r.returncode == 0, "enroll --generate-key: %d %s" % (r.returncode, r.stderr))
    check(r.stdout == "enrolled keyslot 1 with token 0 for resource %s\n" % RESOURCE,
          "enroll output: %r" % r.stdout)
    st = os.stat(key)
    check(st.st_size == 32 and (st.st_mode & 0o777) == 0o600,
          "key file size %d mode %o" % (st.st_size, st.st_mode & 0o777))
    check(not [n for n in os.listdir(env.tmp) if n.startswith("gen.key.")],
          "temporary key file left behind")
    meta = dump(img)
    kdf = meta["keyslots"]["1"]["kdf"]
    check(kdf["type"] == "pbkdf2" and kdf["hash"] == "sha256" and kdf["iterations"] == 1000,
          "keyslot 1 kdf %r" % kdf)
    check(meta["tokens"] == {"0": {"type": "cvmboot", "keyslots": ["1"], "resource": RESOURCE,
                                   "kbs_urls": URLS}}, "tokens %r" % meta["tokens"])
    check(opens(img, key, slot=1), "cryptsetup: the generated key does not open keyslot 1")
    v = verify(img, key)
    check(v.returncode == 0 and "key verified" in v.stdout, "luks_unlock: %s" % v.stderr)
    wrong = env.path("wrong.key")
    with open(key, "rb") as f, open(wrong, "wb") as g:
        g.write(bytes(b ^ 0x80 for b in f.read()))
    v = verify(img, wrong)
    check(v.returncode == 9 and "key does not open any keyslot of" in v.stderr,
          "wrong key: %d %s" % (v.returncode, v.stderr))
    check(not opens(img, wrong), "cryptsetup accepts the wrong key")

    # A second enrolment is refused and leaves the header as it was.
    r = env.cvmboot("enroll", img, "--resource", RESOURCE, "--generate-key",
                    env.path("gen2.key"), "--passphrase-file", env.passfile)
    check(r.returncode == 9 and "already has a cvmboot token" in r.stderr,
          "second enroll: %d %s" % (r.returncode, r.stderr))
    check(dump(img) == meta, "second enroll changed the header")
    check(not os.path.exists(env.path("gen2.key")), "key file of a failed enroll left behind")


def test_key_file(env):
    img = env.image("kf.img")
    key = env.path("kf.key")
    with open(key, "wb") as f:
        f.write(b"sixteen byte key")
    r = env.cvmboot("enroll", img, "--resource", "repo/type/tag", "--key-file", key,
                    "--passphrase-file", env.passfile, conf=env.conf_nourl)
    check(r.returncode == 0 and "enrolled keyslot 1 with token 0 for resource repo/type/tag"
          in r.stdout, "enroll --key-file: %d %s" % (r.returncode, r.stderr))
    check(dump(img)["tokens"]["0"] == {"type": "cvmboot", "keyslots": ["1"],
                                       "resource": "repo/type/tag", "kbs_urls": []},
          "token without URLs: %r" % dump(img)["tokens"])
    check(opens(img, key, slot=1), "cryptsetup: the key file does not open keyslot 1")

    # Unlock with no KBS URL anywhere fails before any network use.
    r = env.cvmboot("unlock", img, "--no-activate", conf=env.conf_nourl)
    check(r.returncode == 3 and "no KBS URL" in r.stderr,
          "unlock without URL: %d %s" % (r.returncode, r.stderr))

    for size, needle in ((15, "must be 16 to 512 bytes long, not 15"),
                         (513, "longer than 512 bytes"), (0, "is empty")):
        img2 = env.image("kf%d.img" % size)
        before = dump(img2)
        with open(key, "wb") as f:
            f.write(b"k" * size)
        r = env.cvmboot("enroll", img2, "--resource", "repo/type/tag", "--key-file", key,
                        "--passphrase-file", env.passfile)
        check(r.returncode == 2 and needle in r.stderr,
              "%d-byte key: %d %s" % (size, r.returncode, r.stderr))
        check(dump(img2) == before, "%d-byte key changed the header" % size)


def test_refusals(env):
    img = env.image("ref.img")
    before = dump(img)
    existing = env.path("existing.key")
    with open(existing, "wb") as f:
        f.write(b"do not overwrite")
    r = env.cvmboot("enroll", img, "--resource", RESOURCE, "--generate-key", existing,
                    "--passphrase-file", env.passfile)
    check(r.returncode == 2 and "already exists" in r.stderr,
          "generate over a file: %d %s" % (r.returncode, r.stderr))
    with open(existing, "rb") as f:
        check(f.read() == b"do not overwrite", "existing file overwritten")

    wrongpass = env.path("wrongpass")
    with open(wrongpass, "wb") as f:
        f.write(b"not the passphrase")
    key = env.path("never.key")
    r = env.cvmboot("enroll", img, "--resource", RESOURCE, "--generate-key", key,
                    "--passphrase-file", wrongpass)
    check(r.returncode == 9 and "existing passphrase does not open any keyslot" in r.stderr,
          "wrong passphrase: %d %s" % (r.returncode, r.stderr))
    check(not os.path.exists(key), "key file left after a failed enroll")
    check(not [n for n in os.listdir(env.tmp) if n.startswith("never.key")],
          "temporary file left after a failed enroll")

    r = env.cvmboot("enroll", img, "--resource", RESOURCE, "--generate-key", key)
    check(r.returncode == 2 and "not a terminal" in r.stderr,
          "no passphrase, no tty: %d %s" % (r.returncode, r.stderr))
    check(not os.path.exists(key), "key file written without a passphrase")

    usage = [
        ["enroll", img, "--resource", RESOURCE],
        ["enroll", img, "--resource", RESOURCE, "--key-file", existing, "--generate-key", key],
        ["enroll", img, "--generate-key", key, "--passphrase-file", env.passfile],
        ["enroll", img, "--resource", "a/b", "--generate-key", key, "--passphrase-file",
         env.passfile],
        ["enroll", img, img, "--resource", RESOURCE, "--generate-key", key],
        ["enroll", "--resource", RESOURCE, "--generate-key", key],
        ["enroll", img, "--resource", RESOURCE, "--bogus"],
        ["unlock"],
        ["unlock", img, img],
        ["unlock", img, "--name", "../evil"],
        ["unlock", img, "--bogus"],
    ]
    for args in usage:
        r = env.cvmboot(*args)
        check(r.returncode == 2, "usage %r: %d %s" % (args, r.returncode, r.stderr))
    check(not os.path.exists(key), "key file written by a usage error")
    check(dump(img) == before, "refusals changed the header")


def test_tty_prompt(env):
    img = env.image("tty.img")
    key = env.path("tty.key")
    pid, fd = pty.fork()
    if pid == 0:
        cmd = WRAP + [CVMBOOT, "--config", env.conf, "--cmdline", env.cmdline, "enroll", img,
                      "--resource", RESOURCE, "--generate-key", key]
        os.execvp(cmd[0], cmd)
    out = b""
    deadline = time.time() + 60
    sent = False
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if not sent and b"passphrase for" in out:
            os.write(fd, EXISTING + b"\n")
            sent = True
    status = None
    deadline = time.time() + (60 if WRAP else 10)
    while status is None and time.time() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        status = st if done else None
        time.sleep(0.05)
    if status is None:  # stuck waiting for input: fail, do not hang
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
          "tty enroll: status %r output %r" % (status, out))
    check(sent and EXISTING not in out, "passphrase echoed or never asked: %r" % out)
    check(b"enrolled keyslot 1 with token 0" in out, "tty enroll output %r" % out)
    check(os.path.exists(key) and opens(img, key, slot=1), "tty-enrolled key does not open")


def test_not_luks2(env):
    luks1 = env.image("luks1.img", "luks1")
    plain = env.path("plain.img")
    with open(plain, "wb") as f:
        f.truncate(20 << 20)
    for img, needle in ((luks1, "is not a LUKS2 volume (it is LUKS1"),
                        (plain, "is not a LUKS2 volume")):
        r = env.cvmboot("enroll", img, "--resource", RESOURCE, "--generate-key",
                        env.path("x.key"), "--passphrase-file", env.passfile)
        check(r.returncode == 9 and needle in r.stderr,
              "enroll %s: %d %s" % (img, r.returncode, r.stderr))
        check(not os.path.exists(env.path("x.key")), "key file left (%s)" % img)
        r = env.cvmboot("unlock", img, "--no-activate")
        check(r.returncode == 9 and needle in r.stderr,
              "unlock %s: %d %s" % (img, r.returncode, r.stderr))


def test_unlock_without_kbs(env):
    img = env.image("notoken.img")
    r = env.cvmboot("unlock", img, "--no-activate")
    check(r.returncode == 9 and "has no cvmboot token" in r.stderr,
          "unlock without token: %d %s" % (r.returncode, r.stderr))

    t0 = time.monotonic()
    r = env.cvmboot("unlock", env.path("absent.img"), "--no-activate")
    took = time.monotonic() - t0
    check(r.returncode == 9 and "absent.img did not appear within 300ms" in r.stderr,
          "missing device: %d %s" % (r.returncode, r.stderr))
    check(WRAP or took < 5, "missing device took %.1f s" % took)

    # A hostile token in the header is reported by field, nothing is fetched.
    tok = env.path("hostile.json")
    with open(tok, "w") as f:
        json.dump({"type": "cvmboot", "keyslots": ["0"], "resource": "../../etc",
                   "kbs_urls": ["https://evil.example"]}, f)
    subprocess.run(["cryptsetup", "token", "import", "--json-file", tok, img], check=True,
                   capture_output=True)
    r = env.cvmboot("unlock", img, "--no-activate")
    check(r.returncode == 9 and "token 0: field 'resource'" in r.stderr,
          "hostile token: %d %s" % (r.returncode, r.stderr))


def loop_attach(img):
    r = subprocess.run(["losetup", "--find", "--show", img], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def test_uuid(env):
    img = env.image("uuid.img")
    uuid = subprocess.run(["cryptsetup", "luksUUID", img], check=True, capture_output=True,
                          text=True).stdout.strip()
    r = env.cvmboot("unlock", "UUID=0badc0de-0000-4000-8000-00000000dead", "--no-activate")
    check(r.returncode == 9 and "device UUID=0badc0de-0000-4000-8000-00000000dead did not "
          "appear within 300ms" in r.stderr, "unknown UUID: %d %s" % (r.returncode, r.stderr))
    r = env.cvmboot("unlock", "UUID=../../x", "--no-activate")
    check(r.returncode == 9 and "invalid UUID" in r.stderr,
          "bad UUID: %d %s" % (r.returncode, r.stderr))

    loop = loop_attach(img) if os.geteuid() == 0 else None
    if not loop:
        print("note: no loop device here; UUID= resolution of a real device not tested")
        return
    try:
        key = env.path("uuid.key")
        r = env.cvmboot("enroll", "UUID=" + uuid, "--resource", RESOURCE, "--generate-key", key,
                        "--passphrase-file", env.passfile)
        check(r.returncode == 0 and "enrolled keyslot 1" in r.stdout,
              "enroll UUID=%s (%s): %d %s" % (uuid, loop, r.returncode, r.stderr))
        check(dump(img)["tokens"].get("0", {}).get("resource") == RESOURCE,
              "token not written through %s" % loop)
        v = verify(loop, key)
        check(v.returncode == 0, "verify on %s: %s" % (loop, v.stderr))
    finally:
        subprocess.run(["losetup", "--detach", loop], capture_output=True)


def test_duplicate_uuid(env):
    """A second disk with the same LUKS UUID (a copy of the header) is refused
    by name, whichever of the two udev or libblkid would have picked."""
    img = env.image("dup-a.img")
    uuid = subprocess.run(["cryptsetup", "luksUUID", img], check=True, capture_output=True,
                          text=True).stdout.strip()
    copy = env.path("dup-b.img")
    shutil.copyfile(img, copy)
    if os.geteuid() != 0:
        print("note: not root; duplicate UUID refusal not tested")
        return
    first = loop_attach(img)
    if not first:
        print("note: no loop device here; duplicate UUID refusal not tested")
        return
    second = None
    try:
        second = loop_attach(copy)
        check(second is not None, "could not attach the copy")
        key = env.path("dup.key")
        r = env.cvmboot("enroll", "UUID=" + uuid, "--resource", RESOURCE, "--generate-key", key,
                        "--passphrase-file", env.passfile)
        check(r.returncode == 9 and "UUID=%s is on two devices" % uuid in r.stderr
              and first in r.stderr and second in r.stderr,
              "duplicate UUID not refused: %d %s" % (r.returncode, r.stderr))
        check(dump(img)["tokens"] == {} and dump(copy)["tokens"] == {},
              "a token was written although the UUID was ambiguous")
        subprocess.run(["losetup", "--detach", second], capture_output=True)
        second = None
        r = env.cvmboot("enroll", "UUID=" + uuid, "--resource", RESOURCE, "--generate-key", key,
                        "--passphrase-file", env.passfile)
        check(r.returncode == 0 and "enrolled keyslot 1" in r.stdout,
              "one device left, enroll UUID=%s: %d %s" % (uuid, r.returncode, r.stderr))
    finally:
        for loop in (first, second):
            if loop:
                subprocess.run(["losetup", "--detach", loop], capture_output=True)


def main():
    if not shutil.which("cryptsetup"):
        print("cryptsetup not installed")
        return 77
    return run_all("cvmboot-luks-cli.", Env, (
        test_generate_key, test_key_file, test_refusals, test_tty_prompt, test_not_luks2,
        test_unlock_without_kbs, test_uuid, test_duplicate_uuid))


if __name__ == "__main__":
    sys.exit(main())
