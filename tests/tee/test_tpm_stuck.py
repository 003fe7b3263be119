#!/usr/bin/python3
"""A TPM that stops answering: swtpm is stopped (SIGSTOP) in the middle of the
evidence collection, or right after it starts. `cvmboot evidence` must fail with
the TEE exit code 4 within [tee] tpm_timeout, naming the TPM command, the TCTI and
the timeout, for the tpm TEE and an Azure vTPM TEE (they share tee/tpm_common.c).
usage: test_tpm_stuck.py (CVMBOOT_BIN in the environment)"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from az_sim import TPM_CC_NV_WRITE, TPM_CC_QUOTE, ParavisorSim  # noqa: E402
from test_az_vtpm import provision  # noqa: E402
from tpm_swtpm import Swtpm, check  # noqa: E402

TPM_AK = 0x81010002
TIMEOUT_MS = 2000
# Process start, ASan and a loaded CI machine; a hang would be far longer.
SLACK_S = 8.0


class StallProxy:
    """TCP proxy in front of a swtpm-style data port (one connection per command,
    as the swtpm TCTI does). The first command whose code is stall_cc stops the
    swtpm process (SIGSTOP) and is then forwarded: it never gets an answer."""

    def __init__(self, upstream_port, swtpm_proc, stall_cc):
        self.upstream, self.proc, self.stall_cc = upstream_port, swtpm_proc, stall_cc
        self.stalled = False
        self.seen = []
        self.errors = []
        # The swtpm TCTI talks to the control port (data port + 1) when it
        # opens: that one is passed through untouched.
        self.listeners = ParavisorSim._listen_pair()
        self.port = self.listeners[0].getsockname()[1]
        for lst, serve in ((self.listeners[0], self._serve),
                           (self.listeners[1], self._pump_control)):
            threading.Thread(target=self._accept, args=(lst, serve), daemon=True).start()

    @property
    def tcti(self):
        return "swtpm:host=127.0.0.1,port=%d" % self.port

    @staticmethod
    def _accept(listener, serve):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    def _pump_control(self, client):
        ParavisorSim._pump_pair(self, client, self.upstream + 1)

    @staticmethod
    def _recv_tpm(sock):
        buf = b""
        while len(buf) < 10 or len(buf) < struct.unpack(">I", buf[2:6])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buf += chunk
        return buf

    def _connect_upstream(self):
        # A refused connection to the upstream listener was seen once in CI
        # (a loaded 2-core machine, another swtpm test alongside): retried
        # for up to 2 s and recorded, so a failure names it instead of
        # looking like an agent that never reached the stalled command.
        deadline = time.monotonic() + 2.0
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError as e:
                if time.monotonic() >= deadline:
                    self.errors.append("connecting to port %d: %s" % (self.upstream, e))
                    return None
                time.sleep(0.05)

    def _serve(self, client):
        up = self._connect_upstream()
        if up is None:
            client.close()
            return
        up.settimeout(None)
        try:
            while True:
                cmd = self._recv_tpm(client)
                if cmd is None:
                    return
                cc = struct.unpack(">I", cmd[6:10])[0]
                self.seen.append(cc)
                if cc == self.stall_cc and not self.stalled:
                    self.stalled = True
                    os.kill(self.proc.pid, signal.SIGSTOP)
                up.sendall(cmd)
                resp = self._recv_tpm(up)
                if resp is None:
                    return
                client.sendall(resp)
        except OSError:
            pass
        finally:
            client.close()
            up.close()

    def stop(self):
        for lst in self.listeners:
            lst.close()


def write_conf(tmp, tcti, extra=""):
    conf = os.path.join(tmp, "stuck.conf")
    with open(conf, "w") as f:
        f.write("[tee]\ntpm_tcti = %s\ntpm_timeout = %dms\n%s" % (tcti, TIMEOUT_MS, extra))
    return conf


def run_cvmboot(conf, *args):
    start = time.monotonic()
    r = subprocess.run([os.environ["CVMBOOT_BIN"], "--config", conf, "--cmdline", "/dev/null"]
                       + list(args), capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    check("AddressSanitizer" not in r.stderr and "runtime error:" not in r.stderr,
          "sanitizer report:\n%s" % r.stderr)
    return r, elapsed


def check_stuck(r, elapsed, tcti, command, what, limit_s=None):
    limit_s = limit_s or TIMEOUT_MS / 1000.0 + SLACK_S
    check(r.returncode == 4, "%s: exit %d, want 4 (TEE)\n%s" % (what, r.returncode, r.stderr))
    check(r.stdout == "", "%s: evidence printed although the TPM hung" % what)
    for words in (command, "TCTI '%s'" % tcti, "did not answer within %d ms" % TIMEOUT_MS,
                  "tpm_timeout"):
        check(words in r.stderr, "%s: %r not in the error:\n%s" % (what, words, r.stderr))
    check(TIMEOUT_MS / 1000.0 <= elapsed < limit_s,
          "%s: took %.2f s with a %d ms timeout" % (what, elapsed, TIMEOUT_MS))
    print("ok: %s: exit 4 after %.2f s: %s" % (what, elapsed, r.stderr.strip().splitlines()[-1]))


def resume(tpm):
    os.kill(tpm.proc.pid, signal.SIGCONT)


def wait_answering(tpm, tcti):
    """After SIGCONT the swtpm first finishes the stalled connection; a command
    sent meanwhile can be reset (seen under load, ~2 s after resuming). The next
    case must start on a TPM that answers, or it stalls before its own command."""
    deadline = time.monotonic() + 20
    while True:
        try:
            r = subprocess.run(["tpm2_getrandom", "4", "--hex"], env=tpm.env(tcti),
                               capture_output=True, text=True, timeout=10)
            if r.returncode == 0:
                return
            why = r.stderr.strip()
        except subprocess.TimeoutExpired:
            why = "tpm2_getrandom got no answer in 10 s"
        check(time.monotonic() < deadline, "the swtpm did not answer again after SIGCONT: " + why)
        time.sleep(0.2)


def tpm_cases(tmp):
    tpm = Swtpm(os.path.join(tmp, "tpm"))
    try:
        tpm.provision_ak(TPM_AK)
        # Healthy first: the same path answers within the timeout.
        r, _ = run_cvmboot(write_conf(tmp, tpm.tcti), "evidence", "--tee", "tpm")
        check(r.returncode == 0 and '"tpm_quote"' in r.stdout, "healthy TPM: %s" % r.stderr)

        # Stopped mid-quote: the AK checks answered, TPM2_Quote never does.
        proxy = StallProxy(tpm.port, tpm.proc, TPM_CC_QUOTE)
        try:
            r, elapsed = run_cvmboot(write_conf(tmp, proxy.tcti), "evidence", "--tee", "tpm")
            check(proxy.stalled and proxy.seen[-1] == TPM_CC_QUOTE and len(proxy.seen) > 1,
                  "the swtpm was not stopped at the quote: commands %r, proxy errors %r, "
                  "exit %d:\n%s" % (proxy.seen, proxy.errors, r.returncode, r.stderr))
            check_stuck(r, elapsed, proxy.tcti, "TPM2_Quote", "tpm, stopped mid-quote")
        finally:
            resume(tpm)
            proxy.stop()

        # Stopped right after start-up: opening the TPM already talks to it.
        os.kill(tpm.proc.pid, signal.SIGSTOP)
        try:
            r, elapsed = run_cvmboot(write_conf(tmp, tpm.tcti), "evidence", "--tee", "tpm")
            check_stuck(r, elapsed, tpm.tcti, "opening the TPM", "tpm, stopped at start-up")
            # `cvmboot detect` asks the three TPM backends, twice: the dead
            # TPM is waited for once, then given up (not 6 x the timeout).
            conf = write_conf(tmp, tpm.tcti, "type = auto\n")
            r, elapsed = run_cvmboot(conf, "detect")
            check(r.returncode == 4 and "selected: none" in r.stdout,
                  "detect on a stopped TPM: exit %d\n%s" % (r.returncode, r.stdout))
            for words in ("did not answer within %d ms" % TIMEOUT_MS, "not asking it again"):
                check(words in r.stdout, "detect: %r not said:\n%s" % (words, r.stdout))
            check(elapsed < 2 * TIMEOUT_MS / 1000.0 + SLACK_S / 2,
                  "detect took %.2f s: the dead TPM was waited for again" % elapsed)
            print("ok: detect on a stopped TPM: exit 4 after %.2f s" % elapsed)
        finally:
            resume(tpm)
    finally:
        tpm.stop()


def azure_cases(tmp):
    work = os.path.join(tmp, "az")
    os.makedirs(work)
    tpm, sim, imds, _ = provision(work, "snp")
    try:
        imds_conf = "azure_imds_url = %s\n" % imds.url
        r, _ = run_cvmboot(write_conf(tmp, sim.tcti, imds_conf), "evidence", "--tee",
                           "az-snp-vtpm")
        check(r.returncode == 0 and '"hcl_report"' in r.stdout, "healthy vTPM: %s" % r.stderr)
        for cc, command in ((TPM_CC_QUOTE, "TPM2_Quote"), (TPM_CC_NV_WRITE, "TPM2_NV_Write")):
            proxy = StallProxy(sim.port, tpm.proc, cc)
            asked = len(imds.requests)
            try:
                r, elapsed = run_cvmboot(write_conf(tmp, proxy.tcti, imds_conf), "evidence",
                                         "--tee", "az-snp-vtpm")
                check(proxy.stalled, "the swtpm was not stopped: commands %r, proxy errors %r, "
                      "exit %d:\n%s" % (proxy.seen, proxy.errors, r.returncode, r.stderr))
                check_stuck(r, elapsed, proxy.tcti, command,
                            "az-snp-vtpm, stopped at %s" % command)
                check(len(imds.requests) == asked,
                      "the metadata service was asked after the TPM hung")
            finally:
                resume(tpm)
                proxy.stop()
            wait_answering(tpm, sim.tcti)
    finally:
        sim.stop()
        imds.stop()
        tpm.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="cvmboot-stuck.")
    try:
        tpm_cases(tmp)
        azure_cases(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
