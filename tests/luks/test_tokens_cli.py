"""`cvmboot tokens`, `cvmboot disenroll` and `cvmboot check-config` through the
built binary on LUKS2 image files; cryptsetup checks the headers independently.
Usage: test_tokens_cli.py  (CVMBOOT_BIN from the environment)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

CVMBOOT = os.environ["CVMBOOT_BIN"]
PASS = b"recovery passphrase"
URL = "https://kbs.example:8080"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(tmp, *args, stdin_fds=None):
    conf = os.path.join(tmp, "c.conf")
    cmd = [CVMBOOT, "--config", conf, "--cmdline", "/dev/null"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          pass_fds=stdin_fds or ())


def dump(img):
    out = subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", img],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def opens(img, keyfile, slot):
    return subprocess.run(["cryptsetup", "open", "--test-passphrase", "--key-slot", str(slot),
                           "--key-file", keyfile, img], capture_output=True).returncode == 0


def pipe_with(data):
    """A pipe's read end holding data (what the Ansible module hands enroll)."""
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


def main(tmp):
    with open(os.path.join(tmp, "c.conf"), "w") as f:
        f.write("[kbs]\nurl = %s\n" % URL)
    passfile = os.path.join(tmp, "pass")
    with open(passfile, "wb") as f:
        f.write(PASS)
    img = os.path.join(tmp, "d.img")
    with open(img, "wb") as f:
        f.truncate(20 << 20)
    subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", "luks2", "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", "--key-file", passfile, img],
                   check=True, capture_output=True)

    r = run(tmp, "tokens", img, "--json")
    check(r.returncode == 0, "tokens on a fresh volume: %d %s" % (r.returncode, r.stderr))
    got = json.loads(r.stdout)
    check(got["keyslots"] == [0] and got["tokens"] == [], "fresh: %r" % got)

    # Key and passphrase through pipes, as the role does: no file holds them.
    key = os.urandom(64)
    kfd, pfd = pipe_with(key), pipe_with(PASS)
    r = run(tmp, "enroll", img, "--resource", "default/luks/root", "--key-file",
            "/dev/fd/%d" % kfd, "--passphrase-file", "/dev/fd/%d" % pfd, stdin_fds=(kfd, pfd))
    os.close(kfd)
    os.close(pfd)
    check(r.returncode == 0, "enroll through pipes: %d %s" % (r.returncode, r.stderr))
    r = run(tmp, "tokens", img, "--json")
    got = json.loads(r.stdout)
    check(got == {"device": img, "uuid": got["uuid"], "keyslots": [0, 1],
                  "tokens": [{"token": 0, "keyslot": 1, "resource": "default/luks/root",
                              "kbs_urls": [URL]}]}, "after enroll: %r" % got)
    uuid = subprocess.run(["cryptsetup", "luksUUID", img], capture_output=True,
                          text=True).stdout.strip()
    check(got["uuid"] == uuid, "uuid %r, cryptsetup says %r" % (got["uuid"], uuid))
    r = run(tmp, "tokens", img)
    check(r.returncode == 0 and "token 0: keyslot 1, resource default/luks/root" in r.stdout,
          "text listing: %r" % r.stdout)
    keyfile = os.path.join(tmp, "k")
    with open(keyfile, "wb") as f:
        f.write(key)
    check(opens(img, keyfile, 1), "the piped key does not open keyslot 1")

    # An invalid cvmboot token is listed with the reason, not hidden.
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        json.dump({"type": "cvmboot", "keyslots": ["0"], "resource": "x", "kbs_urls": []}, f)
    subprocess.run(["cryptsetup", "token", "import", "--token-id", "5", "--json-file", bad,
                    img], check=True, capture_output=True)
    got = json.loads(run(tmp, "tokens", img, "--json").stdout)
    check(len(got["tokens"]) == 2 and got["tokens"][1]["token"] == 5
          and "field 'resource'" in got["tokens"][1].get("error", ""),
          "invalid token listing: %r" % got["tokens"])
    subprocess.run(["cryptsetup", "token", "remove", "--token-id", "5", img], check=True,
                   capture_output=True)

    before = dump(img)
    r = run(tmp, "disenroll", img, "--resource", "other/luks/root")
    check(r.returncode == 9 and "names resource default/luks/root" in r.stderr,
          "disenroll, other resource: %d %s" % (r.returncode, r.stderr))
    check(dump(img) == before, "a refused disenroll changed the header")
    r = run(tmp, "disenroll", img, "--resource", "bad path")
    check(r.returncode == 2, "disenroll, bad path: %d" % r.returncode)

    r = run(tmp, "disenroll", img, "--resource", "default/luks/root")
    check(r.returncode == 0 and "removed token 0 and keyslot 1" in r.stdout,
          "disenroll: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    meta = dump(img)
    check(sorted(meta["keyslots"]) == ["0"] and meta["tokens"] == {},
          "after disenroll: keyslots %r tokens %r" % (sorted(meta["keyslots"]), meta["tokens"]))
    check(opens(img, passfile, 0), "the recovery passphrase no longer opens keyslot 0")
    r = run(tmp, "disenroll", img)
    check(r.returncode == 0 and "nothing to remove" in r.stdout, "second disenroll: %r" % r)

    # Never the last keyslot.
    kfd, pfd = pipe_with(key), pipe_with(PASS)
    run(tmp, "enroll", img, "--resource", "default/luks/root", "--key-file", "/dev/fd/%d" % kfd,
        "--passphrase-file", "/dev/fd/%d" % pfd, stdin_fds=(kfd, pfd))
    os.close(kfd)
    os.close(pfd)
    subprocess.run(["cryptsetup", "luksKillSlot", "-q", "--key-file", keyfile, img, "0"],
                   check=True, capture_output=True)
    before = dump(img)
    r = run(tmp, "disenroll", img)
    check(r.returncode == 9 and "only keyslot" in r.stderr,
          "disenroll of the last keyslot: %d %s" % (r.returncode, r.stderr))
    check(dump(img) == before, "the refused last-keyslot disenroll changed the header")

    r = run(tmp, "tokens", os.path.join(tmp, "c.conf"))
    check(r.returncode == 9 and "not a LUKS2 volume" in r.stderr, "tokens on a non-LUKS file")

    r = run(tmp, "check-config")
    check(r.returncode == 0 and r.stdout.startswith("configuration valid: 1 KBS URL(s)"),
          "check-config: %r" % r)
    with open(os.path.join(tmp, "c.conf"), "a") as f:
        f.write("[tee]\ntype = nonsense\n")
    r = run(tmp, "check-config")
    check(r.returncode == 3 and "c.conf:4: [tee] type" in r.stderr,
          "check-config, bad value: %d %s" % (r.returncode, r.stderr))


if __name__ == "__main__":
    if os.geteuid() != 0 or not shutil.which("cryptsetup"):
        print("SKIP: needs root and cryptsetup")
        sys.exit(77)
    d = tempfile.mkdtemp(prefix="cvmboot-tokens.")
    try:
        main(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    sys.exit(1 if failures else 0)
