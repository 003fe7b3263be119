#!/usr/bin/python3
# bench/memory.sh's runner: one `cvmboot boot --no-activate` per TEE against the
# test KBS (sample; snp and tdx on the FUSE configfs-tsm fake; tpm on swtpm;
# az-snp-vtpm on the simulated paravisor), each under /usr/bin/time and the
# smaps_at_exit shim; prints peak RSS, RSS/PSS/private dirty at exit and the
# libraries mapped, then where the PSS is: the agent's own memory (binary,
# heap, stack, anonymous), libcrypto and libssl, libc and ld.so, the
# libraries only libcurl brings, and the rest. The agent runs with the
# Environment= of dracut-module/cvmboot.service, as at boot (unset with
# CVMBOOT_BENCH_NO_UNIT_ENV=1). Figures only.
# Usage: memory_run.py CVMBOOT SHIM [TEE...]
import os
import re
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


def smaps_by_object(path):
    """{object: (Pss, Private_Dirty)} in KiB; object is a file's name, or
    [heap], [stack], [anon] (anonymous mappings), [vdso] and the like."""
    out, name = {}, None
    header = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$")
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = header.match(line)
            if m:
                name = os.path.basename(m.group(1)) if m.group(1).startswith("/") else (m.group(1) or "[anon]")
                continue
            parts = line.split()
            if name and len(parts) == 3 and parts[0] in ("Pss:", "Private_Dirty:"):
                pss, dirty = out.get(name, (0, 0))
                if parts[0] == "Pss:":
                    pss += int(parts[1])
                else:
                    dirty += int(parts[1])
                out[name] = (pss, dirty)
    return out


def ldd(path):
    """{library name: path} of everything path loads, itself not included."""
    p = subprocess.run(["ldd", path], capture_output=True, text=True, check=False)
    libs = {}
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            libs[os.path.basename(os.path.realpath(m.group(2)))] = m.group(2)
    return libs


def needed(path):
    p = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=False)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", p.stdout)


def curl_tree(binary):
    """The libraries the agent maps only because libcurl needs them (libcurl
    included): libcurl's closure minus what every other NEEDED loads."""
    everything = ldd(binary)
    curl, others = set(), set()
    for soname in needed(binary):
        path = next((p for p in everything.values() if os.path.basename(p) == soname), None)
        if not path:
            continue
        closure = set(ldd(path)) | {os.path.basename(os.path.realpath(path))}
        (curl if soname.startswith("libcurl") else others).update(closure)
    return curl - others


def where(objects, binary, tree):
    """PSS (KiB) by group: own, libcrypto+libssl, libc+ld.so, libcurl's tree, rest."""
    own_names = {os.path.basename(binary), "[heap]", "[stack]", "[anon]"}
    groups = {"own": 0, "crypto": 0, "libc": 0, "curl": 0, "rest": 0}
    for name, (pss, _) in objects.items():
        if name in own_names:
            groups["own"] += pss
        elif name.startswith(("libcrypto.so", "libssl.so")):
            groups["crypto"] += pss
        elif name.startswith(("libc.so", "ld-linux")):
            groups["libc"] += pss
        elif name in tree:
            groups["curl"] += pss
        else:
            groups["rest"] += pss
    return groups


def unit_environment():
    """KEY=VALUE pairs of the Environment= lines of cvmboot.service."""
    env = []
    if os.environ.get("CVMBOOT_BENCH_NO_UNIT_ENV") == "1":
        return env
    with open(os.path.join(SRC, "dracut-module", "cvmboot.service"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("Environment="):
                env += line.strip().split("=", 1)[1].split()
    return env


def measure(binary, shim, tee, tree, env, details):
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
                            "env", *env, "LD_PRELOAD=" + shim,
                            "SMAPS_OUT=" + smaps, binary,
                            "--config", config, "--cmdline", cmdline, "boot", "--no-activate"],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            return "%-12s boot failed (exit %d): %s" % (tee, p.returncode, p.stderr.strip()[-300:])
        with open(os.path.join(tmp, "time"), encoding="ascii") as f:
            peak = int(f.read().split()[-1])
        r = rollup(smaps + ".rollup")
        libs = [n for n in libraries(smaps + ".maps") if not n.startswith("smaps_at_exit")]
        tss2 = [n for n in libs if n.startswith("libtss2")]
        objects = smaps_by_object(smaps + ".smaps")
        objects.pop(os.path.basename(shim), None)
        details.append((tee, where(objects, binary, tree)))
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
    tree = curl_tree(binary)
    env = unit_environment()
    print("environment: %s" % (" ".join(env) or "none (CVMBOOT_BENCH_NO_UNIT_ENV=1)"))
    print("%-12s %8s %8s %8s %8s %5s  %s" % ("tee", "peakRSS", "RSS", "PSS", "privDirty",
                                            "libs", "tss2 mapped (KiB; RSS/PSS/dirty at exit)"))
    details = []
    for tee in tees:
        print(measure(binary, shim, tee, tree, env, details), flush=True)
    print()
    print("where the PSS is (KiB): own = the agent's binary, heap, stack and anonymous memory;")
    print("curl = the %d libraries only libcurl brings (libcurl included)" % len(tree))
    print("%-12s %6s %6s %6s %6s %6s %8s" % ("tee", "own", "crypto", "libc", "curl", "rest",
                                             "non-curl"))
    for tee, g in details:
        print("%-12s %6d %6d %6d %6d %6d %8d" % (
            tee, g["own"], g["crypto"], g["libc"], g["curl"], g["rest"],
            g["own"] + g["crypto"] + g["libc"] + g["rest"]))


if __name__ == "__main__":
    main()
