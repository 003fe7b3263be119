#!/usr/bin/python3
"""Break-glass end to end on swtpm: `cvmboot boot` with [boot] break_glass = passphrase,
the KBS unreachable (or refusing), a fake systemd-ask-password on PATH. Checks: PCR 15
extended with the break-glass event before the prompt, the LUKS2 image opened (verified:
--no-activate) with the typed passphrase, status.json says "break-glass", no secret file
written, the passphrase never logged; a wrong passphrase three times fails; off (default or
rd.cvmboot.break_glass=off) asks nothing and extends nothing.
usage: break_glass_test.py"""
import hashlib
import os
import stat
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import common  # noqa: E402
import harness  # noqa: E402  (common puts tests/kbs on sys.path)
from tpm_swtpm import Swtpm, check  # noqa: E402

EVENT = b"cvmboot break-glass: console recovery passphrase, no KBS key"
ROOT_KEY = "default/disk/root-key"
TLS_KEY = "default/workload/tls.key"
RECOVERY = b"correct horse battery staple"

# The fake agent: logs its arguments, answers with the next line of its answers
# file (an empty line: only Enter pressed), or exits 1 as systemd-ask-password does
# on a timeout when none is left; HANG: closes its output and never ends.
FAKE = """#!/bin/sh
dir=$(dirname "$0")
n=$(($(cat "$dir/count" 2>/dev/null || echo 0) + 1))
echo "$n" > "$dir/count"
printf '%s\\n' "$*" >> "$dir/args"
[ "$n" -le "$(wc -l < "$dir/answers")" ] || exit 1
line=$(sed -n "${n}p" "$dir/answers")
if [ "$line" = HANG ]; then exec >&-; exec sleep 60; fi
printf '%s\\n' "$line"
"""


class Fake:
    def __init__(self, env):
        self.dir = os.path.join(env.private_dir, "bin")
        os.makedirs(self.dir)
        path = os.path.join(self.dir, "systemd-ask-password")
        with open(path, "w") as f:
            f.write(FAKE)
        os.chmod(path, 0o755)
        os.environ["PATH"] = self.dir + ":" + os.environ["PATH"]

    def answer(self, *lines):
        for name in ("count", "args"):
            if os.path.exists(os.path.join(self.dir, name)):
                os.unlink(os.path.join(self.dir, name))
        with open(os.path.join(self.dir, "answers"), "wb") as f:
            f.write(b"".join(line + b"\n" for line in lines))

    def calls(self):
        try:
            with open(os.path.join(self.dir, "args")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []


def extended(old_hex, event=EVENT):
    return hashlib.sha256(bytes.fromhex(old_hex) + hashlib.sha256(event).digest()).hexdigest()


def no_files(env):
    files = os.listdir(env.secrets_dir) if os.path.exists(env.secrets_dir) else []
    check(files == [], "secret files written: %s" % files)


def check_not_logged(res):
    for text in (res.out, res.err):
        check(RECOVERY.decode() not in text and "wrong-one" not in text,
              "a passphrase appears in the output")


def main():
    env = common.Env("break-glass")
    tpm = Swtpm(env.tmp)
    try:
        fake = Fake(env)
        tpm.provision_ak(0x81010002)
        key = os.urandom(32)
        dead = "https://127.0.0.1:%d" % common.free_port()
        img = common.make_luks_image(env, key, ROOT_KEY, [dead], passphrase=RECOVERY)
        env.secrets.append(key)
        tls_key = env.random_secret(TLS_KEY)
        resources = {"root": {"path": ROOT_KEY, "luks_device": img},
                     "tls-key": {"path": TLS_KEY, "file": "tls.key"}}
        tee = {"type": "tpm", "tpm_tcti": tpm.tcti, "seal_pcr": 15}

        def config(urls, ca=None, **boot):
            """A configuration file of its own (env.config rewrites one path)."""
            with open(env.config(urls, ca=ca, tee=tee, resources=resources,
                                 retry={"budget": "1s"}, luks={"no_activate": "true"})) as f:
                text = f.read()
            if boot:
                text += "\n[boot]\n" + "".join("%s = %s\n" % kv for kv in boot.items())
            path = os.path.join(env.tmp, "cvmboot-%d.conf" % len(os.listdir(env.tmp)))
            with open(path, "w") as f:
                f.write(text)
            return path

        on = config([dead], break_glass="passphrase", break_glass_timeout="7s")

        # 1. off (the default): exit 6 as today, nothing asked, PCR15 untouched.
        fake.answer(RECOVERY)
        res = env.run(["boot"], config([dead]))
        st = env.check_failed_status(res, 6, "network")
        check(fake.calls() == [] and st["break_glass"] is None and st["unlock"] is None,
              "break-glass ran while off: %r %r" % (fake.calls(), st))
        check(tpm.pcr(15) == "00" * 32, "PCR15 moved with break-glass off")
        # rd.cvmboot.break_glass=off wins over the file.
        res = env.run(["boot"], on, cmdline="rd.cvmboot.break_glass=off")
        env.check_failed_status(res, 6, "network")
        check(fake.calls() == [] and tpm.pcr(15) == "00" * 32, "asked despite the cmdline off")

        # 2. on, KBS unreachable, right passphrase: PCR15 extended, volume opened.
        fake.answer(RECOVERY)
        before = tpm.pcr(15)
        res = env.run(["boot"], on)
        check(res.rc == 0, "break-glass boot failed\n%r" % res)
        check_not_logged(res)
        calls = fake.calls()
        check(len(calls) == 1 and "--id=cvmboot:break-glass" in calls[0]
              and "--timeout=7" in calls[0] and "try 1 of 3" in calls[0], "asked: %r" % calls)
        check(tpm.pcr(15) == extended(before), "PCR15 %s, want the break-glass event over %s"
              % (tpm.pcr(15), before))
        st = env.status()
        bg = st["break_glass"]
        check(st["result"] == "ok" and st["unlock"] == "break-glass" and st["tee"] == "tpm",
              "status %r" % st)
        check(bg["register"] == "PCR15 (sha256)" and bg["event"] == EVENT.decode()
              and bg["event_digest"] == "sha256:" + hashlib.sha256(EVENT).hexdigest()
              and "127.0.0.1" in bg["kbs_error"], "break_glass %r" % bg)
        check(st["volumes"] == [img] and st["resources"] == [] and st["sealed"] is None,
              "status volumes/resources %r" % st)
        no_files(env)
        check(res.err.count("BREAK-GLASS") >= 3, "no loud console lines:\n%s" % res.err)

        # 3. wrong passphrase three times (an empty one among them): exit 9, nothing opened.
        fake.answer(b"wrong-one", b"", b"wrong-one", RECOVERY)
        before = tpm.pcr(15)
        res = env.run(["boot"], on)
        st = env.check_failed_status(res, 9, "unlock", r"unreachable|connect.*break-glass.*3 tries")
        check_not_logged(res)
        check(len(fake.calls()) == 3 and "try 3 of 3" in fake.calls()[2], "asked %r" % fake.calls())
        check("break-glass recovery did not open the volumes" in res.err, "advice:\n%s" % res.err)
        check(tpm.pcr(15) == extended(before) and st["break_glass"]["register"] == "PCR15 (sha256)",
              "the failed break-glass is not recorded")
        check(st["unlock"] is None and st["volumes"] == [], "status %r" % st)
        no_files(env)

        # 4. nobody answers (the agent times out): exit 9 after one prompt.
        fake.answer()
        res = env.run(["boot"], on)
        env.check_failed_status(res, 9, "unlock", r"no recovery passphrase")
        check(len(fake.calls()) == 1, "asked %r" % fake.calls())

        # 4b. the agent closes its output but does not end: killed at
        #     break_glass_timeout + 10 s, exit 9 after one prompt.
        fake.answer(b"HANG")
        res = env.run(["boot"], config([dead], break_glass="passphrase", break_glass_timeout="1s"))
        env.check_failed_status(res, 9, "unlock", r"did not end in time")
        check(len(fake.calls()) == 1 and res.elapsed < 30, "asked %r in %.1f s"
              % (fake.calls(), res.elapsed))

        # 5. the KBS answers but refuses (policy): break-glass too; the files it
        #    would have served are not written.
        kbs = env.start_kbs(extra_args=["--verifier-option", "expect-pcr15=" + "11" * 32])
        fake.answer(RECOVERY)
        before = tpm.pcr(15)
        res = env.run(["boot"], config([kbs.url], ca=kbs.ca, break_glass="passphrase"))
        check(res.rc == 0, "break-glass after a refusal failed\n%r" % res)
        st = env.status()
        check(st["unlock"] == "break-glass" and "PCR15" in st["break_glass"]["kbs_error"],
              "status %r" % st)
        check(tpm.pcr(15) == extended(before), "PCR15 not extended after the refusal")
        check(not any(r["path"].endswith(TLS_KEY) and r["status"] == 200 for r in kbs.requests()),
              "the KBS served the file")
        no_files(env)
        check(stat.S_ISREG(os.stat(img).st_mode), "image gone")
        # 6. a TEE with no register to extend (sample, as bare SNP): nothing is
        #    asked, the boot fails with the KBS's error class.
        rc, out, _ = harness.run_cvmboot(["--version"], on)
        if " sample" in out:
            tee = {"type": "sample"}
            fake.answer(RECOVERY)
            res = env.run(["boot"], config([dead], break_glass="passphrase"))
            st = env.check_failed_status(res, 6, "network", r"break-glass: TEE sample has no register")
            check(fake.calls() == [] and st["break_glass"] is None, "asked without a register")
        del tls_key
        print("ok: break-glass off asks nothing; on: PCR15 extended, volume opened with the "
              "passphrase, status says break-glass, no file; 3 wrong tries and a timeout fail; no register (sample): nothing asked")
    except Exception:
        env.dump()
        raise
    finally:
        tpm.stop()
        env.cleanup()


if __name__ == "__main__":
    main()
