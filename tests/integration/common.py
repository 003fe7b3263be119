# Shared scaffolding of the integration tests: a scratch environment with a test KBS,
# resources holding random secrets, a cvmboot config, runs and the checks every run gets.
"""Env: temp dirs (secrets under /dev/shm), KBS, config, run, status, leak checks."""

import base64
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kbs"))

import harness  # noqa: E402

PREFIX = "https://github.com/confidential-containers/kbs/errors/"


class CheckFailed(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def free_port():
    """A loopback port nothing listens on (bound and closed again)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Result:
    def __init__(self, rc, out, err, elapsed):
        self.rc, self.out, self.err, self.elapsed = rc, out, err, elapsed

    def __repr__(self):
        return "rc=%s elapsed=%.2fs\n--- stdout\n%s\n--- stderr\n%s" % (
            self.rc, self.elapsed, self.out, self.err)


class Env:
    """One test's world. Secrets registered with secret=True are checked for leaks."""

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="cvmboot-it-%s." % name)
        self.shm = tempfile.mkdtemp(prefix="cvmboot-it-%s." % name, dir="/dev/shm")
        self.res_dir = os.path.join(self.tmp, "resources")
        self.private_dir = os.path.join(self.tmp, "private")  # enrolment inputs, excluded
        os.makedirs(self.res_dir)
        os.makedirs(self.private_dir, mode=0o700)
        self.run_dir = os.path.join(self.shm, "run")
        self.secrets_dir = os.path.join(self.run_dir, "secrets")
        self.secrets = []
        self.kbs_list = []
        self.last = None

    # -- resources
    def resource(self, path, data, secret=False):
        harness.make_resources(self.res_dir, {path: data})
        if secret:
            self.secrets.append(data)
        return data

    def random_secret(self, path, prefix=b"SECRET-"):
        return self.resource(path, prefix + os.urandom(12).hex().encode(), secret=True)

    # -- KBS
    def start_kbs(self, faults=(), http=False, policy=None, extra_args=()):
        workdir = os.path.join(self.tmp, "kbs%d" % len(self.kbs_list))
        kbs = harness.start_kbs(workdir, self.res_dir, faults=faults, http=http, policy=policy,
                                extra_args=extra_args)
        self.kbs_list.append(kbs)
        return kbs

    # -- config and runs
    def config(self, urls, ca=None, key_algorithm="ec-p256", resources=None, kbs=None,
               retry=None, secrets=None, luks=None, tee=None, workload=None):
        sections = {
            "kbs": dict({"url": list(urls), "connect_timeout": "1s", "request_timeout": "2s"},
                        **({"ca_file": ca} if ca else {}), **(kbs or {})),
            "retry": dict({"budget": "3s", "backoff_base": "100ms", "backoff_cap": "500ms"},
                          **(retry or {})),
            "tee": dict({"type": "sample", "key_algorithm": key_algorithm}, **(tee or {})),
            "secrets": dict({"run_dir": self.run_dir, "dir": self.secrets_dir}, **(secrets or {})),
            "luks": dict({"discover_tokens": False, "device_timeout": "1s"}, **(luks or {})),
        }
        if workload:
            sections["workload"] = dict(workload)
        for name, values in (resources or {}).items():
            sections["resource." + name] = values
        return harness.write_config(os.path.join(self.tmp, "cvmboot.conf"), **sections)

    def run(self, args, config, timeout=40, cmdline=""):
        start = time.monotonic()
        rc, out, err = harness.run_cvmboot(args, config, cmdline_text=cmdline, timeout=timeout)
        self.last = Result(rc, out, err, time.monotonic() - start)
        self.check_sane(self.last)
        return self.last

    def status(self):
        with open(os.path.join(self.run_dir, "status.json"), encoding="utf-8") as f:
            return json.load(f)

    # -- checks every run gets
    def check_sane(self, res):
        check(res.rc is not None, "cvmboot hung (killed at timeout)\n%r" % res)
        check(res.rc >= 0, "cvmboot died from signal %d\n%r" % (-res.rc if res.rc else 0, res))
        check(not re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", res.err),
              "sanitizer report\n%r" % res)
        self.check_no_leak(res)

    def _needles(self):
        for secret in self.secrets:
            yield secret
            yield secret.hex().encode()
            yield base64.b64encode(secret).rstrip(b"=")
            yield base64.urlsafe_b64encode(secret).rstrip(b"=")

    def check_no_leak(self, res):
        for needle in self._needles():
            check(needle not in res.out.encode("utf-8", "surrogateescape"),
                  "a secret appears on stdout")
            check(needle not in res.err.encode("utf-8", "surrogateescape"),
                  "a secret appears on stderr")
        excluded = (self.res_dir, self.private_dir, self.secrets_dir)
        for root in (self.tmp, self.shm):
            for dirpath, dirnames, filenames in os.walk(root):
                if dirpath.startswith(excluded):
                    dirnames[:] = []
                    continue
                for fname in filenames:
                    path = os.path.join(dirpath, fname)
                    if path.startswith(excluded) or not os.path.isfile(path):
                        continue
                    if os.path.getsize(path) > 64 * 1024 * 1024:
                        continue
                    with open(path, "rb") as f:
                        data = f.read()
                    for needle in self._needles():
                        check(needle not in data, "a secret appears in %s" % path)

    def check_failed_status(self, res, code, name, reason_re=None):
        check(res.rc == code, "exit code %s, want %d\n%r" % (res.rc, code, res))
        st = self.status()
        check(st["result"] == "failed", "status.json result %r" % st["result"])
        check(st["exit_code"] == code, "status.json exit_code %r" % st["exit_code"])
        check(st["error"] == name, "status.json error %r, want %r" % (st["error"], name))
        check(isinstance(st["reason"], str) and st["reason"], "status.json reason empty")
        if reason_re:
            check(re.search(reason_re, st["reason"], re.I),
                  "status.json reason %r does not match %r" % (st["reason"], reason_re))
        return st

    def check_secret_file(self, name, data, mode):
        path = os.path.join(self.secrets_dir, name)
        st = os.lstat(path)
        check(stat.S_ISREG(st.st_mode), "%s is not a regular file" % path)
        check(stat.S_IMODE(st.st_mode) == mode,
              "%s mode %o, want %o" % (path, stat.S_IMODE(st.st_mode), mode))
        with open(path, "rb") as f:
            check(f.read() == data, "%s content differs from the KBS resource" % path)

    def cleanup(self):
        for kbs in self.kbs_list:
            kbs.stop()
        shutil.rmtree(self.shm, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dump(self):
        """Debug output when a test fails."""
        sys.stderr.write("=== last run: %r\n" % (self.last,))
        for kbs in self.kbs_list:
            sys.stderr.write("=== KBS %s log:\n" % kbs.url)
            for entry in kbs.requests():
                sys.stderr.write("  %s\n" % json.dumps(entry, sort_keys=True))
            try:
                sys.stderr.write("=== KBS stderr:\n%s\n" % kbs.stderr())
            except OSError:
                pass


def make_luks_image(env, key, resource_path, urls, passphrase=b"initial-pass"):
    """A 20 MiB LUKS2 image file with a cheap PBKDF2 passphrase slot, then
    `cvmboot enroll` adds the KBS key slot and token. Returns the image path."""
    img = os.path.join(env.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(20 * 1024 * 1024)
    pass_file = os.path.join(env.private_dir, "pass")
    key_file = os.path.join(env.private_dir, "key")
    with open(pass_file, "wb") as f:
        f.write(passphrase)
    with open(key_file, "wb") as f:
        f.write(key)
    subprocess.run(["cryptsetup", "luksFormat", "--type", "luks2", "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", "-q", "--key-file", pass_file, img],
                   check=True, capture_output=True, timeout=60)
    conf = harness.write_config(os.path.join(env.private_dir, "enroll.conf"),
                                kbs={"url": list(urls)})
    rc, out, err = harness.run_cvmboot(["enroll", img, "--resource", resource_path,
                                        "--key-file", key_file, "--passphrase-file", pass_file],
                                       conf, timeout=60)
    check(rc == 0, "cvmboot enroll failed rc=%s\n%s\n%s" % (rc, out, err))
    os.unlink(key_file)
    return img


def run_case(cases, argv, make_env=None):
    """Entry point: run the named case, print the verdict, exit 0/1 (77 = skip).
    make_env(name) builds the case's world (default Env: .cleanup(), .dump())."""
    if len(argv) != 2 or argv[1] not in cases:
        sys.stderr.write("usage: %s CASE\ncases: %s\n" % (argv[0], " ".join(sorted(cases))))
        return 2
    if "CVMBOOT_BIN" not in os.environ:
        sys.stderr.write("CVMBOOT_BIN not set\n")
        return 2
    env = (make_env or Env)(argv[1])
    try:
        cases[argv[1]](env)
    except CheckFailed as exc:
        sys.stderr.write("FAIL %s: %s\n" % (argv[1], exc))
        env.dump()
        return 1
    except Exception:
        import traceback
        traceback.print_exc()
        env.dump()
        return 1
    finally:
        env.cleanup()
    print("PASS %s" % argv[1])
    return 0
