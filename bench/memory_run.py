#!/usr/bin/python3
# bench/memory.sh's runner: one `cvmboot boot --no-activate` per TEE against the
# test KBS (sample; snp and tdx on the FUSE configfs-tsm fake; tpm on swtpm;
# az-snp-vtpm on the simulated paravisor), each under /usr/bin/time and the
# smaps_at_exit shim; prints peak RSS, RSS/PSS/private dirty at exit and the
# libraries mapped. Figures only. Usage: memory_run.py CVMBOOT SHIM [TEE...]
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests", "tee"))
sys.path.insert(0, os.path.join(SRC, "tests", "kbs"))

import configfs_fixture as cf  # noqa: E402
import harness  # noqa: E402

RESOURCE = "default/bench/secret"


def setup(tee, tmp, cleanups):
    """-> ([tee] section, start_kbs keyword arguments)"""
    if tee == "sample":
        return {"type": "sample"}, {}
    if tee in ("snp", "tdx"):
        material = cf.make_snp_material(os.path.join(tmp, "material"))
        fake = cf.FakeTsm(os.path.join(tmp, "tsm"), tee, material)
        cleanups.append(fake.stop)
        return ({"type": tee, "configfs_tsm_root": fake.mountpoint},
                {"trust_dir": material["trust"]})
    from tpm_swtpm import Swtpm
    tpm = Swtpm(tmp)
    cleanups.append(tpm.stop)
    if tee == "tpm":
        tpm.provision_ak(0x81010002)
        return {"type": "tpm", "tpm_tcti": tpm.tcti}, {}
    import test_az_vtpm as az_vtpm_test
    kind = "tdx" if tee == "az-tdx-vtpm" else "snp"
    _, sim, imds, _ = az_vtpm_test.provision(tmp, kind, tpm=tpm)
    cleanups += [sim.stop, imds.stop]
    return ({"type": tee, "tpm_tcti": sim.tcti, "azure_imds_url": imds.url},
            {"extra_args": ["--verifier-option", "az-simulated-paravisor=1"]})


def rollup(path):
    """smaps_rollup fields in KiB."""
    out = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def libraries(path):
    libs = set()
    with open(path, encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ".so" in parts[5]:
                libs.add(os.path.basename(parts[5]))
    return sorted(libs)


def measure(binary, shim, tee):
    tmp = tempfile.mkdtemp(prefix="cvmboot-bench-mem.")
    cleanups = []
    try:
        section, kbs_args = setup(tee, tmp, cleanups)
        res = harness.make_resources(os.path.join(tmp, "res"), {RESOURCE: b"bench secret\n"})
        kbs = harness.start_kbs(os.path.join(tmp, "kbs"), res, **kbs_args)
        cleanups.append(kbs.stop)
        run = os.path.join(tmp, "run")
        config = harness.write_config(
            os.path.join(tmp, "cvmboot.conf"), kbs={"url": kbs.url, "ca_file": kbs.ca},
            tee=section, secrets={"run_dir": run, "dir": os.path.join(run, "secrets"),
                                  "allow_non_tmpfs": True},
            **{"resource.secret": {"path": RESOURCE, "file": "secret"}})
        smaps = os.path.join(tmp, "smaps")
        cmdline = os.path.join(tmp, "cmdline")
        open(cmdline, "w").close()
        # the shim goes to cvmboot alone (env), not to time
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", os.path.join(tmp, "time"),
                            "env", "LD_PRELOAD=" + shim, "SMAPS_OUT=" + smaps, binary,
                            "--config", config, "--cmdline", cmdline, "boot", "--no-activate"],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            return "%-12s boot failed (exit %d): %s" % (tee, p.returncode, p.stderr.strip()[-300:])
        with open(os.path.join(tmp, "time"), encoding="ascii") as f:
            peak = int(f.read().split()[-1])
        r = rollup(smaps + ".rollup")
        libs = [n for n in libraries(smaps + ".maps") if not n.startswith("smaps_at_exit")]
        tss2 = [n for n in libs if n.startswith("libtss2")]
        return ("%-12s %8d %8d %8d %8d %5d  %s" % (
            tee, peak, r.get("Rss", 0), r.get("Pss", 0), r.get("Private_Dirty", 0), len(libs),
            ", ".join(tss2) if tss2 else "none"))
    finally:
        for stop in reversed(cleanups):
            try:
                stop()
            except Exception:  # noqa: BLE001 (best effort)
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    binary, shim = sys.argv[1], sys.argv[2]
    tees = sys.argv[3:] or ["sample", "snp", "tdx", "tpm", "az-snp-vtpm", "az-tdx-vtpm"]
    print("%-12s %8s %8s %8s %8s %5s  %s" % ("tee", "peakRSS", "RSS", "PSS", "privDirty",
                                            "libs", "tss2 mapped (KiB; RSS/PSS/dirty at exit)"))
    for tee in tees:
        print(measure(binary, shim, tee), flush=True)


if __name__ == "__main__":
    main()
