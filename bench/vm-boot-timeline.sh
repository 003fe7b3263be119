#!/usr/bin/env bash
# Prints the VM boot timeline (ms since QEMU start: kernel, initrd systemd,
# network-online, attested, unlocked, switch-root, workload up) over N
# successful boots (default 3) and its median, plus the initramfs sizes with
# and without the cvmboot module. Figures only: the asserts are the VM suite's.
# Usage: bench/vm-boot-timeline.sh [N]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
CVMBOOT_VM_SCENARIOS=ok CVMBOOT_VM_OK_BOOTS=${1:-3} exec "$src/tests/vm/run.sh"
