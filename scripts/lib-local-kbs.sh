# Shared by scripts/demo.sh and bench/: a provisioned LUKS2 image, the
# workload's mTLS files, the test KBS on loopback and a cvmboot.conf for them.
# Source it; it defines functions only. Needs: $src (project root), $bin (cvmboot).

# local_kbs_provision WORK: LUKS2 image WORK/root.img with a cvmboot keyslot
# whose key lands in the KBS resource tree WORK/resources.
local_kbs_provision() {
  local work=$1 res=$1/resources
  mkdir -p "$res/default/luks" "$res/default/workload"
  truncate -s 32M "$work/root.img"
  head -c 24 /dev/urandom | base64 > "$work/passphrase"
  cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 -q \
    --key-file "$work/passphrase" "$work/root.img"
  "$bin" --config "$work/cvmboot.conf" --cmdline /dev/null enroll "$work/root.img" \
    --resource default/luks/root --generate-key "$res/default/luks/root" \
    --passphrase-file "$work/passphrase"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=demo-ca \
    -keyout "$work/ca.key" -out "$res/default/workload/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=workload \
    -keyout "$res/default/workload/tls.key" -out "$work/tls.csr" 2>/dev/null
  openssl x509 -req -in "$work/tls.csr" -CA "$res/default/workload/ca.crt" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -out "$res/default/workload/tls.crt" 2>/dev/null
}

# local_kbs_start WORK: starts the test KBS (HTTPS) in the background; sets
# kbs_pid and kbs_port.
local_kbs_start() {
  local work=$1
  mkdir -p "$work/kbs"
  /usr/bin/python3 "$src/tests/kbs/kbs.py" --workdir "$work/kbs" --resources "$work/resources" \
    --port 0 > "$work/kbs.out" 2> "$work/kbs.err" &
  kbs_pid=$!
  for _ in $(seq 100); do grep -q READY "$work/kbs.out" 2>/dev/null && break; sleep 0.1; done
  kbs_port=$(awk '/READY/ {print $2}' "$work/kbs.out")
  [ -n "$kbs_port" ] || { cat "$work/kbs.err"; echo "test KBS did not start" >&2; return 1; }
}

# local_kbs_config WORK RUN [PORT]: cvmboot.conf for the sample TEE, the
# image's key and the three mTLS files, with run_dir RUN (a tmpfs directory).
local_kbs_config() {
  local work=$1 run=$2 port=${3:-0}
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
}
