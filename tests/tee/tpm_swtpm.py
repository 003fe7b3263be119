"""Test helper: a private swtpm on loopback, provisioned with tpm2-tools.

Swtpm(tmpdir) starts `swtpm socket --tpm2` on two free consecutive ports,
exposes .tcti ("swtpm:host=127.0.0.1,port=P") and .tool(...) to run
tpm2-tools against it; .stop() ends it. Used by the tests in tests/tee/.
"""
import os
import random
import socket
import struct
import subprocess
import sys
import time


def _port_pair_free(port):
    for p in (port, port + 1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


class Swtpm:
    def __init__(self, workdir):
        self.workdir = workdir
        self.state = os.path.join(workdir, "swtpm-state")
        os.makedirs(self.state, exist_ok=True)
        self.proc = None
        self.port = None
        for _ in range(20):
            port = random.randrange(20000, 60000, 2)
            if _port_pair_free(port) and self._start(port):
                return
        raise RuntimeError("could not start swtpm")

    def _start(self, port):
        log = open(os.path.join(self.workdir, "swtpm.log"), "ab")
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2",
             "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % port,
             "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % (port + 1),
             "--flags", "not-need-init,startup-clear",
             "--tpmstate", "dir=" + self.state],
            stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                self.port = port
                return True
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        return False

    @property
    def tcti(self):
        return "swtpm:host=127.0.0.1,port=%d" % self.port

    def env(self, tcti=None):
        env = dict(os.environ)
        env["TPM2TOOLS_TCTI"] = tcti or self.tcti
        env["TSS2_LOG"] = "all+none"
        return env

    def tool(self, *args, check=True, tcti=None):
        """Run one tpm2-tools command; flush transient objects afterwards
        (without a resource manager they would fill the TPM's slots)."""
        r = subprocess.run(list(args), env=self.env(tcti), capture_output=True, text=True,
                           cwd=self.workdir)
        subprocess.run(["tpm2_flushcontext", "-t"], env=self.env(tcti), capture_output=True)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def provision_ak(self, handle):
        """An RSA-2048 restricted signing AK (RSASSA-SHA256) under the EK,
        persisted at handle; returns the path of its public key PEM."""
        ek = os.path.join(self.workdir, "ek.ctx")
        ak = os.path.join(self.workdir, "ak-%x.ctx" % handle)
        pem = os.path.join(self.workdir, "ak-%x.pem" % handle)
        self.tool("tpm2_createek", "-c", ek, "-G", "rsa")
        self.tool("tpm2_createak", "-C", ek, "-c", ak, "-G", "rsa", "-g", "sha256",
                  "-s", "rsassa", "-u", pem, "-f", "pem")
        subprocess.run(["tpm2_flushcontext", "-s"], env=self.env(), capture_output=True)
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", ak, hex(handle))
        return pem

    def evict(self, handle):
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", hex(handle))

    def pcr(self, index):
        """SHA-256 PCR value as lowercase hex, read with tpm2_pcrread."""
        out = os.path.join(self.workdir, "pcr.bin")
        self.tool("tpm2_pcrread", "sha256:%d" % index, "-o", out)
        with open(out, "rb") as f:
            return f.read().hex()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- helpers shared by the tests in tests/tee/{tpm,az,seal}_*.py

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


class CheckFailed(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def run_driver(driver, tee, command, arg=None, options=(), timeout=60):
    """tests/tee/tpm_driver TEE COMMAND [ARG] OPTIONS -> (rc, stdout, stderr)."""
    args = [driver, tee, command] + ([arg] if arg is not None else []) + list(options)
    # TPM_TEST_WRAPPER="valgrind -q --leak-check=full --error-exitcode=99" for a manual run.
    wrapper = os.environ.get("TPM_TEST_WRAPPER", "").split()
    r = subprocess.run(wrapper + args, capture_output=True, text=True, timeout=timeout)
    check("AddressSanitizer" not in r.stderr and "runtime error:" not in r.stderr
          and r.returncode != 99, "sanitizer/valgrind report:\n%s" % r.stderr)
    return r.returncode, r.stdout, r.stderr


def write_tools_pcrs(path, pcrs):
    """24 SHA-256 PCR values in tpm2-tools' serialized PCR file format (what
    tpm2_quote -o writes and tpm2_checkquote -f reads): a TPML_PCR_SELECTION as a
    little-endian C struct, a u32 count of TPML_DIGESTs, then the TPML_DIGESTs (u32
    count + 8 TPM2B_DIGEST slots of u16 size + 64 bytes)."""
    sel = struct.pack("<I", 1) + struct.pack("<HB4sx", 0x000B, 3, b"\xff\xff\xff\x00")
    sel += bytes(8 * 15)
    out = sel + struct.pack("<I", 3)
    for group in range(3):
        out += struct.pack("<I", 8)
        for value in pcrs[8 * group:8 * group + 8]:
            out += struct.pack("<H", 32) + value + bytes(32)
    with open(path, "wb") as f:
        f.write(out)


def tpm2_checkquote(workdir, ak_pem, message, signature, pcrs, nonce_hex):
    """Independent check with tpm2-tools: rc 0 if the quote verifies."""
    paths = {}
    for name, data in (("msg", message), ("sig", signature)):
        paths[name] = os.path.join(workdir, "cq." + name)
        with open(paths[name], "wb") as f:
            f.write(data)
    paths["pcrs"] = os.path.join(workdir, "cq.pcrs")
    write_tools_pcrs(paths["pcrs"], pcrs)
    r = subprocess.run(["tpm2_checkquote", "-u", ak_pem, "-m", paths["msg"], "-s", paths["sig"],
                        "-f", paths["pcrs"], "-g", "sha256", "-q", nonce_hex],
                       capture_output=True, text=True)
    return r.returncode


def verifier_module(name):
    """Import tests/kbs/verifiers/<name>.py the way the test KBS does."""
    import importlib
    kbs_dir = os.path.join(HERE, "..", "kbs")
    if kbs_dir not in sys.path:
        sys.path.insert(0, kbs_dir)
    return importlib.import_module("verifiers." + name)
