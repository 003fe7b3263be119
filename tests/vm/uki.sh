# The measured-image scenarios of the VM test (sourced by tests/vm/run.sh):
# a UKI built by scripts/build-uki.sh boots under OVMF with the swtpm vTPM,
# so the firmware and systemd-stub measure it; the test KBS holds the
# reference values `cvmboot reference-values` printed for it and refuses a
# quote whose PCRs differ, naming the PCR.
# Needs: $src $build $work $kver $base_modules (run.sh) and lib.sh.

OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
# QEMU wall-clock limit of one UKI boot (OVMF under TCG adds tens of seconds)
UKI_LIMIT=${CVMBOOT_VM_UKI_LIMIT:-480}
TIMELINE_MARKERS=("firmware starts UKI|BdsDxe: starting" "${TIMELINE_MARKERS[@]}")

# uefi_media NAME UKI: sets the caller's media array: OVMF (code read-only,
# a fresh copy of the variables) and an ESP (a FAT view of a directory)
# holding UKI as the removable-media boot path EFI/BOOT/BOOTX64.EFI. With
# $UKI_APPEND set, the host hands OVMF the UKI and that command line instead
# (QEMU -kernel/-append): what a loader or boot entry may pass in.
uefi_media() {
  local esp=$work/$1.esp
  cp "$OVMF_VARS" "$work/$1.vars.fd"
  media=(-machine q35
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
    -drive "if=pflash,format=raw,unit=1,file=$work/$1.vars.fd")
  if [ -n "${UKI_APPEND:-}" ]; then
    media+=(-kernel "$2" -append "$UKI_APPEND")
  else
    mkdir -p "$esp/EFI/BOOT"
    cp "$2" "$esp/EFI/BOOT/BOOTX64.EFI"
    media+=(-drive "file=fat:$esp,format=raw,if=virtio,readonly=on")
  fi
}

# uki_section UKI NAME OUT: one section's contents, as objcopy reads them.
uki_section() {
  objcopy -O binary --only-section="$2" "$1" "$3"
}

# kbs_detail_has NAME REGEX: the KBS's refusal of the attestation says REGEX.
kbs_detail_has() {
  /usr/bin/python3 - "$work/$1.kbs/requests.jsonl" "$2" <<'EOF'
import json, re, sys
recs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("path") == "/kbs/v0/attest"]
sys.exit(0 if any(r.get("status") == 401 and re.search(sys.argv[2], r.get("detail") or "")
                  for r in recs) else 1)
EOF
}

kbs_detail_lacks() { ! kbs_detail_has "$@"; }

# rv_value FILE NAME: the one value of NAME in a reference-values file.
rv_value() {
  /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; assert len(v)==1; print(v[0])' "$1" "$2"
}

scenario_uki() {
  # (vmtest.eventlog: the real root prints the firmware's event log)
  local d=$work/uki t cmdline="$VM_CMDLINE vmtest.eventlog"
  if [ "$tee" != tpm ]; then
    vm_log "uki: needs the tpm TEE (a vTPM the firmware measures into), skipped"
    return
  fi
  mkdir -p "$d"
  # the good image: dracut --uefi with the test's module set plus
  # systemd-pcrphase (it extends "enter-initrd" into PCR 11 before cvmboot runs)
  t=$(date +%s)
  initrd_dracut $base_modules cvmboot systemd-networkd systemd-pcrphase
  env "${initrd_env[@]}" scripts/build-uki.sh --kernel "/boot/vmlinuz-$kver" --kver "$kver" \
    --cmdline "$cmdline" -o "$d/good.efi" -- "${initrd_args[@]}" 2> "$d/build.log" ||
    { cat "$d/build.log"; fail "uki: build the UKI"; return; }
  vm_log "UKI built in $(($(date +%s) - t)) s: $(($(stat -c %s "$d/good.efi") / 1024)) KiB"
  "$build/cvmboot" --cmdline /dev/null reference-values --uki "$d/good.efi" --phases enter-initrd \
    > "$d/good.json" 2> "$d/rv.log" || { cat "$d/rv.log"; fail "uki: reference values"; return; }
  echo "reference values of the UKI (cvmboot reference-values --phases enter-initrd):"
  sed 's/^/  /' "$d/good.json"
  # the changed images: the same initramfs with another command line, and
  # the same command line with one more file in the initramfs
  uki_section "$d/good.efi" .initrd "$d/initrd.img"
  scripts/build-uki.sh --kernel "/boot/vmlinuz-$kver" --initrd "$d/initrd.img" \
    --cmdline "$cmdline init=/bin/sh" -o "$d/cmdline.efi" 2>> "$d/build.log"
  mkdir -p "$d/extra/etc"
  echo "not measured by the owner" > "$d/extra/etc/injected"
  (cd "$d/extra" && find . | cpio -o -H newc --quiet) > "$d/extra.cpio"
  cat "$d/initrd.img" "$d/extra.cpio" > "$d/initrd-changed.img"
  scripts/build-uki.sh --kernel "/boot/vmlinuz-$kver" --initrd "$d/initrd-changed.img" \
    --cmdline "$cmdline" -o "$d/initrd.efi" 2>> "$d/build.log"
  "$build/cvmboot" --cmdline /dev/null reference-values --uki "$d/initrd.efi" \
    --phases enter-initrd > "$d/initrd.json" 2>> "$d/rv.log"
  check "uki: the changed initramfs changes PCR 11" \
    test "$(rv_value "$d/good.json" tpm_pcr11)" != "$(rv_value "$d/initrd.json" tpm_pcr11)"

  # the right image, its own reference values: attests, unlocks, boots
  kbs_start uki-ok --verifier-option "reference-values=$d/good.json"
  UKI=$d/good.efi vm_boot uki-ok "$UKI_LIMIT" kbs ""
  kbs_stop
  ok_names+=(uki-ok)
  check "uki-ok: boot finished (no timeout)" not_timed_out uki-ok
  check "uki-ok: OVMF booted the UKI (systemd-stub)" console_has uki-ok "Linux version"
  check "uki-ok: KBS accepted the attestation" kbs_served uki-ok /kbs/v0/attest
  check "uki-ok: KBS served the LUKS key" kbs_served uki-ok /kbs/v0/resource/default/luks/root
  check "uki-ok: cvmboot unlocked the root volume" console_has uki-ok "cvmboot: unlocked .*\\(root\\)"
  check "uki-ok: workload up" console_has uki-ok "CVMBOOT-WORKLOAD-UP cert-sha256=$cert_sha"
  check "uki-ok: PCR 4 in the real root is the predicted one" \
    console_has uki-ok "VMTEST pcr4=$(rv_value "$d/good.json" tpm_pcr4)"
  check "uki-ok: PCR 12 is zero (no command line passed in)" \
    console_has uki-ok "VMTEST pcr12=0{64}"
  check "uki-ok: no secret on the console" no_secret_on_console uki-ok
  uki_eventlog "$d"

  # every changed image, and the right image against another build's
  # values: refused at attestation, the KBS naming the PCR
  uki_refused uki-cmdline "$d/cmdline.efi" "$d/good.json" "PCR11 is"
  uki_refused uki-initrd "$d/initrd.efi" "$d/good.json" "PCR11 is"
  uki_refused uki-policy "$d/good.efi" "$d/initrd.json" "PCR11 is"
  # the right image, but the host passes its own command line: without
  # Secure Boot systemd-stub takes it instead of .cmdline, so PCR 11 stays
  # right; it measures it into PCR 12, which the reference values pin to zero
  UKI_APPEND="$cmdline init=/bin/sh" uki_refused uki-append "$d/good.efi" "$d/good.json" "PCR12 is"
  check "uki-append: the kernel ran with the host's command line" \
    console_has uki-append "Command line: .* init=/bin/sh"
  check "uki-append: PCR 11 still matched" kbs_detail_lacks uki-append "PCR11 is"
}

# uki_eventlog DIR: the firmware's event log of the uki-ok boot, as the real
# root printed it, read on the host (tests/vm/eventlog.py) and held against
# the reference values: PCR 4 and PCR 11 events, and the TDX digests (the
# same Authenticode and load-options digests in the vTPM's SHA-384 bank).
uki_eventlog() {
  local d=$1
  sed -n 's/.*VMTEST eventlog //p' "$work/uki-ok.console" | base64 -d > "$d/eventlog.bin" || true
  check "uki-ok: the event log arrived whole" \
    console_has uki-ok "VMTEST eventlog-sha256=$(sha256sum < "$d/eventlog.bin" | cut -d' ' -f1)"
  /usr/bin/python3 "$src/tests/vm/eventlog.py" "$d/eventlog.bin" > "$d/eventlog.jsonl" || true
  "$build/cvmboot" --cmdline /dev/null reference-values --uki "$d/good.efi" > "$d/sections.json" 2>> "$d/rv.log"
  local what
  for what in pcr4 pcr11 tdvfkernel tdvfkernelparams; do
    check "uki-ok: event log: $(uki_eventlog_says "$what")" uki_eventlog_check "$d" "$what"
  done
}

uki_eventlog_says() {
  case $1 in
    pcr4) echo "PCR 4 events replay to tpm_pcr4: boot option, separator, UKI, kernel" ;;
    pcr11) echo "PCR 11 firmware events replay to the sections-only value" ;;
    tdvfkernel) echo "SHA-384 of the UKI's application event is tdvfkernel" ;;
    tdvfkernelparams) echo "SHA-384 of the kernel's LOADED_IMAGE::LoadOptions is tdvfkernelparams" ;;
  esac
}

# uki_eventlog_check DIR WHAT: one of the checks above.
uki_eventlog_check() {
  /usr/bin/python3 - "$1" "$2" <<'EOF2'
import hashlib, json, sys
d, what = sys.argv[1], sys.argv[2]
events = [json.loads(l) for l in open(d + "/eventlog.jsonl")]
good, sections = (json.load(open(d + n)) for n in ("/good.json", "/sections.json"))
EV_SEPARATOR, EV_EVENT_TAG, EV_IPL, EV_EFI_ACTION, EV_EFI_BSA = 4, 6, 13, 0x80000007, 0x80000003

def replay(pcr):
    v = bytes(32)
    for e in events:
        if e["pcr"] == pcr:
            v = hashlib.sha256(v + bytes.fromhex(e["digests"]["sha256"])).digest()
    return v.hex()

pcr4 = [e for e in events if e["pcr"] == 4]
apps = [e for e in pcr4 if e["type"] == EV_EFI_BSA]
opts = [e for e in events if e["pcr"] == 9 and e["type"] == EV_EVENT_TAG
        and b"LOADED_IMAGE::LoadOptions" in bytes.fromhex(e["data"])]
if what == "pcr4":
    ok = ([e["type"] for e in pcr4] == [EV_EFI_ACTION, EV_SEPARATOR, EV_EFI_BSA, EV_EFI_BSA]
          and replay(4) == good["tpm_pcr4"][0])
elif what == "pcr11":
    ok = (all(e["type"] == EV_IPL for e in events if e["pcr"] == 11)
          and replay(11) == sections["tpm_pcr11"][0])
elif what == "tdvfkernel":
    ok = apps and apps[0]["digests"].get("sha384") == good["tdvfkernel"]
else:
    ok = len(opts) == 1 and opts[0]["digests"].get("sha384") == good["tdvfkernelparams"]
sys.exit(0 if ok else 1)
EOF2
}

# uki_refused NAME UKI REFERENCE_VALUES DETAIL: a boot the KBS must refuse.
uki_refused() {
  local name=$1
  kbs_start "$name" --verifier-option "reference-values=$3"
  UKI=$2 vm_boot "$name" "$UKI_LIMIT" kbs ""
  kbs_stop
  failed_closed "$name" "$UKI_LIMIT"
  check "$name: the KBS refused the quote naming the PCR ($4)" kbs_detail_has "$name" "$4"
  check "$name: cvmboot reports the refusal" console_has "$name" "boot failed \\(refused\\)"
  check "$name: the KBS served no resource" kbs_served_no_resource "$name"
}
