# shellcheck shell=bash disable=SC2154
# The VM suite's "signed" scenario (sourced by tests/vm/run.sh): the
# signed-image gate ([workload] signing_key). The host runs Debian's
# docker-registry and a lookaside HTTP server on loopback, reached from the
# guest as 10.0.2.101:5000 and 10.0.2.102:80 (guestfwd); three images differ
# only by a note: :signed (by the key the KBS releases), :otherkey (signed by
# another key) and :unsigned. One boot: the KBS releases the public key,
# cvmboot writes the policy; in the real root the vmtest hook runs the start
# script in a unit of its own for :unsigned and :otherkey (both must be
# refused, exit 76, the message naming the policy), then the workload unit
# pulls :signed and runs it. The initramfs is the suite's own plus an
# appended cpio with this scenario's config: no second dracut run.
# Needs what run.sh sets: $src $build $work $rootfs $base_modules, check,
# console_has/console_lacks, kbs_start/kbs_stop, vm_boot, build_initrd.

SIGNED_REPO=10.0.2.101:5000/cvmboot/app
SIGNED_LOOKASIDE=http://10.0.2.102

# write_signed_conf IN OUT: the guest config with the gate on.
write_signed_conf() {
  sed "s|^image = .*|image = $SIGNED_REPO:signed\\nsigning_key = default/workload/signing-key\\nsignature_lookaside = $SIGNED_LOOKASIDE|" \
    "$1" > "$2"
}

# signed_gpg_key NAME: a throwaway ed25519 signing key without passphrase in
# $work/gnupg; prints its fingerprint.
signed_gpg_key() {
  GNUPGHOME=$work/gnupg gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "cvmboot VM test $1 <$1@vmtest>" ed25519 sign never 2> /dev/null
  GNUPGHOME=$work/gnupg gpg --quiet --with-colons --list-keys "$1@vmtest" 2> /dev/null | awk -F: '/^fpr/ {print $10; exit}'
}

# initrd_with_conf BASE CONF OUT: BASE with an uncompressed cpio appended
# that replaces /etc/cvmboot/cvmboot.conf (the kernel unpacks concatenated
# archives in order, later files over earlier ones): the scenario's
# initramfs without another dracut run (only the config differs).
initrd_with_conf() {
  local d=$work/initrd-overlay size
  rm -rf "$d"
  mkdir -p "$d/etc/cvmboot"
  install -m 0644 "$2" "$d/etc/cvmboot/cvmboot.conf"
  cp "$1" "$3"
  size=$(stat -c %s "$3")
  # NULs between archives are skipped: align the cpio header to 4 bytes
  head -c $(((4 - size % 4) % 4)) /dev/zero >> "$3"
  (cd "$d" && find etc | cpio -o -H newc -R 0:0 --quiet) >> "$3"
}

signed_pids=()
signed_stop() {
  local p
  for p in "${signed_pids[@]}"; do
    kill "$p" 2> /dev/null || true
    wait "$p" 2> /dev/null || true
  done
  signed_pids=()
}

# signed_setup: registry + lookaside server started, the three images pushed
# (signatures staged into the lookaside), the public key in the KBS's
# resources. Sets signed_fwd (the extra guestfwd rules) and signed_sigdir
# (app@sha256=DIGEST, the signed image's lookaside directory).
signed_setup() {
  local d=$work/signed reg_port web_port fpr other tag
  mkdir -p "$d/registry" "$d/lookaside" "$d/registries.d" "$work/gnupg"
  chmod 0700 "$work/gnupg"
  fpr=$(signed_gpg_key signer)
  other=$(signed_gpg_key other)
  GNUPGHOME=$work/gnupg gpg --armor --export "$fpr" > "$work/resources/default/workload/signing-key"
  reg_port=$(free_port)
  cat > "$d/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $d/registry
http:
  addr: 127.0.0.1:$reg_port
  secret: cvmboot-vm-test
EOF
  docker-registry serve "$d/registry.yml" > "$d/registry.log" 2>&1 &
  signed_pids+=($!)
  web_port=$(free_port)
  /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$d/lookaside" "$web_port" \
    > "$d/lookaside.log" 2>&1 &
  signed_pids+=($!)
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$reg_port) 2> /dev/null && (exec 3<>/dev/tcp/127.0.0.1/$web_port) 2> /dev/null && break
    sleep 0.1
  done
  # skopeo --sign-by writes the signatures into this lookaside staging dir
  printf 'docker:\n  127.0.0.1:%s/cvmboot/app:\n    lookaside-staging: file://%s\n' \
    "$reg_port" "$d/lookaside" > "$d/registries.d/staging.yaml"
  for tag in signed otherkey unsigned; do
    tests/vm/make-image.sh "$rootfs/bin/busybox" "$d/$tag.tar" "localhost/cvmboot-test:latest" "$tag"
    local sign=()
    [ "$tag" = signed ] && sign=(--sign-by "$fpr")
    [ "$tag" = otherkey ] && sign=(--sign-by "$other")
    [ ${#sign[@]} -gt 0 ] && sign+=(--sign-identity "$SIGNED_REPO:$tag")
    GNUPGHOME=$work/gnupg skopeo copy -q --dest-tls-verify=false --registries.d "$d/registries.d" \
      "${sign[@]}" "docker-archive:$d/$tag.tar" "docker://127.0.0.1:$reg_port/cvmboot/app:$tag" \
      > "$d/push-$tag.log" 2>&1 || { cat "$d/push-$tag.log" >&2; vm_log "signed: push of :$tag failed"; return 1; }
    # (pushed first: the only signature there yet is the signed image's)
    [ "$tag" = signed ] && signed_sigdir=$(ls "$d/lookaside/cvmboot")
  done
  signed_fwd=",guestfwd=tcp:10.0.2.101:5000-cmd:socat - TCP:127.0.0.1:$reg_port"
  signed_fwd+=",guestfwd=tcp:10.0.2.102:80-cmd:socat - TCP:127.0.0.1:$web_port"
}

scenario_signed() {
  local n
  signed_setup || { fail "signed: host registry and signatures set up"; signed_stop; return; }
  n=$(find "$work/signed/lookaside" -name 'signature-1' | wc -l)
  check "signed: two images signed into the lookaside" test "$n" = 2
  initrd_with_conf "$work/initrd.img" "$work/guest-signed.conf" "$work/initrd-signed.img"
  kbs_start signed
  VM_EXTRA_FWD=$signed_fwd INITRD=$work/initrd-signed.img vm_boot signed 400 kbs "vmtest.signed"
  kbs_stop
  signed_stop
  check "signed: boot finished (no timeout)" not_timed_out signed
  check "signed: KBS served the signing key" kbs_served signed /kbs/v0/resource/default/workload/signing-key
  check "signed: cvmboot wrote the image policy" console_has signed \
    "cvmboot: image policy for $SIGNED_REPO:signed written to /run/cvmboot/image-policy/policy.json"
  check "signed: unsigned image refused by the policy" console_has signed \
    "cvmboot-workload: image $SIGNED_REPO:unsigned refused by the signature policy /run/cvmboot/image-policy/policy.json: .*Source image rejected: A signature was required, but no signature exists"
  check "signed: unsigned image: the unit failed with 76" console_has signed "VMTEST gate-unsigned rc=76 state=failed"
  check "signed: image signed by another key refused by the policy" console_has signed \
    "cvmboot-workload: image $SIGNED_REPO:otherkey refused by the signature policy /run/cvmboot/image-policy/policy.json: .*Source image rejected: Invalid GPG signature"
  check "signed: other key: the unit failed with 76" console_has signed "VMTEST gate-otherkey rc=76 state=failed"
  check "signed: the signed image was pulled under the policy" console_has signed \
    "cvmboot-workload: pulling $SIGNED_REPO:signed under the signature policy /run/cvmboot/image-policy/policy.json"
  check "signed: the guest fetched the signature from the lookaside" \
    grep -Fq "GET /cvmboot/$signed_sigdir/signature-1 HTTP/1.1\" 200" "$work/signed/lookaside.log"
  check "signed: the signed image runs" \
    console_has signed "CVMBOOT-WORKLOAD-UP cert-sha256=$cert_sha key-bytes=[1-9][0-9]* env=from-config"
  check "signed: only the signed image ran (one workload line)" \
    console_count_ge_le signed "CVMBOOT-WORKLOAD-UP cert-sha256=" 1 1
  check "signed: no secret on the console" no_secret_on_console signed
}
