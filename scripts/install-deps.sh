#!/usr/bin/env bash
# Installs every Debian package cvmboot's build, tests and demo need.
# Idempotent and quiet: skips apt entirely when everything is present.
# Usage: scripts/install-deps.sh [--vm]   (--vm adds the VM test's packages)
set -euo pipefail

pkgs=(
  build-essential meson ninja-build pkg-config
  libcryptsetup-dev cryptsetup-bin libssl-dev libcurl4-openssl-dev
  libjansson-dev libtss2-dev
  python3 python3-cryptography python3-fusepy fuse3
  swtpm swtpm-tools tpm2-tools
  valgrind openssl curl socat time
  clang libfuzzer-14-dev
  systemd systemd-boot-efi sbsigntool binutils cpio
  ansible-core ansible ansible-lint
  rpm rpmlint git
)
if [ "${1:-}" = "--vm" ] || [ "${CVMBOOT_VM_DEPS:-0}" = 1 ]; then
  pkgs+=(dracut dracut-network qemu-system-x86 qemu-utils linux-image-amd64
         debootstrap dbus systemd zstd e2fsprogs ovmf
         network-manager  # dracut copies NetworkManager from this host (VM scenario nm)
         docker-registry skopeo gpg gpg-agent)  # VM scenario signed: registry + signing
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

export DEBIAN_FRONTEND=noninteractive INITRD=No
apt_opts=(-o DPkg::Lock::Timeout=600 -qq)
apt-get "${apt_opts[@]}" update >/dev/null
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
