#!/bin/sh
# Host-side tests of the boot shell pieces (no VM): the generator's failure
# policy and timeout drop-in, the INI/duration helpers, and the workload start
# script's status gate and podman arguments. Runs under dash (POSIX sh).
# Usage: tests/vm/test_scripts.sh [SRC]   (prints "boot-scripts: N passed, M failed")
set -u

src=${1:-${CVMBOOT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}}
tmp=$(mktemp -d /tmp/cvmboot-scripts.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=shcheck.sh
. "$src/tests/vm/shcheck.sh"

# ---- INI and duration helpers
. "$src/dracut-module/cvmboot-conf.sh"
cat > "$tmp/a.conf" <<'EOF'
; comment
# comment
[kbs]
url = https://kbs.example:8080   ; first
url=https://kbs2.example
ca_file = /etc/cvmboot/kbs-ca.pem	; inline after a tab
cert = a#b ;c
[retry] ; comment after a header

  budget = 90s
[boot]
on_failure = poweroff
[resource.root]
path = default/luks/root
[resource.tls]
path = default/workload/tls.crt
[workload] # comment
image = localhost/app:1
env = A=1
env = B=two words ; comment
env = C=x#y
publish = 8443:8443
command = /app/serve --port 8443
EOF
expect "ini: last value of a repeated key" "$(cvmboot_ini_get "$tmp/a.conf" kbs url)" https://kbs2.example
expect "ini: inline ; comment after a tab dropped" "$(cvmboot_ini_get "$tmp/a.conf" kbs ca_file)" /etc/cvmboot/kbs-ca.pem
expect "ini: '#' inside a value kept" "$(cvmboot_ini_get "$tmp/a.conf" kbs cert)" "a#b"
expect "ini: indented key, header with a comment" "$(cvmboot_ini_get "$tmp/a.conf" retry budget)" 90s
expect "ini: key of another section not taken" "$(cvmboot_ini_get "$tmp/a.conf" boot url)" ""
expect "ini: missing file is empty" "$(cvmboot_ini_get "$tmp/none.conf" kbs url)" ""
expect "ini: resource sections counted" "$(cvmboot_ini_count "$tmp/a.conf" resource.)" 2
expect "seconds: ms rounds up" "$(cvmboot_seconds 1500ms 0)" 2
expect "seconds: s" "$(cvmboot_seconds 45s 0)" 45
expect "seconds: m" "$(cvmboot_seconds 2m 0)" 120
expect "seconds: bare number" "$(cvmboot_seconds 7 0)" 7
expect "seconds: garbage gives the default" "$(cvmboot_seconds 5x 99)" 99
expect "cmdline: last word wins" "$(cvmboot_cmdline_get "a rd.cvmboot.on_failure=retry b rd.cvmboot.on_failure=poweroff" rd.cvmboot.on_failure)" poweroff

# ---- generator
gen() { # CONF CMDLINE -> drop-in path
    mkdir -p "$tmp/gen"
    rm -rf "$tmp/gen/"*
    printf '%s\n' "$2" > "$tmp/cmdline"
    CVMBOOT_CONF=$1 CVMBOOT_CMDLINE=$tmp/cmdline CVMBOOT_CONF_SH=$src/dracut-module/cvmboot-conf.sh \
        sh "$src/dracut-module/cvmboot-generator" "$tmp/gen"
    echo "$tmp/gen/cvmboot.service.d/50-policy.conf"
}
d=$(gen "$tmp/a.conf" "quiet")
has "generator: policy from the config (poweroff)" "$d" "^FailureAction=poweroff$"
lacks "generator: poweroff has no emergency" "$d" "OnFailure="
# 90 s x (network wait + attestation + 2 resources) + 30 s device default + 30 s
has "generator: timeout from budget, resources, device wait" "$d" "^TimeoutStartSec=420s$"
printf '[workload]\nsigning_key = default/workload/signing-key\n' | cat "$tmp/a.conf" - > "$tmp/gk.conf"
d=$(gen "$tmp/gk.conf" "quiet")
has "generator: the signing key is one more fetch" "$d" "^TimeoutStartSec=510s$"
d=$(gen "$tmp/a.conf" "root=/dev/mapper/root rd.cvmboot.on_failure=retry")
has "generator: cmdline overrides the config (retry)" "$d" "^Restart=on-failure$"
has "generator: retry does not retry config errors" "$d" "^RestartPreventExitStatus=2 3 11$"
has "generator: retry falls back to emergency" "$d" "^OnFailure=emergency.target$"
has "generator: retry never hits the start limit" "$d" "^StartLimitIntervalSec=0$"
d=$(gen "$tmp/none.conf" "")
has "generator: emergency is the default" "$d" "^OnFailure=emergency.target$"
has "generator: emergency is irreversible" "$d" "^OnFailureJobMode=replace-irreversibly$"
has "generator: default budget 120 s" "$d" "^TimeoutStartSec=300s$"
d=$(gen "$tmp/a.conf" "rd.cvmboot.on_failure=shell")
has "generator: unknown policy falls back to emergency" "$d" "^OnFailure=emergency.target$"
# break-glass: three prompts of break_glass_timeout (+20 s each) on top: 300 + 3 x 80
printf '[boot]\nbreak_glass = passphrase\nbreak_glass_timeout = 1m\n' > "$tmp/bg.conf"
d=$(gen "$tmp/bg.conf" "")
has "generator: break-glass prompts lengthen the start timeout" "$d" "^TimeoutStartSec=540s$"
d=$(gen "$tmp/bg.conf" "rd.cvmboot.break_glass=off")
has "generator: rd.cvmboot.break_glass=off drops the prompt time" "$d" "^TimeoutStartSec=300s$"
printf '[boot]\nbreak_glass = passphrase\n' > "$tmp/bg.conf"
d=$(gen "$tmp/bg.conf" "")
has "generator: break-glass default prompt 5 min" "$d" "^TimeoutStartSec=1260s$"

# ---- workload start script
ws=$src/systemd/cvmboot-workload-start
cat >> "$tmp/a.conf" <<EOF
[secrets]
run_dir = $tmp/run
EOF
mkdir -p "$tmp/run/secrets"
run_ws() { CVMBOOT_CONF=$tmp/a.conf CVMBOOT_PODMAN=echo sh "$ws" "$@" > "$tmp/ws.out" 2>&1; echo $?; }
expect "workload: no status.json -> 77" "$(run_ws check)" 77
has "workload: says the boot job did not run" "$tmp/ws.out" "did not run"
printf '{\n  "command": "boot",\n  "result": "failed",\n  "reason": "KBS refused"\n}\n' > "$tmp/run/status.json"
expect "workload: failed boot -> 77" "$(run_ws run)" 77
has "workload: failure reason shown" "$tmp/ws.out" "KBS refused"
printf '{"command":"unlock","result":"ok"}\n' > "$tmp/run/status.json"
expect "workload: status of another command -> 77" "$(run_ws check)" 77
printf '{\n  "command": "boot",\n  "result": "ok",\n  "error": null\n}\n' > "$tmp/run/status.json"
expect "workload: ok boot (pretty JSON) -> 0" "$(run_ws check)" 0
printf '{"command":"boot","result":"ok"}' > "$tmp/run/status.json"
expect "workload: ok boot (compact JSON) -> 0" "$(run_ws check)" 0
expect "workload: run execs podman" "$(run_ws run)" 0
expect "workload: podman arguments" "$(cat "$tmp/ws.out")" \
    "run --rm --replace --name=cvmboot-workload --log-driver=passthrough --pull=never --volume=$tmp/run/secrets:/run/secrets/cvmboot:ro,Z --env=A=1 --env=B=two words --env=C=x#y --publish=8443:8443 localhost/app:1 /app/serve --port 8443"
CVMBOOT_PODMAN_ARGS="--network=host --cap-drop=all" CVMBOOT_CONF=$tmp/a.conf sh "$ws" args > "$tmp/args"
expect "workload: one argument per line, spaces kept" "$(grep -c '' "$tmp/args")" 17
has "workload: extra podman options before the image" "$tmp/args" "^--cap-drop=all$"
expect "workload: env value with spaces is one argument" "$(grep -c '^--env=B=two words$' "$tmp/args")" 1
printf '[workload]\ncommand = /x\n' > "$tmp/noimage.conf"
CVMBOOT_CONF=$tmp/noimage.conf CVMBOOT_RUN_DIR=$tmp/run sh "$ws" args > "$tmp/ws.out" 2>&1
expect "workload: no image is an error" "$?" 1

# ---- signed-image gate: pull under the policy, run by image ID
# fake podman: logs each call; pull answers as FAKE_PULL says
cat > "$tmp/podman" <<'EOF2'
#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_LOG"
if [ "$1" = pull ]; then
    ls -l "$HOME/.config/containers/" >> "$FAKE_LOG" 2>&1
    case $FAKE_PULL in
        ok) echo "Copying blob..." >&2; echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef ;;
        reject) echo 'Error: Source image rejected: A signature was required, but no signature exists' >&2; exit 125 ;;
        net) echo 'Error: initializing source docker://x: connection refused' >&2; exit 125 ;;
    esac
fi
EOF2
chmod +x "$tmp/podman"
sed 's|^image = localhost/app:1$|image = 10.0.2.101:5000/app:signed\nsigning_key = default/workload/signing-key|' \
    "$tmp/a.conf" > "$tmp/signed.conf"
run_signed() {
    : > "$tmp/fake.log"
    CVMBOOT_CONF=$tmp/signed.conf CVMBOOT_PODMAN=$tmp/podman FAKE_LOG=$tmp/fake.log FAKE_PULL=$1 TMPDIR=$tmp \
        sh "$ws" "$2" > "$tmp/ws.out" 2>&1
    echo $?
}
rm -rf "$tmp/run/image-policy"
expect "signed: no policy.json -> 77 (check)" "$(run_signed ok check)" 77
has "signed: says the policy is missing" "$tmp/ws.out" "signing_key is set but .*/image-policy/policy.json is missing"
expect "signed: no policy.json -> 77 (run)" "$(run_signed ok run)" 77
expect "signed: podman not called without a policy" "$(grep -c '' "$tmp/fake.log")" 0
mkdir -p "$tmp/run/image-policy/registries.d"
echo '{}' > "$tmp/run/image-policy/policy.json"
expect "signed: policy present -> check 0" "$(run_signed ok check)" 0
expect "signed: pulled and run -> 0" "$(run_signed ok run)" 0
has "signed: pull under the policy" "$tmp/fake.log" \
    "^pull --quiet --signature-policy $tmp/run/image-policy/policy.json 10.0.2.101:5000/app:signed$"
has "signed: registries.d reached through HOME" "$tmp/fake.log" "registries.d -> $tmp/run/image-policy/registries.d"
has "signed: run the pulled image by ID, never pulling again" "$tmp/fake.log" \
    "^run --rm .*--pull=never .* 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef /app/serve --port 8443$"
lacks "signed: the image name is not run" "$tmp/fake.log" "^run .*10.0.2.101:5000/app:signed"
expect "signed: refused image -> 76" "$(run_signed reject run)" 76
has "signed: refusal names the image and the policy" "$tmp/ws.out" \
    "image 10.0.2.101:5000/app:signed refused by the signature policy $tmp/run/image-policy/policy.json: Error: Source image rejected: A signature was required"
lacks "signed: refused image never run" "$tmp/fake.log" "^run "
expect "signed: registry unreachable -> 1 (transient)" "$(run_signed net run)" 1
has "signed: pull error shown" "$tmp/ws.out" "cannot pull 10.0.2.101:5000/app:signed: Error: initializing source"
lacks "signed: no run after a failed pull" "$tmp/fake.log" "^run "
rm -rf "$tmp/run/image-policy"
: > "$tmp/fake.log"
CVMBOOT_CONF=$tmp/a.conf CVMBOOT_PODMAN=$tmp/podman FAKE_LOG=$tmp/fake.log FAKE_PULL=reject TMPDIR=$tmp sh "$ws" run > "$tmp/ws.out" 2>&1
expect "unsigned config: exit 0" "$?" 0
lacks "unsigned config: no pull" "$tmp/fake.log" "^pull"
has "unsigned config: same run command as before" "$tmp/fake.log" \
    "^run --rm --replace --name=cvmboot-workload --log-driver=passthrough --pull=never --volume=$tmp/run/secrets:/run/secrets/cvmboot:ro,Z --env=A=1 --env=B=two words --env=C=x#y --publish=8443:8443 localhost/app:1 /app/serve --port 8443$"
left=no
for d in "$tmp"/cvmboot-pull.*; do [ -e "$d" ] && left=yes; done
expect "no leftover pull directories" "$left" no

report boot-scripts
