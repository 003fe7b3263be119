#!/usr/bin/env bash
# Prints what the cvmboot dracut module adds to an initramfs, per TEE: dracut
# builds the same base (systemd, systemd-networkd, crypt; tpm2-tss only when
# the TEE needs it) with and without the module, uncompressed; the script
# gives both sizes raw and compressed (zstd -3 as the VM tests, and zstd -19),
# and a table of every file the module adds, grouped: the agent, the libraries
# only libcurl pulls in (weighed apart), tpm2-tss, other libraries, the rest
# (configuration, CA, units, scripts). Figures only; nothing is asserted.
# Usage: bench/initramfs.sh [BUILD_DIR [TEE...]]   (default: build, snp and tpm)
# KEEP=DIR keeps each TEE's file lists (TEE.base.list, TEE.with.list, TEE.added).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
shift || true
tees=("$@")
[ ${#tees[@]} -gt 0 ] || tees=(snp tpm)
build=$src/$dir
bin=$build/cvmboot
[ -x "$bin" ] || { echo "no $bin: build it first (scripts/build.sh $dir)" >&2; exit 2; }
kver=$(uname -r)
[ -d "/lib/modules/$kver" ] || kver=$(ls /lib/modules | sort -V | tail -n1)
work=$(mktemp -d /tmp/cvmboot-bench-initramfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
# shellcheck source=../tests/vm/lib.sh
. "$src/tests/vm/lib.sh"
make_dracut_base "$work/dracut-base"
base_modules="base systemd systemd-initrd dracut-systemd systemd-udevd crypt dm rootfs-block udev-rules network systemd-networkd"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2> /dev/null

# initrd OUT MODULES: an uncompressed initramfs; its file list (SIZE PATH) in OUT.list
initrd() {
  local out=$1
  shift
  env dracutbasedir="$work/dracut-base" CVMBOOT_BIN="$bin" CVMBOOT_CONF="$work/cvmboot.conf" \
    CVMBOOT_CA_FILE="$work/ca.pem" \
    dracut --quiet --force --kver "$kver" --no-hostonly --no-early-microcode --conf /dev/null \
    --confdir "$work/confdir" --no-compress -m "$*" "$out"
  mkdir -p "$out.d"
  (cd "$out.d" && cpio -idm --quiet < "$out")
  (cd "$out.d" && find . -type f -printf '%s %P\n' | sort -k2) > "$out.list"
  rm -rf "$out.d"
}

# sizes FILE: raw, zstd -3 and zstd -19 sizes in bytes
sizes() {
  printf '%s %s %s' "$(stat -c %s "$1")" "$(zstd -3 -q -T2 -c "$1" | wc -c)" \
    "$(zstd -19 -q -T2 -c "$1" | wc -c)"
}

# The libraries only libcurl brings: its closure minus what the agent's other
# NEEDED libraries (and libc) bring.
closure() { ldd "$@" 2> /dev/null | awk '/=> \// {print $1}' | sort -u; }
curl_lib=$(ldd "$bin" | awk '/libcurl/ {print $3}')
others=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | grep -v libcurl |
  while read -r n; do ldd "$bin" | awk -v n="$n" '$1 == n {print $3}'; done)
# shellcheck disable=SC2086
comm -23 <({ echo libcurl.so.4; closure "$curl_lib"; } | sort -u) <(closure $others) > "$work/curl-only"

mkdir -p "$work/confdir"
echo "agent: $bin ($(stat -c %s "$bin") bytes, stripped $(strip -o "$work/stripped" "$bin" && stat -c %s "$work/stripped"); $(readelf -d "$bin" | grep -c NEEDED) NEEDED)"
echo "kernel $kver; sizes in bytes: raw / zstd -3 / zstd -19"
for tee in "${tees[@]}"; do
  printf '[kbs]\nurl = https://kbs.example:8080\nca_file = /etc/cvmboot/kbs-ca.pem\n[tee]\ntype = %s\n' \
    "$tee" > "$work/cvmboot.conf"
  extra=
  case $tee in tpm | az-* | auto) extra=tpm2-tss ;; esac
  initrd "$work/base.img" "$base_modules $extra"
  initrd "$work/with.img" "$base_modules $extra cvmboot"
  read -r b0 b3 b19 <<< "$(sizes "$work/base.img")"
  read -r w0 w3 w19 <<< "$(sizes "$work/with.img")"
  echo
  echo "== [tee] type = $tee (base modules: $base_modules${extra:+ $extra})"
  printf '%-28s %10s %10s %10s\n' "" raw "zstd -3" "zstd -19"
  printf '%-28s %10d %10d %10d\n' "base" "$b0" "$b3" "$b19" "base + cvmboot" "$w0" "$w3" "$w19"
  printf '%-28s %10d %10d %10d\n' "added by cvmboot" $((w0 - b0)) $((w3 - b3)) $((w19 - b19))
  # the files the module adds, grouped
  join -1 2 -2 2 -v 2 -o 2.1,2.2 <(sort -k2 "$work/base.img.list") <(sort -k2 "$work/with.img.list") |
    sort -rn > "$work/added"
  if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP"
    cp "$work/base.img.list" "$KEEP/$tee.base.list"
    cp "$work/with.img.list" "$KEEP/$tee.with.list"
    cp "$work/added" "$KEEP/$tee.added"
  fi
  awk -v curlfile="$work/curl-only" '
    BEGIN { while ((getline l < curlfile) > 0) curl[l] = 1 }
    { n = split($2, p, "/"); base = p[n]; soname = base
      sub(/\.so\..*/, ".so", soname)
      g = "other"
      if ($2 ~ /bin\/cvmboot$/) g = "agent"
      else if ($2 ~ /libtss2/) g = "tpm2-tss"
      else if ($2 ~ /\.so(\.|$)/) {
        g = "library"
        for (c in curl) { cs = c; sub(/\.so\..*/, ".so", cs); if (cs == soname) g = "libcurl+deps" }
      }
      printf "%-13s %9d  %s\n", g, $1, $2; sum[g] += $1; tot += $1 }
    END { print ""; for (g in sum) printf "  %-13s %9d bytes raw\n", g, sum[g]
          printf "  %-13s %9d bytes raw\n", "total", tot }' "$work/added"
done
