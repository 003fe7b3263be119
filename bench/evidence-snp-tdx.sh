#!/usr/bin/env bash
# Prints figures for SNP and TDX evidence collection through configfs-tsm on the
# FUSE fake (tests/tee/configfs_tsm_fake.py): evidence JSON size and the median wall
# time of `cvmboot evidence` over N runs (default 10). Figures only; nothing asserted.
# The fake is a Python FUSE file system that signs an SNP report (ECDSA P-384) per
# request, so the times are an upper bound of cvmboot's own share.
# Usage: bench/evidence-snp-tdx.sh [RUNS]   (CVMBOOT_BIN overrides the binary)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
if [ -z "${CVMBOOT_BIN:-}" ]; then
  scripts_dir=$src/scripts
  "$scripts_dir/install-deps.sh"
  "$scripts_dir/build.sh" build >/dev/null
  CVMBOOT_BIN=$src/build/cvmboot
fi
export CVMBOOT_BIN RUNS=$runs
exec /usr/bin/python3 - "$src" <<'EOF'
import os, statistics, subprocess, sys, tempfile, time
src = sys.argv[1]
sys.path.insert(0, os.path.join(src, "tests", "tee"))
import configfs_fixture as cf

binary, runs = os.environ["CVMBOOT_BIN"], int(os.environ["RUNS"])
with tempfile.TemporaryDirectory(prefix="cvmboot-evbench.") as tmp:
    material = cf.make_snp_material(os.path.join(tmp, "material"))
    cmdline = os.path.join(tmp, "cmdline")
    open(cmdline, "w").close()
    for mode in ("snp", "tdx"):
        with cf.FakeTsm(os.path.join(tmp, "tsm-" + mode), mode, material) as fake:
            conf = os.path.join(tmp, mode + ".conf")
            with open(conf, "w") as f:
                f.write("[tee]\ntype = %s\nconfigfs_tsm_root = %s\nccel_path = %s\n"
                        % (mode, fake.mountpoint, os.path.join(cf.FIX, "ccel-ovmf.bin")))
            times, size = [], None
            for _ in range(runs):
                t0 = time.perf_counter()
                p = subprocess.run([binary, "--config", conf, "--cmdline", cmdline, "evidence",
                                    "--report-data", os.urandom(48).hex()],
                                   capture_output=True, check=True)
                times.append((time.perf_counter() - t0) * 1000)
                compact = subprocess.run([sys.executable, "-c",
                                          "import json,sys;print(json.dumps(json.load(sys.stdin),separators=(',',':')),end='')"],
                                         input=p.stdout, capture_output=True, check=True).stdout
                size = len(compact)
            print("%s: evidence %d bytes (compact JSON), median %.1f ms over %d runs (min %.1f, max %.1f)"
                  % (mode, size, statistics.median(times), runs, min(times), max(times)))
EOF
