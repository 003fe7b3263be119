#!/usr/bin/python3
# A LUKS2 header rewritten by the host (issue 7, defect 3) is refused by the
# real binary before the key is used: `unlock --no-activate`, `boot` with a
# configured volume and with a volume found by its token, and the allow-list;
# and a copy of an enrolled disk attached beside it (the same UUID twice).
"""Run one case: /usr/bin/python3 tests/integration/test_tamper.py CASE (CVMBOOT_BIN set)."""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "luks"))

from common import check, run_case  # noqa: E402
import luks2_header  # noqa: E402

CASES = {}
RESOURCE = "default/luks/root"
NULL = "cipher_null-ecb"


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def need_luks():
    if os.geteuid() != 0 or not shutil.which("cryptsetup"):
        print("SKIP: needs root and cryptsetup")
        sys.exit(77)


def enrolled_image(env, name, urls, key_bits=512):
    """A 20 MiB LUKS2 image (aes-xts-plain64, key_bits) enrolled with `cvmboot
    enroll` for a fresh random key that the KBS holds at RESOURCE."""
    key = env.resource(RESOURCE, os.urandom(32), secret=True)
    img = os.path.join(env.tmp, name)
    pass_file = os.path.join(env.private_dir, "pass")
    key_file = os.path.join(env.private_dir, "key")
    with open(img, "wb") as f:
        f.truncate(20 << 20)
    with open(pass_file, "wb") as f:
        f.write(b"initial-pass")
    with open(key_file, "wb") as f:
        f.write(key)
    subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", "luks2", "--key-size",
                    str(key_bits), "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                    "--key-file", pass_file, img], check=True, capture_output=True, timeout=60)
    res = env.run(["enroll", img, "--resource", RESOURCE, "--key-file", key_file,
                   "--passphrase-file", pass_file], env.config(urls))
    check(res.rc == 0, "enroll\n%r" % res)
    os.unlink(key_file)
    return img


def set_null_segment(img):
    luks2_header.set_field(img, "segments.0.encryption", NULL)
    dump = subprocess.run(["cryptsetup", "luksDump", img], capture_output=True, text=True)
    check(dump.returncode == 0 and NULL in dump.stdout,
          "cryptsetup does not read the tampered header:\n%s" % dump.stderr)


def luks_config(env, kbs, img=None, luks=None, files=None):
    resources = dict(files or {})
    if img:
        resources["root"] = {"path": RESOURCE, "luks_device": img, "luks_name": "it-root"}
    return env.config([kbs.url], kbs.ca, resources=resources, luks=luks)


@case
def unlock_refuses_null_segment(env):
    """The reproduction of defect 3: before, `unlock --no-activate` said the key opens."""
    need_luks()
    kbs = env.start_kbs()
    img = enrolled_image(env, "tampered.img", [kbs.url])
    conf = env.config([kbs.url], kbs.ca)
    res = env.run(["unlock", img, "--no-activate"], conf)
    check(res.rc == 0 and "the fetched key opens" in res.out, "untampered image\n%r" % res)
    set_null_segment(img)
    res = env.run(["unlock", img, "--no-activate"], conf)
    check(res.rc == 9, "tampered image not refused\n%r" % res)
    check("the fetched key opens" not in res.out, "claims the key opens\n%r" % res)
    check(img in res.err and "'%s'" % NULL in res.err and "tampered" in res.err,
          "the error does not name the volume and the cipher\n%r" % res)


@case
def unlock_refuses_null_keyslot(env):
    need_luks()
    kbs = env.start_kbs()
    img = enrolled_image(env, "tampered.img", [kbs.url])
    luks2_header.set_field(img, "keyslots.0.area.encryption", "cipher_null")
    res = env.run(["unlock", img, "--no-activate"], env.config([kbs.url], kbs.ca))
    check(res.rc == 9 and img in res.err and "keyslot 0" in res.err
          and "'cipher_null'" in res.err, "null keyslot not refused\n%r" % res)


@case
def boot_refuses_tampered_volume(env):
    """A configured volume with a rewritten header: the boot fails closed, exit 9,
    status.json names the volume and the cipher, no secret file is left."""
    need_luks()
    kbs = env.start_kbs()
    img = enrolled_image(env, "root.img", [kbs.url])
    env.random_secret("default/workload/tls.key", b"TLSKEY-")
    set_null_segment(img)
    res = env.run(["boot", "--no-activate"], luks_config(env, kbs, img, files={
        "tls-key": {"path": "default/workload/tls.key", "file": "tls.key"}}))
    st = env.check_failed_status(res, 9, "unlock", r"volume 'root'.*%s" % NULL)
    check(img in st["reason"], "status.json reason lacks the device: %r" % st["reason"])
    left = os.listdir(env.secrets_dir) if os.path.isdir(env.secrets_dir) else []
    check(not left, "secret files left: %r" % left)


def attach_loop(path):
    """The loop device now showing path; the case is skipped without one."""
    if not shutil.which("losetup"):
        print("SKIP: needs losetup")
        sys.exit(77)
    loop = subprocess.run(["losetup", "--find", "--show", path], capture_output=True, text=True)
    if loop.returncode != 0:
        print("SKIP: no loop device: %s" % loop.stderr.strip())
        sys.exit(77)
    return loop.stdout.strip()


@case
def boot_refuses_tampered_discovered_volume(env):
    """A host-attached disk carrying a cvmboot token, header rewritten: found by
    token discovery, then refused (the boot fails closed, naming it)."""
    need_luks()
    kbs = env.start_kbs()
    img = enrolled_image(env, "attached.img", [kbs.url])
    set_null_segment(img)
    dev = attach_loop(img)
    try:
        res = env.run(["boot", "--no-activate"], luks_config(env, kbs,
                                                            luks={"discover_tokens": True}))
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True)
    check("found LUKS2 volume %s" % dev in res.err, "not discovered\n%r" % res)
    st = env.check_failed_status(res, 9, "unlock", NULL)
    check(dev in st["reason"] and "token:" in st["reason"],
          "status.json reason does not name the device: %r" % st["reason"])


@case
def boot_refuses_duplicate_uuid_discovered(env):
    """A host-attached copy of an enrolled disk (same header, same UUID, same
    token): found by token discovery, the boot refuses both, naming them,
    before any key is fetched for them."""
    need_luks()
    kbs = env.start_kbs()
    img = enrolled_image(env, "real.img", [kbs.url])
    copy = os.path.join(env.tmp, "copy.img")
    shutil.copyfile(img, copy)
    devs = [attach_loop(img)]
    try:
        devs.append(attach_loop(copy))
        res = env.run(["boot", "--no-activate"], luks_config(env, kbs,
                                                            luks={"discover_tokens": True}))
    finally:
        for dev in devs:
            subprocess.run(["losetup", "-d", dev], capture_output=True)
    st = env.check_failed_status(res, 9, "unlock", r"is on two devices")
    check(all(dev in st["reason"] for dev in devs),
          "status.json reason does not name both devices: %r" % st["reason"])
    check(not any(e.get("endpoint", "").endswith(RESOURCE) for e in kbs.requests()),
          "the key was fetched although the volume was ambiguous")
    advice = res.err.strip().splitlines()[-1]
    check(advice.endswith("two disks carry this volume's LUKS2 UUID: detach the one that is "
                          "not this VM's volume (the host attached it), then boot again"),
          "last line: %r" % advice)


@case
def allowed_ciphers_config(env):
    """A 256-bit XTS volume: refused by default, opened once allowed; a null
    cipher in the list is a configuration error."""
    need_luks()
    kbs = env.start_kbs()
    img = enrolled_image(env, "xts256.img", [kbs.url], key_bits=256)
    res = env.run(["boot", "--no-activate"], luks_config(env, kbs, img))
    env.check_failed_status(res, 9, "unlock", r"aes-xts-plain64:256.*not allowed.*"
                            r"allowed_ciphers = aes-xts-plain64:512")
    res = env.run(["boot", "--no-activate"], luks_config(
        env, kbs, img, luks={"allowed_ciphers": "aes-xts-plain64:512 aes-xts-plain64:256"}))
    check(res.rc == 0, "allowed cipher refused\n%r" % res)
    res = env.run(["boot", "--no-activate"], luks_config(
        env, kbs, img, luks={"allowed_ciphers": "aes-xts-plain64:256 cipher_null-ecb:256"}))
    check(res.rc == 3 and "null cipher is never allowed" in res.err,
          "cipher_null accepted in the allow-list\n%r" % res)


if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
