#!/bin/bash
# Builds a unified kernel image (UKI): systemd-stub + kernel + the cvmboot
# initramfs + a fixed kernel command line (+ os-release), optionally signed
# for Secure Boot. Its measurements: `cvmboot reference-values --uki OUT`.
#
#   scripts/build-uki.sh --kernel VMLINUZ --cmdline TEXT -o OUT.efi
#       (--initrd INITRAMFS | [--kver KVER] -- DRACUT_ARGS...)
#       [--osrel FILE] [--stub FILE] [--sign KEY.pem CERT.pem]
#
# With --initrd, the given initramfs goes in as is: `ukify build` assembles
# the UKI when the system has ukify, else objcopy does (dracut's recipe).
# Without it, `dracut --uefi` builds the initramfs and the UKI in one go,
# with DRACUT_ARGS (e.g. --no-hostonly -a cvmboot; module 90cvmboot installed).
# --sign signs the result with sbsign (sbsigntool) and checks it with sbverify.
# The stub defaults to Debian's systemd-boot-efi one.
# Installed as LIBEXECDIR/cvmboot/build-uki; the Ansible role's UKI handler runs it.
set -euo pipefail

die() { echo "build-uki: $*" >&2; exit 2; }

kernel= cmdline= cmdline_set=0 out= initrd= kver= osrel= key= cert=
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
dracut_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernel=${2:?}; shift 2 ;;
    --cmdline) cmdline=${2?}; cmdline_set=1; shift 2 ;;
    -o|--output) out=${2:?}; shift 2 ;;
    --initrd) initrd=${2:?}; shift 2 ;;
    --kver) kver=${2:?}; shift 2 ;;
    --osrel) osrel=${2:?}; shift 2 ;;
    --stub) stub=${2:?}; shift 2 ;;
    --sign) key=${2:?}; cert=${3:?}; shift 3 ;;
    --) shift; dracut_args=("$@"); break ;;
    -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$kernel" ] && [ -n "$out" ] && [ "$cmdline_set" = 1 ] ||
  die "need --kernel, --cmdline and -o (see --help)"
[ -r "$kernel" ] || die "cannot read kernel $kernel"
[ -r "$stub" ] || die "no systemd-stub at $stub (Debian: apt-get install systemd-boot-efi)"
case $cmdline in *$'\n'*) die "the command line must be one line" ;; esac
if [ -n "$initrd" ]; then
  [ ${#dracut_args[@]} = 0 ] || die "--initrd and dracut arguments exclude each other"
  [ -r "$initrd" ] || die "cannot read initramfs $initrd"
fi
if [ -z "$osrel" ]; then
  for f in /etc/os-release /usr/lib/os-release; do [ -s "$f" ] && { osrel=$f; break; }; done
fi
[ -n "$key" ] && { command -v sbsign > /dev/null || die "--sign needs sbsign (sbsigntool)"; }

tmp=$(mktemp -d /tmp/build-uki.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unsigned=$tmp/unsigned.efi

# objcopy_uki INITRD: dracut's recipe, with each section placed after the
# previous one (4 KiB aligned) instead of at fixed addresses.
objcopy_uki() {
  local vma args=() name file size
  printf '%s\0' "$cmdline" > "$tmp/cmdline"
  local idx sname ssize svma rest
  vma=0
  while read -r idx sname ssize svma rest; do
    [[ $idx =~ ^[0-9]+$ ]] || continue
    [ $((0x$svma + 0x$ssize)) -gt "$vma" ] && vma=$((0x$svma + 0x$ssize))
  done < <(objdump -h "$stub")
  for name in osrel cmdline linux initrd; do
    case $name in osrel) file=$osrel ;; cmdline) file=$tmp/cmdline ;;
                  linux) file=$kernel ;; initrd) file=$1 ;; esac
    [ -n "$file" ] || continue
    vma=$(( (vma + 4095) / 4096 * 4096 ))
    args+=(--add-section ".$name=$file" --change-section-vma ".$name=$(printf '0x%x' "$vma")")
    size=$(stat -L -c %s "$file")
    vma=$((vma + size))
  done
  objcopy "${args[@]}" "$stub" "$unsigned"
}

if [ -n "$initrd" ]; then
  if command -v ukify > /dev/null; then
    ukify build --linux "$kernel" --initrd "$initrd" --cmdline "$cmdline" \
      ${osrel:+--os-release "@$osrel"} --stub "$stub" --output "$unsigned"
  else
    objcopy_uki "$initrd"
  fi
else
  if [ -z "$kver" ]; then
    kver=$(basename "$kernel")
    kver=${kver#vmlinuz-}
  fi
  [ -d "/lib/modules/$kver" ] || die "no modules for kernel $kver (give --kver)"
  dracut --quiet --force --uefi --uefi-stub "$stub" --kernel-image "$kernel" \
    --kernel-cmdline "$cmdline" --kver "$kver" "${dracut_args[@]}" "$unsigned"
fi

# objcopy stamps the build time into the PE header (TimeDateStamp, and so
# CheckSum): zero both, so that the same inputs give the same bytes (and the
# same PCR 4). EFI loaders check neither.
pe=$(od -An -tu4 -j 60 -N 4 "$unsigned" | tr -d ' ')
for field in $((pe + 8)) $((pe + 24 + 64)); do
  printf '\0\0\0\0' | dd of="$unsigned" bs=1 seek="$field" conv=notrunc status=none
done

if [ -n "$key" ]; then
  sbsign --key "$key" --cert "$cert" --output "$tmp/signed.efi" "$unsigned" 2> "$tmp/sbsign.log" ||
    { cat "$tmp/sbsign.log" >&2; die "sbsign failed"; }
  sbverify --cert "$cert" "$tmp/signed.efi" > /dev/null ||
    die "the signed UKI does not verify with $cert"
  mv "$tmp/signed.efi" "$unsigned"
fi
mv "$unsigned" "$out"
echo "build-uki: $out ($(stat -c %s "$out") bytes${key:+, signed})" >&2
