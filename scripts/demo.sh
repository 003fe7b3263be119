#!/usr/bin/env bash
# The main job, on this machine: the test KBS on loopback (HTTPS, its own CA)
# and `cvmboot boot` attesting with the sample TEE, fetching a LUKS2 key and
# the workload's mTLS certificate, key and CA, verifying the key against a
# LUKS2 image made here (this host has no device-mapper, so --no-activate),
# and staging the files on tmpfs. `scripts/demo.sh --vm` boots the real thing
# in a QEMU VM instead (tests/vm/run.sh --demo).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
if [ "${1:-}" = "--vm" ]; then
  exec tests/vm/run.sh --demo
fi
scripts/install-deps.sh
scripts/build.sh build
bin=$src/build/cvmboot
py=/usr/bin/python3

work=$(mktemp -d /tmp/cvmboot-demo.XXXXXX)
run=$(mktemp -d /dev/shm/cvmboot-demo.XXXXXX)   # tmpfs, like /run in the initramfs
kbs_pid=
cleanup() {
  [ -n "$kbs_pid" ] && kill "$kbs_pid" 2>/dev/null && wait "$kbs_pid" 2>/dev/null
  rm -rf "$work" "$run"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

. scripts/lib-local-kbs.sh

step "Starting the test KBS on 127.0.0.1 (HTTPS, its own CA)"
mkdir -p "$work/resources"
local_kbs_start "$work"
echo "KBS at https://127.0.0.1:$kbs_port"
local_kbs_config "$work" "$run" "$kbs_port"

step "Provisioning (what the image build does): a LUKS2 volume with a cvmboot keyslot and token, mTLS files on the KBS"
local_kbs_provision "$work"

step "cvmboot boot (the initramfs job)"
time "$bin" --config "$work/cvmboot.conf" --cmdline /dev/null boot --no-activate

step "Result"
ls -l "$run/secrets"
res=$work/resources
cmp "$run/secrets/tls.crt" "$res/default/workload/tls.crt" && echo "tls.crt matches the KBS's copy"
$py -m json.tool "$run/status.json"
echo "KBS requests:"
$py - "$work/kbs/requests.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print("  %-6s %-40s %s" % (r.get("method"), r.get("path"), r.get("status")))
PY
