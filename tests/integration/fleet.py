# A fleet of real `cvmboot get-resource` processes released at once against one
# test KBS: what tests/integration/test_fleet.py checks and bench/fleet.sh measures.
"""run_fleet(): N agents, one test KBS with the overload model; per-agent results."""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kbs"))

import harness  # noqa: E402

RESOURCE = "default/fleet/key"


class Agent:
    def __init__(self, index, out_path, err_path):
        self.index = index
        self.out_path = out_path
        self.err_path = err_path
        self.rc = None
        self.seconds = None  # from the release of the fleet to the exit

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()


class Fleet:
    def __init__(self, n, capacity, cost_ms, agents, requests, secret, released_at):
        self.n, self.capacity, self.cost_ms = n, capacity, cost_ms
        self.agents, self.requests, self.secret = agents, requests, secret
        self.released_at = released_at  # time.time() when the agents were let go

    def first_auth_seconds(self):
        """The n earliest /auth arrivals (one per agent, nearly), in seconds
        after the release: how long the agents took to start (CPU, TLS)
        before any retry policy played a part."""
        return sorted(e["time"] - self.released_at for e in self.requests
                      if e["endpoint"] == "auth")[:self.n]

    def ideal_seconds(self):
        """The physical floor: N verifications of cost_ms, capacity at a time."""
        return self.n * self.cost_ms / 1000.0 / self.capacity

    def succeeded(self):
        return [a for a in self.agents if a.rc == 0 and a.output() == self.secret]

    def count(self, endpoint, fault=None):
        return sum(1 for e in self.requests
                   if e["endpoint"] == endpoint and (fault is None or e.get("fault") == fault))


def _config(workdir, kbs, run_dir, budget):
    return harness.write_config(
        os.path.join(workdir, "cvmboot.conf"),
        kbs={"url": kbs.url, "ca_file": kbs.ca},
        retry={"budget": budget},
        tee={"type": "sample"},
        secrets={"run_dir": run_dir, "dir": os.path.join(run_dir, "secrets")},
        luks={"discover_tokens": False})


def run_fleet(workdir, n, capacity=8, cost_ms=200, status=503, retry_after="1",
              budget="120s", timeout=300, gate_lib=None):
    """Start the test KBS (overload model on), release n agents at once, wait
    for all; returns a Fleet. Agents wait on one pipe: closing its write end
    starts them all in the same instant."""
    binary = os.environ["CVMBOOT_BIN"]
    secret = b"FLEET-" + os.urandom(16).hex().encode()
    res_dir = os.path.join(workdir, "resources")
    harness.make_resources(res_dir, {RESOURCE: secret})
    kbs = harness.start_kbs(os.path.join(workdir, "kbs"), res_dir, extra_args=(
        "--attest-capacity", str(capacity), "--attest-cost-ms", str(cost_ms),
        "--overload-status", str(status), "--overload-retry-after", str(retry_after)))
    try:
        run_dir = os.path.join(workdir, "run")
        config = _config(workdir, kbs, run_dir, budget)
        cmdline = os.path.join(workdir, "cmdline")
        with open(cmdline, "w", encoding="utf-8"):
            pass
        agents, procs = _start(binary, config, cmdline, workdir, n, gate_lib)
        released_at = _release_and_wait(agents, procs, timeout)
        return Fleet(n, capacity, cost_ms, agents, kbs.requests(), secret, released_at)
    finally:
        kbs.stop()


def _start(binary, config, cmdline, workdir, n, gate_lib):
    """Each agent waits on the gate pipe: before it is executed (a shell's
    `read`), or with gate_lib (bench/fleet_gate.c, LD_PRELOAD) after its
    libraries are loaded."""
    gate_r, gate_w = os.pipe()
    agents, procs = [], {}
    argv = [binary, "--config", config, "--cmdline", cmdline, "get-resource", RESOURCE]
    env, ready_r, ready_w = None, None, None
    if gate_lib:
        ready_r, ready_w = os.pipe()
        env = dict(os.environ, LD_PRELOAD=gate_lib, FLEET_READY_FD=str(ready_w))
    else:
        argv = ["/bin/sh", "-c", 'read _ || true; exec "$@"', "sh"] + argv
    for i in range(n):
        agent = Agent(i, os.path.join(workdir, "out.%d" % i), os.path.join(workdir, "err.%d" % i))
        with open(agent.out_path, "wb") as out, open(agent.err_path, "wb") as err:
            proc = subprocess.Popen(argv, stdin=gate_r, stdout=out, stderr=err, env=env,
                                    pass_fds=(ready_w,) if gate_lib else ())
        agents.append(agent)
        procs[proc.pid] = (proc, agent)
    os.close(gate_r)
    if gate_lib:
        os.close(ready_w)
        ready = 0
        while ready < n:  # every agent loaded, waiting at the gate
            got = os.read(ready_r, n - ready)
            if not got:
                raise RuntimeError("only %d of %d agents reached the gate" % (ready, n))
            ready += len(got)
        os.close(ready_r)
    return agents, (procs, gate_w)


def _release_and_wait(agents, started, timeout):
    procs, gate_w = started
    t0, released_at = time.monotonic(), time.time()
    os.close(gate_w)  # every agent's `read` sees end of file now
    deadline = t0 + timeout
    while procs:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            if time.monotonic() > deadline:
                for proc, _ in procs.values():
                    proc.kill()
            time.sleep(0.005)
            continue
        if pid not in procs:
            continue
        proc, agent = procs.pop(pid)
        proc.returncode = agent.rc = os.waitstatus_to_exitcode(status)
        agent.seconds = time.monotonic() - t0
    return released_at
