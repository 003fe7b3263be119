#!/usr/bin/env bash
# The VM test suite: boots a Debian guest (QEMU TCG) whose LUKS2 root is
# unlocked by cvmboot in a dracut initramfs after attesting to the test KBS,
# then checks the workload container got its mTLS files; plus negative boots
# (attestation refused, KBS unreachable, wrong key, emergency path), the
# break-glass passphrase typed on the serial console (glass), a measured UKI
# under OVMF whose PCRs the KBS checks (tests/vm/uki.sh), and the
# signed-image gate pulling from a loopback registry (tests/vm/signed.sh).
# Builds everything it needs. Ends with "vm: N passed, M failed".
# `tests/vm/run.sh --demo` (scripts/demo.sh --vm): one good boot, showing the
# console lines that matter, the checks and the timeline.
# Environment: CVMBOOT_VM_SCENARIOS (default "ok deny unreachable wrongkey
#   dupuuid emergency disabled retry tokens glass signed nm ip uki ansible";
#   uki: tests/vm/uki.sh, ansible: tests/vm/ansible.sh, signed:
#   tests/vm/signed.sh), CVMBOOT_VM_TEE (tpm or sample, default tpm),
#   CVMBOOT_VM_OK_BOOTS (default 3), CVMBOOT_VM_NM_BOOTS (default 1),
#   CVMBOOT_VM_NET_WAIT=online (cvmboot waits for network-online.target, as
#   before cvmboot-wait-network: for timeline comparisons), CVMBOOT_VM_KEEP=1 keeps the
#   work directory, CVMBOOT_VM_BUILD (default build-vm), CVMBOOT_VM_TIME_SCALE
#   (default 1: multiplies every boot's time limit and wall-time bound, for
#   a host loaded by other work).
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
build=${CVMBOOT_VM_BUILD:-$src/build-vm}
scenarios=${CVMBOOT_VM_SCENARIOS:-ok deny unreachable wrongkey dupuuid emergency disabled retry tokens glass signed nm ip uki ansible}
ok_boots=${CVMBOOT_VM_OK_BOOTS:-3}
demo=0
if [ "${1:-}" = --demo ]; then
  demo=1 scenarios=ok ok_boots=1 CVMBOOT_VM_SIZES=0
elif [ $# -gt 0 ]; then
  echo "usage: tests/vm/run.sh [--demo]" >&2
  exit 2
fi
suite_t0=$(date +%s)

work=$(mktemp -d /tmp/cvmboot-vm.XXXXXX)
kbs_pid= front_pid=
cleanup() {
  kbs_stop
  signed_stop
  if [ "${CVMBOOT_VM_KEEP:-0}" = 1 ]; then
    echo "vm: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
. "$src/tests/vm/lib.sh"
. "$src/tests/vm/uki.sh"
. "$src/tests/vm/ansible.sh"
. "$src/tests/vm/signed.sh"

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
# check DESCRIPTION COMMAND...: one assertion.
check() {
  local what=$1
  shift
  if "$@" > /dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
console_has() { grep -E -q -- "$2" "$work/$1.console"; }
console_count_ge_le() {
  local n
  n=$(grep -E -c -- "$2" "$work/$1.console")
  [ "$n" -ge "$3" ] && [ "$n" -le "$4" ]
}
console_count_ge() { [ "$(grep -E -c -- "$2" "$work/$1.console")" -ge "$3" ]; }
console_lacks() { ! grep -E -q -- "$2" "$work/$1.console"; }
console_lacks_fixed() { ! grep -F -q -- "$2" "$work/$1.console"; }
not_in_file() { ! grep -E -q -- "$1" "$2"; }
# kbs_served NAME PATH: the KBS answered 200 for PATH in run NAME.
kbs_served() {
  /usr/bin/python3 - "$work/$1.kbs/requests.jsonl" "$2" <<'EOF'
import json, sys
path, want = sys.argv[1], sys.argv[2]
ok = any(r.get("path") == want and r.get("status") == 200
         for r in map(json.loads, open(path)))
sys.exit(0 if ok else 1)
EOF
}
kbs_served_no_resource() {
  /usr/bin/python3 - "$work/$1.kbs/requests.jsonl" <<'EOF2'
import json, sys
bad = [r for r in map(json.loads, open(sys.argv[1]))
       if r.get("path", "").startswith("/kbs/v0/resource/") and r.get("status") == 200]
sys.exit(1 if bad else 0)
EOF2
}
# kbs_tee NAME TEE: the KBS served resources to a session attested as TEE.
kbs_tee() {
  /usr/bin/python3 - "$work/$1.kbs/requests.jsonl" "$2" <<'EOF2'
import json, sys
recs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("endpoint") == "resource"]
sys.exit(0 if recs and all(r.get("tee") == sys.argv[2] for r in recs) else 1)
EOF2
}
# kbs_untouched NAME: the KBS got no request at all.
kbs_untouched() { [ ! -s "$work/$1.kbs/requests.jsonl" ]; }
wall_le() { [ "$(cat "$work/$1.wall")" -le $(($2 * ${CVMBOOT_VM_TIME_SCALE:-1} * 1000)) ]; }
not_timed_out() { [ ! -e "$work/$1.timedout" ]; }

# ---------------------------------------------------------------- build
vm_log "installing dependencies, building the agent"
scripts/install-deps.sh --vm
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" > "$work/meson.log" 2>&1 || { cat "$work/meson.log"; exit 1; }
fi
ninja -C "$build" cvmboot > "$work/ninja.log" 2>&1 || { cat "$work/ninja.log"; exit 1; }
kver=$(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -n1)
[ -n "$kver" ] && [ -d "/lib/modules/$kver" ] || { vm_log "no kernel in /boot"; exit 1; }

t=$(date +%s)
rootfs=$(tests/vm/build-rootfs.sh)
vm_log "root file system: $rootfs ($(($(date +%s) - t)) s)"
tests/vm/make-image.sh "$rootfs/bin/busybox" "$work/image.tar"

make_tls_front "$work/front"
# the guest's TEE: tpm (a provisioned swtpm vTPM whose AK the KBS pins) or
# sample; CVMBOOT_VM_TEE overrides
tee=${CVMBOOT_VM_TEE:-tpm}
export CVMBOOT_VM_TEE=$tee
mkdir -p "$work/vtpm/trust"
if [ "$tee" = tpm ]; then
  provision_vtpm "$work/vtpm"
fi
vm_log "guest TEE: $tee"
make_resources "$work/resources"
head -c 32 /dev/urandom | base64 > "$work/passphrase"

t=$(date +%s)
mkdir -p "$work/stage"
luks_uuid=$(cat /proc/sys/kernel/random/uuid)
write_guest_conf "$work/guest.conf" "$luks_uuid"
write_signed_conf "$work/guest.conf" "$work/guest-signed.conf"
stage_rootfs "$work/stage" "$work/guest.conf" "$work/image.tar"
make_root_image "$work/root.img" "$work/stage" "$work/passphrase" "$luks_uuid"
rm -rf "$work/stage"
"$build/cvmboot" --config "$work/guest.conf" --cmdline /dev/null enroll "$work/root.img" \
  --resource default/luks/root --generate-key "$work/resources/default/luks/root" \
  --passphrase-file "$work/passphrase" > "$work/enroll.log" 2>&1 || { cat "$work/enroll.log"; exit 1; }
[ "$(cryptsetup luksUUID "$work/root.img")" = "$luks_uuid" ] || { vm_log "LUKS UUID not kept"; exit 1; }
vm_log "root image: $(du -h --apparent-size "$work/root.img" | cut -f1), LUKS2 $luks_uuid ($(($(date +%s) - t)) s)"

# ---------------------------------------------------------------- initramfs
make_dracut_base "$work/dracut-base"
base_modules="base systemd systemd-initrd dracut-systemd systemd-udevd crypt dm rootfs-block udev-rules"
t=$(date +%s)
build_initrd "$work/initrd.img" "$base_modules cvmboot systemd-networkd"
vm_log "initramfs with cvmboot built in $(($(date +%s) - t)) s"
lsinitrd "$work/initrd.img" > "$work/initrd.list" 2>/dev/null || true
lsinitrd_has() { grep -q -- "$1" "$work/initrd.list"; }
check "initramfs holds the agent" lsinitrd_has "usr/bin/cvmboot"
check "initramfs holds cvmboot.service" lsinitrd_has "cvmboot.service"
check "initramfs holds the generator" lsinitrd_has "system-generators/cvmboot-generator"
check "initramfs holds the KBS CA" lsinitrd_has "etc/cvmboot/kbs-ca.pem"
if [ "$tee" = tpm ]; then
  check "initramfs holds the TPM device TCTI" lsinitrd_has "libtss2-tcti-device.so"
fi
size_with=$(stat -c %s "$work/initrd.img")
if [ "${CVMBOOT_VM_SIZES:-1}" = 1 ]; then
  build_initrd "$work/initrd-base.img" "$base_modules"
  size_without=$(stat -c %s "$work/initrd-base.img")
  rm -f "$work/initrd-base.img"
  echo "initramfs size (zstd): without cvmboot $((size_without / 1024)) KiB," \
    "with cvmboot (+ systemd-networkd, dbus) $((size_with / 1024)) KiB," \
    "difference $(((size_with - size_without) / 1024)) KiB"
fi

# ---------------------------------------------------------------- scenarios
cert_sha=$(sha256sum "$work/resources/default/workload/tls.crt" | cut -d' ' -f1)
luks_key_hex=$(od -An -v -tx1 "$work/resources/default/luks/root" | tr -d ' \n')
luks_key_b64=$(base64 -w0 "$work/resources/default/luks/root")
# secrets that must never reach the console: the volume key in hex and
# base64, every base64 line of the workload's private key, the passphrase
no_secret_on_console() {
  local name=$1 l
  console_lacks_fixed "$name" "$luks_key_hex" || return 1
  console_lacks_fixed "$name" "$luks_key_b64" || return 1
  console_lacks_fixed "$name" "$(cat "$work/passphrase")" || return 1
  while IFS= read -r l; do
    case $l in -----*|'') continue ;; esac
    console_lacks_fixed "$name" "$l" || return 1
  done < "$work/resources/default/workload/tls.key"
}

ok_names=()
scenario_ok() {
  local i name
  for i in $(seq "$ok_boots"); do
    name=ok$i
    kbs_start "$name"
    vm_boot "$name" 240 kbs ""
    kbs_stop
    ok_names+=("$name")
    vm_log "boot $name: $(cat "$work/$name.wall") ms"
    check "$name: boot finished (no timeout)" not_timed_out "$name"
    check "$name: cvmboot attested to the KBS" console_has "$name" "cvmboot: attested to https://10.0.2.100"
    check "$name: KBS accepted the attestation" kbs_served "$name" /kbs/v0/attest
    check "$name: KBS saw a $tee-attested session" kbs_tee "$name" "$tee"
    check "$name: KBS served the LUKS key" kbs_served "$name" /kbs/v0/resource/default/luks/root
    check "$name: KBS served tls.crt" kbs_served "$name" /kbs/v0/resource/default/workload/tls.crt
    check "$name: KBS served tls.key" kbs_served "$name" /kbs/v0/resource/default/workload/tls.key
    check "$name: cvmboot unlocked the root volume" console_has "$name" "cvmboot: unlocked .*\\(root\\)"
    check "$name: switch-root into the real root" console_has "$name" "Welcome to Debian GNU/Linux [0-9]+ \\(bookworm\\)!"
    check "$name: root is a dm-crypt LUKS2 mapping" console_has "$name" "VMTEST root-dm-uuid=CRYPT-LUKS2-${luks_uuid//-/}-root"
    check "$name: root mounted from /dev/mapper/root" console_has "$name" "VMTEST root-source=/dev/mapper/root"
    check "$name: /run/cvmboot survived switch-root on tmpfs" console_has "$name" "VMTEST run-fstype=tmpfs"
    check "$name: status.json says ok in the real root" console_has "$name" "VMTEST status-result=ok"
    check "$name: secrets staged" console_has "$name" "VMTEST secrets=ca.crt tls.crt tls.key"
    check "$name: workload read the certificate the KBS served" \
      console_has "$name" "CVMBOOT-WORKLOAD-UP cert-sha256=$cert_sha key-bytes=[1-9][0-9]* env=from-config"
    check "$name: the workload's line appears once on the console" \
      console_count_ge_le "$name" "CVMBOOT-WORKLOAD-UP cert-sha256=" 1 1
    check "$name: no secret on the console" no_secret_on_console "$name"
  done
}

# common assertions of a boot that must fail closed
failed_closed() {
  local name=$1 budget_s=$2
  check "$name: VM ended on its own (no time-out)" not_timed_out "$name"
  check "$name: VM ended within $((budget_s * ${CVMBOOT_VM_TIME_SCALE:-1})) s" wall_le "$name" "$budget_s"
  check "$name: root never unlocked" console_lacks "$name" "cvmboot: unlocked"
  check "$name: no switch-root" console_lacks "$name" "Welcome to Debian GNU/Linux [0-9]+ \\(bookworm\\)!"
  check "$name: no workload" console_lacks "$name" "CVMBOOT-WORKLOAD-UP"
  check "$name: no shell offered" console_lacks "$name" "Entering emergency mode|Give root password|Press Enter for maintenance"
  check "$name: powered off" console_has "$name" "reboot: Power down"
  check "$name: no secret on the console" no_secret_on_console "$name"
}

scenario_deny() {
  kbs_start deny --fault deny-attest
  vm_boot deny 200 kbs "rd.cvmboot.on_failure=poweroff"
  kbs_stop
  failed_closed deny 150
  check "deny: cvmboot reports the refusal" console_has deny "boot failed \\(refused\\)"
  check "deny: the last lines say what the KBS said and what to check" console_has deny \
    "cvmboot: the KBS policy refused this VM's evidence or request \\(PolicyDeny: Access denied by policy \\(injected deny-attest\\)\\); check the KBS's policy and the reference values"
  check "deny: the refusal is printed once" console_count_ge_le deny "boot failed \\(refused\\)" 1 1
  check "deny: the KBS served no resource" kbs_served_no_resource deny
}

scenario_unreachable() {
  vm_boot unreachable 200 none "rd.cvmboot.on_failure=poweroff"
  failed_closed unreachable 150
  check "unreachable: cvmboot gives up on the network" console_has unreachable "boot failed \\(network\\)"
  # one line per attempt, numbered, with the wait and the budget left
  check "unreachable: attempt 1 on the console" console_count_ge_le unreachable \
    "cvmboot: waiting for the KBS: attempt 1 failed \\(attestation at https://10\\.0\\.2\\.100[^ ]*: .*\\); (retrying|trying [^ ]+) in [0-9]+\\.[0-9] s, [0-9]+\\.[0-9] s of the [0-9]+\\.[0-9] s retry budget left" 1 1
  check "unreachable: attempt 2 on the console" console_count_ge_le unreachable \
    "cvmboot: waiting for the KBS: attempt 2 failed" 1 1
  check "unreachable: the operator hint" console_has unreachable \
    "cvmboot: no KBS reachable: check the network and the KBS URLs"
  check "unreachable: break-glass off by default: no passphrase prompt" console_lacks unreachable \
    "BREAK-GLASS|Recovery passphrase|break-glass"
}

# type_when NAME REGEX DELAY_S TEXT FIFO: once the console of boot NAME shows
# REGEX, wait DELAY_S (scaled), then type TEXT and Enter on the serial console.
type_when() {
  local name=$1 re=$2 delay=$3 text=$4 fifo=$5
  for _ in $(seq $((600 * ${CVMBOOT_VM_TIME_SCALE:-1}))); do
    grep -E -q -- "$re" "$work/$name.console" 2> /dev/null && break
    sleep 0.5
  done
  sleep $((delay * ${CVMBOOT_VM_TIME_SCALE:-1}))
  printf '%s\r' "$text" > "$fifo"
}

scenario_glass() {
  # [boot] break_glass = passphrase and the KBS unreachable: after the retry
  # budget cvmboot extends PCR 15 with the break-glass event, asks through
  # systemd-ask-password; the test types first a wrong passphrase, then the
  # volume's recovery passphrase on the serial console; the root unlocks.
  local want_pcr15 fifo=$work/glass.in
  sed -e 's/^on_failure = poweroff/on_failure = emergency\nbreak_glass = passphrase\nbreak_glass_timeout = 3m/' \
    "$work/guest.conf" > "$work/guest-glass.conf"
  GUEST_CONF=$work/guest-glass.conf build_initrd "$work/initrd-glass.img" "$base_modules cvmboot systemd-networkd"
  lsinitrd "$work/initrd-glass.img" > "$work/initrd-glass.list" 2>/dev/null || true
  check "glass: initramfs holds systemd-ask-password" grep -q "bin/systemd-ask-password$" "$work/initrd-glass.list"
  check "glass: initramfs holds the console password agent" grep -q "systemd-ask-password-console.path" "$work/initrd-glass.list"
  # a recovery keyslot one can type (the image's passphrase file ends in a
  # newline); an extra keyslot changes nothing for the other scenarios
  printf 'recovery-%s' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$work/recovery"
  cryptsetup luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file "$work/passphrase" "$work/root.img" "$work/recovery" -q
  mkfifo "$fifo"
  { type_when glass "BREAK-GLASS: extended PCR15" 8 "not-the-passphrase" "$fifo"
    type_when glass "BREAK-GLASS: the passphrase does not open 1 volume\\(s\\) \\(try 1 of 3\\)" 8 \
      "$(cat "$work/recovery")" "$fifo"; } &
  local typist=$!
  VM_SERIAL_IN=$fifo INITRD=$work/initrd-glass.img vm_boot glass 360 none ""
  kill "$typist" 2> /dev/null || true
  wait "$typist" 2> /dev/null || true
  vm_log "boot glass: $(cat "$work/glass.wall") ms"
  want_pcr15=$(/usr/bin/python3 -c 'import hashlib; e = b"cvmboot break-glass: console recovery passphrase, no KBS key"; print(hashlib.sha256(bytes(32) + hashlib.sha256(e).digest()).hexdigest())')
  check "glass: boot finished (no timeout)" not_timed_out glass
  check "glass: the KBS was unreachable" console_has glass "BREAK-GLASS: the KBS gave no key \\(network, "
  check "glass: PCR 15 extended before the prompt" console_has glass "BREAK-GLASS: extended PCR15 \\(sha256\\)"
  check "glass: the wrong passphrase was refused (try 1 of 3)" console_has glass \
    "BREAK-GLASS: the passphrase does not open 1 volume\\(s\\) \\(try 1 of 3\\)"
  check "glass: the recovery passphrase unlocked the root" console_has glass \
    "BREAK-GLASS: unlocked [^ ]+ with the recovery passphrase"
  check "glass: switch-root into the real root" console_has glass "Welcome to Debian GNU/Linux [0-9]+ \\(bookworm\\)!"
  check "glass: root mounted from /dev/mapper/root" console_has glass "VMTEST root-source=/dev/mapper/root"
  check "glass: status.json says break-glass" console_has glass "VMTEST status-unlock=break-glass$"
  check "glass: status.json names the register" console_has glass "VMTEST status-bg-register=PCR15 \\(sha256\\)$"
  check "glass: PCR 15 holds the break-glass event" console_has glass "VMTEST pcr15=$want_pcr15$"
  check "glass: no secret file released" console_has glass "VMTEST secrets=$"
  check "glass: the workload got no mTLS files" console_lacks glass "CVMBOOT-WORKLOAD-UP"
  check "glass: no secret on the console" no_secret_on_console glass
  check "glass: the recovery passphrase is not on the console" console_lacks_fixed glass "$(cat "$work/recovery")"
}

scenario_wrongkey() {
  mkdir -p "$work/wrong-resources"
  cp -a "$work/resources/." "$work/wrong-resources/"
  head -c 32 /dev/urandom > "$work/wrong-resources/default/luks/root"
  KBS_RESOURCES=$work/wrong-resources kbs_start wrongkey
  vm_boot wrongkey 200 kbs "rd.cvmboot.on_failure=poweroff"
  kbs_stop
  failed_closed wrongkey 150
  check "wrongkey: KBS served the (wrong) key" kbs_served wrongkey /kbs/v0/resource/default/luks/root
  check "wrongkey: clear unlock error on the console" console_has wrongkey "boot failed \\(unlock\\)"
  wrong_hex=$(od -An -v -tx1 "$work/wrong-resources/default/luks/root" | tr -d ' \n')
  check "wrongkey: the wrong key is not on the console" console_lacks_fixed wrongkey "$wrong_hex"
}

scenario_dupuuid() {
  # a host attaches a second disk carrying a copy of the root's LUKS2 header
  # (its first 16 MiB) over data of its own: the UUID is on two disks, so
  # cvmboot must not guess which one to open
  head -c 16M "$work/root.img" > "$work/dup.img"
  truncate -s 64M "$work/dup.img"
  kbs_start dupuuid
  VM_EXTRA_DISK=$work/dup.img vm_boot dupuuid 200 kbs "rd.cvmboot.on_failure=poweroff"
  kbs_stop
  rm -f "$work/dup.img"
  failed_closed dupuuid 150
  check "dupuuid: the UUID is named with both disks" console_has dupuuid \
    "UUID=$luks_uuid is on two devices, /dev/vd[ab] and /dev/vd[ab]"
  check "dupuuid: boot failed (unlock)" console_has dupuuid "boot failed \\(unlock\\)"
}

scenario_emergency() {
  # default policy: emergency target; with rd.shell=0 dracut offers no
  # shell and rd.emergency=poweroff ends the VM
  kbs_start emergency --fault deny-attest
  vm_boot emergency 200 kbs "rd.cvmboot.on_failure=emergency"
  kbs_stop
  failed_closed emergency 150
  check "emergency: the emergency target was reached" console_has emergency "Reached target .*Emergency Mode"
  check "emergency: dracut refused a shell (rd.shell=0)" console_has emergency "Boot has failed"
}

scenario_retry() {
  # on_failure=retry: the first attestation is refused, cvmboot.service fails
  # and systemd starts it again; the second try unlocks and the boot goes on
  kbs_start retry --fault deny-attest=1
  vm_boot retry 300 kbs "rd.cvmboot.on_failure=retry"
  kbs_stop
  check "retry: boot finished (no timeout)" not_timed_out retry
  check "retry: the first try was refused" console_has retry "boot failed \\(refused\\)"
  check "retry: systemd started cvmboot.service again" console_count_ge retry "Starting cvmboot.service" 2
  check "retry: the second try unlocked the root" console_has retry "cvmboot: unlocked .*\\(root\\)"
  check "retry: workload up after the retry" console_has retry "CVMBOOT-WORKLOAD-UP cert-sha256=$cert_sha"
  check "retry: no secret on the console" no_secret_on_console retry
}

scenario_tokens() {
  # discover_tokens = true (the default) next to the explicit [resource.root]:
  # the volume must be opened once, not once per way it was found.
  sed 's/^discover_tokens = false/discover_tokens = true/' "$work/guest.conf" > "$work/guest-tokens.conf"
  GUEST_CONF=$work/guest-tokens.conf build_initrd "$work/initrd-tokens.img" "$base_modules cvmboot systemd-networkd"
  kbs_start tokens
  INITRD=$work/initrd-tokens.img vm_boot tokens 240 kbs "rd.cvmboot.on_failure=poweroff"
  kbs_stop
  check "tokens: boot finished (no timeout)" not_timed_out tokens
  check "tokens: the root key was fetched once" console_count_ge_le tokens "fetched resource default/luks/root" 1 1
  check "tokens: unlocked the root volume" console_has tokens "cvmboot: unlocked .*\\(root\\)"
  check "tokens: no unlock error" console_lacks tokens "boot failed"
  check "tokens: workload up" console_has tokens "CVMBOOT-WORKLOAD-UP cert-sha256=$cert_sha"
}

scenario_disabled() {
  # rd.cvmboot=0: the unit is skipped, nothing is asked of the KBS, the root
  # stays locked; rd.timeout ends the wait for the root device
  kbs_start disabled
  # (rd.timeout must outlast network-online, or the unit never gets to its
  # condition check before the emergency target cancels it)
  vm_boot disabled 200 kbs "rd.cvmboot=0 rd.timeout=60 rd.retry=60"
  kbs_stop
  failed_closed disabled 150
  # (the "skipped because of an unmet condition" line goes to the journal
  # only, once journald runs: check the unit never started instead)
  check "disabled: cvmboot.service never started" console_lacks disabled "Starting cvmboot.service"
  check "disabled: the network still came up" console_has disabled "Reached target .*Network is Online"
  check "disabled: the KBS got no request" kbs_untouched disabled
}

# One good boot with RHEL's initrd network stack: dracut's network-manager
# module (NetworkManager + nm-initrd-generator, which turns the rd.neednet=1
# cvmboot's cmdline hook sets into a DHCP connection) instead of
# systemd-networkd. CVMBOOT_VM_NM_BOOTS (default 1) boots, for the timeline.
nm_names=()
build_nm_initrd() {
  [ -f "$work/initrd-nm.img" ] && return 0
  build_initrd "$work/initrd-nm.img" "$base_modules cvmboot network-manager"
  lsinitrd "$work/initrd-nm.img" > "$work/initrd-nm.list" 2>/dev/null || true
}
scenario_nm() {
  local i name
  build_nm_initrd
  check "nm: initramfs holds NetworkManager" grep -q "usr/sbin/NetworkManager" "$work/initrd-nm.list"
  check "nm: initramfs holds nm-initrd-generator" grep -q "nm-initrd-generator" "$work/initrd-nm.list"
  check "nm: initramfs has no systemd-networkd" not_in_file "lib/systemd/systemd-networkd$" "$work/initrd-nm.list"
  check "nm: initramfs has no cvmboot .network file" not_in_file "99-cvmboot-default.network" "$work/initrd-nm.list"
  for i in $(seq "${CVMBOOT_VM_NM_BOOTS:-1}"); do
    name=nm$i
    kbs_start "$name"
    INITRD=$work/initrd-nm.img vm_boot "$name" 300 kbs ""
    kbs_stop
    nm_names+=("$name")
    vm_log "boot $name: $(cat "$work/$name.wall") ms"
    check "$name: boot finished (no timeout)" not_timed_out "$name"
    check "$name: NetworkManager brought the network up" console_has "$name" "Started nm-initrd.service"
    check "$name: systemd-networkd did not run" console_lacks "$name" "Started systemd-networkd.service"
    check "$name: KBS served the LUKS key" kbs_served "$name" /kbs/v0/resource/default/luks/root
    check "$name: cvmboot unlocked the root volume" console_has "$name" "cvmboot: unlocked .*\\(root\\)"
    check "$name: root mounted from /dev/mapper/root" console_has "$name" "VMTEST root-source=/dev/mapper/root"
    check "$name: workload read the certificate the KBS served" \
      console_has "$name" "CVMBOOT-WORKLOAD-UP cert-sha256=$cert_sha key-bytes=[1-9][0-9]* env=from-config"
    check "$name: no secret on the console" no_secret_on_console "$name"
  done
}

# A static ip= on the kernel command line instead of DHCP, with each stack
# (systemd-network-generator, nm-initrd-generator): the address is the one
# QEMU's DHCP would give, so the KBS at 10.0.2.100 is on the local link.
scenario_ip() {
  local name initrd
  build_nm_initrd
  for name in ip-networkd ip-nm; do
    initrd=$work/initrd.img
    [ "$name" = ip-nm ] && initrd=$work/initrd-nm.img
    kbs_start "$name"
    INITRD=$initrd vm_boot "$name" 300 kbs "ip=10.0.2.15::10.0.2.2:255.255.255.0::ens2:none"
    kbs_stop
    check "$name: boot finished (no timeout)" not_timed_out "$name"
    check "$name: no DHCP in the initramfs" console_has "$name" "VMTEST net-s=nic:[0-9.]+ stack:[0-9.]+ lease: route:[0-9.]+"
    check "$name: cvmboot unlocked the root volume" console_has "$name" "cvmboot: unlocked .*\\(root\\)"
    check "$name: workload read the certificate the KBS served" \
      console_has "$name" "CVMBOOT-WORKLOAD-UP cert-sha256=$cert_sha"
  done
}

for s in $scenarios; do
  vm_log "scenario $s"
  "scenario_$s"
done

if [ "$demo" = 1 ]; then
  echo
  echo "--- the boot, as the serial console showed it (ms since QEMU start):"
  grep -E "Linux version|Welcome to|Reached target .*Network is Online|cvmboot(\[[0-9]+\])?: |VMTEST|CVMBOOT-WORKLOAD-UP|reboot: Power down" \
    "$work/ok1.console" | cut -c1-200
fi
if [ ${#ok_names[@]} -gt 0 ]; then
  echo
  timeline "${ok_names[@]}"
  echo "agent phases in the guest (ms, status.json):"
  for n in "${ok_names[@]}"; do
    printf '  %-5s %s\n' "$n" "$(grep -o 'VMTEST phases-ms=.*' "$work/$n.console" | head -n1 | cut -d= -f2-)"
  done
fi
if [ ${#nm_names[@]} -gt 0 ]; then
  echo
  echo "with NetworkManager in the initramfs:"
  timeline "${nm_names[@]}"
fi
if [ $((${#ok_names[@]} + ${#nm_names[@]})) -gt 0 ]; then
  echo
  net_timeline "${ok_names[@]}" "${nm_names[@]}"
fi
echo
echo "VM suite wall time: $(($(date +%s) - suite_t0)) s"
echo "vm: $passed passed, $failed failed"
[ "$failed" = 0 ]
