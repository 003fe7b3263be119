#!/usr/bin/env bash
# Prints the VM boot timeline (ms since QEMU start: kernel, initrd systemd,
# NIC named, cvmboot start, route to the KBS seen, network-online, attested,
# unlocked, switch-root, workload up) over N successful boots (default 3)
# with each initrd network stack (systemd-networkd, NetworkManager) and
# their medians, plus the initramfs sizes with and without the cvmboot
# module. Figures only: the asserts are the VM suite's.
# Usage: bench/vm-boot-timeline.sh [N]
#   CVMBOOT_VM_NET_WAIT=online bench/vm-boot-timeline.sh [N]   the same with
#   cvmboot waiting for network-online.target (the ordering before
#   cvmboot-wait-network), for comparison
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
CVMBOOT_VM_SCENARIOS="ok nm" CVMBOOT_VM_OK_BOOTS=${1:-3} CVMBOOT_VM_NM_BOOTS=${1:-3} \
  exec "$src/tests/vm/run.sh"
