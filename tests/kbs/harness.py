# Test harness around the test KBS: start/stop it, build resource trees and cvmboot
# INI configs, run the cvmboot binary. Used by tests/kbs and tests/integration.
"""start_kbs(), make_resources(), write_config(), run_cvmboot()."""

import json
import os
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
KBS_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kbs.py")


def time_scale():
    """CVMBOOT_TIME_SCALE (default 1): stretch time limits for slow runs (valgrind)."""
    try:
        return max(1.0, float(os.environ.get("CVMBOOT_TIME_SCALE", "1")))
    except ValueError:
        return 1.0


class KbsProcess:
    """A running test KBS. Use as a context manager or call stop()."""

    def __init__(self, proc, workdir, port, http):
        self.proc = proc
        self.workdir = workdir
        self.port = port
        self.url = "%s://127.0.0.1:%d" % ("http" if http else "https", port)
        self.ca = None if http else os.path.join(workdir, "ca.pem")
        self.log_path = os.path.join(workdir, "requests.jsonl")
        self.stderr_path = os.path.join(workdir, "kbs.stderr")

    def requests(self):
        """The request log as a list of dicts (in the order written)."""
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def start_kbs(workdir, resources_dir, faults=(), http=False, policy=None, trust_dir=None,
              extra_args=(), timeout=20):
    """Start kbs.py; wait for READY; return a KbsProcess.

    policy: None, a path, or a dict (written to workdir/policy.json)."""
    os.makedirs(workdir, exist_ok=True)
    args = [PYTHON, KBS_PY, "--workdir", workdir, "--resources", resources_dir, "--port", "0"]
    if http:
        args.append("--http")
    for fault in faults:
        args += ["--fault", fault]
    if isinstance(policy, dict):
        path = os.path.join(workdir, "policy.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(policy, f)
        policy = path
    if policy:
        args += ["--policy", policy]
    if trust_dir:
        args += ["--trust", trust_dir]
    args += list(extra_args)
    stderr = open(os.path.join(workdir, "kbs.stderr"), "ab")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
    stderr.close()
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            break
        if proc.poll() is not None:
            break
    if not line.startswith(b"READY "):
        proc.kill()
        proc.wait()
        with open(os.path.join(workdir, "kbs.stderr"), encoding="utf-8", errors="replace") as f:
            raise RuntimeError("test KBS did not start: %r\n%s" % (line, f.read()))
    return KbsProcess(proc, workdir, int(line.split()[1]), http)


def make_resources(directory, resources):
    """Write {"repo/type/tag": bytes} as files under directory; return directory."""
    for path, data in resources.items():
        parts = path.split("/")
        if len(parts) != 3:
            raise ValueError("resource path %r is not REPO/TYPE/TAG" % path)
        full = os.path.join(directory, *parts)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return directory


def _ini_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_config(path, **sections):
    """Write a cvmboot INI file. Each keyword is a section ("kbs", "retry", ...; use
    **{"resource.name": {...}} for dotted names) mapping keys to values; a list
    value is written as a repeated key. Returns path."""
    lines = []
    for section, values in sections.items():
        lines.append("[%s]" % section)
        for key, value in values.items():
            for item in (value if isinstance(value, (list, tuple)) else [value]):
                lines.append("%s = %s" % (key, _ini_value(item)))
        lines.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def run_cvmboot(args, config, cmdline_text="", timeout=60, env=None):
    """Run [$CVMBOOT_WRAPPER] $CVMBOOT_BIN --config CONFIG --cmdline FILE ARGS;
    return (rc, stdout, stderr).

    rc is negative if the process died from a signal; on timeout it is killed and
    rc is None."""
    binary = os.environ["CVMBOOT_BIN"]
    wrapper = shlex.split(os.environ.get("CVMBOOT_WRAPPER", ""))  # e.g. valgrind ...
    timeout = timeout * time_scale()
    with tempfile.NamedTemporaryFile("w", prefix="cmdline.", delete=False) as f:
        f.write(cmdline_text)
        cmdline = f.name
    try:
        proc = subprocess.run(wrapper + [binary, "--config", config, "--cmdline", cmdline] + list(args),
                              capture_output=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), \
            proc.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        err = (exc.stderr or b"").decode("utf-8", "replace")
        return None, out, err + "\n[harness: killed after %ss timeout]" % timeout
    finally:
        os.unlink(cmdline)


if __name__ == "__main__":
    sys.stderr.write("harness.py is a library\n")
    sys.exit(2)
