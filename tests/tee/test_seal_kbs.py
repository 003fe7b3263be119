#!/usr/bin/python3
"""End to end on swtpm against the test KBS: `cvmboot boot` with [tee] type = tpm (and
az-snp-vtpm behind the simulated paravisor) attests, fetches a resource and seals the
boot phase by extending PCR 15. Then the PCR has moved (tpm2_pcrread), new evidence
shows it, and a KBS whose policy wants the pre-seal PCR 15 refuses a second boot.
usage: test_seal_kbs.py TPM_DRIVER tpm|az-snp-vtpm"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import common  # noqa: E402
from tpm_swtpm import Swtpm, check, run_driver  # noqa: E402

ZERO = "00" * 32
RESOURCE = "default/test/boot-secret"


def evidence(driver, tee, opts):
    rc, out, err = run_driver(driver, tee, "evidence", "11" * 48, opts)
    check(rc == 0, "evidence failed: %s" % err)
    return json.loads(out)


def check_seal_hook(driver, tpm):
    """The hook alone: PCR14 becomes SHA-256(old || SHA-256(event))."""
    old = bytes.fromhex(tpm.pcr(14))
    rc, out, err = run_driver(driver, "tpm", "seal", "cvmboot test event",
                              ["--tcti", tpm.tcti, "--seal-pcr", "14"])
    check(rc == 0 and out.strip() == "PCR14 (sha256)", "seal: rc=%d %s %s" % (rc, out, err))
    want = hashlib.sha256(old + hashlib.sha256(b"cvmboot test event").digest()).hexdigest()
    check(tpm.pcr(14) == want, "PCR14 is %s, want %s" % (tpm.pcr(14), want))


def setup_tee(env, tee, tpm):
    """-> ([tee] config section, driver options, verifier options, cleanups)"""
    if tee == "tpm":
        tpm.provision_ak(0x81010002)
        return {"type": "tpm", "tpm_tcti": tpm.tcti}, ["--tcti", tpm.tcti], [], []
    import test_az_vtpm as az_vtpm_test
    tpm_, sim, imds, _ = az_vtpm_test.provision(env.tmp, "snp", tpm=tpm)
    section = {"type": tee, "tpm_tcti": sim.tcti, "azure_imds_url": imds.url}
    return (section, ["--tcti", sim.tcti, "--imds", imds.url],
            ["--verifier-option", "az-simulated-paravisor=1"], [sim.stop, imds.stop])


def main():
    driver, tee = sys.argv[1], sys.argv[2]
    env = common.Env("seal-" + tee)
    tpm = Swtpm(env.tmp)
    cleanups = []
    try:
        section, opts, vopts, cleanups = setup_tee(env, tee, tpm)
        if tee == "tpm":
            check_seal_hook(driver, tpm)
        before = evidence(driver, tee, opts)
        check(before["tpm_quote"]["pcrs"][15] == ZERO and tpm.pcr(15) == ZERO, "PCR15 not zero")

        secret = env.random_secret(RESOURCE)
        kbs = env.start_kbs(extra_args=vopts + ["--verifier-option", "expect-pcr15=" + ZERO])
        config = env.config([kbs.url], ca=kbs.ca, tee=dict(section, seal_pcr=15),
                            resources={"secret": {"path": RESOURCE, "file": "secret"}})
        res = env.run(["boot"], config)
        check(res.rc == 0, "boot failed\n%r" % res)
        env.check_secret_file("secret", secret, 0o400)
        st = env.status()
        check(st["tee"] == tee and st["sealed"] == "PCR15 (sha256)", "status %r" % st)
        log = kbs.requests()
        check(any(r["path"].endswith("/attest") and r["status"] == 200 for r in log),
              "the KBS accepted no attestation")
        check(any(r["path"].endswith(RESOURCE) and r["status"] == 200 for r in log),
              "the resource was not served")

        sealed = tpm.pcr(15)
        check(sealed != ZERO, "PCR15 did not move (tpm2_pcrread)")
        after = evidence(driver, tee, opts)
        check(after["tpm_quote"]["pcrs"][15] == sealed != before["tpm_quote"]["pcrs"][15],
              "new evidence does not show the sealed PCR15")

        served = sum(1 for r in kbs.requests() if r["path"].endswith(RESOURCE) and r["status"] == 200)
        res = env.run(["boot"], config)
        env.check_failed_status(res, 5, "refused", r"PCR15")
        check(sum(1 for r in kbs.requests() if r["path"].endswith(RESOURCE)
                  and r["status"] == 200) == served, "the resource was served after the seal")
        print("ok: %s boot fetched the resource, sealed PCR15, and a second boot was refused" % tee)
    except Exception:
        env.dump()
        raise
    finally:
        for stop in cleanups:
            stop()
        tpm.stop()
        env.cleanup()


if __name__ == "__main__":
    main()
