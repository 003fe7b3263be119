#!/usr/bin/python3
# The cvmboot role's tests: each case runs tests_*.yml against localhost (local
# connection) on LUKS2 image files, with the test KBS and its admin API, then
# checks the outcome from outside: cvmboot unlock --no-activate against the
# KBS, the LUKS2 headers (cryptsetup), the KBS request log, the play recap.
"""Usage: run_tests.py CASE   (CVMBOOT_BIN, CVMBOOT_SRC from the environment).
Exit 0 pass, 1 fail, 77 skip (needs root, cryptsetup and ansible-playbook)."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "kbs"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import harness  # noqa: E402
from common import check, run_case  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

CVMBOOT = os.path.abspath(os.environ.get("CVMBOOT_BIN", os.path.join(SRC, "build", "cvmboot")))
BUILD_UKI = os.path.join(SRC, "scripts", "build-uki.sh")
STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
PASSPHRASE = "recovery passphrase \u00e9"  # non-ASCII: exact bytes all the way
RECAP = re.compile(r"^localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                   re.M)
# What a signed admin JWT starts with ({"alg":"EdDSA",...): it must never show.
JWT_HEAD = base64.urlsafe_b64encode(b'{"alg":"EdDSA"').rstrip(b"=")[:16]


class Play:
    def __init__(self, rc, out):
        self.rc, self.out = rc, out
        m = RECAP.findall(out)
        self.ok, self.changed, self.unreachable, self.failed = (
            tuple(int(x) for x in m[-1]) if m else (None,) * 4)

    def __repr__(self):
        return "rc=%s changed=%s failed=%s\n%s" % (self.rc, self.changed, self.failed,
                                                   self.out[-6000:])


class World:
    """One case's scratch world: KBS with admin API, images, the role's paths."""

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="cvmboot-ansible-%s." % name)
        self.shm = tempfile.mkdtemp(prefix="cvmboot-ansible-%s." % name, dir="/dev/shm")
        self.private = self.path("private")   # the test's own inputs (keys, passphrases)
        self.res = self.path("resources")     # the KBS's resource store
        self.etc = self.path("etc")           # the role's /etc
        for d in (self.private, self.res, self.etc):
            os.makedirs(d, mode=0o700)
        self.needles = [PASSPHRASE.encode("utf-8")]
        self.kbs = None
        self.images = {}
        admin = Ed25519PrivateKey.generate()
        self.admin_key = self.write_private("admin.key", admin.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.admin_pub = self.write_private("admin.pub", admin.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.admin = admin
        self.passfile = self.write_private("passphrase", PASSPHRASE.encode("utf-8"))
        self.given_key = os.urandom(48)
        self.needles.append(self.given_key)
        self.keyfile = self.write_private("given.key", self.given_key)
        self.rebuild_log = self.path("initramfs-rebuilds.log")
        self.conf = os.path.join(self.etc, "cvmboot", "cvmboot.conf")
        self.bin = CVMBOOT

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_private(self, name, data):
        p = os.path.join(self.private, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o600)
        return p

    def admin_jwt(self, lifetime=300):
        """A ready bearer token for the token-file cases (as an IdP would issue)."""
        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        now = int(time.time())
        head = b64(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
        body = b64(json.dumps({"iat": now, "exp": now + lifetime}).encode())
        sig = b64(self.admin.sign(("%s.%s" % (head, body)).encode()))
        return "%s.%s.%s" % (head, body, sig)

    def start_kbs(self):
        self.kbs = harness.start_kbs(self.path("kbs"), self.res,
                                     extra_args=("--admin-public-key", self.admin_pub))
        return self.kbs

    def image(self, name):
        img = self.path(name + ".img")
        with open(img, "wb") as f:
            f.truncate(20 << 20)
        subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", "luks2", "--pbkdf", "pbkdf2",
                        "--pbkdf-force-iterations", "1000", "--key-file", self.passfile, img],
                       check=True, capture_output=True, timeout=60)
        self.images[name] = img
        return img

    def extra_vars(self, **more):
        v = {
            "cvmboot_kbs_urls": [self.kbs.url],
            "cvmboot_kbs_ca_src": self.kbs.ca,
            "cvmboot_kbs_ca_file": os.path.join(self.etc, "cvmboot", "kbs-ca.pem"),
            "cvmboot_tee": "sample",
            "cvmboot_manage_packages": False,
            "__cvmboot_config_dir": os.path.join(self.etc, "cvmboot"),
            "__cvmboot_dracut_conf_file": os.path.join(self.etc, "dracut.conf.d",
                                                       "90-cvmboot.conf"),
            "__cvmboot_bin": self.bin,
            "__cvmboot_initramfs_update_cmd": "/bin/sh -c 'echo rebuilt >> %s'"
                                              % self.rebuild_log,
            "__cvmboot_manage_workload_unit": False,
            "test_images": self.images,
            "test_passphrase": PASSPHRASE,
            "test_passphrase_file": self.passfile,
            "test_admin_key": self.admin_key,
            "test_key_file": self.keyfile,
            "test_run_dir": os.path.join(self.shm, "run"),
        }
        v.update(more)
        return v

    def play(self, playbook, check_mode=False, verbosity=0, **more):
        varfile = os.path.join(self.private, "vars.json")
        with open(varfile, "w", encoding="utf-8") as f:
            json.dump(self.extra_vars(**more), f)
        cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", "@" + varfile,
               os.path.join(HERE, playbook)]
        if check_mode:
            cmd.append("--check")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(HERE, "ansible.cfg"),
                   ANSIBLE_LOCAL_TEMP=self.path("ansible-local"),
                   ANSIBLE_REMOTE_TEMP=self.path("ansible-remote"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=600)
        out = proc.stdout.decode("utf-8", "replace")
        with open(self.path("last-play.log"), "w", encoding="utf-8") as f:
            f.write(out)
        self.last = Play(proc.returncode, out)
        self.check_no_leak(proc.stdout)
        return self.last

    # -- observations from outside the role
    def header(self, img):
        out = subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", img],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    def opens(self, img, keyfile, slot):
        return subprocess.run(["cryptsetup", "open", "--test-passphrase", "--key-slot", str(slot),
                               "--key-file", keyfile, img], capture_output=True).returncode == 0

    def unlock(self, img):
        """cvmboot unlock --no-activate with the configuration the role wrote."""
        return subprocess.run([CVMBOOT, "--config", self.conf, "--cmdline", "/dev/null",
                               "unlock", img, "--no-activate"], capture_output=True, text=True,
                              timeout=60)

    def admin_requests(self):
        return [e for e in self.kbs.requests() if e["endpoint"] == "admin"]

    def stored(self, resource):
        p = os.path.join(self.res, *resource.split("/"))
        if not os.path.exists(p):
            return None
        with open(p, "rb") as f:
            data = f.read()
        if data not in self.needles:
            self.needles.append(data)
        return data

    def rebuilds(self):
        if not os.path.exists(self.rebuild_log):
            return 0
        with open(self.rebuild_log) as f:
            return len(f.read().split())

    # -- secrets never leave their places
    def _encodings(self):
        for s in self.needles:
            yield s
            yield s.hex().encode()
            yield base64.b64encode(s).rstrip(b"=")
            yield base64.urlsafe_b64encode(s).rstrip(b"=")

    def check_no_leak(self, output):
        for needle in self._encodings():
            check(needle not in output, "a key or passphrase appears in the playbook output")
        check(JWT_HEAD not in output, "the admin JWT appears in the playbook output")
        skip = (self.private, self.res)
        for root in (self.tmp, self.shm):
            for dirpath, dirnames, files in os.walk(root):
                if dirpath.startswith(skip):
                    dirnames[:] = []
                    continue
                for name in files:
                    p = os.path.join(dirpath, name)
                    if p.endswith(".img") or not os.path.isfile(p) or p.startswith(skip):
                        continue
                    with open(p, "rb") as f:
                        data = f.read()
                    for needle in self._encodings():
                        check(needle not in data, "a key or passphrase appears in %s" % p)

    def cleanup(self):
        if self.kbs:
            self.kbs.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.shm, ignore_errors=True)

    def dump(self):
        sys.stderr.write("=== last play:\n%r\n" % (getattr(self, "last", None),))
        if self.kbs:
            for e in self.kbs.requests():
                sys.stderr.write("  kbs: %s\n" % json.dumps(e, sort_keys=True))


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def check_enrolled(w, img, resource, keyslot=1):
    """The cvmboot token names resource, keyslot 0 (the passphrase) is intact,
    and the key the KBS serves opens the volume."""
    meta = w.header(img)
    tokens = [t for t in meta["tokens"].values() if t["type"] == "cvmboot"]
    check(len(tokens) == 1 and tokens[0]["resource"] == resource
          and tokens[0]["keyslots"] == [str(keyslot)]
          and tokens[0]["kbs_urls"] == [w.kbs.url], "%s: tokens %r" % (img, meta["tokens"]))
    check(sorted(meta["keyslots"]) == sorted(["0", str(keyslot)]),
          "%s: keyslots %r" % (img, sorted(meta["keyslots"])))
    check(w.opens(img, w.passfile, 0), "%s: the recovery passphrase no longer opens it" % img)
    r = w.unlock(img)
    check(r.returncode == 0 and "the fetched key opens" in r.stdout,
          "cvmboot unlock --no-activate %s: %d\n%s%s" % (img, r.returncode, r.stdout, r.stderr))


def check_config_written(w):
    with open(w.conf, encoding="utf-8") as f:
        text = f.read()
    check(text.startswith("#\n# Ansible managed\n#\n"), "config does not start with "
          "ansible_managed: %r" % text[:80])
    r = subprocess.run([CVMBOOT, "--config", w.conf, "--cmdline", "/dev/null", "check-config"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "cvmboot check-config refuses the role's config: %s" % r.stderr)
    with open(os.path.join(w.etc, "dracut.conf.d", "90-cvmboot.conf")) as f:
        dracut = f.read()
    check('kernel_cmdline+=" rd.neednet=1 "' in dracut and 'add_dracutmodules+=" cvmboot "'
          in dracut, "dracut drop-in: %r" % dracut)
    with open(os.path.join(w.etc, "cvmboot", "kbs-ca.pem"), "rb") as f, open(w.kbs.ca, "rb") as g:
        check(f.read() == g.read(), "the installed CA differs from the KBS's")
    return text


@case
def generated_key(w):
    """Generated key: signed JWT, uploaded, enrolled, unlockable; a second run
    changes nothing and does not rebuild the initramfs."""
    w.start_kbs()
    img = w.image("a")
    p = w.play("tests_generated_key.yml")
    check(p.rc == 0 and p.failed == 0, "first run failed: %r" % p)
    text = check_config_written(w)
    check("\n[resource.data-a]\npath = default/luks/a\nluks_device = %s\nluks_name = data-a\n"
          % img in text, "config: %r" % text)
    key = w.stored("default/luks/a")
    check(key is not None and len(key) == 64, "the KBS holds no 64-byte key")
    admin = w.admin_requests()
    check([(e["admin_action"], e["status"]) for e in admin] == [("set-resource", 200)],
          "admin requests %r" % admin)
    check_enrolled(w, img, "default/luks/a")
    check(w.rebuilds() == 1, "initramfs rebuilt %d times, want 1" % w.rebuilds())
    check("enrolled, keyslot 1, key uploaded to the KBS" in p.out, "no report line")

    before = w.header(img)
    p = w.play("tests_generated_key.yml")
    check(p.rc == 0 and p.changed == 0, "second run: want changed=0: %r" % p)
    check(w.header(img) == before, "the second run changed the LUKS2 header")
    check(len(w.admin_requests()) == 1, "the second run talked to the admin API")
    check(w.rebuilds() == 1, "the second run rebuilt the initramfs")
    check("already-enrolled, keyslot 1" in p.out, "second run report")


@case
def check_mode(w):
    """--check on a bare system reports changes and makes none; after the
    real run, --check reports none."""
    w.start_kbs()
    img = w.image("a")
    before = w.header(img)
    p = w.play("tests_generated_key.yml", check_mode=True)
    check(p.rc == 0 and p.changed and p.changed > 0, "check mode: want changes: %r" % p)
    check(w.header(img) == before, "check mode changed the LUKS2 header")
    check(not os.path.exists(w.conf), "check mode wrote the configuration")
    check(w.admin_requests() == [], "check mode talked to the admin API")
    check(w.rebuilds() == 0, "check mode rebuilt the initramfs")
    check("would-enrol" in p.out, "check mode does not say it would enrol")
    p = w.play("tests_generated_key.yml")
    check(p.rc == 0 and p.changed > 0, "real run failed: %r" % p)
    after = w.header(img)
    p = w.play("tests_generated_key.yml", check_mode=True)
    check(p.rc == 0 and p.changed == 0, "check mode after the run: want changed=0: %r" % p)
    check(w.header(img) == after and w.rebuilds() == 1, "check mode changed something")


@case
def key_src(w):
    """key_src and password_src, no admin credentials: nothing uploaded, the
    key the operator put on the KBS opens the volume."""
    w.start_kbs()
    harness.make_resources(w.res, {"default/luks/given": w.given_key})
    img = w.image("a")
    p = w.play("tests_key_src.yml")
    check(p.rc == 0 and p.failed == 0, "run failed: %r" % p)
    check(w.admin_requests() == [], "the role used the admin API without credentials")
    check_enrolled(w, img, "default/luks/given")
    check(w.opens(img, w.keyfile, 1), "the key file does not open keyslot 1")
    p = w.play("tests_key_src.yml")
    check(p.rc == 0 and p.changed == 0, "second run: want changed=0: %r" % p)


@case
def two_volumes(w):
    """Two volumes, a ready token from a file: both uploaded, both enrolled,
    each with its own key."""
    w.start_kbs()
    a, b = w.image("a"), w.image("b")
    token = w.admin_jwt().encode()
    w.needles.append(token)
    token_file = w.write_private("admin.token", token + b"\n")
    p = w.play("tests_two_volumes.yml", test_token_file=token_file)
    check(p.rc == 0 and p.failed == 0, "run failed: %r" % p)
    ka, kb = w.stored("default/luks/root"), w.stored("default/luks/data")
    check(ka and kb and ka != kb, "the KBS does not hold two distinct keys")
    check_enrolled(w, a, "default/luks/root")
    check_enrolled(w, b, "default/luks/data")
    with open(w.conf) as f:
        text = f.read()
    check("[resource.root]" in text and "[resource.data]" in text, "config sections: %r" % text)
    p = w.play("tests_two_volumes.yml", test_token_file=token_file)
    check(p.rc == 0 and p.changed == 0, "second run: want changed=0: %r" % p)


@case
def files(w):
    """Files, workload, settings and the resource policy; cvmboot boot stages
    the files; the same run again changes nothing; one changed setting
    rebuilds the initramfs once more."""
    w.start_kbs()
    crt, key = b"-----BEGIN CERTIFICATE-----\ntest\n", os.urandom(32)
    w.needles.append(key)
    harness.make_resources(w.res, {"default/workload/tls.crt": crt,
                                   "default/workload/tls.key": key})
    token = w.admin_jwt().encode()
    w.needles.append(token)
    token_file = w.write_private("admin.token", token)
    p = w.play("tests_files.yml", test_token_file=token_file)
    check(p.rc == 0 and p.failed == 0, "run failed: %r" % p)
    text = check_config_written(w)
    for line in ("[resource.tls.crt]\npath = default/workload/tls.crt\nfile = tls.crt\n"
                 "mode = 0444\n", "[resource.tls.key]\npath = default/workload/tls.key\n"
                 "file = tls.key\nmode = 0400\n",
                 "[workload]\nimage = localhost/app:latest\ncommand = /app/serve --tls-dir "
                 "/run/secrets/cvmboot\nenv = LOG_LEVEL=info\npublish = 8443:8443\n",
                 "[retry]\nbackoff_base = 100ms\nbudget = 10s\n",
                 "[boot]\non_failure = emergency\n", "[luks]\ndiscover_tokens = false\n"):
        check(line in text, "config lacks %r:\n%s" % (line, text))
    with open(os.path.join(w.kbs.workdir, "resource-policy.rego")) as f:
        check("ear.status" in f.read(), "the KBS did not get the resource policy")
    r = subprocess.run([CVMBOOT, "--config", w.conf, "--cmdline", "/dev/null", "boot",
                        "--no-activate"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "cvmboot boot with the role's config: %d %s" % (r.returncode,
                                                                            r.stderr))
    with open(os.path.join(w.shm, "run", "secrets", "tls.key"), "rb") as f:
        check(f.read() == key, "tls.key staged wrong")
    shutil.rmtree(os.path.join(w.shm, "run"))
    check(w.rebuilds() == 1, "rebuilds after the first run: %d" % w.rebuilds())
    p = w.play("tests_files.yml", test_token_file=token_file)
    check(p.rc == 0 and p.changed == 0, "second run: want changed=0: %r" % p)
    sets = [e for e in w.admin_requests() if e["admin_action"] == "set-policy"]
    check(len(sets) == 1, "the unchanged policy was posted again: %r" % sets)
    check(w.rebuilds() == 1, "an unchanged run rebuilt the initramfs")
    p = w.play("tests_files.yml", test_token_file=token_file, test_on_failure="poweroff")
    # the configuration task, then the rebuild handler
    check(p.rc == 0 and p.changed == 2, "a changed setting: want changed=2: %r" % p)
    check("changed: [localhost]" in p.out.split("Write the cvmboot configuration")[1][:200],
          "the configuration task did not change: %r" % p)
    check(w.rebuilds() == 2, "a changed config did not rebuild the initramfs")


@case
def absent(w):
    """state: absent removes only the cvmboot keyslot and token; again: no change."""
    w.start_kbs()
    img = w.image("a")
    p = w.play("tests_generated_key.yml")
    check(p.rc == 0, "enrolment failed: %r" % p)
    p = w.play("tests_absent.yml")
    check(p.rc == 0 and p.changed >= 1, "absent run: %r" % p)
    meta = w.header(img)
    check(sorted(meta["keyslots"]) == ["0"] and meta["tokens"] == {},
          "after absent: keyslots %r tokens %r" % (sorted(meta["keyslots"]), meta["tokens"]))
    check(w.opens(img, w.passfile, 0), "the recovery passphrase no longer opens the volume")
    with open(w.conf) as f:
        check("[resource." not in f.read(), "the absent volume is still configured")
    p = w.play("tests_absent.yml")
    check(p.rc == 0 and p.changed == 0, "second absent run: want changed=0: %r" % p)


@case
def failed_upload(w):
    """The KBS refuses the token: the run fails naming the refusal, and the
    volume's header is exactly as before; nothing is stored on the KBS."""
    w.start_kbs()
    img = w.image("a")
    before = w.header(img)
    p = w.play("tests_failed_upload.yml")
    check(p.rc != 0 and p.failed == 1, "the run did not fail: %r" % p)
    check("HTTP 401 AdminAuth" in p.out and "the volume was not changed" in p.out,
          "no clear reason in the output: %r" % p)
    check(w.header(img) == before, "a failed upload changed the LUKS2 header")
    check(w.stored("default/luks/a") is None, "something was stored on the KBS")
    check([e["status"] for e in w.admin_requests()] == [401], "admin requests %r"
          % w.admin_requests())


@case
def failed_enroll(w):
    """cvmboot enroll fails after the upload: the uploaded key is deleted
    again, the header is unchanged, and the message says so."""
    w.start_kbs()
    img = w.image("a")
    before = w.header(img)
    wrapper = w.path("cvmboot-no-enroll")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n# test: a cvmboot whose enroll always fails\n"
                "for a; do [ \"$a\" = enroll ] && { echo 'enroll: injected failure' >&2; "
                "exit 9; }; done\nexec %s \"$@\"\n" % CVMBOOT)
    os.chmod(wrapper, 0o755)
    w.bin = wrapper
    p = w.play("tests_failed_enroll.yml")
    check(p.rc != 0 and p.failed == 1, "the run did not fail: %r" % p)
    check("injected failure" in p.out and "was deleted again" in p.out,
          "no clear rollback message: %r" % p)
    actions = [(e["admin_action"], e["status"]) for e in w.admin_requests()]
    check(actions == [("set-resource", 200), ("delete-resource", 200)],
          "admin requests %r" % actions)
    check(w.stored("default/luks/a") is None, "the uploaded key is still on the KBS")
    check(w.header(img) == before, "a failed enrolment changed the LUKS2 header")


@case
def refuse_without_credentials(w):
    """A generated key with no admin credentials is refused before any change."""
    w.start_kbs()
    img = w.image("a")
    before = w.header(img)
    p = w.play("tests_refuse_without_credentials.yml")
    check(p.rc != 0 and "the key would exist nowhere" in p.out, "not refused: %r" % p)
    check(p.changed == 0, "changes before the refusal: %r" % p)
    check(not os.path.exists(w.conf), "the configuration was written before the refusal")
    check(w.header(img) == before and w.admin_requests() == [], "something changed")


@case
def no_key_in_output(w):
    """At -vvv with secure logging, no key, passphrase or admin JWT shows in
    the output, and none lands in a file of the scratch directories."""
    w.start_kbs()
    a, b = w.image("a"), w.image("b")
    harness.make_resources(w.res, {"default/luks/given": w.given_key})
    p = w.play("tests_no_key_in_output.yml", verbosity=3)
    check(p.rc == 0, "run failed: %r" % p)
    generated = w.stored("default/luks/generated")
    check(generated is not None, "no generated key on the KBS")
    w.check_no_leak(p.out.encode("utf-8"))  # again, now that the generated key is known
    check("no_log: true" in p.out, "secure logging did not hide the tasks")
    check_enrolled(w, a, "default/luks/generated")
    check_enrolled(w, b, "default/luks/given")


@case
def lint(w):
    """ansible-lint, production profile, offline: the role, the examples,
    these tests and the VM suite's playbook."""
    if not shutil.which("ansible-lint"):
        print("SKIP: ansible-lint not installed")
        sys.exit(77)
    r = subprocess.run(["ansible-lint", "--offline", "--nocolor", "-p", "--profile",
                        "production", "ansible/roles/cvmboot", "ansible/examples",
                        "tests/ansible", "tests/vm/provision.yml"], cwd=SRC,
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(HERE, "ansible.cfg")))
    check(r.returncode == 0, "ansible-lint: %d\n%s%s" % (r.returncode, r.stdout, r.stderr))


def uki_sections(w, uki):
    """The UKI's PE sections (objdump -h) and the contents of a few."""
    with open(uki, "rb") as f:
        check(f.read(2) == b"MZ", "%s is not a PE image" % uki)
    heads = subprocess.run(["objdump", "-h", uki], capture_output=True, text=True, check=True).stdout
    names = re.findall(r"^\s*\d+\s+(\.\S+)", heads, re.M)
    out = {}
    for s in (".linux", ".initrd", ".cmdline", ".osrel"):
        check(s in names, "the UKI has no %s section: %r" % (s, names))
        path = w.path("section" + s)
        subprocess.run(["objcopy", "-O", "binary", "--only-section=" + s, uki, path], check=True)
        with open(path, "rb") as f:
            out[s] = f.read()
    return out


def reference_values(uki, *extra):
    """cvmboot reference-values, run here, apart from the role."""
    r = subprocess.run([CVMBOOT, "--cmdline", "/dev/null", "reference-values", "--uki", uki,
                        *extra], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "reference-values: %d %s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


def check_reference_values(w, p, uki, dest, *extra):
    rv = reference_values(uki, *extra)
    check("tpm_pcr11" in rv and len(rv["tpm_pcr11"]) == 1, "no tpm_pcr11: %r" % rv)
    with open(dest) as f:
        check(json.load(f) == rv, "the role's reference values differ from cvmboot's own")
    check("reference values of %s: " % uki in p.out and rv["tpm_pcr11"][0] in p.out,
          "the play does not show the reference values: %r" % p)
    return rv


KERNELS = sorted(n for n in os.listdir("/boot") if n.startswith("vmlinuz-")) \
    if os.path.isdir("/boot") else []


def uki_world(w):
    if len(KERNELS) != 1 or not os.path.exists(STUB):
        print("SKIP: needs exactly one /boot/vmlinuz-* and systemd-stub (%s)" % STUB)
        sys.exit(77)
    w.start_kbs()
    esp = w.path("esp")
    os.makedirs(esp)
    osrel = w.path("os-release")
    with open(osrel, "w") as f:
        f.write('ID=cvmboot-test\nPRETTY_NAME="cvmboot role test"\n')
    return os.path.join(esp, "cvm.efi"), osrel, w.path("rv.json")


def uki_spec(w):
    """cvmboot_uki with an initramfs built elsewhere (a dracut run takes
    minutes on a loaded test host), and the play's other variables."""
    path, osrel, dest = uki_world(w)
    initrd = w.path("initrd.img")
    with open(initrd, "wb") as f:
        f.write(os.urandom(200000))
    spec = {"path": path, "cmdline": "root=/dev/mapper/root rw rd.luks=0 console=ttyS0",
            "initrd": initrd, "osrel": osrel}
    return spec, {"test_rv_dest": dest, "__cvmboot_build_uki": BUILD_UKI}


@case
def uki(w):
    """cvmboot_uki: the handler builds the UKI (not the loose initramfs) from
    the only kernel in /boot; the reference values the role shows and writes
    are cvmboot's own; a second run changes nothing; another command line
    rebuilds it."""
    spec, more = uki_spec(w)
    path, dest, cmdline = spec["path"], more["test_rv_dest"], spec["cmdline"]
    t = time.time()
    p = w.play("tests_uki.yml", test_uki=spec, **more)
    check(p.rc == 0 and p.failed == 0, "first run failed: %r" % p)
    print("first run, with the UKI build: %.1f s" % (time.time() - t))
    check(w.rebuilds() == 0, "the loose initramfs was rebuilt too")
    secs = uki_sections(w, path)
    check(secs[".cmdline"].rstrip(b"\0") == cmdline.encode(), ".cmdline: %r" % secs[".cmdline"])
    with open(spec["initrd"], "rb") as f:
        check(secs[".initrd"] == f.read(), ".initrd is not the given initramfs")
    with open(os.path.join("/boot", KERNELS[0]), "rb") as f:
        check(secs[".linux"] == f.read(), ".linux is not /boot/%s" % KERNELS[0])
    rv = check_reference_values(w, p, path, dest)
    with open(path, "rb") as f:
        built = f.read()
    mtime = os.stat(path).st_mtime_ns

    p = w.play("tests_uki.yml", test_uki=spec, **more)
    check(p.rc == 0 and p.changed == 0, "second run: want changed=0: %r" % p)
    check(os.stat(path).st_mtime_ns == mtime, "the second run rebuilt the UKI")
    check_reference_values(w, p, path, dest)

    p = w.play("tests_uki.yml", test_uki=dict(spec, cmdline=cmdline + " quiet"), **more)
    # the recorded inputs, the rebuild handler, the reference values file
    check(p.rc == 0 and p.changed == 3, "another cmdline: want changed=3: %r" % p)
    check(uki_sections(w, path)[".cmdline"].rstrip(b"\0") == (cmdline + " quiet").encode(),
          "the UKI was not rebuilt with the new command line")
    rv2 = check_reference_values(w, p, path, dest)
    check(rv2["tpm_pcr11"] != rv["tpm_pcr11"], "another command line, the same PCR 11")
    with open(path, "rb") as f:
        check(f.read() != built, "the UKI did not change")
    check(w.rebuilds() == 0, "the loose initramfs was rebuilt")


@case
def uki_check(w):
    """cvmboot_uki: an unknown key, a two-line command line and osrel without
    initrd are refused before any change; check mode on a bare system reports changes and
    builds nothing."""
    spec, more = uki_spec(w)
    p = w.play("tests_uki.yml", test_uki=dict(spec, cmdlin="quiet"), **more)
    check(p.rc != 0 and "cvmboot_uki.cmdlin. Supported parameters include" in p.out,
          "an unknown cvmboot_uki key was not refused: %r" % p)
    check(p.changed == 0 and not os.path.exists(w.conf), "changes before the refusal")
    p = w.play("tests_uki.yml", test_uki=dict(spec, cmdline="quiet\ninit=/bin/sh"), **more)
    check(p.rc != 0 and "one line of printable ASCII" in p.out, "a two-line cmdline: %r" % p)
    check(p.changed == 0 and not os.path.exists(w.conf), "changes before the refusal")
    no_initrd = {k: v for k, v in spec.items() if k != "initrd"}
    p = w.play("tests_uki.yml", test_uki=no_initrd, **more)
    check(p.rc != 0 and "osrel needs it" in p.out, "osrel without initrd: %r" % p)
    check(p.changed == 0 and not os.path.exists(w.conf), "changes before the refusal")

    p = w.play("tests_uki.yml", check_mode=True, test_uki=spec, **more)
    check(p.rc == 0 and p.changed > 0, "check mode: want changes: %r" % p)
    check(not os.path.exists(spec["path"]) and not os.path.exists(more["test_rv_dest"])
          and not os.path.exists(w.conf), "check mode built or wrote something")
    check("is not built yet (check mode)" in p.out, "check mode does not say why no values")


@case
def uki_dracut(w):
    """cvmboot_uki without an initramfs: build-uki runs dracut with the
    drop-in the role wrote (--confdir), the source tree's module 90cvmboot and
    no kernel modules (speed); the UKI's initramfs holds the agent and the
    role's configuration, its command line rd.neednet=1 and the given one."""
    spec, more = uki_spec(w)
    del spec["initrd"], spec["osrel"]
    spec["dracut_args"] = ["--no-hostonly", "--no-early-microcode", "--no-kernel",
                           "--compress", "cat"]
    base = w.path("dracut-base")
    os.makedirs(os.path.join(base, "modules.d"))
    for name in os.listdir("/usr/lib/dracut"):
        if name != "modules.d":
            os.symlink(os.path.join("/usr/lib/dracut", name), os.path.join(base, name))
    for name in os.listdir("/usr/lib/dracut/modules.d"):
        os.symlink(os.path.join("/usr/lib/dracut/modules.d", name),
                   os.path.join(base, "modules.d", name))
    os.symlink(os.path.join(SRC, "dracut-module"), os.path.join(base, "modules.d", "90cvmboot"))
    more["__cvmboot_uki_environment"] = {
        "dracutbasedir": base, "CVMBOOT_BIN": CVMBOOT, "CVMBOOT_CONF": w.conf,
        "CVMBOOT_CA_FILE": os.path.join(w.etc, "cvmboot", "kbs-ca.pem")}
    more["__cvmboot_uki_dracut_args"] = ["--conf", "/dev/null", "--confdir",
                                         os.path.join(w.etc, "dracut.conf.d")]
    t = time.time()
    p = w.play("tests_uki.yml", test_uki=spec, **more)
    check(p.rc == 0 and p.failed == 0, "run failed: %r" % p)
    print("run with dracut: %.1f s" % (time.time() - t))
    check(w.rebuilds() == 0, "the loose initramfs was rebuilt too")
    secs = uki_sections(w, spec["path"])
    words = secs[".cmdline"].rstrip(b"\0").decode().split()
    check(words == ["rd.neednet=1"] + spec["cmdline"].split(), ".cmdline: %r" % words)
    initrd = w.path("section.initrd")
    listing = subprocess.run(["lsinitrd", initrd], capture_output=True, text=True,
                             errors="replace").stdout
    check("usr/bin/cvmboot" in listing, "no agent in the UKI's initramfs: %s" % listing[-3000:])
    conf = subprocess.run(["lsinitrd", "-f", "etc/cvmboot/cvmboot.conf", initrd],
                          capture_output=True, text=True, errors="replace").stdout
    with open(w.conf) as f:
        check(conf == f.read(), "the UKI's initramfs does not hold the role's configuration")
    check_reference_values(w, p, spec["path"], more["test_rv_dest"])


def make_world(name):
    if name != "lint" and (os.geteuid() != 0 or not shutil.which("cryptsetup")
                           or not shutil.which("ansible-playbook")):
        print("SKIP: needs root, cryptsetup and ansible-playbook")
        sys.exit(77)
    return World(name)


if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv, make_world))
