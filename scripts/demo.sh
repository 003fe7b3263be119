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

step "Provisioning (what the image build does): a LUKS2 volume and a cvmboot keyslot"
res=$work/resources
mkdir -p "$res/default/luks" "$res/default/workload"
truncate -s 32M "$work/root.img"
head -c 24 /dev/urandom | base64 > "$work/passphrase"
cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 -q \
  --key-file "$work/passphrase" "$work/root.img"
"$bin" --config /dev/null --cmdline /dev/null enroll "$work/root.img" \
  --resource default/luks/root --generate-key "$res/default/luks/root" \
  --passphrase-file "$work/passphrase"

step "The workload's mTLS identity, kept by the KBS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=demo-ca \
  -keyout "$work/ca.key" -out "$res/default/workload/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=workload \
  -keyout "$res/default/workload/tls.key" -out "$work/tls.csr" 2>/dev/null
openssl x509 -req -in "$work/tls.csr" -CA "$res/default/workload/ca.crt" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -out "$res/default/workload/tls.crt" 2>/dev/null

step "Starting the test KBS on 127.0.0.1 (HTTPS)"
mkdir -p "$work/kbs"
$py tests/kbs/kbs.py --workdir "$work/kbs" --resources "$res" --port 0 > "$work/kbs.out" 2> "$work/kbs.err" &
kbs_pid=$!
for _ in $(seq 100); do grep -q READY "$work/kbs.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/READY/ {print $2}' "$work/kbs.out")
[ -n "$port" ] || { cat "$work/kbs.err"; echo "test KBS did not start"; exit 1; }
echo "KBS at https://127.0.0.1:$port"

cat > "$work/cvmboot.conf" <<CONF
[kbs]
url = https://127.0.0.1:$port
ca_file = $work/kbs/ca.pem
[tee]
type = sample
[secrets]
run_dir = $run
dir = $run/secrets
[luks]
discover_tokens = false
[resource.root]
path = default/luks/root
luks_device = $work/root.img
luks_name = root
[resource.tls-cert]
path = default/workload/tls.crt
file = tls.crt
mode = 0444
[resource.tls-key]
path = default/workload/tls.key
file = tls.key
[resource.ca]
path = default/workload/ca.crt
file = ca.crt
mode = 0444
CONF

step "cvmboot boot (the initramfs job)"
time "$bin" --config "$work/cvmboot.conf" --cmdline /dev/null boot --no-activate

step "Result"
ls -l "$run/secrets"
cmp "$run/secrets/tls.crt" "$res/default/workload/tls.crt" && echo "tls.crt matches the KBS's copy"
$py -m json.tool "$run/status.json"
echo "KBS requests:"
$py - "$work/kbs/requests.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print("  %-6s %-40s %s" % (r.get("method"), r.get("path"), r.get("status")))
PY
