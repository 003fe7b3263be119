#!/usr/bin/env bash
# Builds (once) the VM test's Debian root file system with debootstrap,
# cached under /var/cache/cvmboot-vm/ and keyed by the package list.
# Usage: tests/vm/build-rootfs.sh   -> prints the cached rootfs directory
set -euo pipefail

cache=${CVMBOOT_VM_CACHE:-/var/cache/cvmboot-vm}
suite=bookworm
mirror=${CVMBOOT_VM_MIRROR:-http://deb.debian.org/debian}
# podman needs a container-network-stack (netavark); busybox-static is the
# workload image's only binary; dbus lets podman use systemd's cgroups.
packages=systemd,systemd-sysv,podman,crun,conmon,netavark,busybox-static
key=$(printf '%s %s %s v1' "$suite" "$mirror" "$packages" | sha256sum | cut -c1-16)
dir=$cache/rootfs-$key

if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$cache"
rm -rf "$dir" "$dir.tmp"
log=$cache/debootstrap-$key.log
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$dir.tmp" "$mirror" \
    > "$log" 2>&1; then
  tail -20 "$log" >&2
  echo "build-rootfs: debootstrap failed (log: $log)" >&2
  exit 1
fi
# Slim it down: no docs, manuals, locales, package caches or lists.
rm -rf "$dir.tmp"/usr/share/{doc,man,locale,info}/* "$dir.tmp"/var/cache/apt/* \
  "$dir.tmp"/var/lib/apt/lists/* "$dir.tmp"/debootstrap
touch "$dir.tmp/.complete"
mv "$dir.tmp" "$dir"
echo "$dir"
