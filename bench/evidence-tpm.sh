#!/usr/bin/env bash
# Prints figures for the TPM-based backends (tpm, az-snp-vtpm, az-tdx-vtpm) on swtpm:
# evidence JSON size and the median wall time of `cvmboot evidence` over N runs
# (default 10). Figures only; nothing asserted. The Azure backends run behind the
# simulated paravisor and stub metadata service of tests/tee/az_sim.py (Python proxies
# on loopback), so their times are an upper bound of cvmboot's own share.
# Usage: bench/evidence-tpm.sh [RUNS]   (CVMBOOT_BIN overrides the binary)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
if [ -z "${CVMBOOT_BIN:-}" ]; then
  "$src/scripts/install-deps.sh"
  "$src/scripts/build.sh" build >/dev/null
  CVMBOOT_BIN=$src/build/cvmboot
fi
export CVMBOOT_BIN RUNS=$runs
exec /usr/bin/python3 - "$src" <<'EOF'
import os, shutil, statistics, subprocess, sys, tempfile, time
src = sys.argv[1]
sys.path.insert(0, os.path.join(src, "tests", "tee"))
import test_az_vtpm as az_vtpm_test
from tpm_swtpm import Swtpm

binary, runs = os.environ["CVMBOOT_BIN"], int(os.environ["RUNS"])


def measure(tmp, tee, tee_section):
    conf = os.path.join(tmp, "bench-%s.conf" % tee)
    with open(conf, "w") as f:
        f.write("[tee]\n" + "".join("%s = %s\n" % kv for kv in tee_section.items()))
    times, size = [], None
    for _ in range(runs):
        t0 = time.monotonic()
        r = subprocess.run([binary, "--config", conf, "--cmdline", "/dev/null", "evidence",
                            "--tee", tee, "--report-data", os.urandom(48).hex()],
                           capture_output=True)
        times.append((time.monotonic() - t0) * 1000)
        if r.returncode != 0:
            sys.exit("%s evidence failed: %s" % (tee, r.stderr.decode()))
        size = len(r.stdout.strip())   # pretty-printed JSON as the CLI prints it
    print("%-12s evidence %6d bytes   median %7.1f ms over %d runs (min %.1f, max %.1f)"
          % (tee, size, statistics.median(times), runs, min(times), max(times)))


tmp = tempfile.mkdtemp(prefix="cvmboot-tpmbench.")
stops = []
try:
    tpm = Swtpm(tmp)
    stops.append(tpm.stop)
    tpm.provision_ak(0x81010002)
    measure(tmp, "tpm", {"tpm_tcti": tpm.tcti})
    tpm.stop()
    for kind in ("snp", "tdx"):
        work = os.path.join(tmp, kind)
        os.makedirs(work)
        tpm, sim, imds, _ = az_vtpm_test.provision(work, kind)
        stops += [tpm.stop, sim.stop, imds.stop]
        measure(work, "az-%s-vtpm" % kind, {"tpm_tcti": sim.tcti, "azure_imds_url": imds.url})
        sim.stop(), imds.stop(), tpm.stop()
finally:
    for stop in stops:
        try:
            stop()
        except Exception:
            pass
    shutil.rmtree(tmp, ignore_errors=True)
EOF
