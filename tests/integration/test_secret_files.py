#!/usr/bin/python3
# Secret files under hostile surroundings: a full tmpfs (ENOSPC) and a SIGTERM
# in the middle of writing must leave no temporary or partial file behind, and
# the error must say which file and why.
"""Run one case: /usr/bin/python3 tests/integration/test_secret_files.py CASE
(CVMBOOT_BIN set; WRITE_SHIM = the LD_PRELOAD shim built from write_shim.c)."""

import os
import shlex
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import check, run_case  # noqa: E402

CASES = {}
BIG = 64 * 1024          # more than the 8 KiB tmpfs holds
ENOSPC_TEXT = "No space left on device"


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def resources(env):
    """A small public file and a big secret one; returns (config sections, big data)."""
    env.resource("default/workload/ca.crt", b"CA-" + os.urandom(8).hex().encode())
    big = env.random_secret("default/workload/big.key", b"BIGKEY-" + os.urandom(BIG // 2).hex()
                            .encode()[:BIG])
    return {"ca-cert": {"path": "default/workload/ca.crt", "file": "ca.crt"},
            "big-key": {"path": "default/workload/big.key", "file": "big.key"}}, big


def cvmboot_argv(config, args):
    wrapper = shlex.split(os.environ.get("CVMBOOT_WRAPPER", ""))
    return wrapper + [os.environ["CVMBOOT_BIN"], "--config", config, "--cmdline", "/dev/null"] \
        + list(args)


def shim_env(mode, watched_dir, marker=None):
    env = dict(os.environ)
    env["LD_PRELOAD"] = os.environ["WRITE_SHIM"]
    env["SHIM_MODE"], env["SHIM_DIR"] = mode, watched_dir
    if marker:
        env["SHIM_MARKER"] = marker
    # An ASan build loads its runtime first; the shim may come before it.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                 "verify_asan_link_order=0"]))
    return env


def check_listing(names, target, big, contents):
    """No temporary file, and the big target either absent or complete."""
    temps = [n for n in names if n.endswith(".tmp")]
    check(not temps, "temporary files left behind: %s" % temps)
    if target in names:
        check(contents.get(target) == big, "%s is there but not complete" % target)


def check_enospc_error(res, path):
    check(res.rc == 10, "exit %s, want 10 (secrets)\n%r" % (res.rc, res))
    check("%s: write failed: %s" % (path, ENOSPC_TEXT) in res.err,
          "the error does not name %s and ENOSPC\n%r" % (path, res))


def run_on_small_tmpfs(env, mountpoint, args, config):
    """cvmboot ARGS with an 8 KiB tmpfs at mountpoint, in a private mount namespace;
    returns (Result, names in mountpoint afterwards, their contents), or None when
    this machine does not let us mount."""
    from common import Result
    listing = os.path.join(env.tmp, "listing")
    script = ('mount -t tmpfs -o size=8k,mode=0700 cvmboot-test "$1" || exit 97; shift; '
              '"$@"; rc=$?; (cd "$MNT" && for f in * .[!.]*; do [ -e "$f" ] && '
              'printf "%s\\0" "$f" && cat "$f" && printf "\\0"; done) > "$LISTING"; exit $rc')
    os.makedirs(mountpoint, exist_ok=True)
    env_vars = dict(os.environ, MNT=mountpoint, LISTING=listing)
    start = time.monotonic()
    try:
        p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", mountpoint]
                           + cvmboot_argv(config, args), capture_output=True, env=env_vars,
                           timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        check(not isinstance(exc, subprocess.TimeoutExpired), "cvmboot hung on a full tmpfs")
        return None
    if not os.path.exists(listing):  # unshare or mount refused: cvmboot did not run
        print("cannot mount a tmpfs: %s" % p.stderr.decode(errors="replace").strip())
        return None
    res = Result(p.returncode, p.stdout.decode(errors="replace"),
                 p.stderr.decode(errors="replace"), time.monotonic() - start)
    env.last = res
    env.check_sane(res)
    with open(listing, "rb") as f:
        parts = f.read().split(b"\0")
    contents = {parts[i].decode(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}
    os.unlink(listing)
    return res, sorted(contents), contents


def skip(why):
    print("SKIP: %s" % why)
    sys.exit(77)


@case
def enospc_tmpfs_boot(env):
    """The secrets directory is a full 8 KiB tmpfs: boot exits 10 naming the file."""
    sections, big = resources(env)
    kbs = env.start_kbs()
    config = env.config([kbs.url], kbs.ca, resources=sections)
    got = run_on_small_tmpfs(env, env.secrets_dir, ["boot"], config)
    if got is None:
        skip("cannot mount a tmpfs here (enospc_shim_boot covers ENOSPC)")
    res, names, contents = got
    check_enospc_error(res, os.path.join(env.secrets_dir, "big.key"))
    check_listing(names, "big.key", big, contents)
    check("big.key" not in names, "big.key exists after ENOSPC")
    env.check_failed_status(res, 10, "secrets", ENOSPC_TEXT)


@case
def enospc_tmpfs_get_resource_to_file(env):
    """get-resource -o into a full tmpfs: exit 10 naming the file, nothing left."""
    sections, big = resources(env)
    kbs = env.start_kbs()
    config = env.config([kbs.url], kbs.ca, resources=sections)
    outdir = os.path.join(env.tmp, "out")
    out = os.path.join(outdir, "big.key")
    got = run_on_small_tmpfs(env, outdir, ["get-resource", "default/workload/big.key", "-o", out],
                             config)
    if got is None:
        skip("cannot mount a tmpfs here (enospc_shim_boot covers ENOSPC)")
    res, names, contents = got
    check_enospc_error(res, out)
    check(names == [], "files left in the full tmpfs: %s" % names)
    check(res.out == "", "get-resource printed something on failure")


@case
def enospc_shim_boot(env):
    """The same with write() failing ENOSPC after a short write (any machine)."""
    sections, big = resources(env)
    kbs = env.start_kbs()
    config = env.config([kbs.url], kbs.ca, resources=sections)
    from common import Result
    start = time.monotonic()
    p = subprocess.run(cvmboot_argv(config, ["boot"]), capture_output=True, timeout=60,
                       env=shim_env("enospc", env.secrets_dir), stdin=subprocess.DEVNULL)
    res = Result(p.returncode, p.stdout.decode(errors="replace"),
                 p.stderr.decode(errors="replace"), time.monotonic() - start)
    env.last = res
    env.check_sane(res)
    check_enospc_error(res, os.path.join(env.secrets_dir, "ca.crt"))
    names = sorted(os.listdir(env.secrets_dir))
    check(names == [], "files left in the secrets dir: %s" % names)
    env.check_failed_status(res, 10, "secrets", ENOSPC_TEXT)


def signal_mid_write(env, args, watched_dir, target, sig):
    """Start cvmboot ARGS with write() to a temporary file in watched_dir stalling after
    half the bytes; once it stalls, check the partial temporary file is there, send
    sig, and check the process died of it leaving no temporary or target file."""
    marker = os.path.join(env.tmp, "stalled")
    # The signal at its default action, as systemd starts services (under nohup
    # SIGHUP would be ignored, and cvmboot rightly leaves it so).
    proc = subprocess.Popen(cvmboot_argv(env.config_path, args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=shim_env("stall", watched_dir, marker),
                            preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 40
        while not os.path.exists(marker):
            if proc.poll() is not None:
                check(False, "cvmboot ended before writing: rc %s, %s"
                      % (proc.returncode, proc.stderr.read().decode(errors="replace")))
            check(time.monotonic() < deadline, "cvmboot never reached the write")
            time.sleep(0.05)
        temps = [n for n in os.listdir(watched_dir) if n.endswith(".tmp")]
        check(len(temps) == 1 and os.path.getsize(os.path.join(watched_dir, temps[0])) > 0,
              "no partial temporary file while the write stalls: %s" % os.listdir(watched_dir))
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(proc.returncode == -sig, "exit %s after signal %d, want death by it\n%s"
          % (proc.returncode, sig, err.decode(errors="replace")))
    names = os.listdir(watched_dir)
    check(not [n for n in names if n.endswith(".tmp")], "temporary file left: %s" % names)
    check(target not in names, "%s exists although its write was cut" % target)
    check(out == b"", "output on stdout: %r" % out[:80])
    from common import Result
    env.check_no_leak(Result(proc.returncode, "", err.decode(errors="replace"), 0))


@case
def sigterm_mid_write_boot(env):
    sections, _ = resources(env)
    kbs = env.start_kbs()
    env.config_path = env.config([kbs.url], kbs.ca, resources=sections)
    signal_mid_write(env, ["boot"], env.secrets_dir, "ca.crt", signal.SIGTERM)


@case
def sigint_and_sighup_mid_write_get_resource_to_file(env):
    sections, _ = resources(env)
    kbs = env.start_kbs()
    env.config_path = env.config([kbs.url], kbs.ca, resources=sections)
    outdir = os.path.join(env.tmp, "out")
    os.makedirs(outdir)
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal_mid_write(env, ["get-resource", "default/workload/big.key", "-o",
                               os.path.join(outdir, "big.key")], outdir, "big.key", sig)
        os.unlink(os.path.join(env.tmp, "stalled"))


if __name__ == "__main__":
    sys.exit(run_case(CASES, sys.argv))
